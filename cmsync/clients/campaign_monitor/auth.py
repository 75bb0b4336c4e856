"""How cmsync signs in to Campaign Monitor: an API key (HTTP Basic) or OAuth (bearer tokens, refreshed).

Secrets are held as ``SecretStr`` and handed to the log redactor as soon as they are known, so neither the
key nor any token can appear in a log line, an error or a repr.
"""

import base64
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

from pydantic import SecretStr

from cmsync.redaction import REDACTOR

TokenRequest = Callable[[str, dict[str, str]], Any]
"""Posts a form to a token URL and returns the parsed JSON answer (the transport provides it)."""

_REFRESH_MARGIN = 60.0


def _secret(value: str | SecretStr) -> SecretStr:
    secret = value if isinstance(value, SecretStr) else SecretStr(value)
    REDACTOR.remember([secret.get_secret_value()])
    return secret


class Authenticator(Protocol):
    """What the transport needs: the ``Authorization`` header, and a way to renew it after code 121."""

    refreshable: bool

    def authorization(self, request_token: TokenRequest) -> str: ...

    def refresh(self, request_token: TokenRequest, expired: str) -> None: ...


class ApiKey:
    """CM API key: HTTP Basic with the key as user name and any password."""

    refreshable = False

    def __init__(self, api_key: str | SecretStr) -> None:
        secret = _secret(api_key)
        encoded = base64.b64encode(f"{secret.get_secret_value()}:x".encode()).decode("ascii")
        self._header = SecretStr(f"Basic {encoded}")
        REDACTOR.remember([encoded])

    def authorization(self, _request_token: TokenRequest) -> str:
        return self._header.get_secret_value()

    def refresh(self, _request_token: TokenRequest, _expired: str) -> None:
        raise RuntimeError("an API key cannot be refreshed")

    def __repr__(self) -> str:
        return "ApiKey(***)"


def token_url(base_url: str) -> str:
    """CM's token endpoint for an API base URL (``https://host/api/v3.3`` → ``https://host/oauth/token``)."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}/oauth/token"


class OAuth:
    """OAuth: an access token from the refresh token, renewed before it expires or when CM says it has."""

    refreshable = True

    def __init__(
        self, client_id: str, client_secret: str | SecretStr, refresh_token: str | SecretStr, *, token_url: str
    ) -> None:
        self.client_id = client_id
        self._client_secret = _secret(client_secret)
        self._refresh_token = _secret(refresh_token)
        self.token_url = token_url
        self._access_token: SecretStr | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()

    def authorization(self, request_token: TokenRequest) -> str:
        with self._lock:
            token = self._access_token
            if token is None or time.monotonic() >= self._expires_at:
                token = self._renew(request_token)
            return f"Bearer {token.get_secret_value()}"

    def refresh(self, request_token: TokenRequest, expired: str) -> None:
        """Get a new access token: CM said the one in the ``expired`` header has expired.

        When another thread already replaced that token, its new one is used instead of asking again.
        """
        with self._lock:
            token = self._access_token
            if token is None or f"Bearer {token.get_secret_value()}" == expired:
                self._renew(request_token)

    def _renew(self, request_token: TokenRequest) -> SecretStr:
        answer = request_token(
            self.token_url,
            {"grant_type": "refresh_token", "refresh_token": self._refresh_token.get_secret_value()},
        )
        token = self._access_token = _secret(str(answer["access_token"]))
        if answer.get("refresh_token"):
            self._refresh_token = _secret(str(answer["refresh_token"]))
        lifetime = float(answer.get("expires_in") or 0)
        self._expires_at = time.monotonic() + max(0.0, lifetime - _REFRESH_MARGIN) if lifetime else float("inf")
        return token

    def __repr__(self) -> str:
        return f"OAuth(client_id={self.client_id!r}, token_url={self.token_url!r})"
