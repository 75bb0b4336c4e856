"""The org's OAuth 2.0 server: the JWT bearer and refresh-token grants, sessions that expire, and the
identity URLs that tell a client which user it is signed in as.

JWT assertions are verified like Salesforce verifies them: an RS256 signature by the key of the
connected app's certificate, ``iss`` the consumer key, ``sub`` a username of the org, ``aud`` the login
server, and ``exp`` not passed. Errors are ``{"error", "error_description"}`` with HTTP 400.
"""

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
STANDARD_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")


class OAuthError(Exception):
    """A refused token request: ``error`` and ``error_description`` as Salesforce words them."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass(frozen=True)
class Session:
    """A signed-in user: who, and until when (the org clock's seconds)."""

    user_id: str
    expires: float


def public_key_of(pem: bytes) -> RSAPublicKey:
    """The RSA public key in a PEM certificate (what a connected app holds) or a PEM public key."""
    key = x509.load_pem_x509_certificate(pem).public_key() if b"CERTIFICATE" in pem else load_pem_public_key(pem)
    if not isinstance(key, RSAPublicKey):
        raise ValueError("the connected app's certificate must hold an RSA key")
    return key


class OAuthServer:
    """Issues and checks access tokens for one org."""

    def __init__(
        self,
        *,
        org_id: str,
        client_id: str,
        client_secret: str,
        refresh_tokens: dict[str, str],
        user_for_username: Callable[[str], str | None],
        token_ttl: Callable[[], float],
        rotate_refresh_tokens: bool = False,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.org_id = org_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_tokens = dict(refresh_tokens)
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.jwt_key: RSAPublicKey | None = None
        self._user_for_username = user_for_username
        self._token_ttl = token_ttl
        self._now = now
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def trust_certificate(self, pem: bytes) -> None:
        """Upload the connected app's certificate: JWT assertions signed by its key are accepted."""
        self.jwt_key = public_key_of(pem)

    def token(self, form: dict[str, str], base_url: str) -> dict[str, Any]:
        """Answer a POST to /services/oauth2/token, or raise OAuthError."""
        grant = form.get("grant_type", "")
        if grant == JWT_GRANT:
            user_id = self._jwt_user(form.get("assertion", ""), base_url)
            return self._issue(user_id, base_url, scope="api")
        if grant == "refresh_token":
            user_id, refresh_token = self._refresh_user(form)
            response = self._issue(user_id, base_url, scope="api refresh_token")
            if refresh_token:
                response["refresh_token"] = refresh_token
            return response
        raise OAuthError("unsupported_grant_type", "grant type not supported")

    def _jwt_user(self, assertion: str, base_url: str) -> str:
        if self.jwt_key is None:
            raise OAuthError("invalid_grant", "invalid assertion")
        try:
            header = jwt.get_unverified_header(assertion)
            if header.get("alg") != "RS256":
                raise OAuthError("invalid_grant", "invalid assertion")
            claims = jwt.decode(
                assertion,
                self.jwt_key,
                algorithms=["RS256"],
                audience=[*STANDARD_AUDIENCES, base_url.rstrip("/")],
                options={"require": ["iss", "sub", "aud", "exp"]},
            )
        except jwt.ExpiredSignatureError:
            raise OAuthError("invalid_grant", "expired authorization code") from None
        except jwt.InvalidAudienceError:
            raise OAuthError("invalid_grant", "audience is invalid") from None
        except jwt.PyJWTError:
            raise OAuthError("invalid_grant", "invalid assertion") from None
        if claims["iss"] != self.client_id:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        user_id = self._user_for_username(claims["sub"])
        if user_id is None:
            raise OAuthError("invalid_grant", "user hasn't approved this consumer")
        return user_id

    def _refresh_user(self, form: dict[str, str]) -> tuple[str, str | None]:
        if form.get("client_id") != self.client_id:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        secret = form.get("client_secret")
        if secret is not None and not hmac.compare_digest(secret, self.client_secret):
            raise OAuthError("invalid_client", "invalid client credentials")
        with self._lock:
            user_id = self.refresh_tokens.get(form.get("refresh_token", ""))
            if user_id is None:
                raise OAuthError("invalid_grant", "expired access/refresh token")
            if not self.rotate_refresh_tokens:
                return user_id, None
            del self.refresh_tokens[form["refresh_token"]]
            rotated = secrets.token_urlsafe(48)
            self.refresh_tokens[rotated] = user_id
            return user_id, rotated

    def _issue(self, user_id: str, base_url: str, *, scope: str) -> dict[str, Any]:
        token = f"{self.org_id[:15]}!{secrets.token_urlsafe(72)}"
        with self._lock:
            self._sessions[token] = Session(user_id, self._now() + self._token_ttl())
        identity = self.identity_url(base_url, user_id)
        issued_at = str(int(self._now() * 1000))
        signature = hmac.new(self.client_secret.encode(), (identity + issued_at).encode(), hashlib.sha256).digest()
        return {
            "access_token": token,
            "instance_url": base_url.rstrip("/"),
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
            "signature": base64.b64encode(signature).decode(),
            "scope": scope,
        }

    def identity_url(self, base_url: str, user_id: str) -> str:
        return f"{base_url.rstrip('/')}/id/{self.org_id}/{user_id}"

    def session(self, authorization: str | None) -> Session | None:
        """The live session of an ``Authorization: Bearer <token>`` header (``OAuth`` works too), or None."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() not in ("bearer", "oauth"):
            return None
        with self._lock:
            session = self._sessions.get(token.strip())
            if session is None:
                return None
            if session.expires <= self._now():
                del self._sessions[token.strip()]
                return None
            return session

    def expire_all(self) -> int:
        """End every session now (a fault: the next call of each client gets INVALID_SESSION_ID)."""
        with self._lock:
            count = len(self._sessions)
            self._sessions.clear()
            return count
