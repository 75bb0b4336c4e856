"""A TCP proxy that breaks the network between cmsync and a service on demand: it cuts every connection
(and refuses new ones), blackholes them (holds every byte, as a network dropping packets does, until
restored), or delays every chunk; ``restore()`` lets traffic flow again."""

import contextlib
import socket
import threading
import time
from urllib.parse import urlsplit, urlunsplit

_CHUNK = 65536


class FaultProxy:
    """Listens on 127.0.0.1:``port`` and forwards to ``target``; the fault in force applies to all traffic."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._flowing = threading.Event()
        self._flowing.set()
        self._refusing = False
        self._delay = 0.0
        self._closed = False
        self.cuts = 0
        threading.Thread(target=self._accept, name=f"proxy:{self.port}", daemon=True).start()

    @classmethod
    def in_front_of(cls, url: str) -> "FaultProxy":
        parts = urlsplit(url)
        return cls(parts.hostname or "127.0.0.1", parts.port or {"amqp": 5672}.get(parts.scheme, 5432))

    def url(self, url: str) -> str:
        """``url`` pointed at this proxy instead of the service."""
        parts = urlsplit(url)
        credentials = parts.netloc.rpartition("@")[0]
        netloc = f"{credentials}@127.0.0.1:{self.port}" if credentials else f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    # Faults

    def cut(self) -> None:
        """Close every connection at once and refuse new ones until ``restore()``."""
        with self._lock:
            self._refusing = True
            self.cuts += 1
            doomed = list(self._sockets)
        for sock in doomed:
            _close(sock)

    def cut_for(self, seconds: float) -> threading.Timer:
        """Cut now and restore after ``seconds``, as a server restart or a network blip does."""
        self.cut()
        timer = threading.Timer(seconds, self.restore)
        timer.start()
        return timer

    def blackhole(self) -> None:
        """Hold every byte in both directions (connections stay open) until ``restore()``."""
        self._flowing.clear()

    def blackhole_for(self, seconds: float) -> threading.Timer:
        """Blackhole now and restore after ``seconds``."""
        self.blackhole()
        timer = threading.Timer(seconds, self.restore)
        timer.start()
        return timer

    def delay(self, seconds: float) -> None:
        """Forward every chunk ``seconds`` late."""
        self._delay = seconds

    def restore(self) -> None:
        with self._lock:
            self._refusing = False
        self._delay = 0.0
        self._flowing.set()

    def close(self) -> None:
        self._closed = True
        self.restore()
        _close(self._listener)
        with self._lock:
            doomed = list(self._sockets)
        for sock in doomed:
            _close(sock)

    # Forwarding

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                refusing = self._refusing
            if refusing:
                _close(client)
                continue
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        self._flowing.wait()
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            _close(client)
            return
        upstream.settimeout(None)
        with self._lock:
            if self._refusing:
                _close(client)
                _close(upstream)
                return
            self._sockets.update((client, upstream))
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(_CHUNK):
                self._flowing.wait()
                if self._delay:
                    time.sleep(self._delay)
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            with self._lock:
                self._sockets.discard(source)
                self._sockets.discard(sink)
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
