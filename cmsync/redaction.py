"""Removes secrets from anything about to be logged, printed or exported.

It knows the secret values of the running configuration, and recognises secrets by shape too:
``Authorization`` headers, passwords in URLs, and token or key fields, whatever their value.
"""

import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "***"
_SECRET_KEYS = re.compile(
    r"(?i)^(authorization|proxy-authorization|access_token|refresh_token|api_?key|apikey|client_secret|"
    r"password|passwd|secret|private_key|assertion|token|session_id|sid)$"
)
_AUTH_HEADER = re.compile(r"(?i)\b(Bearer|Basic|OAuth)\s+[A-Za-z0-9._~+/=!-]+")
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]*):([^@\s/]+)@")
_KEY_VALUE = re.compile(
    r"(?i)([\"']?\b(?:access_token|refresh_token|client_secret|api_key|apikey|password|assertion|"
    r"private_key)[\"']?\s*[=:]\s*[\"']?)([^\"'&\s,}]+)"
)


class Redactor:
    """Masks known secret values and secret-shaped text in strings, mappings and sequences."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets: tuple[str, ...] = ()
        self.remember(secrets)

    def remember(self, secrets: Iterable[str]) -> None:
        """Add secret values; longest first, so a secret that contains another is masked whole."""
        known = set(self.secrets) | {secret for secret in secrets if len(secret) >= 4}
        self.secrets = tuple(sorted(known, key=len, reverse=True))

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        value = _AUTH_HEADER.sub(lambda match: f"{match.group(1)} {MASK}", value)
        value = _URL_PASSWORD.sub(lambda match: f"{match.group(1)}:{MASK}@", value)
        return _KEY_VALUE.sub(lambda match: f"{match.group(1)}{MASK}", value)

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {
                key: MASK if isinstance(key, str) and _SECRET_KEYS.match(key) and item else self.value(item)
                for key, item in value.items()
            }
        if isinstance(value, list | tuple | set):
            items = [self.value(item) for item in value]
            return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
        if isinstance(value, bytes):
            return self.text(value.decode("utf-8", "replace"))
        if value is None or isinstance(value, bool | int | float):
            return value
        return self.text(str(value))

    def __call__(self, _logger: object, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        """A structlog processor: place it after exception formatting so tracebacks are masked too."""
        return self.value(event_dict)


REDACTOR = Redactor()
"""The process-wide redactor that logging uses; the configuration loader feeds it secrets."""
