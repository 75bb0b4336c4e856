"""The end-to-end world: both emulators on real HTTP ports, seeded with hostile data through their APIs,
cmsync's configuration pointing at them, and ``cmsync sync-now --wait`` run as a real process."""

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from cmsync_sandbox.campaign_monitor.emulator import CampaignMonitorEmulator
from cmsync_sandbox.salesforce.emulator import SalesforceEmulator
from cmsync_sandbox.server import SandboxServer
from tests.e2e.apis import CampaignMonitorApi, Controls, SalesforceApi
from tests.e2e.expected import OracleSettings
from tests.e2e.hostile import Hostile, seed_hostile
from tests.e2e.oracle import Mismatch, check

CMSYNC = str(Path(sys.executable).with_name("cmsync"))
SELECTED_CLIENTS = 2
WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")


@dataclass
class Step:
    """One cmsync run and what the oracle found after it."""

    name: str
    seconds: float
    output: str
    mismatches: list[Mismatch] = field(default_factory=list)


@dataclass
class Convergence:
    """Both emulators, their API readers, the seed, and cmsync's configuration file."""

    cm_emulator: CampaignMonitorEmulator
    cm_server: SandboxServer
    sf_server: SandboxServer
    cm: CampaignMonitorApi
    cm_controls: Controls
    salesforce: SalesforceApi
    sf_controls: Controls
    hostile: Hostile
    folder: Path
    config: dict[str, Any]
    steps: list[Step] = field(default_factory=list)
    earlier_links: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def config_path(self) -> Path:
        return self.folder / "cmsync.yaml"

    def use_broker(self, url: str) -> None:
        self.config["broker"] = {"url": url}
        self.config_path.write_text(yaml.safe_dump(self.config, allow_unicode=True))

    def sync(self, name: str, *, full: bool = False) -> Step:
        """``cmsync sync-now --wait`` (``--full``) to the run's end, then the oracle."""
        started = time.monotonic()
        command = [CMSYNC, "sync-now", "--wait", "--config", str(self.config_path), *(["--full"] if full else [])]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        seconds = time.monotonic() - started
        output = f"exit {done.returncode}: {done.stdout.strip()[-600:]} {done.stderr.strip()[-1500:]}"
        step = Step(name, seconds, output, self.oracle())
        self.steps.append(step)
        return step

    def salesforce_writes(self) -> list[str]:
        """Write calls in Salesforce's call log (records, Collections, Bulk ingest; not queries or sign-ins)."""
        calls = self.sf_controls.call("GET", "calls")["calls"]
        return [
            call["endpoint"]
            for call in calls
            if call["method"] in WRITE_METHODS and "/query" not in call["path"] and "/oauth2/" not in call["path"]
        ]

    def oracle(self) -> list[Mismatch]:
        return check(self.cm, self.salesforce, OracleSettings.from_config(self.config, self.earlier_links))

    def cm_now(self) -> float:
        """The CM emulator's clock (wall time moved by the ``/_sandbox/clock`` control)."""
        return self.cm_emulator.clock.seconds()

    def member_id(self, list_id: str, email: str) -> str:
        key = f"{list_id}:{email.lower()}"
        quoted = key.replace("\\", "\\\\").replace("'", "\\'")
        rows = self.salesforce.query(f"SELECT Id FROM CM_List_Member__c WHERE CM_Member_Key__c = '{quoted}'")
        assert rows, f"no CM_List_Member__c {key} to change"
        return str(rows[0]["Id"])

    def summary(self) -> str:
        """Every step's run and mismatch lines, for an assertion message."""
        lines = []
        for step in self.steps:
            lines.append(f"== {step.name}: {len(step.mismatches)} mismatches, {step.seconds:.1f} s; {step.output}")
            lines += [str(mismatch) for mismatch in step.mismatches]
        return "\n".join(lines)


def _mappings(list_id: str) -> list[dict[str, Any]]:
    """cm2sf mappings of the hostile list: text, date and a default for an empty value."""
    return [
        {"list": list_id, "cm_field": "[City]", "contact_field": "MailingCity", "lead_field": "City",
         "direction": "cm2sf"},
        {"list": list_id, "cm_field": "[Birthday]", "contact_field": "Birthdate", "direction": "cm2sf"},
        {"list": list_id, "cm_field": "[HomeCountry]", "contact_field": "MailingCountry", "lead_field": "Country",
         "direction": "cm2sf", "default_contact_value": "Unknown", "default_lead_value": "Unknown"},
    ]  # fmt: skip


def _config(
    cm_server: SandboxServer, sf_server: SandboxServer, clients: list[str], list_id: str, folder: Path
) -> dict[str, Any]:
    return {
        "campaign_monitor": {
            "base_url": CampaignMonitorEmulator.api_url(cm_server),
            "auth": {"api_key": "sandbox-api-key"},
            "clients": clients,
        },
        "salesforce": {
            "login_url": sf_server.url,
            "auth": {
                "client_id": "sandbox-client-id",
                "client_secret": "sandbox-client-secret",
                "refresh_token": "sandbox-refresh-token",
            },
        },
        "tracking": {"types": ["sent", "opened", "clicked", "bounced", "unsubscribed", "spam"], "days_to_keep": 90},
        "field_mappings": _mappings(list_id),
        "state": {"url": f"sqlite:///{folder / 'state.db'}"},
        "logging": {"format": "json", "level": "warning"},
    }


@pytest.fixture
def convergence(tmp_path: Path) -> Iterator[Convergence]:
    cm_emulator = CampaignMonitorEmulator(size=None)
    sf_emulator = SalesforceEmulator(bulk_step_seconds=0.05)
    cm_server = cm_emulator.serve().start()
    sf_server = sf_emulator.serve().start()
    cm = CampaignMonitorApi(CampaignMonitorEmulator.api_url(cm_server), "sandbox-api-key")
    salesforce = SalesforceApi(sf_server.url, "sandbox-client-id", "sandbox-client-secret", "sandbox-refresh-token")
    cm_controls, sf_controls = Controls(cm_server.url), Controls(sf_server.url)
    hostile = seed_hostile(cm, cm_controls, salesforce, sf_controls)
    clients = [hostile.client_id, *(c["ClientID"] for c in cm.get("clients") if c["ClientID"] != hostile.client_id)]
    config = _config(cm_server, sf_server, clients[:SELECTED_CLIENTS], hostile.list_id, tmp_path)
    world = Convergence(
        cm_emulator, cm_server, sf_server, cm, cm_controls, salesforce, sf_controls, hostile, tmp_path, config
    )
    world.use_broker("embedded")
    yield world
    for api in (cm, salesforce, cm_controls, sf_controls):
        api.close()
    cm_server.stop()
    sf_server.stop()
    sf_emulator.close()
