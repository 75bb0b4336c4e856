"""Annotated types shared by the settings model: checked names, secrets, durations and addresses."""

from datetime import timedelta
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, ConfigDict, SecretStr, StringConstraints

from cmsync.config.durations import format_duration, parse_duration
from cmsync.config.names import (
    check_cm_field_key,
    check_cm_id,
    check_salesforce_field_path,
)
from cmsync.config.pem import check_ca_file, check_private_key
from cmsync.config.secrets import resolve_embedded, resolve_path, resolve_secret

MIN_TIMEOUT = timedelta(seconds=1)
MAX_TIMEOUT = timedelta(hours=1)

SECTION = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
"""Every settings section: unknown keys are errors (a typo must not be ignored) and values never change."""


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _http_url(value: str) -> str:
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise ValueError(f"{value!r} is not a URL with a port from 1 to 65535 (or none)") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http:// or https:// URL")
    if port == 0:
        raise ValueError(f"{value!r} is not a URL with a port from 1 to 65535 (or none)")
    return value.rstrip("/")


def _timeout(value: timedelta) -> timedelta:
    if not MIN_TIMEOUT <= value <= MAX_TIMEOUT:
        raise ValueError(
            f"{format_duration(value)} is not allowed; a timeout is from {format_duration(MIN_TIMEOUT)} "
            f"to {format_duration(MAX_TIMEOUT)}"
        )
    return value


def check_listen_address(value: str) -> str:
    """``host:port`` with a port from 1 to 65535, as a metrics server binds it."""
    host, _, port = value.rpartition(":")
    if not host or not (port.isascii() and port.isdigit() and len(port) <= 5) or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r} is not an address to listen on; write it as host:port, like 127.0.0.1:9464")
    return value


CmId = Annotated[str, AfterValidator(check_cm_id)]
CmFieldKey = Annotated[str, AfterValidator(check_cm_field_key)]
SalesforceFieldPath = Annotated[str, AfterValidator(check_salesforce_field_path)]
Secret = Annotated[SecretStr, BeforeValidator(resolve_secret)]
SecretUrl = Annotated[SecretStr, BeforeValidator(resolve_embedded)]
CaFile = Annotated[Path, BeforeValidator(resolve_path), AfterValidator(check_ca_file)]
PrivateKeyFile = Annotated[Path, BeforeValidator(resolve_path), AfterValidator(check_private_key)]
Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Timeout = Annotated[timedelta, BeforeValidator(parse_duration), AfterValidator(_timeout)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
ListenAddress = Annotated[str, AfterValidator(check_listen_address)]
LowerCase = BeforeValidator(_lower)
NonEmpty = StringConstraints(min_length=1)
