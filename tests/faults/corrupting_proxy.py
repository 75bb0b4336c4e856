"""An HTTP proxy in front of an emulator that spoils some answers on the way, as a broken load balancer or
a struggling server would: an HTML page with status 200, a JSON body cut off half-way, or a Bulk job
status whose ``state`` is one the API does not have. Everything else passes through unchanged, with the
upstream URL in bodies rewritten to the proxy's, so that a Salesforce sign-in's ``instance_url`` leads
back through it."""

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

import requests

SPOILS = ("html", "truncated_json", "unknown_bulk_state")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}


@dataclass
class Spoil:
    """Spoil the next ``calls`` answers whose path holds ``path`` (``calls`` < 0: every one)."""

    kind: str
    path: str
    calls: int


class CorruptingProxy:
    """A proxy on 127.0.0.1 to ``upstream``; ``spoil()`` chooses which answers it spoils and how."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self._lock = threading.Lock()
        self._spoil: Spoil | None = None
        self.spoilt = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def spoil(self, kind: str, path: str, calls: int = 1) -> None:
        if kind not in SPOILS:
            raise ValueError(f"kind is one of {', '.join(SPOILS)}")
        with self._lock:
            self._spoil = Spoil(kind, path, calls)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _take(self, path: str, bulk_status: bool) -> str | None:
        """The spoil this answer gets (a Bulk state is spoilt only in a job's status, as read by a GET)."""
        with self._lock:
            spoil = self._spoil
            if spoil is None or spoil.path not in path or spoil.calls == 0:
                return None
            if spoil.kind == "unknown_bulk_state" and not bulk_status:
                return None
            spoil.calls -= 1
            self.spoilt += 1
            return spoil.kind

    def _answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        upstream = requests.request(
            method, f"{self.upstream}{path}", headers=headers, data=body or None, timeout=30, allow_redirects=False
        )
        content = upstream.content.replace(self.upstream.encode(), self.url.encode())
        kept = {name: value for name, value in upstream.headers.items() if name.lower() not in _HOP_BY_HOP}
        kind = self._take(path, method == "GET" and _bulk_status(content)) if upstream.status_code < 300 else None
        if kind == "html":
            return 200, {"Content-Type": "text/html"}, b"<html><body><h1>502 Bad Gateway</h1></body></html>"
        if kind == "truncated_json":
            return 200, kept, content[: len(content) // 2]
        if kind == "unknown_bulk_state":
            info = json.loads(content)
            return 200, kept, json.dumps({**info, "state": "Bogus"}).encode()
        return upstream.status_code, kept, content

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {name: value for name, value in self.headers.items() if name.lower() != "host"}
                status, answer_headers, content = proxy._answer(self.command, self.path, headers, body)
                self.send_response(status)
                for name, value in answer_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def do_GET(self) -> None:
                self._relay()

            def do_POST(self) -> None:
                self._relay()

            def do_PUT(self) -> None:
                self._relay()

            def do_PATCH(self) -> None:
                self._relay()

            def do_DELETE(self) -> None:
                self._relay()

            def log_message(self, *_args: object) -> None:
                return

        return Handler


def _bulk_status(content: bytes) -> bool:
    try:
        answer = json.loads(content)
    except ValueError:
        return False
    return isinstance(answer, dict) and "state" in answer
