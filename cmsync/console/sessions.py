"""Signed-in sessions, kept in the supervisor's memory: a random token in an HttpOnly, SameSite=Strict
cookie, and a CSRF token per session that every action must send back."""

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

COOKIE = "cmsync_console"


@dataclass
class Session:
    """One browser's sign-in: its cookie token, its CSRF token, and messages for the next page."""

    token: str
    csrf: str
    expires: float
    messages: list[tuple[str, str]] = field(default_factory=list)

    def flash(self, kind: str, text: str) -> None:
        self.messages.append((kind, text))

    def take_messages(self) -> list[tuple[str, str]]:
        taken, self.messages = self.messages, []
        return taken

    def csrf_matches(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.csrf.encode())


class Sessions:
    """Every session alive; a restart of the supervisor signs everyone out."""

    def __init__(self, lifetime: timedelta) -> None:
        self.lifetime = lifetime
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self) -> Session:
        expires = time.monotonic() + self.lifetime.total_seconds()
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), expires)
        with self._lock:
            self._drop_expired()
            self._sessions[session.token] = session
        return session

    def find(self, token: str | None) -> Session | None:
        if not token:
            return None
        with self._lock:
            session = self._sessions.get(token)
            if session is not None and session.expires < time.monotonic():
                del self._sessions[token]
                return None
            return session

    def end(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)

    def _drop_expired(self) -> None:
        now = time.monotonic()
        for token in [token for token, session in self._sessions.items() if session.expires < now]:
            del self._sessions[token]
