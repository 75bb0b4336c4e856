"""One line for a command that failed: what went wrong and which setting to look at, never a traceback
or a secret (the text goes through the redactor, which knows the loaded configuration's secrets)."""

import sqlite3

from cmsync.redaction import REDACTOR

MAX_LENGTH = 400


def _broker_failure(error: BaseException) -> str | None:
    import dramatiq.errors
    import pika.exceptions

    if isinstance(error, pika.exceptions.ProbableAuthenticationError | pika.exceptions.AuthenticationError):
        return "RabbitMQ refused the user name or password in broker.url"
    if isinstance(error, pika.exceptions.ProbableAccessDeniedError):
        return "RabbitMQ refused access to the virtual host in broker.url"
    if isinstance(error, pika.exceptions.AMQPError | dramatiq.errors.BrokerConnectionError):
        cause = error.__cause__ or error.__context__
        if cause is not None and cause is not error:
            described = _broker_failure(cause)
            if described:
                return described
        return f"cannot reach RabbitMQ at broker.url ({type(error).__name__}: {error})"
    return None


def _store_failure(error: BaseException) -> str | None:
    import psycopg

    from cmsync.state import StateStoreUnavailableError

    if isinstance(error, StateStoreUnavailableError):
        return str(error)
    if isinstance(error, psycopg.OperationalError):
        return f"cannot use the PostgreSQL state store at state.url: {error}"
    if isinstance(error, sqlite3.Error):
        return f"cannot use the SQLite state store at state.url: {error}"
    return None


def describe_failure(error: BaseException) -> str:
    """The error as one redacted line, naming the setting behind the commonest failures."""
    text = _broker_failure(error) or _store_failure(error)
    if text is None and isinstance(error, OSError) and error.strerror:
        text = f"{error.strerror}: {error.filename}" if error.filename else error.strerror
    if text is None:
        text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    line = " ".join(REDACTOR.text(text).split())
    return line if len(line) <= MAX_LENGTH else line[: MAX_LENGTH - 1] + "…"
