"""Outbound lag and cost: from a Salesforce change (its SystemModstamp) to the Campaign Monitor call that
pushes it, and the CM calls a hundred changes take.

Run: ``.venv/bin/python bench/outbound_lag.py [--interval 15] [--seconds 60] [--rates 1 10 100]
[--repeats 3] [--cm-latency 0] [--source poll|cdc]``. Both emulators run on real HTTP; cmsync's outbound
loop runs on a thread as the supervisor runs it (with ``--source poll``, a poll every ``--interval``
seconds). Every change is an edit, by a person, of a mapped field of a Contact already subscribed to the
one list (an Add rule subscribed them all first), so each change is an update push on that list;
``--cm-latency`` adds a real CM round trip to every call. The CM calls are timed as the emulator receives
them; the lag of a change is that moment less its SystemModstamp. For each rate it prints, over
``--repeats`` runs, the min and median of p50 and p95 lag and of CM write calls per 100 changes, against
the targets p95 ≤ poll interval + 1 s and ≤ 5 calls per 100 changes.

``--source cdc`` measures Change Data Capture instead: the Salesforce emulator's Pub/Sub API (gRPC) runs
too, and the outbound loop follows its change events (target p95 ≤ 1.5 s). It then counts the Salesforce
REST calls outbound makes while nothing changes (``--idle`` seconds; target 0 per hour).
"""

import argparse
import io
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from cmsync.config import parse_settings
from cmsync.daemon.outbound_loop import OutboundLoop
from cmsync.logs import configure_logging
from cmsync.systems import Systems, install
from cmsync_sandbox.campaign_monitor import CampaignMonitorEmulator, SeedSpec
from cmsync_sandbox.salesforce import SalesforceEmulator
from cmsync_sandbox.server import SandboxServer

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class PushTimes:
    """WSGI wrapper in front of the CM emulator: when each mapped value first arrived in a write call (an
    add, update or import), and how many write calls it received."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.first_seen: dict[str, float] = {}
        self.writes = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        arrived = time.time()
        if environ.get("REQUEST_METHOD") in WRITES and "/subscribers/" in environ.get("PATH_INFO", ""):
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
            with self.lock:
                self.writes += 1
                for value in _mapped_values(json.loads(body) if body else {}):
                    self.first_seen.setdefault(value, arrived)
        return self.app(environ, start_response)


WRITES = ("POST", "PUT", "DELETE")


def _mapped_values(body: dict[str, Any]) -> Iterator[str]:
    """The custom field values a write call's body carries (one subscriber, or an import's many)."""
    for subscriber in body.get("Subscribers", [body]):
        for field in subscriber.get("CustomFields", []):
            yield field["Value"]


def percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


@dataclass(frozen=True)
class Measurement:
    """One run at one rate: the lags of the changes pushed, how many were not, and the CM write calls."""

    lags: list[float]
    missing: int
    changes: int
    writes: int

    @property
    def p50(self) -> float:
        return statistics.median(self.lags)

    @property
    def p95(self) -> float:
        return percentile(self.lags, 0.95)

    @property
    def calls_per_100(self) -> float:
        return 100 * self.writes / self.changes


def settings_for(
    cm_url: str, sf_url: str, folder: Path, list_id: str, client_id: str, interval: int, pubsub: str | None
) -> Any:
    config = {
        "campaign_monitor": {"base_url": cm_url, "auth": {"api_key": "sandbox-api-key"}, "clients": [client_id]},
        "salesforce": {
            "login_url": sf_url,
            "auth": {
                "client_id": "sandbox-client-id",
                "client_secret": "sandbox-client-secret",
                "refresh_token": "sandbox-refresh-token",
            },
        },
        "state": {"url": f"sqlite:///{folder / 'state.db'}"},
        "outbound": {"poll_interval": f"{interval}s"}
        | ({"source": "cdc", "pubsub_endpoint": pubsub} if pubsub else {"source": "poll"}),
        "subscription_rules": [
            {"list": list_id, "object": "Contact", "action": "add", "evaluation": "created_or_edited"}
        ],
        "field_mappings": [{"list": list_id, "cm_field": "[City]", "contact_field": "Title", "direction": "sf2cm"}],
        "logging": {"format": "console", "level": "warning"},
    }
    return parse_settings(yaml.safe_dump(config), "bench.yaml")


class LagBench:
    """Both emulators on HTTP, ``people`` Contacts subscribed to one list, and cmsync's outbound loop on a
    thread as the supervisor runs it: polling, or following change events from the Pub/Sub emulator."""

    def __init__(self, people: int, interval: int, source: str) -> None:
        self.interval = interval
        self.cm = CampaignMonitorEmulator(
            size=SeedSpec(clients=1, lists_per_client=1, subscribers_per_list=10, campaigns_per_client=0,
                          journeys_per_client=0, months=1)
        )  # fmt: skip
        (client,) = self.cm.state.clients.values()
        self.mailing_list = client.lists[0]
        self.sf = SalesforceEmulator()
        self.ids = [
            self.sf.create("Contact", {"LastName": f"Person {n}", "Email": f"p{n}@lag.example"}) for n in range(people)
        ]
        self.timing = PushTimes(self.cm.app)
        self.cm_server = SandboxServer(self.timing, self.cm.calls).start()
        self.sf_server = self.sf.serve().start()
        self.pubsub = self.sf.serve_pubsub().start() if source == "cdc" else None
        folder = Path(tempfile.mkdtemp(prefix="cmsync-bench-"))
        settings = settings_for(
            CampaignMonitorEmulator.api_url(self.cm_server), self.sf_server.url, folder,
            self.mailing_list.list_id, client.client_id, interval, self.pubsub.address if self.pubsub else None,
        )  # fmt: skip
        self.systems = Systems.from_settings(settings)
        self.loop = OutboundLoop()
        self.turn = 0

    def start(self) -> None:
        """Start outbound and subscribe every Contact (an edit each, which the Add rule acts on)."""
        install(self.systems)
        self.loop.start()
        while self.systems.store.facts.outbound_last_poll.get() is None:
            time.sleep(0.1)
        for record_id in self.ids:
            self.sf.update(record_id, {"Title": "subscribed"})
        while len(self.mailing_list.members) < len(self.ids) + 10:
            time.sleep(0.5)

    def rest_calls(self) -> int:
        return sum(1 for call in self.sf.calls.calls() if call.call_class == "rest")

    def stop(self) -> None:
        self.loop.stop()
        self.systems.close()
        if self.pubsub is not None:
            self.pubsub.stop()
        self.cm_server.stop()
        self.sf_server.stop()
        self.sf.close()


def measure_lag(bench: LagBench, rate: int, seconds: int, label: str) -> Measurement:
    """Edit ``rate`` Contacts a second for ``seconds``, wait until every edit reached CM (or three polls
    went by), and measure each edit's lag and the CM write calls they took."""
    changed: dict[str, float] = {}
    with bench.timing.lock:
        writes_before = bench.timing.writes
    started = time.monotonic()
    for n in range(rate * seconds):
        time.sleep(max(0.0, started + n / rate - time.monotonic()))
        token = f"{label}-{n}"
        record_id = bench.ids[(bench.turn + n) % len(bench.ids)]
        bench.sf.update(record_id, {"Title": token})
        changed[token] = datetime.fromisoformat(bench.sf.get(record_id)["SystemModstamp"]).timestamp()
    bench.turn += rate * seconds
    deadline = time.monotonic() + 3 * bench.interval + 10
    while time.monotonic() < deadline and not changed.keys() <= bench.timing.first_seen.keys():
        time.sleep(0.5)
    with bench.timing.lock:
        pushed = dict(bench.timing.first_seen)
        writes = bench.timing.writes - writes_before
    lags = sorted(pushed[token] - stamp for token, stamp in changed.items() if token in pushed)
    return Measurement(lags, len(changed) - len(lags), len(changed), writes)


def summary(rate: int, runs: list[Measurement]) -> str:
    """One line per rate: min and median over the runs of p50, p95 and calls per 100 changes."""

    def spread(values: list[float], unit: str) -> str:
        return f"min {min(values):6.2f}{unit} median {statistics.median(values):6.2f}{unit}"

    missing = sum(run.missing for run in runs)
    return (
        f"{rate:>4} changes/s x{len(runs)}: p50 {spread([run.p50 for run in runs], ' s')} | "
        f"p95 {spread([run.p95 for run in runs], ' s')} | "
        f"CM calls/100 changes {spread([run.calls_per_100 for run in runs], '')}"
        + (f"  ({missing} not pushed)" if missing else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interval", type=int, default=15, help="outbound.poll_interval in seconds")
    parser.add_argument("--seconds", type=int, default=60, help="how long each run at a rate lasts")
    parser.add_argument("--rates", type=int, nargs="+", default=[1, 10, 100], help="changes per second")
    parser.add_argument("--repeats", type=int, default=3, help="runs per rate")
    parser.add_argument("--cm-latency", type=float, default=0.0, help="seconds each CM call takes")
    parser.add_argument("--source", choices=["poll", "cdc"], default="poll", help="outbound.source to measure")
    parser.add_argument("--idle", type=int, default=120, help="with --source cdc: seconds of no change measured")
    arguments = parser.parse_args()
    configure_logging("console", "warning")

    bench = LagBench(max(arguments.rates) * arguments.seconds, arguments.interval, arguments.source)
    bench.cm.faults.set_latency(arguments.cm_latency)
    bench.start()
    following = "following change events" if arguments.source == "cdc" else f"poll interval {arguments.interval} s"
    target = 1.5 if arguments.source == "cdc" else arguments.interval + 1
    print(f"{len(bench.ids)} Contacts subscribed; {following}, {arguments.seconds} s a run")
    print(f"targets: p95 <= {target:g} s; <= 5 CM calls per 100 adds/updates on one list")
    for rate in arguments.rates:
        runs = [measure_lag(bench, rate, arguments.seconds, f"r{rate}.{repeat}") for repeat in range(arguments.repeats)]
        for run in runs:
            print(f"       run: p50 {run.p50:5.2f} s  p95 {run.p95:5.2f} s  {run.writes} calls for {run.changes}")
        print(summary(rate, runs))
    if arguments.source == "cdc":
        before = bench.rest_calls()
        time.sleep(arguments.idle)
        idle_calls = bench.rest_calls() - before
        hourly = idle_calls * 3600 / arguments.idle
        print(f"idle: {idle_calls} Salesforce REST calls in {arguments.idle} s ({hourly:g} per hour; target 0)")
    bench.stop()


if __name__ == "__main__":
    main()
