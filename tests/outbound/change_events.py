"""What the change-event tests share: the sandbox org's Pub/Sub API on a port of its own, cmsync following
it, and waiting on what a user sees (Campaign Monitor's subscribers) with a deadline."""

import time
from collections.abc import Callable
from typing import Any

from prometheus_client import REGISTRY

from cmsync.clients.campaign_monitor.records import SubscriberState
from cmsync_sandbox.salesforce.pubsub import PubSubServer
from tests.sync.world import World

KEEPALIVE = 0.5
"""Seconds between the sandbox's keepalives, so a first start's catch-up poll follows at once."""


def start_pubsub(world: World) -> PubSubServer:
    world.sf.events.controls.keepalive_seconds = KEEPALIVE
    return world.sf.serve_pubsub().start()


def following(pubsub: PubSubServer, **outbound: Any) -> dict[str, Any]:
    """The ``outbound`` section of cmsync following ``pubsub``'s change events."""
    return {"source": "cdc", "pubsub_endpoint": pubsub.address, **outbound}


def until(condition: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    """Wait for ``condition()`` to be truthy and return it; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout} s")


def subscribers(world: World, list_id: str, state: SubscriberState = SubscriberState.ACTIVE) -> set[str]:
    """A list's subscribers in ``state``, lower-cased, as CM's API gives them."""
    with world.cm_client() as client:
        return {subscriber.email.lower() for subscriber in client.subscribers(list_id, state)}


def pushed(kind: str = "add") -> float:
    """Pushes of ``kind`` that reached CM so far in this process (``cmsync_outbound_pushes``)."""
    return REGISTRY.get_sample_value("cmsync_outbound_pushes_total", {"kind": kind, "result": "ok"}) or 0.0
