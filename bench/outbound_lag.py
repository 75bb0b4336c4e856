"""Outbound lag and cost: from a Salesforce change (its SystemModstamp) to the Campaign Monitor call that
pushes it, and the CM calls a hundred changes take.

Run: ``.venv/bin/python bench/outbound_lag.py [--interval 15] [--seconds 60] [--rates 1 10 100]
[--repeats 3] [--cm-latency 0]``. Both emulators run on real HTTP; cmsync's poller runs on a thread as the
supervisor runs it (``poll_once`` every ``--interval`` seconds). Every change is an edit, by a person, of a
mapped field of a Contact already subscribed to the one list (an Add rule subscribed them all first), so
each change is an update push on that list; ``--cm-latency`` adds a real CM round trip to every call. The
CM calls are timed as the emulator receives them; the lag of a change is that moment less its
SystemModstamp. For each rate it prints, over ``--repeats`` runs, the min and median of p50 and p95 lag and
of CM write calls per 100 changes, against the targets p95 ≤ poll interval + 1 s and ≤ 5 calls per 100
changes.

``--source cdc`` measures Change Data Capture instead: the Salesforce emulator's Pub/Sub API (gRPC) runs
too, and cmsync's outbound loop follows its change events (target p95 ≤ 1.5 s). It then counts the
Salesforce REST calls outbound makes while nothing changes (``--idle`` seconds; target 0 per hour).
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
from cmsync.sandbox.campaign_monitor import CampaignMonitorEmulator, SeedSpec
from cmsync.sandbox.salesforce import SalesforceEmulator
from cmsync.sandbox.server import SandboxServer
from cmsync.workers.engine import Engine, install
from cmsync.workers.outbound import poll_once

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


def settings_for(cm_url: str, sf_url: str, folder: Path, list_id: str, client_id: str, interval: int) -> Any:
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
        "outbound": {"poll_interval": f"{interval}s"},
        "subscription_rules": [
            {"list": list_id, "object": "Contact", "action": "add", "evaluation": "created_or_edited"}
        ],
        "field_mappings": [{"list": list_id, "cm_field": "[City]", "contact_field": "Title", "direction": "sf2cm"}],
        "logging": {"format": "console", "level": "warning"},
    }
    return parse_settings(yaml.safe_dump(config), "bench.yaml")


class LagBench:
    """Both emulators on HTTP, ``people`` Contacts subscribed to one list, and cmsync's poller on a thread."""

    def __init__(self, people: int, interval: int) -> None:
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
        folder = Path(tempfile.mkdtemp(prefix="cmsync-bench-"))
        settings = settings_for(
            CampaignMonitorEmulator.api_url(self.cm_server), self.sf_server.url, folder,
            self.mailing_list.list_id, client.client_id, interval,
        )  # fmt: skip
        self.engine = Engine.from_settings(settings)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.turn = 0

    def _poll(self) -> None:
        while not self.stopping.is_set():
            started = time.monotonic()
            poll_once(self.engine)
            self.stopping.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def start(self) -> None:
        """Start polling and subscribe every Contact (an edit each, which the Add rule acts on)."""
        self.thread.start()
        time.sleep(1)
        for record_id in self.ids:
            self.sf.update(record_id, {"Title": "subscribed"})
        while len(self.mailing_list.members) < len(self.ids) + 10:
            time.sleep(0.5)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()
        self.engine.close()
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
    if arguments.source == "cdc":
        measure_change_events(arguments)
        return

    bench = LagBench(max(arguments.rates) * arguments.seconds, arguments.interval)
    bench.cm.faults.set_latency(arguments.cm_latency)
    bench.start()
    print(f"{len(bench.ids)} Contacts subscribed; poll interval {arguments.interval} s, {arguments.seconds} s a run")
    print(f"targets: p95 <= {arguments.interval + 1} s; <= 5 CM calls per 100 adds/updates on one list")
    for rate in arguments.rates:
        runs = [measure_lag(bench, rate, arguments.seconds, f"r{rate}.{repeat}") for repeat in range(arguments.repeats)]
        for run in runs:
            print(f"       run: p50 {run.p50:5.2f} s  p95 {run.p95:5.2f} s  {run.writes} calls for {run.changes}")
        print(summary(rate, runs))
    bench.stop()


def measure_change_events(arguments: argparse.Namespace) -> None:
    """The lag at each rate with ``outbound.source: cdc``, then the REST calls outbound makes while idle."""
    cm = CampaignMonitorEmulator(
        size=SeedSpec(clients=1, lists_per_client=1, subscribers_per_list=10, campaigns_per_client=0,
                      journeys_per_client=0, months=1)
    )  # fmt: skip
    (client,) = cm.state.clients.values()
    mailing_list = client.lists[0]
    sf = SalesforceEmulator()
    people = max(arguments.rates) * arguments.seconds
    ids = [sf.create("Contact", {"LastName": f"Person {n}", "Email": f"p{n}@lag.example"}) for n in range(people)]
    timing = PushTimes(cm.app)
    cm_server = SandboxServer(timing, cm.calls).start()
    sf_server = sf.serve().start()
    pubsub = sf.serve_pubsub().start()
    folder = Path(tempfile.mkdtemp(prefix="cmsync-bench-"))
    polled = settings_for(
        CampaignMonitorEmulator.api_url(cm_server), sf_server.url, folder, mailing_list.list_id,
        client.client_id, arguments.interval,
    )  # fmt: skip
    outbound = polled.outbound.model_copy(update={"source": "cdc", "pubsub_endpoint": pubsub.address})
    engine = Engine.from_settings(polled.model_copy(update={"outbound": outbound}))
    install(engine)
    loop = OutboundLoop().start()
    while engine.store.fact("outbound_last_poll") is None:
        time.sleep(0.1)
    for record_id in ids:
        sf.update(record_id, {"Title": "subscribed"})
    while len(mailing_list.members) < people + 10:
        time.sleep(0.5)
    print(f"{people} Contacts subscribed; following change events, {arguments.seconds} s per rate")
    print("target: p95 <= 1.5 s from commit to the CM call")
    turn = 0
    for rate in arguments.rates:
        changed: dict[str, float] = {}
        started = time.monotonic()
        for n in range(rate * arguments.seconds):
            time.sleep(max(0.0, started + n / rate - time.monotonic()))
            token = f"r{rate}-{n}"
            record_id = ids[(turn + n) % people]
            sf.update(record_id, {"Title": token})
            changed[token] = datetime.fromisoformat(sf.get(record_id)["SystemModstamp"]).timestamp()
        turn += rate * arguments.seconds
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not changed.keys() <= timing.first_seen.keys():
            time.sleep(0.2)
        lags = sorted(
            timing.first_seen[token] - stamp for token, stamp in changed.items() if token in timing.first_seen
        )
        missing = len(changed) - len(lags)
        print(
            f"{rate:>4} changes/s: {len(lags):>5} pushes  p50 {statistics.median(lags):5.2f} s  "
            f"p95 {percentile(lags, 0.95):5.2f} s  p99 {percentile(lags, 0.99):5.2f} s  max {lags[-1]:5.2f} s"
            + (f"  ({missing} not pushed)" if missing else "")
        )
    rest_before = sum(1 for call in sf.calls.calls() if call.call_class == "rest")
    time.sleep(arguments.idle)
    idle_calls = sum(1 for call in sf.calls.calls() if call.call_class == "rest") - rest_before
    hourly = idle_calls * 3600 / arguments.idle
    print(f"idle: {idle_calls} Salesforce REST calls in {arguments.idle} s ({hourly:g} per hour)")
    loop.stop()
    engine.close()
    pubsub.stop()
    cm_server.stop()
    sf_server.stop()
    sf.close()


if __name__ == "__main__":
    main()
