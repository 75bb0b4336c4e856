"""Outbound lag: from a Salesforce change (its SystemModstamp) to the Campaign Monitor call that pushes it.

Run: ``.venv/bin/python bench/outbound_lag.py [--interval 15] [--seconds 60] [--rates 1 10 100]``. Both
emulators run on real HTTP; cmsync's poller runs on a thread as the supervisor runs it (``poll_once``
every ``--interval`` seconds). Every change is an edit, by a person, of a mapped field of a Contact already
subscribed to the list (an Add rule subscribed them all first), so each change costs one CM update call:
the heaviest kind of push. The CM calls are timed as the emulator receives them; the lag of a change is
that moment less its SystemModstamp. For each rate it prints p50, p95, p99 and the worst lag, against the
target p95 ≤ poll interval + 2 s.

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
from collections.abc import Callable, Iterable
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
    """WSGI wrapper in front of the CM emulator: when each mapped value first arrived in an update call."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.first_seen: dict[str, float] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        arrived = time.time()
        if environ.get("REQUEST_METHOD") == "PUT":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
            for field in json.loads(body).get("CustomFields", []):
                with self.lock:
                    self.first_seen.setdefault(field["Value"], arrived)
        return self.app(environ, start_response)


def percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interval", type=int, default=15, help="outbound.poll_interval in seconds")
    parser.add_argument("--seconds", type=int, default=60, help="how long each rate runs")
    parser.add_argument("--rates", type=int, nargs="+", default=[1, 10, 100], help="changes per second")
    parser.add_argument("--source", choices=["poll", "cdc"], default="poll", help="outbound.source to measure")
    parser.add_argument("--idle", type=int, default=120, help="with --source cdc: seconds of no change measured")
    arguments = parser.parse_args()
    configure_logging("console", "warning")
    if arguments.source == "cdc":
        measure_change_events(arguments)
        return

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
    folder = Path(tempfile.mkdtemp(prefix="cmsync-bench-"))
    settings = settings_for(
        CampaignMonitorEmulator.api_url(cm_server), sf_server.url, folder, mailing_list.list_id,
        client.client_id, arguments.interval,
    )  # fmt: skip
    engine = Engine.from_settings(settings)
    stopping = threading.Event()

    def poller() -> None:
        while not stopping.is_set():
            started = time.monotonic()
            poll_once(engine)
            stopping.wait(max(0.0, arguments.interval - (time.monotonic() - started)))

    thread = threading.Thread(target=poller, daemon=True)
    thread.start()
    time.sleep(1)
    for record_id in ids:
        sf.update(record_id, {"Title": "subscribed"})
    while len(mailing_list.members) < people + 10:
        time.sleep(0.5)
    print(f"{people} Contacts subscribed; poll interval {arguments.interval} s, {arguments.seconds} s per rate")
    print(f"target: p95 <= {arguments.interval + 2} s")

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
        deadline = time.monotonic() + 3 * arguments.interval + 10
        while time.monotonic() < deadline and not changed.keys() <= timing.first_seen.keys():
            time.sleep(0.5)
        pushed = timing.first_seen
        lags = sorted(pushed[token] - stamp for token, stamp in changed.items() if token in pushed)
        missing = len(changed) - len(lags)
        print(
            f"{rate:>4} changes/s: {len(lags):>5} pushes  p50 {statistics.median(lags):5.2f} s  "
            f"p95 {percentile(lags, 0.95):5.2f} s  p99 {percentile(lags, 0.99):5.2f} s  max {lags[-1]:5.2f} s"
            + (f"  ({missing} not pushed)" if missing else "")
        )
    stopping.set()
    thread.join()
    engine.close()
    cm_server.stop()
    sf_server.stop()
    sf.close()


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
