"""The ``cmsync`` command line: one subcommand per thing an operator does."""

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

from cmsync import __version__
from cmsync.cli.failures import describe_failure
from cmsync.config import ConfigError, Settings, load_settings
from cmsync.config.environment import config_path
from cmsync.config.model import TRACKING_TYPES
from cmsync.config.rule_warnings import rule_warnings
from cmsync.config.secrets import secret_values
from cmsync.config.types import check_listen_address
from cmsync.config.urls import sqlite_path
from cmsync.logs import configure_from, configure_logging
from cmsync.redaction import REDACTOR

Command = Callable[[argparse.Namespace], int]

EX_CONFIG = 78
"""sysexits.h: the configuration is wrong. The units' RestartPreventExitStatus=78 stops restart loops."""
SERVICES = ("run", "worker")
"""The commands systemd starts: their configuration and option errors exit EX_CONFIG, the others 1."""


class UsageError(Exception):
    """A command line argparse refused; ``command`` is the subcommand when it got that far."""

    def __init__(self, prog: str, message: str) -> None:
        super().__init__(f"{prog}: {message}")
        self.command = prog.split()[1] if " " in prog else None


class RefusedConfigurationError(Exception):
    """The configuration was refused and its errors printed; ``main`` exits with ``status``."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line (no usage block) that ``main`` turns into the exit status."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(self.prog, f"{message} (see {self.prog} --help)")


def _whole_number(low: int, high: int, meaning: str = "") -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``, refused with both bounds named."""

    def parse(text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            number = low - 1
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not allowed; give a whole number from {low} to {high}{meaning}"
            )
        return number

    return parse


def _listen_address(text: str) -> str:
    try:
        return check_listen_address(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def check_config(arguments: argparse.Namespace) -> int:
    """Validate a file like ``nginx -t``: exit 0 with a summary (after a warning for each rule that cannot
    fire as written), or 1 with every error."""
    path = config_path(arguments.file or arguments.config)
    unchecked: list[str] = []
    try:
        settings = load_settings(path, unchecked=unchecked)
    except ConfigError as error:
        print(error.report(), file=sys.stderr)
        return 1
    for warning in rule_warnings(settings):
        print(f"{path}: warning: {warning}", file=sys.stderr)
    note = f" (not readable outside the systemd unit, not checked: {', '.join(unchecked)})" if unchecked else ""
    print(f"{path}: OK: {settings.summary()}{note}")
    return 0


def _sandbox_missing() -> str | None:
    """The line saying how to install the sandbox when it, or a library of its extra, is not installed here
    (the container image has no sandbox); None when the emulators can start."""
    try:
        importlib.import_module("cmsync_sandbox.launcher")
    except ModuleNotFoundError as error:
        return (
            f"the sandbox is not installed here (no module named {error.name!r}); "
            "install it from a cmsync checkout: pip install -e '.[sandbox]'"
        )
    return None


def sandbox(arguments: argparse.Namespace) -> int:
    """Start the emulators until SIGINT/SIGTERM (imported here: product code never imports the sandbox)."""
    missing = _sandbox_missing()
    if missing is not None:
        print(f"cmsync sandbox: {missing}", file=sys.stderr)
        return 1
    from cmsync_sandbox.launcher import PortTakenError, SandboxOptions, run_sandbox

    configure_logging("auto", "info")
    options = SandboxOptions(
        seed=arguments.seed,
        size=arguments.size,
        cm_port=arguments.cm_port,
        sf_port=arguments.sf_port,
        sf_pubsub_port=arguments.sf_pubsub_port,
        ca_file=Path(arguments.tls) if arguments.tls else None,
    )
    try:
        return run_sandbox(options)
    except PortTakenError as error:
        print(f"cmsync sandbox: {error}", file=sys.stderr)
        return 1


def _add_sandbox_options(sub: argparse.ArgumentParser) -> None:
    port = _whole_number(0, 65535, " (0 picks a free port)")
    sub.add_argument("--seed", type=int, default=1, help="random seed of the seed data (default: 1)")
    sub.add_argument(
        "--size", choices=("small", "demo", "large"), default="demo", help="how much seed data (default: demo)"
    )
    sub.add_argument(
        "--cm-port", "--port", type=port, default=8701, help="Campaign Monitor emulator port (default: 8701)"
    )
    sub.add_argument("--sf-port", type=port, default=8702, help="Salesforce emulator port (default: 8702)")
    sub.add_argument(
        "--sf-pubsub-port", type=int, default=8703, help="Salesforce Pub/Sub API (gRPC) port (default: 8703)"
    )
    sub.add_argument(
        "--tls",
        nargs="?",
        const="var/sandbox-ca.pem",
        metavar="CA_FILE",
        help="serve HTTPS and write the certificate authority to CA_FILE (default: var/sandbox-ca.pem)",
    )


def _settings(arguments: argparse.Namespace, *, reads_state_only: bool = False) -> Settings:
    """The validated configuration the command was pointed at, its secrets handed to the redactor; with
    every error, exits 78 (EX_CONFIG) from a service command, else 1.

    A command that only reads the state store (``status``, ``connect``) runs from an operator's shell,
    where systemd credentials cannot be read: they are left unresolved instead of refused.
    """
    try:
        settings = load_settings(config_path(arguments.config), unchecked=[] if reads_state_only else None)
    except ConfigError as error:
        print(error.report(), file=sys.stderr)
        raise RefusedConfigurationError(EX_CONFIG if arguments.command in SERVICES else 1) from None
    REDACTOR.remember(secret_values(settings))
    return settings


def worker(arguments: argparse.Namespace) -> int:
    """Check the configuration, then become Dramatiq's worker supervisor."""
    from cmsync.workers.pool import exec_workers

    settings = _settings(arguments)
    if settings.broker.embedded:
        print(
            "cmsync worker: broker.url is 'embedded', so the workers run inside `cmsync run`; "
            "set broker.url to RabbitMQ (amqp://…) to run them as separate processes",
            file=sys.stderr,
        )
        return EX_CONFIG
    exec_workers(
        config_path(arguments.config),
        processes=arguments.processes,
        threads=arguments.threads,
        metrics_listen=arguments.metrics_listen,
        shutdown_timeout_seconds=arguments.shutdown_timeout,
    )
    return 0


def _add_worker_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--processes", "-p", type=_whole_number(1, 256), default=2, help="worker processes (default: 2)")
    sub.add_argument("--threads", "-t", type=_whole_number(1, 256), default=4, help="threads per process (default: 4)")
    sub.add_argument(
        "--metrics-listen",
        type=_listen_address,
        default="127.0.0.1:9465",
        help="worker metrics address (default: 127.0.0.1:9465)",
    )
    sub.add_argument(
        "--shutdown-timeout",
        type=_whole_number(0, 86400),
        default=300,
        metavar="SECONDS",
        help="how long in-flight jobs may take to finish on SIGTERM (default: 300)",
    )


def _log_for_a_shell(settings: Settings) -> None:
    """Warnings only, on stderr; pika's own connection errors stay silent, as the exception it raises
    ends the command with the one line ``main`` prints."""
    configure_logging(settings.logging.format, "warning", sys.stderr)
    logging.getLogger("pika").setLevel(logging.CRITICAL)


def sync_now_command(arguments: argparse.Namespace) -> int:
    """Start a main sync now, or report the one in flight."""
    from cmsync.commands.sync_now import request_sync

    settings = _settings(arguments)
    _log_for_a_shell(settings)
    return request_sync(settings, wait=arguments.wait, full=arguments.full)


def _add_sync_now_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--wait", action="store_true", help="follow the run to its end; exit 1 if it fails")
    sub.add_argument("--full", action="store_true", help="re-read whole lists (a full pass) in this run")


def run(arguments: argparse.Namespace) -> int:
    """The supervisor; with ``--sandbox``, the emulators the configuration points at start first."""
    from cmsync.daemon.supervisor import Supervisor

    path = config_path(arguments.config)
    if not arguments.sandbox and (arguments.cm_port is not None or arguments.sf_port is not None):
        print("cmsync run: --cm-port and --sf-port move the sandbox emulators; add --sandbox", file=sys.stderr)
        return EX_CONFIG
    missing = _sandbox_missing() if arguments.sandbox else None
    if missing is not None:
        print(f"cmsync run: {missing}", file=sys.stderr)
        return 1
    settings = _settings(arguments)
    configure_from(settings)
    sandbox = _start_sandbox(settings, arguments) if arguments.sandbox else None
    if isinstance(sandbox, str):
        print(f"cmsync run: {sandbox}", file=sys.stderr)
        return 1
    adjust = _command_line_settings(arguments, sandbox)
    settings = adjust(settings)
    try:
        supervisor = Supervisor(path, settings, adjust=adjust)
        command = f"{_own_command()} {{}} --config {path}"

        def banner() -> str:
            return (
                f"cmsync is running ({path}).\n"
                f"  status:   {command.format('status')}\n"
                f"  sync now: {command.format('sync-now')}\n"
                f"  metrics:  http://{settings.metrics.listen}/metrics\n"
                f"{_console_line(settings, path, supervisor.console.url)}"
                "  stop:     Ctrl-C (or SIGTERM); reload: SIGHUP"
            )

        return supervisor.run(banner)
    finally:
        if sandbox is not None:
            sandbox.stop()


def _own_command() -> str:
    """How to run this same ``cmsync`` from a shell in the same directory: ``cmsync`` when that is the one on
    PATH, else the path it was started by (``.venv/bin/cmsync`` after ``make run``)."""
    import shutil

    started = Path(sys.argv[0])
    on_path = shutil.which("cmsync")
    if started.name != "cmsync":
        return f"{sys.executable} -m cmsync"
    if on_path is not None and Path(on_path).resolve() == started.resolve():
        return "cmsync"
    return str(started)


def _console_line(settings: Settings, path: str, url: str | None) -> str:
    """The banner's console line: where it is and how to sign in (the password itself is never printed), or
    why it is not served."""
    if settings.console.listen is None:
        return ""
    if url is None:
        return f"  console:  not served: {settings.console.listen} is not free (set console.listen to another)\n"
    return f"  console:  {url} (sign in with console.password from {path})\n"


@dataclass(frozen=True)
class _RunningSandbox:
    """The emulators ``run --sandbox`` started, and the ports they ended up on."""

    cm_port: int
    sf_port: int
    pubsub_port: int
    stop: Callable[[], None]


def _start_sandbox(settings: Settings, arguments: argparse.Namespace) -> _RunningSandbox | str:
    """Start both emulators on ``--cm-port`` and ``--sf-port``, or on the ports of ``campaign_monitor.base_url``
    and ``salesforce.login_url`` (their log line per call would drown the daemon's own: only their warnings
    are shown); a port that is taken is returned as the line that says so, with the option that moves it."""
    from cmsync_sandbox.launcher import PortTakenError, SandboxOptions, start_campaign_monitor, start_salesforce

    def given(option: int | None, url: str, default: int) -> int:
        return option if option is not None else urlsplit(url).port or default

    endpoint = settings.outbound.pubsub_endpoint
    options = SandboxOptions(
        cm_port=given(arguments.cm_port, settings.campaign_monitor.base_url, 8701),
        sf_port=given(arguments.sf_port, settings.salesforce.login_url, 8702),
        sf_pubsub_port=given(None, f"//{endpoint}" if endpoint else "", 8703),
    )
    logging.getLogger("cmsync_sandbox").setLevel(logging.WARNING)
    running = []
    try:
        running.append(start_campaign_monitor(options))
        running.append(start_salesforce(options))
    except PortTakenError as error:
        for emulator in running:
            emulator.server.stop()
        return str(error)
    for emulator in running:
        print(f"sandbox: {emulator.name} on {emulator.server.url}", flush=True)

    def stop() -> None:
        for emulator in running:
            for companion in emulator.companions:
                companion.stop()
            emulator.server.stop()

    cm, sf = (urlsplit(emulator.server.url).port or 0 for emulator in running)
    pubsub = next((getattr(companion, "port", 0) for companion in running[1].companions), 0)
    return _RunningSandbox(cm, sf, pubsub, stop)


def _with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=f"{parts.hostname}:{port}").geturl()


def _command_line_settings(
    arguments: argparse.Namespace, sandbox: _RunningSandbox | None
) -> Callable[[Settings], Settings]:
    """What ``run``'s options change in the file's settings, at start and at every reload: the metrics
    address, and the sandbox emulators' ports."""

    def adjust(settings: Settings) -> Settings:
        update: dict[str, object] = {}
        if arguments.metrics_listen is not None:
            update["metrics"] = settings.metrics.model_copy(update={"listen": arguments.metrics_listen})
        if sandbox is not None:
            cm, sf = settings.campaign_monitor, settings.salesforce
            update["campaign_monitor"] = cm.model_copy(update={"base_url": _with_port(cm.base_url, sandbox.cm_port)})
            update["salesforce"] = sf.model_copy(update={"login_url": _with_port(sf.login_url, sandbox.sf_port)})
            endpoint = settings.outbound.pubsub_endpoint
            if endpoint and sandbox.pubsub_port:
                moved = f"{endpoint.rpartition(':')[0]}:{sandbox.pubsub_port}"
                update["outbound"] = settings.outbound.model_copy(update={"pubsub_endpoint": moved})
        return settings.model_copy(update=update) if update else settings

    return adjust


def _add_run_options(sub: argparse.ArgumentParser) -> None:
    port = _whole_number(0, 65535, " (0 picks a free port)")
    sub.add_argument(
        "--sandbox", action="store_true", help="also start the sandbox emulators the configuration points at (demo)"
    )
    sub.add_argument(
        "--cm-port", type=port, help="with --sandbox: Campaign Monitor emulator port (default: base_url's; 0: any)"
    )
    sub.add_argument(
        "--sf-port", type=port, help="with --sandbox: Salesforce emulator port (default: login_url's; 0: any)"
    )
    sub.add_argument(
        "--metrics-listen",
        type=_listen_address,
        metavar="HOST:PORT",
        help="serve metrics here instead of at metrics.listen",
    )


def status(arguments: argparse.Namespace) -> int:
    """Print the installation's state (whether or not the daemon runs)."""
    import json

    from cmsync.commands.status import status_report, status_text
    from cmsync.state import StateStore

    settings = _settings_for_status(config_path(arguments.config))
    url = settings.state.url.get_secret_value()
    path = sqlite_path(url)
    if path is not None and not path.exists():
        print(
            f"cmsync status: no state store at {path.absolute()} (state.url: {url}); nothing has run with it yet, "
            "or the path is relative to another working directory (absolute: sqlite:////path/state.db)",
            file=sys.stderr,
        )
        return 1
    store = StateStore.open(url)
    try:
        report = status_report(settings, store)
    finally:
        store.close()
    print(json.dumps(report, indent=2) if arguments.json else status_text(report, datetime.now(UTC)))
    return 0


def _settings_for_status(path: str) -> Settings:
    """The configuration ``status`` reads; an invalid file is named with its first error, and its state
    store still read when the file names one that is valid (refused with every error otherwise)."""
    from cmsync.config.salvage import settings_despite_errors

    try:
        settings = load_settings(path, unchecked=[])
    except ConfigError as error:
        salvaged = settings_despite_errors(path)
        if salvaged is None:
            print(error.report(), file=sys.stderr)
            raise RefusedConfigurationError(1) from None
        first = error.report().splitlines()[1]
        print(
            f"cmsync status: the configuration file is invalid ({len(error.issues)} "
            f"error{'s' if len(error.issues) != 1 else ''}; `cmsync check-config {path}` lists them), first: {first}",
            file=sys.stderr,
        )
        settings = salvaged
    REDACTOR.remember(secret_values(settings))
    return settings


def _add_status_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--json", action="store_true", help="print the status as JSON")


def disconnect(arguments: argparse.Namespace) -> int:
    """Stop all syncing both ways; reset Salesforce's user overrides and client ownership permissions."""
    from cmsync.commands.connection import disconnect_installation
    from cmsync.state import StateStore

    settings = _settings(arguments)
    _log_for_a_shell(settings)
    store = StateStore.open(settings.state.url.get_secret_value())
    try:
        report = disconnect_installation(settings, store)
    finally:
        store.close()
    print("\n".join(report.lines()))
    return 1 if report.errors else 0


def connect(arguments: argparse.Namespace) -> int:
    """Resume syncing after ``cmsync disconnect``."""
    from cmsync.commands.connection import connect as connect_installation
    from cmsync.state import StateStore

    settings = _settings(arguments, reads_state_only=True)
    store = StateStore.open(settings.state.url.get_secret_value())
    try:
        connect_installation(store)
    finally:
        store.close()
    print("connected: syncing resumes (the schedule starts again within a second if the daemon runs)")
    return 0


def purge_tracking_command(arguments: argparse.Namespace) -> int:
    """Purge old email tracking now (or count what a purge would delete)."""
    from cmsync.commands.purge import purge_now

    settings = _settings(arguments)
    _log_for_a_shell(settings)
    return purge_now(settings, confirm=arguments.confirm, dry_run=arguments.dry_run)


def _add_purge_tracking_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--confirm", action="store_true", help="purge even more than tracking.purge_max_share of all tracking records"
    )
    sub.add_argument("--dry-run", action="store_true", help="count what a purge would delete; delete nothing")


def reimport_tracking_command(arguments: argparse.Namespace) -> int:
    """Import the email tracking of a window again."""
    from cmsync.commands.reimport import reimport_now
    from cmsync.sync.reimport import Reimport

    settings = _settings(arguments)
    _log_for_a_shell(settings)
    request = Reimport(
        arguments.since,
        arguments.until or datetime.now(UTC),
        tuple(arguments.client or ()),
        arguments.campaign,
        tuple(arguments.types or ()),
        arguments.force,
    )
    return reimport_now(settings, request, dry_run=arguments.dry_run)


def _utc_date(*, end_of_day: bool) -> Callable[[str], datetime]:
    def parse(text: str) -> datetime:
        from cmsync.commands.reimport import parse_moment

        try:
            return parse_moment(text, end_of_day=end_of_day)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def _add_reimport_tracking_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--since", required=True, type=_utc_date(end_of_day=False), metavar="DATE",
        help="start of the window: a UTC day (YYYY-MM-DD) or an ISO date-time",
    )  # fmt: skip
    sub.add_argument(
        "--until", type=_utc_date(end_of_day=True), metavar="DATE",
        help="end of the window: its last UTC day (included) or an ISO date-time (excluded); default now",
    )  # fmt: skip
    sub.add_argument("--client", action="append", metavar="ID", help="only this connected client (repeatable)")
    sub.add_argument("--campaign", metavar="ID", help="only this campaign or journey email")
    sub.add_argument(
        "--types", nargs="+", choices=TRACKING_TYPES, metavar="TYPE",
        help=f"only these tracking types ({', '.join(TRACKING_TYPES)}; default: the selected ones)",
    )  # fmt: skip
    sub.add_argument(
        "--force", action="store_true",
        help="import a window older than tracking.days_to_keep (the next purge deletes it again)",
    )  # fmt: skip
    sub.add_argument(
        "--dry-run", action="store_true",
        help="print the events per campaign and type and the API calls it expects; write nothing",
    )  # fmt: skip


_SUBCOMMANDS: dict[str, tuple[str, Command]] = {
    "run": ("run the supervisor: schedule, Sync Now, reload on SIGHUP, metrics", run),
    "worker": ("run Dramatiq workers against RabbitMQ", worker),
    "check-config": ("validate a configuration file and print every error", check_config),
    "sync-now": ("start a main sync at once (or report the one in flight)", sync_now_command),
    "status": ("show connection, schedule, last and current run", status),
    "disconnect": ("stop all syncing both ways until `cmsync connect`", disconnect),
    "connect": ("undo `cmsync disconnect`", connect),
    "reimport-tracking": ("import email tracking data of a window again", reimport_tracking_command),
    "purge-tracking": ("delete email tracking older than tracking.days_to_keep now", purge_tracking_command),
    "sandbox": ("start the Campaign Monitor and Salesforce emulators", sandbox),
}


_OPTIONS: dict[str, Callable[[argparse.ArgumentParser], None]] = {
    "sandbox": _add_sandbox_options,
    "worker": _add_worker_options,
    "sync-now": _add_sync_now_options,
    "run": _add_run_options,
    "status": _add_status_options,
    "reimport-tracking": _add_reimport_tracking_options,
    "purge-tracking": _add_purge_tracking_options,
}


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand; each has its own ``--help``."""
    parser = _Parser(
        prog="cmsync",
        description="Keeps a Campaign Monitor account and a Salesforce org in sync.",
    )
    parser.add_argument("--version", action="version", version=f"cmsync {__version__}")
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (summary, command) in _SUBCOMMANDS.items():
        sub = subcommands.add_parser(name, help=summary, description=summary[0].upper() + summary[1:] + ".")
        sub.add_argument(
            "--config",
            "-c",
            metavar="FILE",
            help="configuration file (default: $CMSYNC_CONFIG or /etc/cmsync/cmsync.yaml)",
        )
        if name == "check-config":
            sub.add_argument("file", nargs="?", metavar="FILE", help="the file to check (same as --config)")
        if name in _OPTIONS:
            _OPTIONS[name](sub)
        sub.set_defaults(handler=command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cmsync`` console script: every failure ends as one redacted line on stderr and
    exit status 1 (78 for a configuration or option error of ``run`` and ``worker``)."""
    given = list(sys.argv[1:] if argv is None else argv)
    try:
        arguments = build_parser().parse_args(given)
    except UsageError as error:
        print(REDACTOR.text(str(error)), file=sys.stderr)
        command = error.command or next((word for word in given if word in _SUBCOMMANDS), None)
        return EX_CONFIG if command in SERVICES else 1
    handler: Command = arguments.handler
    try:
        return handler(arguments)
    except RefusedConfigurationError as refused:
        return refused.status
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        print(f"cmsync {arguments.command}: {describe_failure(error)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
