"""``cmsync run`` following change events, killed with SIGKILL while pushes are slow: the next start resumes
from the stored replay ID (no catch-up poll), pushes what was saved while it was down, and pushes again
nothing Campaign Monitor had confirmed (at most the one call in flight at the kill, which CM takes twice
harmlessly)."""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from cmsync.state import StateStore
from cmsync_sandbox.salesforce.pubsub import PubSubServer
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


def _pushes(metrics_port: int) -> dict[str, float]:
    """The running process's pushes that reached CM, by kind, from its /metrics."""
    text = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    found = re.findall(r'^cmsync_outbound_pushes_total\{kind="(\w+)",result="ok"\} (\S+)$', text, re.MULTILINE)
    return {kind: float(count) for kind, count in found}


def _expire_leases(world: World) -> None:
    """Let the killed process's leases lapse now rather than after their time to live."""
    store = StateStore.open(world.settings().state.url.get_secret_value())
    try:
        for lease in (store.leases.supervisor, store.leases.outbound_poller):
            holder = lease.holder()
            if holder is not None:
                lease.release(holder)
    finally:
        store.close()


def _names(mailing_list: Any) -> dict[str, str]:
    """The list's members' names in the CM sandbox's own state (no API call, which the latency would slow)."""
    return {email: member.name for email, member in mailing_list.members.items() if member.state == "Active"}


def _address(name: str) -> str:
    return f"{name}@{DOMAIN}"


def test_a_supervisor_killed_mid_flight_resumes_from_the_stored_replay_id(
    world: World, pubsub: PubSubServer, tmp_path: Path
) -> None:
    mailing_list = world.cm.state.add_list(world.clients[0], "Killed")
    metrics_port = free_port()
    rule = {"list": mailing_list.list_id, "object": "Contact", "action": "add", "evaluation": "created_or_edited"}
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
        people = {name: world.sf.create("Contact", {"LastName": f"O'{name}", "Email": _address(name)})
                  for name in ("ann", "bob", "cid", "dee", "eve", "fay", "gus")}  # fmt: skip
        until(lambda: len(_names(mailing_list)) == len(people), "the Contacts added in CM")
        for name in ("ann", "bob", "cid"):
            world.sf.update(people[name], {"LastName": f"Confirmed {name}"})
            wanted = f"Confirmed {name}"
            until(lambda name=name, wanted=wanted: _names(mailing_list).get(_address(name)) == wanted, f"{name} in CM")
        world.cm.calls.latency = 1.0
        # Address changes: each is a call of its own (an import cannot rename), so a kill can fall between them.
        in_flight = ("dee", "eve", "fay", "gus")
        for name in in_flight:
            world.sf.update(people[name], {"Email": _address(f"moved.{name}")})
        until(lambda: any(_address(f"moved.{name}") in _names(mailing_list) for name in in_flight),
              "a slow push reaching CM")  # fmt: skip
        first.kill()
    finally:
        first.kill()
        world.cm.calls.latency = 0.0
    reached = {name for name in in_flight if _address(f"moved.{name}") in _names(mailing_list)}
    assert 0 < len(reached) < len(in_flight)
    for name in ("hal", "ivy"):
        world.sf.create("Contact", {"LastName": f"D'{name}", "Email": _address(name)})
    _expire_leases(world)
    second = Daemon(config, tmp_path).start()
    try:
        expected = {_address(name): f"Confirmed {name}" for name in ("ann", "bob", "cid")}
        expected |= {_address(f"moved.{name}"): f"O'{name}" for name in in_flight}
        expected |= {_address(name): f"D'{name}" for name in ("hal", "ivy")}
        until(lambda: _names(mailing_list) == expected, "every save in CM", timeout=30)
        assert subscribers(world, mailing_list.list_id) == set(expected)
        pushes = _pushes(metrics_port)
        waiting = len(in_flight) - len(reached)
        assert pushes.get("add") == 2 and waiting <= pushes.get("email_change", 0) <= waiting + 1
        assert second.logs() and not [line for line in second.logs() if line.get("event") == CAUGHT_UP]
    finally:
        second.kill()
