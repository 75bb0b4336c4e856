"""The console as a user meets it: ``cmsync run`` on a seeded world with the console on, and headless
Chromium (Debian's ``chromium`` driven by Playwright; no browser download) signed in to it."""

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cmsync.state import StateStore
from cmsync_sandbox.campaign_monitor.model import Subscriber
from tests.daemon.daemon import Daemon, free_port
from tests.sync.world import World, start_world, stop_world

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "pässwörd 'o'brien' 🔑"
REJECTED_EMAIL = "josé.o'brien." + "x" * 250 + "@example.com"
"""A member Salesforce refuses (longer than its 255-character email field): kept as rejected with its reason."""
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@dataclass
class Console:
    """The running daemon, its console's address and the world it syncs."""

    world: World
    daemon: Daemon
    url: str
    config: Path

    def store(self) -> StateStore:
        return StateStore.open(self.world.settings().state.url.get_secret_value())


def add_members(world: World, count: int, prefix: str) -> None:
    """New subscribers on every list of the selected clients, as if signed up in Campaign Monitor just now."""
    now = world.cm.state.clock.now()
    with world.cm.state.lock:
        for client_id in world.clients:
            for mailing_list in world.cm.state.clients[client_id].lists:
                for n in range(count):
                    email = f"{prefix}.{n}.{mailing_list.list_id[:6]}@exämple.com"
                    mailing_list.insert(Subscriber(email, email.lower(), f"Ünïcode {n}", "Active", now, now))


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """One world and one ``cmsync run`` for the module; the first run (which rejects one member) has ended."""
    folder = tmp_path_factory.mktemp("console")
    world = start_world(folder)
    first_list = world.cm.state.clients[world.clients[0]].lists[0]
    now = world.cm.state.clock.now()
    with world.cm.state.lock:
        first_list.insert(Subscriber(REJECTED_EMAIL, REJECTED_EMAIL.lower(), "José O'Brien", "Active", now, now))
    listen = f"127.0.0.1:{free_port()}"
    config = world.write_config(
        folder / "cmsync.yaml",
        metrics={"listen": f"127.0.0.1:{free_port()}"},
        console={"listen": listen, "password": "${CMSYNC_TEST_CONSOLE_PASSWORD}"},
        subscription_rules=[
            {
                "name": "Partners join the first list",
                "list": first_list.list_id,
                "object": "Contact",
                "action": "add",
                "criteria": [
                    {"field": "Email", "op": "contains", "value": "@"},
                    {"field": "LeadSource", "op": "equals", "value": "Partner (console test)"},
                ],
            }
        ],
        logging={"format": "json", "level": "info"},
    )
    daemon = Daemon(config, folder, {"CMSYNC_TEST_CONSOLE_PASSWORD": PASSWORD})
    try:
        daemon.start()
        daemon.wait_for("run finished")
        yield Console(world, daemon, f"http://{listen}", config)
    finally:
        daemon.kill()
        stop_world(world)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A headless Chromium with a fresh profile; skipped, with the reason, where none can be had."""
    if not (os.access(CHROMIUM, os.X_OK) or shutil.which("chromium")):
        pytest.skip(f"no Chromium at {CHROMIUM}: tests/install-prerequisites installs Debian's chromium package")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (the dev extra has it)")
    with sync_api.sync_playwright() as playwright:
        try:
            context = playwright.chromium.launch_persistent_context(
                str(tmp_path_factory.mktemp("chromium-profile")),
                executable_path=CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium"),
                headless=True,
                args=CHROMIUM_FLAGS,
                viewport=DESKTOP,
            )
        except sync_api.Error as error:
            pytest.skip(f"Chromium does not start here: {str(error).splitlines()[0]}")
        context.set_default_timeout(30_000)
        yield context
        context.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A new tab with no session (cookies cleared)."""
    browser.clear_cookies()
    tab = browser.new_page()
    tab.set_viewport_size(DESKTOP)
    yield tab
    tab.close()


def sign_in(page: Any, console: Console, path: str = "/") -> None:
    page.goto(console.url + path)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(console.url + path)
