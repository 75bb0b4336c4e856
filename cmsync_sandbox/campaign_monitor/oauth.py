"""OAuth for the emulator: the token endpoint (``refresh_token`` grant) and the bearer tokens it issues.

Tokens live ``lifetime`` seconds of the emulator's clock, as CM's do (two weeks by default); tests expire
them all at once to see a client refresh after CM's 401 with code 121.
"""

import secrets
import threading
from typing import Any

from cmsync_sandbox.campaign_monitor.dates import Clock
from cmsync_sandbox.campaign_monitor.errors import ApiError

OAUTH_CLIENT_ID = "sandbox-cm-client-id"
OAUTH_CLIENT_SECRET = "sandbox-cm-client-secret"
OAUTH_REFRESH_TOKEN = "sandbox-cm-refresh-token"
TOKEN_LIFETIME = 14 * 24 * 3600


class OAuthGrantError(Exception):
    """A token request CM refuses: ``{"error", "error_description"}`` with HTTP 400."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


class TokenStore:
    """Refresh tokens the emulator accepts and access tokens it issued, with their expiry."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.lifetime = TOKEN_LIFETIME
        self.refresh_tokens = {OAUTH_REFRESH_TOKEN}
        self._expiry: dict[str, float] = {}

    def grant(self, form: dict[str, str]) -> dict[str, Any]:
        """Answer a token request: a new access token for a known refresh token."""
        grant_type = form.get("grant_type", "")
        if grant_type != "refresh_token":
            raise OAuthGrantError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported")
        refresh_token = form.get("refresh_token", "")
        if refresh_token not in self.refresh_tokens:
            raise OAuthGrantError("invalid_grant", "Invalid refresh_token")
        access_token = f"sandbox-access-{secrets.token_hex(16)}"
        with self._lock:
            self._expiry[access_token] = self._clock.seconds() + self.lifetime
        return {"access_token": access_token, "expires_in": self.lifetime, "refresh_token": refresh_token}

    def check(self, access_token: str) -> None:
        """Raise CM's error for an unknown (120) or expired (121) token."""
        with self._lock:
            expiry = self._expiry.get(access_token)
        if expiry is None:
            raise ApiError(120)
        if self._clock.seconds() >= expiry:
            raise ApiError(121)

    def expire_all(self) -> None:
        """Every access token issued so far has expired."""
        with self._lock:
            self._expiry = dict.fromkeys(self._expiry, 0.0)

    def clear(self) -> None:
        with self._lock:
            self._expiry.clear()
            self.lifetime = TOKEN_LIFETIME
