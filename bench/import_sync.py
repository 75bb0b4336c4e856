"""Main sync benchmark: records per second, API calls per 1,000 records against the minimum the APIs
allow, and the peak memory of the syncing process, at 10,000 and 100,000 list members.

Run: ``.venv/bin/python bench/import_sync.py [--members 10000 100000] [--latency 0.02]``.

The emulators run in this process with ``--latency`` seconds added to every call; cmsync runs as a
separate ``cmsync sync-now --wait`` process (embedded broker) so its peak resident memory is its own.
Minimum calls: Campaign Monitor pages of 1,000 (per list state, plus the client, list and campaign
reads); Salesforce writes in Collections of 200 or, above the Bulk threshold, one Bulk job per chunk of
10,000, plus what every first run needs (sign-in, the directory's Bulk query, the purge's three counts).
"""

import argparse
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from cmsync.sandbox.campaign_monitor import CampaignMonitorEmulator, SeedSpec
from cmsync.sandbox.campaign_monitor.seeding import SANDBOX_CLIENT_ID
from cmsync.sandbox.salesforce import SalesforceEmulator, SeedPlan
from cmsync.workers.state import StateStore

CMSYNC = str(Path(sys.executable).with_name("cmsync"))
CHUNK = 10_000
"""Records a list stream buffers before writing (``bulk_threshold`` and above goes through Bulk)."""
BULK_JOB_CALLS = 5
"""create, upload, close, one status poll, successful results (failed results only when some failed)."""
BULK_QUERY_CALLS = 3
"""create, one status poll, results: the first run's load of the Contact and Lead directory."""
PURGE_CALLS = 3
"""The tracking purge after each run: how many records are past ``days_to_keep``, of how many, the oldest kept."""


def measure(members: int, latency: float) -> None:
    spec = SeedSpec(clients=1, lists_per_client=1, subscribers_per_list=members, campaigns_per_client=0,
                    journeys_per_client=0, months=1)  # fmt: skip
    cm = CampaignMonitorEmulator(size=spec, seed=5)
    emails = [m.email for ml in cm.state.lists.values() for m in ml.members.values()]
    sf = SalesforceEmulator(bulk_step_seconds=0.2)
    sf.seed(SeedPlan(emails=emails, share=0.5, lead_share=0.3, both_share=0.1, duplicate_share=0.05))
    cm_server, sf_server = cm.serve().start(), sf.serve().start()
    cm.calls.clear()
    sf.calls.clear()
    cm.faults.set_latency(latency)
    sf.calls.latency = latency
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "bench.yaml"
        config.write_text(yaml.safe_dump({
            "campaign_monitor": {"base_url": cm.api_url(cm_server), "auth": {"api_key": "sandbox-api-key"},
                                 "clients": [SANDBOX_CLIENT_ID]},
            "salesforce": {"login_url": sf_server.url, "auth": {"client_id": "sandbox-client-id",
                           "client_secret": "sandbox-client-secret", "refresh_token": "sandbox-refresh-token"}},
            "state": {"url": f"sqlite:///{folder}/state.db"},
            "logging": {"format": "json", "level": "warning"},
        }))  # fmt: skip
        started = time.monotonic()
        subprocess.run([CMSYNC, "sync-now", "--wait", "--config", str(config)], check=True, capture_output=True)
        elapsed = time.monotonic() - started
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        store = StateStore.open(f"sqlite:///{folder}/state.db")
        run = store.last_run()
        store.close()
    cm_server.stop()
    sf_server.stop()
    sf.close()
    assert run is not None and run.status == "succeeded", run
    imported = sum(run.counts["CM_List_Member__c"].get(outcome, 0) for outcome in ("created", "rewritten"))
    cm_calls = len(cm.calls.calls())
    sf_calls = sf.calls.class_counts()
    sf_total = sf_calls.get("rest", 0) + sf_calls.get("bulk", 0)
    states = {state: len(members_) for ml in cm.state.lists.values() for state, members_ in ml.by_state.items()}
    cm_minimum = sum(max(1, math.ceil(n / 1000)) for n in states.values()) + 5
    streams = [1, 1, *(n for n in states.values() if n)]
    writes_minimum = sum(math.ceil(n / 200) if n < 2000 else math.ceil(n / CHUNK) * BULK_JOB_CALLS for n in streams)
    sf_minimum = 1 + 2 * BULK_QUERY_CALLS + writes_minimum + PURGE_CALLS
    per_thousand = 1000 / imported
    print(f"{members:>7} members: {imported} imported in {run.duration.total_seconds():.1f} s run "  # type: ignore[union-attr]
          f"({elapsed:.1f} s wall with start-up) = {imported / run.duration.total_seconds():,.0f} records/s; "  # type: ignore[union-attr]
          f"peak memory of cmsync {peak_mb:.0f} MB")  # fmt: skip
    print(f"          CM calls {cm_calls} (minimum {cm_minimum}, {cm_calls / cm_minimum - 1:+.0%}), "
          f"{cm_calls * per_thousand:.2f} per 1000 records")  # fmt: skip
    print(f"          Salesforce calls {sf_total} {dict(sf_calls)} (minimum {sf_minimum}, "
          f"{sf_total / sf_minimum - 1:+.0%}), {sf_total * per_thousand:.2f} per 1000 records")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--latency", type=float, default=0.02)
    arguments = parser.parse_args()
    for members in arguments.members:
        measure(members, arguments.latency)


if __name__ == "__main__":
    main()
