"""Fixtures for outage tests: the emulators, a fresh PostgreSQL schema, and fault proxies in front of the
real PostgreSQL and RabbitMQ."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.proxy import FaultProxy
from tests.sync.world import World, start_world, stop_world
from tests.workers.conftest import postgres_schema_url

__all__ = ["postgres_schema_url"]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    started = start_world(tmp_path)
    yield started
    stop_world(started)


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
