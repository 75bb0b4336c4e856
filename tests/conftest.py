"""Fixtures shared by the whole suite: the real services the tests talk to, found at their standard ports."""

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest

from cmsync.logs import configure_logging
from tests import services

REPOSITORY = Path(__file__).resolve().parent.parent


Server = TypeVar("Server", services.RabbitMQ, services.PostgreSQL)
PRIVATE_SERVICES = os.environ.get("CMSYNC_TEST_PRIVATE_SERVICES", "") not in ("", "0")


@contextmanager
def _private(service: str, start: Callable[[Path], Server], url: str) -> Iterator[Server]:
    """A private instance of ``service``, its data in a temporary directory reachable by the server's own user,
    stopped and removed at the end; the tests that need it are skipped, with the reason, when none starts."""
    workdir = Path(tempfile.mkdtemp(prefix=f"cmsync-test-{service.lower()}-"))
    workdir.chmod(0o755)
    try:
        server = start(workdir)
    except services.UnavailableError as reason:
        shutil.rmtree(workdir, ignore_errors=True)
        pytest.skip(f"{service}: nothing answers at {services.redact_url(url)} and no private instance: {reason}")
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def rabbitmq() -> Iterator[services.RabbitMQ]:
    """RabbitMQ for the tests: $CMSYNC_TEST_AMQP_URL or the local server; a private node when neither answers
    (or CMSYNC_TEST_PRIVATE_SERVICES=1); the tests that need it are skipped, with the reason, when none can be had."""
    url = os.environ.get("CMSYNC_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    if not PRIVATE_SERVICES and services.answers(url, 5672):
        yield services.RabbitMQ(url=url)
        return
    with _private("RabbitMQ", services.start_rabbitmq, url) as server:
        yield server


@pytest.fixture(scope="session")
def amqp_url(rabbitmq: services.RabbitMQ) -> Iterator[str]:
    """A virtual host of this session's own on the tests' RabbitMQ, so that nothing else using the server
    (another test run, a real installation) shares its queues."""
    given = "CMSYNC_TEST_AMQP_URL" in os.environ and rabbitmq.node is None
    if given or not rabbitmq.controllable:
        yield rabbitmq.url
        return
    vhost = f"cmsync-test-{os.getpid()}"
    rabbitmq.ctl("add_vhost", vhost)
    rabbitmq.ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    yield f"{rabbitmq.url.rstrip('/')}/{vhost}"
    rabbitmq.ctl("delete_vhost", vhost)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """PostgreSQL for the tests: $CMSYNC_TEST_POSTGRES_URL or the local server; a private cluster when neither
    answers (or CMSYNC_TEST_PRIVATE_SERVICES=1); skipped, with the reason, when none can be had."""
    url = os.environ.get("CMSYNC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    if not PRIVATE_SERVICES and services.answers(url, 5432):
        yield url
        return
    with _private("PostgreSQL", services.start_postgres, url) as server:
        yield server.url


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No configuration or credential variables leak from the developer's shell into a test."""
    for name in ("CMSYNC_CONFIG", "CREDENTIALS_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    yield monkeypatch


@pytest.fixture(autouse=True)
def logging_on_stdout() -> None:
    """Every test starts with cmsync's log lines on stdout, wherever an earlier test in this process sent them."""
    configure_logging("console", "info")
