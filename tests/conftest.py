"""Fixtures shared by the whole suite: the real services the tests talk to, found at their standard ports."""

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPOSITORY = Path(__file__).resolve().parent.parent


def _require(service: str, url: str, default_port: int, variable: str) -> str:
    """Stop the whole run with one clear line when a service the tests need is not reachable."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    try:
        with socket.create_connection((host, port), timeout=2):
            return url
    except OSError as error:
        pytest.exit(
            f"{service} is not reachable at {host}:{port} ({error.strerror or error}); start it, "
            f"or point {variable} at one (see README, Development)",
            returncode=3,
        )


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    """RabbitMQ for the tests: $CMSYNC_TEST_AMQP_URL, or a virtual host of its own on the local server, so
    that nothing else using the server (another test run, a real installation) shares its queues."""
    given = os.environ.get("CMSYNC_TEST_AMQP_URL")
    if given:
        yield _require("RabbitMQ", given, 5672, "CMSYNC_TEST_AMQP_URL")
        return
    _require("RabbitMQ", "amqp://127.0.0.1:5672/", 5672, "CMSYNC_TEST_AMQP_URL")
    vhost = f"cmsync-test-{os.getpid()}"
    if shutil.which("rabbitmqctl") is None:
        yield "amqp://guest:guest@127.0.0.1:5672/"
        return
    subprocess.run(["rabbitmqctl", "add_vhost", vhost], check=True, capture_output=True, timeout=60)
    subprocess.run(["rabbitmqctl", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], check=True,
                   capture_output=True, timeout=60)  # fmt: skip
    yield f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    subprocess.run(["rabbitmqctl", "delete_vhost", vhost], capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """PostgreSQL for the tests: $CMSYNC_TEST_POSTGRES_URL or the local default."""
    url = os.environ.get("CMSYNC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    return _require("PostgreSQL", url, 5432, "CMSYNC_TEST_POSTGRES_URL")


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No configuration or credential variables leak from the developer's shell into a test."""
    for name in ("CMSYNC_CONFIG", "CREDENTIALS_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    yield monkeypatch
