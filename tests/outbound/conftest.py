"""Fixtures of the outbound tests: a seeded world, and cmsync running with its outbound poller.

``Daemon`` runs the supervisor's own outbound loop (``cmsync.daemon.outbound_loop``: ``poll_once`` every
``outbound.poll_interval`` on a thread of its own) next to the embedded workers. Tests wait for polls
only through the state store (``outbound_last_poll``).
"""

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cmsync.daemon.outbound_loop import OutboundLoop
from cmsync.state import Run
from cmsync_sandbox.campaign_monitor.seeding import SeedSpec
from tests.sync.conftest import EmbeddedCmsync
from tests.sync.world import World, start_world, stop_world

SPEC = SeedSpec(clients=2, lists_per_client=2, subscribers_per_list=30, campaigns_per_client=0, months=1)
"""Small lists, one journey per client and no campaigns: the main sync a test runs takes a moment."""

WRITES = ("POST /subscribers/{listid}", "PUT /subscribers/{listid}", "DELETE /subscribers/{listid}",
          "POST /subscribers/{listid}/unsubscribe", "POST /subscribers/{listid}/import")  # fmt: skip
"""Campaign Monitor calls that change subscribers."""


def member_contact(world: World, lists: list[Any], email: str, **fields: Any) -> str:
    """A Contact that is already on ``lists`` in CM (a main sync links them)."""
    for mailing_list in lists:
        world.cm.state.add_members(mailing_list.list_id, [(email, "Before")])
    return world.sf.create("Contact", {"LastName": "Person", "Email": email, **fields})


class Daemon:
    """cmsync with its outbound poller running every ``outbound.poll_interval`` (1 s unless given)."""

    def __init__(self, world: World, **sections: Any) -> None:
        sections["outbound"] = {"poll_interval": "1s", **sections.get("outbound", {})}
        self.world = world
        self.cmsync = EmbeddedCmsync(world.settings(**sections))
        self.loop = OutboundLoop().start()
        self.settle()

    @property
    def store(self):
        return self.cmsync.store

    def settle(self, timeout: float = 30) -> dict[str, Any]:
        """Wait for a poll that started after this call to finish; return its report."""
        asked = datetime.now(UTC)
        return self._poll_report(lambda last: datetime.fromisoformat(last["started_at"]) > asked, timeout)

    def pushed_since(self, moment: datetime, timeout: float = 30) -> dict[str, Any]:
        """The report of the first poll that ended after ``moment`` and pushed something: the poll that took
        changes saved since then, whether it started before or after them (one that started while they
        were being saved finds nothing yet, and the next one takes them)."""
        return self._poll_report(
            lambda last: datetime.fromisoformat(last["at"]) > moment and bool(last["pushes"]), timeout
        )

    def _poll_report(self, wanted: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            last = self.store.facts.outbound_last_poll.get()
            if isinstance(last, dict) and wanted(last):
                return last
            time.sleep(0.05)
        raise AssertionError(f"no outbound poll as awaited finished within {timeout} s")

    def sync(self) -> Run:
        """A main sync (CM → Salesforce), which links list members to Contacts and Leads."""
        run = self.cmsync.sync()
        assert run.status in ("succeeded", "partial"), run.error
        return run

    def stop(self) -> None:
        self.loop.stop(timeout=30)
        self.cmsync.stop()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    started = start_world(tmp_path, SPEC)
    yield started
    stop_world(started)


@pytest.fixture
def daemon(world: World) -> Iterator[Any]:
    """A factory: ``daemon(**settings)`` starts cmsync and its poller on the world with those settings."""
    running: list[Daemon] = []

    def start(**sections: Any) -> Daemon:
        started = Daemon(world, **sections)
        running.append(started)
        return started

    yield start
    for each in running:
        each.stop()
