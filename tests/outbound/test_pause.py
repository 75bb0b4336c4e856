"""Where the watermarks start after a pause: the moment outbound came back on, whichever pause it was."""

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from cmsync.outbound.pause import pause, resume, resumed_at
from cmsync.state import StateStore
from cmsync.systems import Systems
from tests.config.builders import load, with_settings
from tests.workers.conftest import ManualClock

STREAMS = ("Contact", "Lead")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    opened = StateStore.open(f"sqlite:///{tmp_path / 'state.db'}", ManualClock())
    yield opened
    opened.close()


@pytest.fixture
def systems(store: StateStore) -> Iterator[Systems]:
    built = Systems.from_settings(load(with_settings()), store)
    yield built
    built.close()


def _loaded_at(systems: Systems, moment: datetime) -> Systems:
    """``systems`` as if its configuration had been loaded at ``moment``."""
    return replace(systems, built_at=moment)


def _advance(store: StateStore, minutes: int) -> datetime:
    clock: ManualClock = store.clock  # type: ignore[assignment]
    clock.advance(timedelta(minutes=minutes))
    return clock.now


def test_after_a_disconnect_the_start_is_the_connect(store: StateStore, systems: Systems) -> None:
    built = _advance(store, 0)
    store.connection.set(False)
    pause(_loaded_at(systems, built), ["disconnected"], STREAMS)
    connected = _advance(store, 10)
    store.connection.set(True)
    reloaded = _advance(store, 1)
    assert resumed_at(_loaded_at(systems, built)) == connected
    assert resumed_at(_loaded_at(systems, reloaded)) == connected


def test_after_disable_triggers_a_connect_while_connected_moves_nothing(store: StateStore, systems: Systems) -> None:
    pause(_loaded_at(systems, _advance(store, 0)), ["disable_triggers"], STREAMS)
    reloaded = _advance(store, 5)
    _advance(store, 5)
    store.connection.set(True)
    assert resumed_at(_loaded_at(systems, reloaded)) == reloaded


def test_with_both_pauses_the_later_end_counts_and_resume_forgets_the_pause(
    store: StateStore, systems: Systems
) -> None:
    store.connection.set(False)
    pause(_loaded_at(systems, _advance(store, 0)), ["disconnected"], STREAMS)
    pause(_loaded_at(systems, _advance(store, 1)), ["disable_triggers"], STREAMS)
    connected = _advance(store, 5)
    store.connection.set(True)
    reloaded = _advance(store, 5)
    assert resumed_at(_loaded_at(systems, reloaded)) == reloaded
    assert resumed_at(_loaded_at(systems, connected - timedelta(minutes=1))) == connected
    resume(systems)
    later = _advance(store, 60)
    assert resumed_at(_loaded_at(systems, later)) == later
