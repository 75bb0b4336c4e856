"""``cmsync run`` following change events, killed with SIGKILL while pushes are slow: the next start resumes
from the stored replay ID (no catch-up poll), pushes what was saved while it was down, and pushes nothing
again that Campaign Monitor had confirmed before."""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from cmsync.sandbox.salesforce.pubsub import PubSubServer
from cmsync.workers.state import StateStore
from tests.daemon.daemon import Daemon, free_port
from tests.outbound.change_events import following, start_pubsub, subscribers, until
from tests.sync.world import World

DOMAIN = "kill-test.harbour-outfitters.example.com"
CAUGHT_UP = "outbound caught up by a poll; change events from now on"


@pytest.fixture
def pubsub(world: World) -> Iterator[PubSubServer]:
    server = start_pubsub(world)
    yield server
    server.stop()


def _adds(metrics_port: int) -> float:
    """The running process's pushes that added a subscriber, from its /metrics."""
    text = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    found = re.search(r'^cmsync_outbound_pushes_total\{kind="add",result="ok"\} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def _expire_leases(world: World) -> None:
    """Let the killed process's leases lapse now rather than after their time to live."""
    store = StateStore.open(world.settings().state.url.get_secret_value())
    try:
        for lease in ("supervisor", "outbound_poller"):
            holder = store.lock_holder(lease)
            if holder is not None:
                store.release_lock(lease, holder)
    finally:
        store.close()


def _active(mailing_list: Any) -> set[str]:
    """The list's active members in the CM sandbox's own state (no API call, which the latency would slow)."""
    return {email for email, member in mailing_list.members.items() if member.state == "Active"}


def _save(world: World, names: list[str]) -> set[str]:
    for name in names:
        world.sf.create("Contact", {"LastName": f"O'{name}", "Email": f"{name}@{DOMAIN}"})
    return {f"{name}@{DOMAIN}".lower() for name in names}


def test_a_supervisor_killed_mid_flight_resumes_from_the_stored_replay_id(
    world: World, pubsub: PubSubServer, tmp_path: Path
) -> None:
    mailing_list = world.cm.state.add_list(world.clients[0], "Killed")
    metrics_port = free_port()
    rule = {"list": mailing_list.list_id, "object": "Contact", "action": "add", "evaluation": "created"}
    config = world.write_config(
        tmp_path / "cmsync.yaml",
        subscription_rules=[rule],
        outbound=following(pubsub, poll_interval="1s"),
        sync={"import_frequency": "never"},
        metrics={"listen": f"127.0.0.1:{metrics_port}"},
        logging={"format": "json", "level": "info"},
    )
    first = Daemon(config, tmp_path).start()
    try:
        first.wait_for(CAUGHT_UP)
        confirmed: set[str] = set()
        for name in ("ann", "bob", "cid"):
            confirmed |= _save(world, [name])
            wanted = frozenset(confirmed)
            until(lambda wanted=wanted: subscribers(world, mailing_list.list_id) == wanted, f"{name} in CM")
        world.cm.calls.latency = 1.0
        in_flight = _save(world, ["dee", "eve", "fay", "gus"])
        until(lambda: len(_active(mailing_list)) > len(confirmed), "a slow push reaching CM")
        first.kill()
    finally:
        first.kill()
        world.cm.calls.latency = 0.0
    present = subscribers(world, mailing_list.list_id)
    assert confirmed < present < confirmed | in_flight
    while_down = _save(world, ["hal", "ivy"])
    _expire_leases(world)
    second = Daemon(config, tmp_path).start()
    try:
        everyone = confirmed | in_flight | while_down
        until(lambda: subscribers(world, mailing_list.list_id) == everyone, "every Contact in CM", timeout=30)
        assert _adds(metrics_port) <= len(everyone - confirmed)
        assert second.logs() and not [line for line in second.logs() if line.get("event") == CAUGHT_UP]
    finally:
        second.kill()
