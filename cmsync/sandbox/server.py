"""Serves an emulator (a WSGI app) on loopback, over plain HTTP or HTTPS, from a background thread.

With TLS, a private certificate authority (trustme) signs the server certificate and is written to a PEM
file, so any client (requests, curl, another library) can be pointed at it with its CA-bundle option.
"""

import ssl
import threading
from pathlib import Path
from typing import Self

import trustme
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from cmsync.sandbox.calls import CallLog, Recorder, WsgiApp


class _KeepAlive(WSGIRequestHandler):
    """HTTP/1.1, so clients keep their connections open between calls as they do with the real APIs."""

    protocol_version = "HTTP/1.1"


_CERTIFICATE_AUTHORITY: trustme.CA | None = None
_CA_LOCK = threading.Lock()


def _certificate_authority() -> trustme.CA:
    """One CA per process, so both emulators' certificates chain to the same written file."""
    global _CERTIFICATE_AUTHORITY
    with _CA_LOCK:
        if _CERTIFICATE_AUTHORITY is None:
            _CERTIFICATE_AUTHORITY = trustme.CA(organization_name="cmsync sandbox")
        return _CERTIFICATE_AUTHORITY


class SandboxServer:
    """One emulator on ``host:port`` (port 0 picks a free one); ``url`` says where it ended up."""

    def __init__(
        self,
        app: WsgiApp,
        calls: CallLog,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ca_file: Path | None = None,
    ) -> None:
        self.calls = calls
        self.ca_file = ca_file
        context = None
        if ca_file is not None:
            authority = _certificate_authority()
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            authority.issue_cert(host, "localhost").configure_cert(context)
            ca_file.parent.mkdir(parents=True, exist_ok=True)
            authority.cert_pem.write_to_path(str(ca_file))
        self._server: BaseWSGIServer = make_server(host, port, Recorder(app, calls), threaded=True, ssl_context=context)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.ca_file is not None else "http"
        return f"{scheme}://{self._server.host}:{self._server.port}"

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"sandbox {self.url}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
