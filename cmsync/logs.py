"""Logging: structlog JSON lines for journald, readable console output on a terminal, secrets masked.

Standard-library loggers (pika, dramatiq, urllib3) go through the same processors, so their lines are
structured and redacted too. Context such as ``run_id``, ``client`` and ``list`` is bound with
``structlog.contextvars.bound_contextvars`` and appears on every line logged inside it.
"""

import logging
import sys
from typing import Literal, TextIO, cast

import structlog

from cmsync.config import Settings
from cmsync.config.secrets import secret_values
from cmsync.redaction import REDACTOR

Format = Literal["json", "console", "auto"]
HANDLER_FILTERS: list[logging.Filter] = []
"""Filters every log handler gets, such as the one that turns a broker outage's library noise into two lines."""


def add_handler_filter(handler_filter: logging.Filter) -> None:
    """Give ``handler_filter`` to every log handler: those set up already and those ``configure_logging`` makes."""
    HANDLER_FILTERS.append(handler_filter)
    for handler in logging.getLogger().handlers:
        handler.addFilter(handler_filter)


class _Stdout:
    """``sys.stdout`` as it is when a line is written, not when logging was set up: whoever swaps it later
    (a test's output capture, a daemon redirecting its output) still gets the lines."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()

    def isatty(self) -> bool:
        return sys.stdout.isatty()


def _renderer(format_: Format, stream: TextIO) -> structlog.typing.Processor:
    console = format_ == "console" or (format_ == "auto" and stream.isatty())
    if console:
        return structlog.dev.ConsoleRenderer(colors=stream.isatty())
    return structlog.processors.JSONRenderer(sort_keys=False)


def configure_logging(format_: Format = "auto", level: str = "info", stream: TextIO | None = None) -> None:
    """Send every log line, from cmsync and from its libraries, to ``stream`` (stdout by default)."""
    stream = stream or cast(TextIO, _Stdout())
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        REDACTOR,
    ]
    structlog.configure(
        processors=[*shared[:-2], structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared[:-2],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            REDACTOR,
            _renderer(format_, stream),
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    for handler_filter in HANDLER_FILTERS:
        handler.addFilter(handler_filter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("pika", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def configure_from(settings: Settings, stream: TextIO | None = None) -> None:
    """Log as ``settings.logging`` says, masking every secret the settings hold."""
    REDACTOR.remember(secret_values(settings))
    configure_logging(settings.logging.format, settings.logging.level, stream)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A logger for module ``name``; use ``cmsync.logs.get_logger(__name__)``."""
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
