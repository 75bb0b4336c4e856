"""Soak: main syncs of a large account while PostgreSQL and RabbitMQ are cut (through fault proxies) and
the supervisor and the workers are SIGKILLed, then both systems compared record by record.

Run: ``.venv/bin/python bench/soak.py [--members 20000] [--rounds 4] [--chaos-every 4] [--latency 0.02]``
(root, local PostgreSQL and RabbitMQ as for the tests). Each round changes some members in Campaign
Monitor, asks for a sync (SIGUSR1) and, while it runs, does a fault soon after it starts and then every
``--chaos-every`` seconds: a 1–3 s cut of PostgreSQL or of RabbitMQ, or a SIGKILL of the supervisor or of
the workers, each restarted at once. A last run without faults must then leave Salesforce exactly as
Campaign Monitor is. It prints the kills and outages survived (the processes kept or came back running)
and the records lost.
"""

import argparse
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import psycopg
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cmsync.logs import configure_logging
from cmsync.state import Run, StateStore
from cmsync_sandbox.campaign_monitor import CampaignMonitorEmulator, SeedSpec
from cmsync_sandbox.campaign_monitor.seeding import SANDBOX_CLIENT_ID
from cmsync_sandbox.salesforce import SalesforceEmulator, SeedPlan
from tests.daemon.daemon import Daemon, free_port
from tests.faults.proxy import FaultProxy
from tests.sync.cmsync_worker import Workers

POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
RABBITMQ = "amqp://guest:guest@127.0.0.1:5672/"
RUN_DEADLINE = 600.0
ASK_AGAIN_SECONDS = 15.0


class Soak:
    """The emulators, the proxies, the cmsync processes and the tally of what they survived."""

    def __init__(self, members: int, folder: Path, latency: float) -> None:
        lists = 4
        spec = SeedSpec(clients=1, lists_per_client=lists, subscribers_per_list=members // lists,
                        campaigns_per_client=1, journeys_per_client=0, months=1)  # fmt: skip
        self.cm = CampaignMonitorEmulator(size=spec, seed=11)
        emails = [m.email for ml in self.cm.state.lists.values() for m in ml.members.values()]
        self.sf = SalesforceEmulator(bulk_step_seconds=0.05)
        self.sf.seed(SeedPlan(emails=emails, share=0.5, lead_share=0.3, both_share=0.1, duplicate_share=0.05))
        self.cm_server, self.sf_server = self.cm.serve().start(), self.sf.serve().start()
        self.cm.faults.set_latency(latency)
        self.sf.calls.latency = latency
        self.folder = folder
        self.schema = f"cmsync_soak_{uuid.uuid4().hex[:10]}"
        self.vhost = f"cmsync-soak-{uuid.uuid4().hex[:8]}"
        with psycopg.connect(POSTGRES, autocommit=True) as connection:
            connection.execute(f"CREATE SCHEMA {self.schema}")
        subprocess.run(["rabbitmqctl", "add_vhost", self.vhost], check=True, capture_output=True)
        subprocess.run(["rabbitmqctl", "set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*"],
                       check=True, capture_output=True)  # fmt: skip
        self.postgres = FaultProxy.in_front_of(POSTGRES)
        self.rabbitmq = FaultProxy.in_front_of(RABBITMQ)
        state_url = f"{POSTGRES}?options={quote(f'-csearch_path={self.schema}')}"
        self.store = StateStore.open(state_url)
        self.config = folder / "cmsync.yaml"
        self.config.write_text(yaml.safe_dump({
            "campaign_monitor": {"base_url": self.cm.api_url(self.cm_server), "auth": {"api_key": "sandbox-api-key"},
                                 "clients": [SANDBOX_CLIENT_ID]},
            "salesforce": {"login_url": self.sf_server.url, "auth": {"client_id": "sandbox-client-id",
                           "client_secret": "sandbox-client-secret", "refresh_token": "sandbox-refresh-token"}},
            "state": {"url": self.postgres.url(state_url)},
            "broker": {"url": self.rabbitmq.url(f"{RABBITMQ}{self.vhost}")},
            "metrics": {"listen": f"127.0.0.1:{free_port()}"},
            "sync": {"import_frequency": "daily", "at": "03:00"},
            "logging": {"format": "json", "level": "info"},
        }))  # fmt: skip
        self.supervisor = Daemon(self.config, folder)
        self.workers = Workers(self.config, folder)
        self.tally = {"supervisor kills": 0, "worker kills": 0, "postgres cuts": 0, "rabbitmq cuts": 0}
        self.failures: list[str] = []

    def start(self) -> None:
        self.workers.start()
        self.supervisor.start()

    def change_members(self, round_number: int) -> None:
        """New members with awkward addresses, and some unsubscribes, so every run has work."""
        for position, mailing_list in enumerate(self.cm.state.lists.values()):
            self.cm.state.add_members(mailing_list.list_id, [
                (f"o'neil.{round_number}.{position}.{n}@soak-example.com", f"José O'Neil 田中 {n}") for n in range(25)
            ])  # fmt: skip
            for subscriber in list(mailing_list.members.values())[round_number * 7 : round_number * 7 + 5]:
                if subscriber.state == "Active":
                    self.cm.state.unsubscribe(mailing_list.list_id, subscriber.email)

    def fault(self) -> None:
        """One fault, chosen at random; the processes killed are started again at once."""
        kind = random.choice(["postgres", "rabbitmq", "supervisor", "workers"])
        if kind == "postgres":
            self.postgres.cut_for(random.uniform(1, 3)).join()
            self.tally["postgres cuts"] += 1
        elif kind == "rabbitmq":
            self.rabbitmq.cut_for(random.uniform(1, 3)).join()
            self.tally["rabbitmq cuts"] += 1
        elif kind == "supervisor":
            self.supervisor.kill()
            self.tally["supervisor kills"] += 1
            self.supervisor = Daemon(self.config, self.folder)
            try:
                self.supervisor.start()
            except AssertionError as error:
                self.failures.append(f"supervisor restart refused: {str(error).splitlines()[0]}")
        else:
            self.workers.kill_everything()
            self.tally["worker kills"] += 1
            self.workers.start()
        self.check_alive(kind)

    def check_alive(self, after: str) -> None:
        for name, process in (("supervisor", self.supervisor.process), ("workers", self.workers.process)):
            if process is None or process.poll() is not None:
                self.failures.append(f"{name} not running after a {after} fault")

    def sync(self, chaos_every: float | None) -> Run | None:
        """Ask for a run (again, should a SIGKILL swallow the request) and wait for its end, with a fault
        every ``chaos_every`` seconds meanwhile; a run already in flight counts as the one asked for."""
        latest = self.store.runs.recent(1)
        before = (latest[0].id - (1 if latest[0].in_flight else 0)) if latest else 0
        deadline = time.monotonic() + RUN_DEADLINE
        next_fault = time.monotonic() + random.uniform(0.5, chaos_every or 1)
        asked = 0.0
        while time.monotonic() < deadline:
            runs = [run for run in self.store.runs.recent(3) if run.id > before]
            if runs and all(not run.in_flight for run in runs):
                return runs[0]
            if not runs and time.monotonic() - asked > ASK_AGAIN_SECONDS:
                self.supervisor.signal(signal.SIGUSR1)
                asked = time.monotonic()
            if chaos_every and time.monotonic() >= next_fault:
                self.fault()
                next_fault = time.monotonic() + chaos_every
            time.sleep(0.2)
        self.failures.append(f"no run after {before} ended within {RUN_DEADLINE:.0f} s")
        return None

    def records_lost(self) -> tuple[int, int, int]:
        """CM members missing in Salesforce, rows whose state differs, and rows Salesforce has beyond CM."""
        expected = {f"{ml.list_id}:{m.email.lower()}": m.state for ml in self.cm.state.lists.values()
                    for m in ml.members.values()}  # fmt: skip
        actual = {r["CM_Member_Key__c"]: r["CM_State__c"] for r in self.sf.records("CM_List_Member__c")}
        missing = sum(1 for key in expected if key not in actual)
        differing = sum(1 for key, state in expected.items() if key in actual and actual[key] != state)
        return missing, differing, len(set(actual) - set(expected))

    def close(self) -> None:
        self.supervisor.kill()
        if self.workers.process is not None and self.workers.process.poll() is None:
            self.workers.kill_everything()
        self.store.close()
        self.postgres.close()
        self.rabbitmq.close()
        self.cm_server.stop()
        self.sf_server.stop()
        self.sf.close()
        with psycopg.connect(POSTGRES, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {self.schema} CASCADE")
        subprocess.run(["rabbitmqctl", "delete_vhost", self.vhost], capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--chaos-every", type=float, default=4.0)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds added to every emulator call")
    parser.add_argument("--seed", type=int, default=7)
    arguments = parser.parse_args()
    random.seed(arguments.seed)
    configure_logging("console", "warning", sys.stderr)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        soak = Soak(arguments.members, Path(folder), arguments.latency)
        try:
            soak.start()
            first = soak.sync(arguments.chaos_every)
            print(f"first run: {first.status if first else 'did not end'}", flush=True)
            for round_number in range(1, arguments.rounds + 1):
                soak.change_members(round_number)
                run = soak.sync(arguments.chaos_every)
                print(f"round {round_number}: run {run.id if run else '?'} {run.status if run else 'did not end'}",
                      flush=True)  # fmt: skip
            final = soak.sync(None)
            missing, differing, extra = soak.records_lost()
        finally:
            soak.close()
    tally = soak.tally
    kills = tally["supervisor kills"] + tally["worker kills"]
    outages = tally["postgres cuts"] + tally["rabbitmq cuts"]
    print(f"members {arguments.members}, rounds {arguments.rounds}, {time.monotonic() - started:.0f} s")
    print(f"kills survived: {kills} ({tally['supervisor kills']} supervisor, {tally['worker kills']} workers)")
    print(f"outages survived: {outages} ({tally['postgres cuts']} PostgreSQL, {tally['rabbitmq cuts']} RabbitMQ)")
    print(f"final run: {final.status if final else 'did not end'}")
    print(f"records lost: {missing} missing, {differing} with another state, {extra} extra in Salesforce")
    for failure in soak.failures:
        print(f"failure: {failure}")


if __name__ == "__main__":
    main()
