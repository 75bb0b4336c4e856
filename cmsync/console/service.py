"""The console's life inside ``cmsync run``: served from a thread when ``console.listen`` is set, rebuilt
on reload (a new address restarts it, a new password signs everyone out), stopped with the supervisor.

A console that cannot listen (its port taken) is logged; the supervisor goes on syncing without it. The
socket is bound here, not by Werkzeug, which would end the process when the port is taken.
"""

import socket
import threading

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from cmsync.config import Settings
from cmsync.console.app import ConsoleApp
from cmsync.logs import get_logger
from cmsync.state import StateStore

log = get_logger(__name__)


class _QuietHandler(WSGIRequestHandler):
    """HTTP/1.1, and no access line on stderr per request (the page polls every second)."""

    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


class Console:
    """Starts, reloads and stops the console server for the supervisor."""

    def __init__(self, config_path: str) -> None:
        self.config_path = config_path
        self.app: ConsoleApp | None = None
        self.store: StateStore | None = None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._listen: str | None = None

    @property
    def url(self) -> str | None:
        return f"http://{self._listen}/" if self._server is not None else None

    def start(self, settings: Settings) -> None:
        listen = settings.console.listen
        if listen is None:
            return
        host, _, port = listen.rpartition(":")
        host = host.strip("[]")
        try:
            bound = socket.create_server((host, int(port)), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
        except OSError as error:
            log.error("cannot serve the console", listen=listen, error=error.strerror)
            return
        self.store = StateStore.open(settings.state.url.get_secret_value())
        self.app = ConsoleApp(settings, self.config_path, self.store)
        with bound:
            self._server = make_server(
                host, int(port), self.app, threaded=True, request_handler=_QuietHandler, fd=bound.fileno()
            )
        self._listen = listen
        self._thread = threading.Thread(target=self._server.serve_forever, name="console", daemon=True)
        self._thread.start()
        log.info("console serving", url=self.url)

    def reload(self, settings: Settings) -> None:
        """Apply a reloaded configuration: same address, swapped in place; another address, restarted."""
        if self.app is not None and settings.console.listen == self._listen:
            self.app.apply(settings)
            return
        self.stop()
        self.start(settings)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.app = None
        self._listen = None
        self._close_store()

    def _close_store(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None
