"""Where a secret setting takes its value from.

A secret is written inline, as ``${ENV_VAR}``, as ``file:/path``, or as ``credential:NAME`` (a systemd
credential, read from ``$CREDENTIALS_DIRECTORY/NAME``). Errors name the reference, never the value.
"""

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, SecretStr, ValidationInfo

from cmsync.config.files import read_small_file

_WHOLE_ENV = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_EMBEDDED_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

SECRET_SETTING_NAMES = frozenset({"api_key", "client_secret", "refresh_token", "password"})


UNCHECKED_CREDENTIALS = "unchecked_credentials"
"""Validation-context key: when present (a list), ``credential:`` references are collected there instead of
read, because ``$CREDENTIALS_DIRECTORY`` exists only inside the systemd unit (``check-config`` from a shell)."""


def _deferred(reference: str, info: ValidationInfo | None) -> bool:
    unchecked = (info.context or {}).get(UNCHECKED_CREDENTIALS) if info else None
    if unchecked is None or "CREDENTIALS_DIRECTORY" in os.environ:
        return False
    unchecked.append(reference)
    return True


def credential_path(name: str) -> Path:
    """The file systemd made for credential ``name`` (``LoadCredential=NAME:…``)."""
    if not name or "/" in name or "\\" in name or name in (".", "..") or "\0" in name:
        raise ValueError(
            f"credential:{name} is not allowed: a credential name is a plain file name inside "
            "$CREDENTIALS_DIRECTORY (no /, no .. and not empty), like credential:cm_api_key"
        )
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        raise ValueError(
            f"credential:{name} needs $CREDENTIALS_DIRECTORY, which systemd sets for a unit with "
            f"LoadCredential={name}:…; it is not set"
        )
    path = Path(directory) / name
    if not path.is_file():
        raise ValueError(f"credential:{name}: no file {path} (is LoadCredential={name}:… in the unit?)")
    return path


def _read_secret_file(path: Path, reference: str) -> str:
    try:
        data = read_small_file(path)
    except ValueError as error:
        raise ValueError(f"{reference}: {path}: {error}") from None
    try:
        value = data.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise ValueError(f"{reference}: {path} is not UTF-8 text") from None
    if not value:
        raise ValueError(f"{reference}: {path} is empty")
    return value


def _environment(name: str) -> str:
    value = os.environ.get(name)
    if value is None:
        raise ValueError(f"${{{name}}}: environment variable {name} is not set")
    if not value:
        raise ValueError(f"${{{name}}}: environment variable {name} is empty")
    return value


def resolve_secret(value: object, info: ValidationInfo | None) -> object:
    """Turn a secret reference into the secret itself; leave anything that is not a string to the model."""
    if not isinstance(value, str) or (value.startswith("credential:") and _deferred(value, info)):
        return value
    if match := _WHOLE_ENV.match(value):
        return _environment(match.group(1))
    if value.startswith("file:"):
        return _read_secret_file(Path(value[len("file:") :]), value)
    if value.startswith("credential:"):
        name = value[len("credential:") :]
        return _read_secret_file(credential_path(name), value)
    if not value:
        raise ValueError("an empty secret is not allowed")
    return value


def resolve_embedded(value: object, info: ValidationInfo) -> object:
    """Resolve a whole-value reference, or ``${VAR}`` inside a longer string such as a URL with a password."""
    if not isinstance(value, str) or _WHOLE_ENV.match(value) or value.startswith(("file:", "credential:")):
        return resolve_secret(value, info)
    return _EMBEDDED_ENV.sub(lambda match: _environment(match.group(1)), value)


def resolve_path(value: object, info: ValidationInfo) -> object:
    """A file setting may name a systemd credential (``credential:NAME``); it must exist and be readable."""
    if not isinstance(value, str):
        return value
    if value.startswith("credential:") and _deferred(value, info):
        return Path(value)
    path = credential_path(value[len("credential:") :]) if value.startswith("credential:") else Path(value)
    try:
        exists, readable = path.exists(), os.access(path, os.R_OK)
    except OSError as error:
        raise ValueError(f"{value!r}: {error.strerror}") from None
    if not exists:
        raise ValueError(f"{value!r}: no such file")
    if not readable:
        raise ValueError(f"{value!r}: the file is not readable by this user")
    try:
        read_small_file(path)
    except ValueError as error:
        raise ValueError(f"{value!r}: {error}") from None
    return path


def secret_values(settings: BaseModel) -> set[str]:
    """Every secret a loaded configuration holds, for the log redactor: keys, tokens, URL passwords."""
    found: set[str] = set()
    for name, value in settings:
        if isinstance(value, BaseModel):
            found |= secret_values(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, BaseModel):
                    found |= secret_values(item)
        elif isinstance(value, SecretStr):
            text = value.get_secret_value()
            passwords = url_passwords(text) if "://" in text else set()
            found |= passwords
            if not passwords and name != "url":
                found.add(text)
    return found


def url_passwords(url: str) -> set[str]:
    """The password of ``url`` as a URL parser reads it, and as a person meant it when it holds an
    unencoded ``/``, ``?`` or ``#`` (everything between the first ``:`` after ``//`` and the last ``@``)."""
    found = set()
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password:
        found.add(password)
    rest = url.split("://", 1)[1]
    user_information = rest.rpartition("@")[0]
    if ":" in user_information:
        found.add(user_information.split(":", 1)[1])
    return found
