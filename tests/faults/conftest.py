"""Fixtures for fault tests: the end-to-end world of ``tests/sync`` (emulators and embedded cmsync), a fresh
PostgreSQL schema, and fault proxies in front of the real PostgreSQL and RabbitMQ."""

from collections.abc import Iterator

import pytest

from tests.faults.proxy import FaultProxy
from tests.sync.conftest import embedded, world
from tests.workers.conftest import postgres_schema_url

__all__ = ["embedded", "postgres_schema_url", "world"]


@pytest.fixture
def postgres_proxy(postgres_url: str) -> Iterator[FaultProxy]:
    proxy = FaultProxy.in_front_of(postgres_url)
    yield proxy
    proxy.close()


@pytest.fixture
def rabbitmq_proxy(amqp_url: str) -> Iterator[FaultProxy]:
    proxy = FaultProxy.in_front_of(amqp_url)
    yield proxy
    proxy.close()
