"""Tracking purge at scale: peak memory of the purging process, Bulk delete jobs and time, for growing purges.

Run: ``.venv/bin/python bench/purge.py [--records 50000 200000]``. For each size, a Salesforce emulator in a
child process is loaded with that many ``CM_Email_Activity__c`` records older than ``days_to_keep`` (plus
1,000 newer ones) and served over HTTP; this process purges them as cmsync does and prints its own peak
Python memory during the purge (tracemalloc), the Bulk jobs and API calls the emulator saw, and the time.
A flat peak across sizes is the streaming promise: at most one chunk of Ids is held at once.
"""

import argparse
import multiprocessing
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

import yaml

from cmsync.clients.campaign_monitor.client import CampaignMonitorClient
from cmsync.clients.salesforce import PollPolicy, SalesforceClient
from cmsync.config import parse_settings
from cmsync.retention.purge import purge_old_tracking
from cmsync.state import StateStore
from cmsync.systems import Systems
from cmsync_sandbox.salesforce import SalesforceEmulator

KEPT = 1_000


def _values(number: int, when: datetime) -> dict:
    return {
        "CM_Activity_Key__c": f"bench-{number}",
        "CM_Type__c": "Opened",
        "CM_Activity_Date__c": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "CM_Activity_Day__c": int(when.strftime("%Y%m%d")),
        "CM_Email__c": f"person.{number}@example.com",
    }


def serve_org(records: int, pipe: Connection) -> None:
    """The child: an org with ``records`` old and ``KEPT`` new activity records, served until told to stop."""
    emulator = SalesforceEmulator(bulk_step_seconds=0.05)
    now = datetime.now(UTC)
    for number in range(records):
        emulator.create("CM_Email_Activity__c", _values(number, now - timedelta(days=40 + number % 300)))
    for number in range(records, records + KEPT):
        emulator.create("CM_Email_Activity__c", _values(number, now - timedelta(days=number % 20)))
    with emulator.serve() as server:
        pipe.send(server.url)
        pipe.recv()
        jobs = [job for job in emulator.bulk.jobs.values() if job.kind == "ingest"]
        pipe.send(
            {
                "bulk_jobs": len(jobs),
                "largest_job": max((job.processed for job in jobs), default=0),
                "calls": emulator.calls.class_counts(),
                "left": len(emulator.records("CM_Email_Activity__c")),
            }
        )
    emulator.close()


def purge_once(records: int, folder: Path) -> None:
    parent, child = multiprocessing.Pipe()
    org = multiprocessing.Process(target=serve_org, args=(records, child))
    org.start()
    url = parent.recv()
    config = {
        "campaign_monitor": {
            "base_url": "http://127.0.0.1:9/api/v3.3",
            "auth": {"api_key": "unused"},
            "clients": ["5a1f0c3e9b2d4e6f8a7b1c2d3e4f5a6b"],
        },
        "salesforce": {
            "login_url": url,
            "auth": {
                "client_id": "sandbox-client-id",
                "client_secret": "sandbox-client-secret",
                "refresh_token": "sandbox-refresh-token",
            },
        },
        "state": {"url": f"sqlite:///{folder / f'state-{records}.db'}"},
        "tracking": {"days_to_keep": 30, "purge_max_share": 1},
    }
    settings = parse_settings(yaml.safe_dump(config), "bench.yaml")
    systems = Systems(
        settings,
        StateStore.open(settings.state.url.get_secret_value()),
        CampaignMonitorClient.from_settings(settings.campaign_monitor),
        SalesforceClient.from_settings(settings.salesforce, poll=PollPolicy(initial=0.05, maximum=0.5)),
    )
    tracemalloc.start()
    started = time.perf_counter()
    purge = purge_old_tracking(systems, "bench")
    took = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    parent.send("done")
    seen = parent.recv()
    org.join()
    systems.close()
    systems.store.close()
    assert purge is not None
    print(
        f"{records:>9,} old records: deleted {purge.deleted:,} ({purge.status}) in {took:5.1f} s, "
        f"peak Python memory while purging {peak / 1024 / 1024:5.1f} MB; Bulk delete jobs {seen['bulk_jobs']} "
        f"(largest {seen['largest_job']:,} records); emulator calls {seen['calls']}; records left {seen['left']:,}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, nargs="+", default=[50_000, 200_000])
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for records in arguments.records:
            purge_once(records, Path(folder))


if __name__ == "__main__":
    main()
