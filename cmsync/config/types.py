"""Annotated types shared by the settings model: checked names, secrets, durations and addresses."""

from datetime import timedelta
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, ConfigDict, SecretStr, StringConstraints

from cmsync.config.durations import parse_duration
from cmsync.config.names import (
    check_cm_field_key,
    check_cm_id,
    check_salesforce_field_path,
)
from cmsync.config.secrets import resolve_embedded, resolve_path, resolve_secret

SECTION = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
"""Every settings section: unknown keys are errors (a typo must not be ignored) and values never change."""


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http:// or https:// URL")
    return value.rstrip("/")


def _listen_address(value: str) -> str:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r} is not an address to listen on; write it as host:port, like 127.0.0.1:9464")
    return value


CmId = Annotated[str, AfterValidator(check_cm_id)]
CmFieldKey = Annotated[str, AfterValidator(check_cm_field_key)]
SalesforceFieldPath = Annotated[str, AfterValidator(check_salesforce_field_path)]
Secret = Annotated[SecretStr, BeforeValidator(resolve_secret)]
SecretUrl = Annotated[SecretStr, BeforeValidator(resolve_embedded)]
ReadableFile = Annotated[Path, BeforeValidator(resolve_path)]
Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
ListenAddress = Annotated[str, AfterValidator(_listen_address)]
LowerCase = BeforeValidator(_lower)
NonEmpty = StringConstraints(min_length=1)
