"""Fixtures shared by the whole suite: the real services the tests talk to, found at their standard ports."""

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cmsync.logs import configure_logging
from tests import services

REPOSITORY = Path(__file__).resolve().parent.parent


PRIVATE_SERVICES = os.environ.get("CMSYNC_TEST_PRIVATE_SERVICES", "") not in ("", "0")


def _private_workdir(service: str) -> Path:
    """A directory for a private server's data, reachable by the server's own user when it is not root."""
    workdir = Path(tempfile.mkdtemp(prefix=f"cmsync-test-{service}-"))
    workdir.chmod(0o755)
    return workdir


@pytest.fixture(scope="session")
def rabbitmq() -> Iterator[services.RabbitMQ]:
    """RabbitMQ for the tests: $CMSYNC_TEST_AMQP_URL or the local server; a private node when neither answers
    (or CMSYNC_TEST_PRIVATE_SERVICES=1); the tests that need it are skipped, with the reason, when none can be had."""
    url = os.environ.get("CMSYNC_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    if not PRIVATE_SERVICES and services.answers(url, 5672):
        yield services.RabbitMQ(url=url)
        return
    workdir = _private_workdir("rabbitmq")
    try:
        server = services.start_rabbitmq(workdir)
    except services.UnavailableError as reason:
        shutil.rmtree(workdir, ignore_errors=True)
        pytest.skip(f"RabbitMQ: nothing answers at {services.redact_url(url)} and no private node: {reason}")
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


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
    workdir = _private_workdir("postgres")
    try:
        server = services.start_postgres(workdir)
    except services.UnavailableError as reason:
        shutil.rmtree(workdir, ignore_errors=True)
        pytest.skip(f"PostgreSQL: nothing answers at {services.redact_url(url)} and no private cluster: {reason}")
    try:
        yield server.url
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


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
