"""A world for end-to-end tests: both emulators on real HTTP ports, seeded so that Salesforce's Contacts
and Leads overlap Campaign Monitor's subscribers, and the settings that point cmsync at them."""

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cmsync.clients.campaign_monitor.client import CampaignMonitorClient
from cmsync.clients.campaign_monitor.records import SubscriberState
from cmsync.clients.salesforce.client import SalesforceClient
from cmsync.config import Settings, parse_settings
from cmsync_sandbox.campaign_monitor.emulator import CampaignMonitorEmulator
from cmsync_sandbox.campaign_monitor.seeding import SANDBOX_CLIENT_ID, SeedSpec
from cmsync_sandbox.salesforce.emulator import SalesforceEmulator
from cmsync_sandbox.salesforce.seeding import SeedPlan, SeedReport
from cmsync_sandbox.server import SandboxServer

SMALL = SeedSpec(clients=2, lists_per_client=2, subscribers_per_list=60, campaigns_per_client=2, months=2)
WRITE_ENDPOINTS = ("composite", "sobjects/{sobject}/{id}", "jobs/ingest")
HOLD = 600.0
"""An emulator latency that holds its calls until the test lowers it (which lets them go at once)."""


@dataclass
class World:
    cm: CampaignMonitorEmulator
    sf: SalesforceEmulator
    cm_server: SandboxServer
    sf_server: SandboxServer
    folder: Path
    seed_report: SeedReport
    clients: list[str] = field(default_factory=list)

    def config(self, **sections: Any) -> dict[str, Any]:
        data: dict[str, Any] = {
            "campaign_monitor": {
                "base_url": CampaignMonitorEmulator.api_url(self.cm_server),
                "auth": {"api_key": "sandbox-api-key"},
                "clients": self.clients,
            },
            "salesforce": {
                "login_url": self.sf_server.url,
                "auth": {
                    "client_id": "sandbox-client-id",
                    "client_secret": "sandbox-client-secret",
                    "refresh_token": "sandbox-refresh-token",
                },
            },
            "state": {"url": f"sqlite:///{self.folder / 'state.db'}"},
            "logging": {"format": "json", "level": "warning"},
        }
        for name, value in sections.items():
            data[name] = {**data.get(name, {}), **value} if isinstance(value, dict) else value
        return data

    def settings(self, **sections: Any) -> Settings:
        return parse_settings(yaml.safe_dump(self.config(**sections)), "test.yaml")

    def write_config(self, path: Path, **sections: Any) -> Path:
        path.write_text(yaml.safe_dump(self.config(**sections)))
        return path

    def cm_client(self) -> CampaignMonitorClient:
        return CampaignMonitorClient.from_settings(self.settings().campaign_monitor)

    def members(self) -> Iterator[tuple[str, Any]]:
        """Every (list ID, subscriber) of the selected clients, read over the API."""
        with self.cm_client() as client:
            for client_id in self.clients:
                for summary in client.lists(client_id):
                    for state in SubscriberState:
                        for subscriber in client.subscribers(summary.list_id, state):
                            yield summary.list_id, subscriber

    def salesforce_writes(self) -> int:
        """Write calls Salesforce has served (Collections, single records, Bulk ingest)."""
        return sum(
            1
            for call in self.sf.calls.calls()
            if call.method in ("POST", "PATCH", "PUT", "DELETE") and "/query" not in call.path
            and "/oauth2/" not in call.path
        )  # fmt: skip

    def query(self, soql: str) -> list[dict[str, Any]]:
        """The records of ``soql``, read through the Salesforce emulator's REST API as any client reads them."""
        client = SalesforceClient.from_settings(self.settings().salesforce)
        try:
            return list(client.query(soql))
        finally:
            client.close()

    def records(self, sobject: str) -> list[dict[str, Any]]:
        return self.sf.records(sobject)

    def duplicates(self, sobject: str, key: str) -> list[str]:
        counts = Counter(str(record[key]).lower() for record in self.records(sobject))
        return [value for value, count in counts.items() if count > 1]


def start_world(folder: Path, spec: SeedSpec = SMALL, clients: int = 2) -> World:
    cm = CampaignMonitorEmulator(size=spec, seed=3)
    emails = sorted(
        {member.email for mailing_list in cm.state.lists.values() for member in mailing_list.members.values()}
    )
    sf = SalesforceEmulator(bulk_step_seconds=0.05)
    report = sf.seed(SeedPlan(emails=emails, share=0.7, lead_share=0.3, both_share=0.15, duplicate_share=0.1))
    cm_server = cm.serve().start()
    sf_server = sf.serve().start()
    selected = [SANDBOX_CLIENT_ID, *[cid for cid in cm.state.clients if cid != SANDBOX_CLIENT_ID]][:clients]
    return World(cm, sf, cm_server, sf_server, folder, report, selected)


def stop_world(world: World) -> None:
    world.cm.calls.latency = 0  # calls a test held (it failed before it let them go) end with the test
    world.cm_server.stop()
    world.sf_server.stop()
    world.sf.close()
