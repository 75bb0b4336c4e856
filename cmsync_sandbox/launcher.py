"""``cmsync sandbox``: start the emulators, print where they are and how to sign in, run until SIGINT/SIGTERM.

Each emulator is started by one function of ``EMULATORS``; the Salesforce emulator joins by adding its own.
With a CA file, every emulator serves HTTPS and the certificate authority is written to that file.
"""

import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Protocol, TextIO

from cmsync_sandbox.campaign_monitor import (
    DEFAULT_API_KEY,
    OAUTH_CLIENT_ID,
    OAUTH_CLIENT_SECRET,
    OAUTH_REFRESH_TOKEN,
    SANDBOX_CLIENT_ID,
    CampaignMonitorEmulator,
)
from cmsync_sandbox.campaign_monitor.seeding import people_pool_size, spec_for
from cmsync_sandbox.salesforce import SalesforceEmulator, SeedPlan
from cmsync_sandbox.server import ListenError, SandboxServer


class Stoppable(Protocol):
    def stop(self) -> None: ...


@dataclass(frozen=True)
class SandboxOptions:
    """What ``cmsync sandbox`` was asked for (port 0 picks a free port)."""

    seed: int = 1
    size: str = "demo"
    host: str = "127.0.0.1"
    cm_port: int = 8701
    sf_port: int = 8702
    sf_pubsub_port: int = 8703
    ca_file: Path | None = None


@dataclass
class RunningEmulator:
    """A started emulator, and the lines that tell a person how to use it."""

    name: str
    server: SandboxServer
    details: list[str]
    companions: list[Stoppable] = field(default_factory=list)
    """Further servers of the same emulator, stopped with it."""


EmulatorStarter = Callable[[SandboxOptions], RunningEmulator]


class PortTakenError(Exception):
    """An emulator's port is not free: one line naming the port and the option that moves it."""


@contextmanager
def _naming_the_option(emulator: str, option: str) -> Iterator[None]:
    try:
        yield
    except ListenError as error:
        raise PortTakenError(
            f"the {emulator} emulator {error}; choose another port with {option} PORT (0 picks a free one)"
        ) from None


def start_campaign_monitor(options: SandboxOptions) -> RunningEmulator:
    """The Campaign Monitor emulator, seeded, on ``options.cm_port``."""
    emulator = CampaignMonitorEmulator(size=options.size, seed=options.seed)
    with _naming_the_option("Campaign Monitor", "--cm-port"):
        server = emulator.serve(host=options.host, port=options.cm_port, ca_file=options.ca_file).start()
    counts = ", ".join(f"{count} {name}" for name, count in emulator.state.summary().items())
    return RunningEmulator(
        "Campaign Monitor API v3.3",
        server,
        [
            f"base_url       {emulator.api_url(server)}",
            f"api_key        {DEFAULT_API_KEY}",
            f"oauth          client_id {OAUTH_CLIENT_ID}, client_secret {OAUTH_CLIENT_SECRET}, "
            f"refresh_token {OAUTH_REFRESH_TOKEN}",
            f"client         {SANDBOX_CLIENT_ID}",
            f"controls       {server.url}/_sandbox/",
            f"seeded         {options.size}, seed {options.seed}: {counts}",
        ],
    )


def start_salesforce(options: SandboxOptions) -> RunningEmulator:
    """The Salesforce emulator on ``options.sf_port`` (its Pub/Sub API on ``options.sf_pubsub_port``); its Contacts
    and Leads overlap the CM seed's people."""
    emulator = SalesforceEmulator()
    pool = people_pool_size(spec_for(options.size))
    plan = SeedPlan(people_count=pool, people_seed=options.seed, extra_contacts=pool // 10, extra_leads=pool // 20)
    report = emulator.seed(plan)
    with _naming_the_option("Salesforce", "--sf-port"):
        server = emulator.serve(host=options.host, port=options.sf_port, ca_file=options.ca_file).start()
    pubsub_port = options.sf_pubsub_port if options.sf_port else 0  # a free port for both, as tests ask
    try:
        pubsub = emulator.serve_pubsub(host=options.host, port=pubsub_port, ca_file=options.ca_file).start()
    except RuntimeError as error:
        server.stop()
        raise PortTakenError(
            f"the Salesforce Pub/Sub emulator cannot listen on {options.host}:{pubsub_port} ({error}); choose another "
            "port with --sf-pubsub-port PORT, or --sf-port 0 to put both on free ports"
        ) from None
    info = emulator.info(server.url)
    overlap = len(report.contact_emails) + len(report.lead_emails) + len(report.both_emails)
    return RunningEmulator(
        "Salesforce REST and Bulk API 2.0",
        server,
        [
            f"login_url      {server.url}",
            f"oauth          client_id {info['client_id']}, client_secret {info['client_secret']}, "
            f"refresh_token {info['refresh_token']}",
            f"user           {info['integration_username']} (Id {info['integration_user_id']})",
            f"pubsub (gRPC)  {pubsub.address}{' (TLS)' if pubsub.tls else ''}: change events of Contact, Lead, Account",
            f"jwt bearer     PUT the connected app's certificate (PEM) to {server.url}/_sandbox/jwt-certificate",
            f"controls       {server.url}/_sandbox/",
            f"seeded         seed {options.seed}: {report.accounts} accounts, {report.contacts} contacts, "
            f"{report.leads} leads; {overlap} of the {pool} CM people ({len(report.both_emails)} as Contact and Lead, "
            f"{len(report.duplicate_emails)} with a duplicate Contact)",
        ],
        [pubsub],
    )


EMULATORS: list[EmulatorStarter] = [start_campaign_monitor, start_salesforce]


def run_sandbox(
    options: SandboxOptions,
    *,
    emulators: Sequence[EmulatorStarter] = EMULATORS,
    stop: threading.Event | None = None,
    out: TextIO | None = None,
) -> int:
    """Start ``emulators``, print their details, and serve until ``stop`` is set (SIGINT or SIGTERM set it)."""
    out = out or sys.stdout
    stop = stop or threading.Event()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():

        def request_stop(_signal: int, _frame: FrameType | None) -> None:
            stop.set()

        for signal_number in (signal.SIGINT, signal.SIGTERM):
            previous[signal_number] = signal.signal(signal_number, request_stop)
    running: list[RunningEmulator] = []
    try:
        for start in emulators:
            emulator = start(options)
            running.append(emulator)
            print(emulator.name, file=out)
            for line in emulator.details:
                print(f"  {line}", file=out)
        if options.ca_file is not None:
            print(f"TLS certificate authority: {options.ca_file} (trust it, e.g. ca_file: or curl --cacert)", file=out)
        print("Serving; Ctrl-C or SIGTERM stops the sandbox.", file=out, flush=True)
        stop.wait()
    finally:
        for emulator in reversed(running):
            for companion in emulator.companions:
                companion.stop()
            emulator.server.stop()
        for signal_number, handler in previous.items():
            signal.signal(signal_number, handler)
    print("Sandbox stopped.", file=out, flush=True)
    return 0
