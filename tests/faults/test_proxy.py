"""The fault proxy itself: traffic passes, a cut closes connections and refuses new ones, a blackhole
holds bytes until restored, a delay holds each chunk."""

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.faults.proxy import FaultProxy


@pytest.fixture
def echo() -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))

    def serve(connection: socket.socket) -> None:
        with connection:
            while data := connection.recv(1024):
                connection.sendall(data)

    def accept() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield int(server.getsockname()[1])
    server.close()


@pytest.fixture
def proxy(echo: int) -> Iterator[FaultProxy]:
    started = FaultProxy("127.0.0.1", echo)
    yield started
    started.close()


def _client(proxy: FaultProxy, timeout: float = 5) -> socket.socket:
    return socket.create_connection(("127.0.0.1", proxy.port), timeout=timeout)


def test_traffic_passes(proxy: FaultProxy) -> None:
    with _client(proxy) as client:
        client.sendall("josé 田中 🙂".encode())
        assert client.recv(1024).decode() == "josé 田中 🙂"


def test_a_cut_closes_open_connections_and_refuses_new_ones_until_restored(proxy: FaultProxy) -> None:
    with _client(proxy) as client:
        client.sendall(b"ping")
        assert client.recv(16) == b"ping"
        proxy.cut()
        assert client.recv(16) == b""
    with _client(proxy) as refused:
        assert refused.recv(16) == b""
    proxy.restore()
    with _client(proxy) as again:
        again.sendall(b"back")
        assert again.recv(16) == b"back"


def test_a_blackhole_holds_bytes_until_restored(proxy: FaultProxy) -> None:
    with _client(proxy, timeout=0.3) as client:
        proxy.blackhole()
        client.sendall(b"held")
        with pytest.raises(TimeoutError):
            client.recv(16)
        proxy.restore()
        client.settimeout(5)
        assert client.recv(16) == b"held"


def test_a_delay_holds_each_chunk(proxy: FaultProxy) -> None:
    proxy.delay(0.2)
    with _client(proxy) as client:
        started = time.monotonic()
        client.sendall(b"slow")
        assert client.recv(16) == b"slow"
        assert time.monotonic() - started >= 0.4
