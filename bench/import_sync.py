"""Main sync benchmark: how close a first import of one list comes to what the APIs allow, and what a
no-change full pass that follows it costs.

Run: ``.venv/bin/python bench/import_sync.py [--members 10000 100000 1000000] [--repeats 3]
[--latency 0.02] [--callgrind]``.

The emulators run in this process with ``--latency`` seconds added to every call; cmsync runs as a
separate ``cmsync sync-now --wait`` process (embedded broker). Its peak resident memory is the ``VmHWM``
the process itself reports before it exits (a child's ``ru_maxrss`` on Linux starts from the forking
process's high-water mark, here the emulators'), its CPU time is the child's user + system time. cmsync's
modules are compiled to bytecode first, as an installed cmsync's are (a shell with
``PYTHONDONTWRITEBYTECODE`` set would have every run compile them again, about 0.3 s of CPU).

The floor: Campaign Monitor pages of 1,000 per list state plus the client, list and campaign reads; on
Salesforce the sign-in, the directory's two Bulk queries, one Bulk 2.0 job per stream at or above the
Bulk threshold (a new job only per 100 MB of CSV; Collections of 200 below it) and the purge's three
counts. The latency floor is those calls one after another times the latency, plus the emulator's Bulk
processing time of those jobs (one step per 10,000 rows). Each figure prints the minimum and median of
``--repeats`` runs and the load average (``uptime``) at the start; CPU time and wall time are noisy on a
busy machine, ``--callgrind`` counts instructions instead (repeatable, and slow: use 10,000 members).
"""

import argparse
import compileall
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

import cmsync
from cmsync.logs import configure_logging
from cmsync.state import StateStore
from cmsync_sandbox.calls import Call
from cmsync_sandbox.campaign_monitor import CampaignMonitorEmulator, SeedSpec
from cmsync_sandbox.campaign_monitor.seeding import SANDBOX_CLIENT_ID
from cmsync_sandbox.salesforce import SalesforceEmulator, SeedPlan

BULK_STEP = 0.2
"""Seconds the Salesforce emulator spends on each step of a Bulk job (before it starts, per chunk)."""
BULK_CHUNK = 10_000
"""Rows the emulator processes per step."""
BULK_THRESHOLD = 2_000
"""``salesforce.bulk_threshold`` (the default): streams above it are written through one Bulk job."""
JOB_BYTES = 100 * 1024 * 1024
ROW_BYTES = 345
"""The size of one member row in the Bulk CSV of this seed (its rows average 345 bytes: 304,000 fill the
upload limit), to count the jobs that limit makes necessary."""
BULK_JOB_CALLS = 4
"""create, upload, close, one status poll (results are read only when some rows failed)."""
BULK_QUERY_CALLS = 3
"""create, one status poll, results: the first run's load of the Contact and Lead directory."""
SEEDED_AGO = 86_400.0
"""Seconds before the first sync the org's Contacts and Leads were last changed, but a Contact and a Lead
edited just before it: an org in use. (Seeded in one minute, every one would be in the directory's overlap
of a minute before the newest change, and the next run would read the whole directory again.)"""
PURGE_CALLS = 3
"""The tracking purge after each run: how many records are past ``days_to_keep``, of how many, the oldest kept."""
MEASURED = """
import os, sys
from cmsync.cli.main import main
code = main(sys.argv[1:])
with open("/proc/self/status") as status, open(os.environ["CMSYNC_BENCH_PEAK"], "w") as out:
    out.write(next(line for line in status if line.startswith("VmHWM:")).split()[1])
sys.exit(code)
"""
"""cmsync's command line, then its own peak resident memory (kB) written where the bench reads it."""


@dataclass
class Figures:
    """One repeat at one size."""

    load: str
    records_per_second: float
    wall_over_floor: float
    cm_over_floor: float
    sf_over_floor: float
    sf_writes_over_floor: float
    cpu_us_per_record: float
    instructions_per_record: float | None
    peak_mb: float
    state_mb: float
    full_pass_share: float
    full_pass_writes: int


def _load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def _writes(calls: list[Call]) -> int:
    return sum("/jobs/ingest" in call.path or "/composite/sobjects" in call.path for call in calls)


def _run_cmsync(config: Path, folder: str, *extra: str, callgrind: bool = False) -> tuple[float, float, float, int]:
    """Run ``cmsync sync-now --wait``; its wall time, CPU seconds, peak MB and instruction count (callgrind)."""
    peak_file = Path(folder) / "peak"
    command = [sys.executable, "-c", MEASURED, "sync-now", "--wait", "--config", str(config), *extra]
    out_file = Path(folder) / "callgrind.out"
    if callgrind:
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}", *command]
    before = os.times()
    started = time.monotonic()
    subprocess.run(command, check=True, capture_output=True, env={**os.environ, "CMSYNC_BENCH_PEAK": str(peak_file)})
    elapsed = time.monotonic() - started
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    instructions = 0
    if callgrind:
        summary = re.search(r"^summary:\s+(\d+)", out_file.read_text(), re.MULTILINE)
        instructions = int(summary.group(1)) if summary else 0
    return elapsed, cpu, int(peak_file.read_text()) / 1024, instructions


def measure(members: int, latency: float, callgrind: bool) -> Figures:
    load = _load()
    spec = SeedSpec(clients=1, lists_per_client=1, subscribers_per_list=members, campaigns_per_client=0,
                    journeys_per_client=0, months=1)  # fmt: skip
    cm = CampaignMonitorEmulator(size=spec, seed=5)
    emails = [m.email for ml in cm.state.lists.values() for m in ml.members.values()]
    sf = SalesforceEmulator(bulk_step_seconds=BULK_STEP, bulk_chunk_size=BULK_CHUNK)
    sf.seed(SeedPlan(emails=emails, share=0.5, lead_share=0.3, both_share=0.1, duplicate_share=0.05), ago=SEEDED_AGO)
    sf.create("Contact", {"LastName": "Recently Edited", "Email": "recently.edited@example.org"})
    sf.create("Lead", {"LastName": "Recently Edited", "Company": "Bench", "Email": "recently.edited@example.org"})
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
        _elapsed, cpu, peak_mb, instructions = _run_cmsync(config, folder, callgrind=callgrind)
        store = StateStore.open(f"sqlite:///{folder}/state.db")
        run = store.runs.last()
        store.close()
        cm_calls, sf_calls = cm.calls.calls(), sf.calls.calls()
        cm.calls.clear()
        sf.calls.clear()
        _run_cmsync(config, folder, "--full")
        full_writes = _writes(sf.calls.calls())
        store = StateStore.open(f"sqlite:///{folder}/state.db")
        full = store.runs.last()
        store.close()
        state_mb = sum(path.stat().st_size for path in Path(folder).glob("state.db*")) / 2**20
    cm_server.stop()
    sf_server.stop()
    sf.close()
    assert run is not None and run.status == "succeeded" and run.duration, run
    assert full is not None and full.status == "succeeded" and full.duration, full
    seconds = run.duration.total_seconds()
    imported = sum(run.counts["CM_List_Member__c"].get(outcome, 0) for outcome in ("created", "rewritten"))
    states = [len(by_state) for ml in cm.state.lists.values() for by_state in ml.by_state.values()]
    cm_floor = sum(max(1, math.ceil(n / 1000)) for n in states) + 5
    write_floor, bulk_seconds = 0, 2 * BULK_STEP  # the directory's two query jobs: one step each at the least
    for n in (1, 1, *(n for n in states if n)):
        if n <= BULK_THRESHOLD:
            write_floor += math.ceil(n / 200)
            continue
        jobs = math.ceil(n * ROW_BYTES / JOB_BYTES)
        write_floor += jobs * BULK_JOB_CALLS
        bulk_seconds += BULK_STEP * math.ceil(n / BULK_CHUNK) + BULK_STEP * (jobs - 1)
    sf_floor = 1 + 2 * BULK_QUERY_CALLS + write_floor + PURGE_CALLS
    floor = (cm_floor + sf_floor) * latency + bulk_seconds
    return Figures(
        load=load,
        records_per_second=imported / seconds,
        wall_over_floor=seconds / floor,
        cm_over_floor=len(cm_calls) / cm_floor,
        sf_over_floor=len(sf_calls) / sf_floor,
        sf_writes_over_floor=_writes(sf_calls) / write_floor,
        cpu_us_per_record=cpu / imported * 1e6,
        instructions_per_record=instructions / imported if callgrind else None,
        peak_mb=peak_mb,
        state_mb=state_mb,
        full_pass_share=full.duration.total_seconds() / seconds,
        full_pass_writes=full_writes,
    )


def _line(name: str, values: list[float], unit: str, target: str) -> str:
    low, middle = min(values), statistics.median(values)
    return f"  {name:<34} min {low:>10,.2f}  median {middle:>10,.2f} {unit:<3} target {target}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--callgrind", action="store_true", help="count cmsync's instructions (slow)")
    arguments = parser.parse_args()
    configure_logging("console", "warning", sys.stderr)
    compileall.compile_dir(Path(cmsync.__file__).parent, quiet=1)
    for members in arguments.members:
        runs = [measure(members, arguments.latency, arguments.callgrind) for _ in range(arguments.repeats)]
        print(f"{members:,} members, {arguments.latency * 1000:.0f} ms latency, load {[r.load for r in runs]}")
        print(_line("records/s", [r.records_per_second for r in runs], "", "≥ 25,000 without latency"))
        print(_line("wall time ÷ latency floor", [r.wall_over_floor for r in runs], "×", "≤ 1.5"))
        print(_line("CM calls ÷ floor", [r.cm_over_floor for r in runs], "×", "1.0"))
        print(_line("Salesforce calls ÷ floor", [r.sf_over_floor for r in runs], "×", "≤ 1.2"))
        print(_line("Salesforce write calls ÷ floor", [r.sf_writes_over_floor for r in runs], "×", "≤ 1.2"))
        print(_line("CPU per record", [r.cpu_us_per_record for r in runs], "µs", "≤ 40"))
        if arguments.callgrind:
            print(_line("instructions per record", [r.instructions_per_record or 0 for r in runs], "", "lower"))
        print(_line("peak RSS of cmsync", [r.peak_mb for r in runs], "MB", "≤ 150, flat"))
        print(_line("state store", [r.state_mb for r in runs], "MB", "≤ 120 at 1M"))
        print(_line("no-change --full ÷ first sync", [r.full_pass_share * 100 for r in runs], "%", "≤ 10"))
        print(_line("no-change --full write calls", [float(r.full_pass_writes) for r in runs], "", "0"))


if __name__ == "__main__":
    main()
