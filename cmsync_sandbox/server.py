"""Serves an emulator (a WSGI app) on loopback, over plain HTTP or HTTPS, from a background thread.

The server is cheroot's: it speaks HTTP/1.1 with keep-alive, so a client keeps its connection between calls
as it does with the real APIs (Werkzeug's development server closes the connection after every response).
An idle connection is parked without holding a worker thread, and closed after ``IDLE_TIMEOUT`` seconds.

With TLS, a private certificate authority (trustme) signs the server certificate and is written to a PEM
file, so any client (requests, curl, another library) can be pointed at it with its CA-bundle option.
"""

import os
import socket
import tempfile
import threading
from pathlib import Path
from typing import Self

import trustme
from cheroot.ssl.builtin import BuiltinSSLAdapter
from cheroot.wsgi import Server

from cmsync_sandbox.calls import CallLog, Recorder, WsgiApp

WORKERS = 16
"""Calls served at once; more wait for a free worker (idle keep-alive connections hold none)."""
IDLE_TIMEOUT = 30
"""Seconds an idle keep-alive connection stays open; clients reconnect transparently after that."""

_CERTIFICATE_AUTHORITY: trustme.CA | None = None
_CA_LOCK = threading.Lock()


def _certificate_authority() -> trustme.CA:
    """One CA per process, so both emulators' certificates chain to the same written file."""
    global _CERTIFICATE_AUTHORITY
    with _CA_LOCK:
        if _CERTIFICATE_AUTHORITY is None:
            _CERTIFICATE_AUTHORITY = trustme.CA(organization_name="cmsync sandbox")
        return _CERTIFICATE_AUTHORITY


def _tls_adapter(host: str) -> BuiltinSSLAdapter:
    """cheroot's TLS adapter with a certificate for ``host`` from the private CA (it reads the PEM from a file,
    which is removed once read)."""
    issued = _certificate_authority().issue_cert(host, "localhost")
    with tempfile.TemporaryDirectory(prefix="cmsync-sandbox-tls-") as folder:
        pem = Path(folder) / "server.pem"
        issued.private_key_and_cert_chain_pem.write_to_path(str(pem))
        return BuiltinSSLAdapter(str(pem), str(pem))


class ListenError(Exception):
    """An emulator could not listen on its address (most often: another program has the port)."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        super().__init__(f"cannot listen on {host}:{port}: {reason}")
        self.port = port


def _bind_failure(host: str, port: int, fallback: str) -> str:
    """Why ``host:port`` cannot be bound, as the system words it (cheroot flattens it into a message)."""
    try:
        socket.create_server((host, port)).close()
    except OSError as error:
        return os.strerror(error.errno) if error.errno else fallback
    return fallback


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
        self._server = Server((host, port), Recorder(app, calls), numthreads=WORKERS, timeout=IDLE_TIMEOUT)
        if ca_file is not None:
            self._server.ssl_adapter = _tls_adapter(host)
            ca_file.parent.mkdir(parents=True, exist_ok=True)
            _certificate_authority().cert_pem.write_to_path(str(ca_file))
        try:
            self._server.prepare()
        except OSError as error:
            raise ListenError(host, port, _bind_failure(host, port, str(error))) from None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.ca_file is not None else "http"
        host, port = self._server.bind_addr[:2]
        return f"{scheme}://{host}:{port}"

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._server.serve, name=f"sandbox {self.url}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
