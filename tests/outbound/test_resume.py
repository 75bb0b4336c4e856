"""Outbound coming back on, with ``cmsync run`` as a process: every Contact saved right after ``cmsync connect``
or right after a SIGHUP reload that turns ``disable_triggers`` off reaches Campaign Monitor, and a Contact
saved while outbound was off does not."""

import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from cmsync.clients.campaign_monitor.records import SubscriberState
from cmsync.state import StateStore
from tests.daemon.daemon import Daemon, cmsync, free_port
from tests.sync.world import World

LONG_DOMAIN = "customer-relations.harbour-outfitters-intl.example.com"
AFTER = [f"o'brien.after@{LONG_DOMAIN}", f"Kelly.After+promo@{LONG_DOMAIN}"]
"""Saved right after outbound came on: apostrophes, capitals, a plus tag, addresses near the 80 Salesforce allows."""
POLL_INTERVAL = "3s"
"""Long enough that the first poll after outbound comes on almost never starts before the saves that follow."""
WHILE_OFF = f"d'arcy.while-off@{LONG_DOMAIN}"


def _config(world: World, tmp_path: Path, list_id: str, **sections: Any) -> Path:
    rule = {"list": list_id, "object": "Contact", "action": "add", "evaluation": "created_or_edited",
            "criteria": [{"field": "Email", "op": "notequalto", "value": ""}]}  # fmt: skip
    return world.write_config(
        tmp_path / "cmsync.yaml",
        subscription_rules=[rule],
        outbound={"poll_interval": POLL_INTERVAL},
        sync={"import_frequency": "never"},
        metrics={"listen": f"127.0.0.1:{free_port()}"},
        logging={"format": "json", "level": "info"},
        **sections,
    )


def _poll_after(world: World, moment: datetime, timeout: float = 30) -> dict[str, Any]:
    """The report of the first outbound poll that started after ``moment``, once it has finished."""
    store = StateStore.open(world.settings().state.url.get_secret_value())
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            last = store.facts.outbound_last_poll.get()
            if isinstance(last, dict) and datetime.fromisoformat(last["started_at"]) > moment:
                return last
            time.sleep(0.05)
    finally:
        store.close()
    raise AssertionError(f"no outbound poll started after {moment} within {timeout} s")


def _active_subscribers(world: World, list_id: str) -> set[str]:
    with world.cm_client() as client:
        return {subscriber.email.lower() for subscriber in client.subscribers(list_id, SubscriberState.ACTIVE)}


def _save_contacts(world: World, emails: list[str]) -> None:
    for email in emails:
        world.sf.create("Contact", {"LastName": "O'Brien", "Email": email})


def _save_contacts_then_see_only_them_pushed(world: World, list_id: str) -> None:
    """Save the ``AFTER`` Contacts now; the next poll leaves exactly them active on the list in CM."""
    _save_contacts(world, AFTER)
    saved = datetime.now(UTC)
    report = _poll_after(world, saved)
    assert report["ran"] and report["error"] is None
    assert _active_subscribers(world, list_id) == {email.lower() for email in AFTER}


def test_contacts_saved_right_after_connect_are_pushed(world: World, tmp_path: Path) -> None:
    mailing_list = world.cm.state.add_list(world.clients[0], "After connect")
    config = _config(world, tmp_path, mailing_list.list_id)
    daemon = Daemon(config, tmp_path).start()
    try:
        assert cmsync("disconnect", "--config", str(config)).returncode == 0
        disconnected = datetime.now(UTC)
        assert _poll_after(world, disconnected)["reason"] == "disconnected"
        _save_contacts(world, [WHILE_OFF])
        assert cmsync("connect", "--config", str(config)).returncode == 0
        _save_contacts_then_see_only_them_pushed(world, mailing_list.list_id)
    finally:
        daemon.kill()


def test_contacts_saved_right_after_a_reload_turns_disable_triggers_off_are_pushed(
    world: World, tmp_path: Path
) -> None:
    mailing_list = world.cm.state.add_list(world.clients[0], "After reload")
    config = _config(world, tmp_path, mailing_list.list_id, advanced={"disable_triggers": True})
    daemon = Daemon(config, tmp_path).start()
    try:
        assert _poll_after(world, datetime.now(UTC))["reason"] == "disable_triggers"
        _save_contacts(world, [WHILE_OFF])
        data = yaml.safe_load(config.read_text())
        data["advanced"]["disable_triggers"] = False
        config.write_text(yaml.safe_dump(data))
        daemon.signal(signal.SIGHUP)
        daemon.wait_for("configuration reloaded")
        _save_contacts_then_see_only_them_pushed(world, mailing_list.list_id)
    finally:
        daemon.kill()
