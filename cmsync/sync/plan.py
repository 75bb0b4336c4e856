"""The first step of a main sync: small objects (clients, lists, campaigns, journeys) and the fan-out.

Per selected client it upserts the client, its lists and its campaigns and journey emails, and returns
one job per list and one per tracking source whose counts changed since its last import. A client that
fails for good (refused credentials, an unknown ID) is reported and skipped; the others go on. A
transient error (5xx, timeout, a bad answer, a spent limit) makes the whole plan job try again later,
as every job does; only on its last attempt is a client that still fails reported and skipped instead.

With tracking on, every campaign's summary is read on every run, however long ago it was sent: an open
or click today on an old campaign is inside ``days_to_keep`` (the window is about the event's date). The
summary counts (like a journey email's counts) tell which sources changed; only those are read further,
from their watermark, so report reads follow change, not the number of campaigns.
"""

import contextvars
import hashlib
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cmsync.clients.campaign_monitor import errors as cm_errors
from cmsync.clients.salesforce import errors as salesforce_errors
from cmsync.logs import get_logger
from cmsync.mapping import records
from cmsync.sync import sources
from cmsync.sync.directory import refresh_directory
from cmsync.sync.failures import record_failure
from cmsync.sync.streams import StreamWriter, ends_when_cancelled, stop_if_cancelled
from cmsync.systems import Systems

log = get_logger(__name__)
PLAN_ATTEMPTS = 3
"""Attempts at planning a run before a client that still meets transient errors is reported and skipped
(within the plan job's own retries)."""
TRANSIENT = (*cm_errors.TRANSIENT, *salesforce_errors.TRANSIENT)
PLAN = "plan"
"""The first job of every run, in its job set: planning it and fanning out."""


@dataclass(frozen=True)
class Job:
    """One fan-out job: its name in the run's job set, the actor to send, the actor's arguments, and what
    it works on (for its log lines)."""

    name: str
    actor: str
    args: tuple[str | int, ...]
    about: dict[str, str] = field(default_factory=dict)


def counts_digest(counts: object, types: list[str]) -> str:
    """What makes a tracking source worth reading again: its event counts and the selected types."""
    return hashlib.sha256(json.dumps([counts, sorted(types)], default=str).encode()).hexdigest()[:32]


def tracking_stale(systems: Systems, source_id: str, digest: str) -> bool:
    """True when a source's counts moved since its events were last read (the job marks them read), or
    when some of its events were refused and wait to be offered again."""
    unchanged = systems.store.facts.tracking_read(source_id).get() == digest
    if unchanged and not systems.store.rejections.count(f"tracking:{source_id}:"):
        return False
    systems.store.facts.tracking_seen(source_id).set(digest)
    return True


@ends_when_cancelled
def fan_out(systems: Systems, run_id: int, send: Callable[[Job], None]) -> None:
    """Plan run ``run_id`` and ``send`` its jobs, every one in the run's job set before the first is sent."""
    run = systems.store.runs.get(run_id)
    jobs = plan_run(systems, run_id, bool(run and run.full_pass))
    systems.store.runs.add_jobs(run_id, [job.name for job in jobs])
    for job in jobs:
        send(job)


def plan_run(systems: Systems, run_id: int, full_pass: bool) -> list[Job]:
    """Upsert every selected client's small objects while the directory of Contacts and Leads is brought up
    to date (the list jobs link members through it); return the jobs the run fans out to.

    Raises the first transient error met (after planning the other clients) unless this is the plan's
    last attempt, so that the job is retried with backoff."""
    jobs: list[Job] = []
    transient: Exception | None = None
    last_attempt = _attempt(systems, run_id) >= PLAN_ATTEMPTS
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="directory-refresh") as background:
        directory = background.submit(
            contextvars.copy_context().run, refresh_directory, systems.salesforce, systems.store
        )
        for client_id in systems.settings.campaign_monitor.clients:
            try:
                jobs.extend(_plan_client(systems, run_id, client_id, full_pass))
            except (cm_errors.CampaignMonitorError, salesforce_errors.SalesforceError) as error:
                if isinstance(error, TRANSIENT) and not last_attempt:
                    log.warning("client planning will be retried", run_id=run_id, client=client_id, error=str(error))
                    transient = transient or error
                    continue
                log.error("client could not be planned", run_id=run_id, client=client_id, error=str(error))
                record_failure(systems.store, run_id, f"client {client_id}: {error}")
    directory.result()
    if transient is not None:
        raise transient
    return jobs


def _attempt(systems: Systems, run_id: int) -> int:
    """Count this attempt at planning run ``run_id`` and return its number (1 for the first)."""
    attempts = systems.store.facts.plan_attempts(run_id)
    attempt = int(attempts.get() or 0) + 1
    attempts.set(str(attempt))
    return attempt


def _plan_client(systems: Systems, run_id: int, client_id: str, full_pass: bool) -> Iterator[Job]:
    cm, store, settings = systems.campaign_monitor, systems.store, systems.settings
    details = cm.client_details(client_id)
    offset = details.utc_offset
    facts = sources.ClientFacts(
        client_id, details.company_name, details.timezone, int(offset.total_seconds() // 60) if offset else None
    )
    sources.save_client(store, facts)
    writer = StreamWriter(systems.salesforce, store, run_id, records.CLIENT, "clients")
    writer.retry_rejected()
    writer.add(records.client_record(details))
    writer.flush()

    lists = StreamWriter(systems.salesforce, store, run_id, records.LIST, f"lists:{client_id}")
    lists.retry_rejected()
    list_ids = []
    for summary in cm.lists(client_id):
        stop_if_cancelled(store, run_id)
        lists.add(records.list_record(cm.list_details(summary.list_id), client_id))
        list_ids.append(summary.list_id)
    lists.flush()
    for list_id in list_ids:
        yield Job(
            f"list:{list_id}", "import_list", (run_id, client_id, list_id), {"client": client_id, "list": list_id}
        )

    tracking = settings.tracking
    window_start = (
        datetime.now(UTC).replace(tzinfo=None) + (offset or timedelta(0)) - timedelta(days=tracking.days_to_keep)
    )
    campaigns = StreamWriter(systems.salesforce, store, run_id, records.CAMPAIGN, f"campaigns:{client_id}")
    campaigns.retry_rejected()
    for campaign in cm.campaigns(client_id):
        recent = campaign.sent_date >= window_start
        key = campaign.campaign_id
        if not (recent or full_pass or tracking.enabled) and store.digests.get(campaigns.stream, [key]):
            continue
        stop_if_cancelled(store, run_id)
        summary = cm.campaign_summary(key)
        campaigns.add(records.campaign_record(campaign, summary, client_id, offset))
        sources.save_source(
            store,
            sources.SourceFacts("campaign", key, client_id, campaign.name, campaign.sent_date.isoformat(sep=" ")),
        )
        digest = counts_digest(summary, tracking.types)
        if tracking.enabled and tracking_stale(systems, key, digest):
            yield Job(f"tracking:{key}", "import_tracking", (run_id, "campaign", key), {"source": key})
    campaigns.flush()

    for journey in cm.journeys(client_id):
        stop_if_cancelled(store, run_id)
        journey_details = cm.journey_details(journey.journey_id)
        for email in journey_details.emails:
            campaigns.add(records.journey_email_record(journey_details, email, client_id))
            sources.save_source(
                store,
                sources.SourceFacts("journey_email", email.email_id, client_id, email.name, None),
            )
            digest = counts_digest(email, tracking.types)
            if tracking.enabled and tracking_stale(systems, email.email_id, digest):
                yield Job(
                    f"tracking:{email.email_id}",
                    "import_tracking",
                    (run_id, "journey_email", email.email_id),
                    {"source": email.email_id},
                )
    campaigns.flush()
