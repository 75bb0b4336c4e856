"""How cmsync signs in to Salesforce: the OAuth 2.0 JWT bearer flow (a signed assertion, no secret sent)
or the refresh-token flow. Each sign-in yields an access token, the instance URL to call and the signed-in
user's Id, taken from the identity URL Salesforce returns (``…/id/<org>/<user>``).

Secrets are held as ``SecretStr`` and handed to the log redactor as soon as they are known, so neither a
key, a secret nor a token can appear in a log line, an error or a repr.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from pydantic import SecretStr

from cmsync.redaction import REDACTOR

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME = 180
TokenRequest = Callable[[str, dict[str, str]], dict[str, Any]]
"""Posts a form to the token URL and returns the parsed JSON answer (the client provides it)."""


def _secret(value: str | SecretStr) -> SecretStr:
    secret = value if isinstance(value, SecretStr) else SecretStr(value)
    REDACTOR.remember([secret.get_secret_value()])
    return secret


@dataclass(frozen=True)
class SignIn:
    """A live sign-in: the token (hidden from repr), where to call, and who is signed in."""

    access_token: SecretStr = field(repr=False)
    instance_url: str
    identity_url: str
    user_id: str

    @classmethod
    def from_answer(cls, answer: dict[str, Any]) -> "SignIn":
        token = _secret(str(answer["access_token"]))
        identity = str(answer.get("id", ""))
        return cls(token, str(answer["instance_url"]).rstrip("/"), identity, identity.rstrip("/").rsplit("/", 1)[-1])


def token_url(login_url: str) -> str:
    return f"{login_url.rstrip('/')}/services/oauth2/token"


def jwt_audience(login_url: str) -> str:
    """The ``aud`` Salesforce expects: its login server for production and My Domain, the test server for
    sandboxes, and the login URL itself elsewhere (an Experience Cloud site, or the local emulator)."""
    host = (urlsplit(login_url).hostname or "").lower()
    if host == "test.salesforce.com" or host.endswith(".sandbox.my.salesforce.com"):
        return "https://test.salesforce.com"
    if host.endswith(".salesforce.com"):
        return "https://login.salesforce.com"
    return login_url.rstrip("/")


class Authenticator(Protocol):
    """Signs in: posts to the token endpoint through ``request_token`` and returns the new sign-in."""

    def sign_in(self, request_token: TokenRequest) -> SignIn: ...


class JwtBearerAuth:
    """JWT bearer flow: an RS256 assertion (``iss`` consumer key, ``sub`` username, ``aud``, ``exp``)."""

    def __init__(self, login_url: str, client_id: str, username: str, private_key: bytes | SecretStr) -> None:
        self.login_url = login_url.rstrip("/")
        self.client_id = client_id
        self.username = username
        key = private_key.get_secret_value() if isinstance(private_key, SecretStr) else private_key.decode()
        self._private_key = _secret(key)

    @classmethod
    def from_file(cls, login_url: str, client_id: str, username: str, private_key_file: Path) -> "JwtBearerAuth":
        return cls(login_url, client_id, username, private_key_file.read_bytes())

    def assertion(self) -> str:
        import jwt  # PyJWT and cryptography take a tenth of a second to import; only this sign-in needs them

        claims = {
            "iss": self.client_id,
            "sub": self.username,
            "aud": jwt_audience(self.login_url),
            "exp": int(time.time()) + ASSERTION_LIFETIME,
        }
        signed = jwt.encode(claims, self._private_key.get_secret_value(), algorithm="RS256")
        REDACTOR.remember([signed])
        return signed

    def sign_in(self, request_token: TokenRequest) -> SignIn:
        answer = request_token(token_url(self.login_url), {"grant_type": JWT_GRANT, "assertion": self.assertion()})
        return SignIn.from_answer(answer)

    def __repr__(self) -> str:
        return f"JwtBearerAuth({self.login_url!r}, client_id={self.client_id!r}, username={self.username!r})"


class RefreshTokenAuth:
    """Refresh-token flow; keeps the rotated refresh token when Salesforce returns a new one."""

    def __init__(
        self, login_url: str, client_id: str, client_secret: str | SecretStr, refresh_token: str | SecretStr
    ) -> None:
        self.login_url = login_url.rstrip("/")
        self.client_id = client_id
        self._client_secret = _secret(client_secret)
        self._refresh_token = _secret(refresh_token)

    def sign_in(self, request_token: TokenRequest) -> SignIn:
        form = {
            "grant_type": "refresh_token",
            "client_id": self.client_id,
            "client_secret": self._client_secret.get_secret_value(),
            "refresh_token": self._refresh_token.get_secret_value(),
        }
        answer = request_token(token_url(self.login_url), form)
        if answer.get("refresh_token"):
            self._refresh_token = _secret(str(answer["refresh_token"]))
        return SignIn.from_answer(answer)

    def __repr__(self) -> str:
        return f"RefreshTokenAuth({self.login_url!r}, client_id={self.client_id!r})"
