"""Campaign Monitor emulator at scale: memory for 1,000,000 subscribers and the time to serve 1000-record pages.

Run: ``.venv/bin/python bench/cm_emulator_page.py [--subscribers N] [--pages N]``. Prints resident memory
before and after seeding, the seeding time, and per-page times over real HTTP (client side, including the
HTTP round trip) and inside the emulator (server side, from its call log), for the sync's order (by date,
from a watermark, with consent) and for email order. The first page after a change builds a sorted view (by
date, or the order asked for); it is shown apart. ``--pages`` random pages are read, then the same pages
again: a page's first read (in that order) writes the JSON text of its records not read before, a read again
reuses the texts kept on the records (as cmsync's no-change full pass does); the two are shown apart.
"""

import argparse
import random
import statistics
import time
from pathlib import Path

import requests

from cmsync_sandbox.campaign_monitor import DEFAULT_API_KEY, CampaignMonitorEmulator, SeedSpec


def resident_megabytes() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def milliseconds(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    median = statistics.median(ordered)
    return (
        f"min {ordered[0] * 1000:6.2f} ms  median {median * 1000:6.2f} ms  p95 {p95 * 1000:6.2f} ms  "
        f"max {ordered[-1] * 1000:6.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--pages", type=int, default=100)
    arguments = parser.parse_args()

    before = resident_megabytes()
    started = time.perf_counter()
    spec = SeedSpec(
        clients=1,
        lists_per_client=1,
        subscribers_per_list=arguments.subscribers,
        campaigns_per_client=0,
        journeys_per_client=0,
    )
    emulator = CampaignMonitorEmulator(size=spec, seed=1)
    seeded = time.perf_counter() - started
    after = resident_megabytes()
    mailing_list = next(iter(emulator.state.lists.values()))
    active = len(mailing_list.by_state["Active"])
    print(f"subscribers           {len(mailing_list.members):,} on one list ({active:,} active)")
    print(f"seeding               {seeded:.1f} s")
    print(
        f"resident memory       {before:.0f} MB before, {after:.0f} MB after ({after - before:.0f} MB for the account)"
    )

    with emulator.serve() as server, requests.Session() as session:
        url = f"{emulator.api_url(server)}/lists/{mailing_list.list_id}/active.json"
        session.auth = (DEFAULT_API_KEY, "x")
        total = len(mailing_list.by_state["Active"])
        pages = -(-total // 1000)
        cold_started = time.perf_counter()
        watermark = session.get(url, params={"orderfield": "date", "pagesize": 1000, "page": pages // 2}).json()
        print(f"first page by date     {(time.perf_counter() - cold_started) * 1000:.0f} ms (builds the date view)")
        since = watermark["Results"][0]["Date"]
        orders = (
            ("date", {"orderfield": "date", "date": since, "includetrackingpreference": "true"}),
            ("email", {"orderfield": "email", "includetrackingpreference": "true"}),
        )
        for order, params in orders:
            cold_started = time.perf_counter()
            first = session.get(url, params={**params, "pagesize": 1000, "page": 1})
            cold = time.perf_counter() - cold_started
            available = first.json()["NumberOfPages"]
            rng = random.Random(7)
            chosen = [rng.randint(1, available) for _ in range(arguments.pages)]
            seen = {1}
            times: dict[str, tuple[list[float], list[float]]] = {"first read": ([], []), "read again": ([], [])}
            for page in chosen * 2:
                client_side, server_side = times["read again" if page in seen else "first read"]
                seen.add(page)
                request_started = time.perf_counter()
                answer = session.get(url, params={**params, "pagesize": 1000, "page": page})
                client_side.append(time.perf_counter() - request_started)
                server_side.append(emulator.calls.calls()[-1].duration)
                assert answer.status_code == 200 and answer.json()["RecordsOnThisPage"] > 0
            label = f"order by {order}" + (f", date >= {since}" if order == "date" else "")
            print(f"{label}: {available} pages of 1000")
            print(f"  first page                          {cold * 1000:8.1f} ms")
            for kind, (client_side, server_side) in times.items():
                if client_side:
                    print(f"  {kind} ({len(client_side):3}), HTTP        {milliseconds(client_side)}")
                    print(f"  {kind} ({len(client_side):3}), in emulator {milliseconds(server_side)}")
    print(f"resident memory at end {resident_megabytes():.0f} MB")


if __name__ == "__main__":
    main()
