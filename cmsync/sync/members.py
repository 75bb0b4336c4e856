"""Imports one list's members of every state into ``CM_List_Member__c``, linked to Contacts and Leads.

An incremental pass reads each state from its watermark (CM's ``date`` filter: the last change of
state). A full pass first brings up to date what it knows Salesforce holds for the list (the rows
changed there since the last full pass, ``holdings``), then reads every member from CM, to catch name and
custom-field edits the date filter cannot see and edits or deletions made in Salesforce: it writes what
differs and deletes rows of members CM no longer has. A page that is as at the last full pass, with
nothing it depends on changed since, is left alone (``compared_pages``). The digest of what Salesforce holds is
kept once per member, whichever state it was read under, so a member that changed state and back is
written again. cm2sf mappings update the linked records. A state's writes run on the list's write lane
while the next state is read; the writes of one list run one after another in the order their states were
read (``READING_ORDER``), so a member read under two states ends as the later.
"""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cmsync.clients.campaign_monitor.errors import CampaignMonitorError, ErrorCode
from cmsync.clients.campaign_monitor.records import Subscriber, SubscriberState
from cmsync.clients.salesforce.soql import literal_list
from cmsync.config.subscriptions import FieldMapping
from cmsync.logs import get_logger
from cmsync.mapping import records
from cmsync.mapping.field_mappings import field_updates, incoming_mappings, mapped_fields
from cmsync.mapping.linking import LINK_FIELDS, SALESFORCE_ID_KEY, find_links, read_fields
from cmsync.metrics import RECORDS
from cmsync.state import StateStore
from cmsync.sync import sources
from cmsync.sync.compared_pages import ComparedPages
from cmsync.sync.holdings import refresh_held_members
from cmsync.sync.streams import StreamWriter, ends_when_cancelled
from cmsync.sync.unreadable import UnreadableRecords, digest
from cmsync.systems import Systems

log = get_logger(__name__)
READING_ORDER = (
    SubscriberState.UNCONFIRMED,
    SubscriberState.UNSUBSCRIBED,
    SubscriberState.BOUNCED,
    SubscriberState.DELETED,
    SubscriberState.ACTIVE,
)
"""The order a list's states are read and written in: Active, most often by far the largest, last, so that
the writes of the others run while it is read and its Bulk job is the list's last write."""


def unreadable_members(store: StateStore, run_id: int, list_id: str, stream: str) -> UnreadableRecords:
    """Where the subscribers of a stream that cannot be read are kept, keyed as members (by a digest
    of what CM sent when the email is missing)."""
    return UnreadableRecords(
        store, run_id, records.MEMBER, stream, lambda error: records.member_key(list_id, error.email or digest(error))
    )


def full_pass_due(systems: Systems, list_id: str) -> bool:
    """A list is re-read whole every ``sync.full_pass_every`` (and on a full run)."""
    last = systems.store.facts.full_pass(list_id).get()
    return last is None or datetime.fromisoformat(last) + systems.settings.sync.full_pass_every <= datetime.now(UTC)


@ends_when_cancelled
def import_list(systems: Systems, run_id: int, client_id: str, list_id: str) -> None:
    """Import the members of ``list_id`` of every state, from their watermarks, or whole on a full pass."""
    store = systems.store
    run = systems.store.runs.get(run_id)
    client = sources.client(store, client_id)
    offset = client.offset if client else None
    whole = bool(run and run.full_pass) or full_pass_due(systems, list_id)
    mappings = incoming_mappings(systems.settings.field_mappings, list_id)
    started = datetime.now(UTC)
    digests = f"members:{list_id}"
    pages: ComparedPages | None = None
    if whole:
        refresh_held_members(systems.salesforce, store, list_id, digests)
        pages = ComparedPages.open(store, run_id, list_id, digests, offset, usable=not mappings)
    retry = Retry() if whole else rejected_members(systems, list_id)
    rejected_before = {
        rejection.key
        for rejection in store.rejections.list(stream_prefix=f"{digests}:")
        if rejection.object == records.MEMBER
    }

    writers: list[StreamWriter] = []
    built: dict[int, int] = {}
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"writes:{list_id}") as lane:
        for state in READING_ORDER:
            stream = f"{digests}:{state.value.lower()}"
            watermark = None if whole else store.watermarks.get(stream)
            since = datetime.fromisoformat(watermark) if watermark else None
            writer = StreamWriter(
                systems.salesforce,
                store,
                run_id,
                records.MEMBER,
                stream,
                digest_stream=digests,
                digest=records.held_digest,
                lane=lane,
            )
            for payload in retry.as_refused.get(stream, ()):
                writer.add(payload)
            unreadable = unreadable_members(store, run_id, list_id, stream)
            compare = _PageComparison(
                systems, run_id, list_id, offset, mappings, writer, rejected_before, unreadable, latest=watermark
            )
            if retry.current.get(state):
                compare.members(retry.current[state])
            for page in systems.campaign_monitor.subscriber_pages(list_id, state, since=since):
                kept = pages.unchanged(state, page) if pages is not None else None
                if kept is not None:
                    writer.left_alone(kept.members)
                    compare.passed(kept.latest)
                    continue
                if pages is not None:
                    writer.begin_page(pages.marker(state, page))
                keys, named, latest = compare.members(page.subscribers(unreadable.reject))
                if pages is not None:
                    pages.compared(state, page, keys, named, latest)
            writer.send()
            built.update(writer.built)
            writers.append(writer)
            if whole:
                unreadable.forget_unmet()
        for writer in writers:
            writer.wait()
    if pages is not None:
        refused_now = {
            rejection.key
            for rejection in store.rejections.list(stream_prefix=f"{digests}:")
            if rejection.object == records.MEMBER and rejection.last_seen >= started
        }
        store.rejections.resolve(records.MEMBER, rejected_before - refused_now)
        found = pages.close(built)
        _remove_departed(systems, run_id, digests, found)
        pages.forget_unused(found)
        store.facts.full_pass(list_id).set(started.isoformat())
    log.info(
        "list imported",
        run_id=run_id,
        client=client_id,
        list=list_id,
        full_pass=whole,
        **({"pages_left_alone": pages.left_alone, "pages_compared": pages.compared_count} if pages else {}),
    )


@dataclass
class _PageComparison:
    """Links, builds and queues one state's members a page at a time, and follows the state's watermark."""

    systems: Systems
    run_id: int
    list_id: str
    offset: timedelta | None
    mappings: list[FieldMapping]
    writer: StreamWriter
    rejected_before: set[str]
    unreadable: UnreadableRecords
    latest: str | None = None

    def members(self, page: list[Subscriber]) -> tuple[list[str], bool, str | None]:
        """Queue ``page``'s members (and their cm2sf updates); return their keys, whether one names a record
        by Id and the latest change of state among them."""
        list_id, store, writer, mappings = self.list_id, self.systems.store, self.writer, self.mappings
        keys = [records.member_key(list_id, subscriber.email) for subscriber in page]
        self.unreadable.readable(keys)
        self.rejected_before.difference_update(keys)
        values = [records.custom_field_values(subscriber) for subscriber in page]
        named_ids = [str(fields.get(SALESFORCE_ID_KEY) or "") for fields in values]
        links = find_links(store, (subscriber.email for subscriber in page), named_ids)
        if mappings:
            read_fields(self.systems.salesforce.query, links, mapped_fields(mappings))
        updates: dict[str, list[dict[str, object]]] = {name: [] for name in LINK_FIELDS}
        latest = self.latest
        newest: str | None = None
        for subscriber, key, fields, named in zip(page, keys, values, named_ids, strict=True):
            matches = links.for_subscriber(subscriber.email, named)
            record = records.member_record(subscriber, list_id, self.offset, fields, key)
            for object_name, link_field in LINK_FIELDS.items():
                match = matches.get(object_name)
                record[link_field] = match.id if match else None
            position = subscriber.date.isoformat(sep=" ")
            if not latest or position > latest:
                latest = position
            if not newest or position > newest:
                newest = position
            writer.add(record, latest)
            if mappings:
                for object_name, update in field_updates(mappings, fields, matches).items():
                    updates[object_name].append(update)
        self.latest = latest
        _write_mapped_fields(self.systems, self.run_id, list_id, updates)
        return keys, any(named_ids), newest

    def passed(self, latest: str | None) -> None:
        """Follow the watermark past a page left alone, whose latest change of state was ``latest``."""
        if latest is not None:
            self.latest = max(self.latest or latest, latest)
            self.writer.advance(self.latest)


@dataclass
class Retry:
    """The members Salesforce refused on earlier runs that are offered again: as CM holds them now (by
    state), or as they were refused when CM cannot be asked about them (an address it calls invalid)."""

    current: dict[SubscriberState, list[Subscriber]] = field(default_factory=dict)
    as_refused: dict[str, list[records.Record]] = field(default_factory=dict)


def rejected_members(systems: Systems, list_id: str) -> Retry:
    """The refused members of ``list_id`` to offer again; a refused member CM no longer has is forgotten.
    One CM read per refused member."""
    store = systems.store
    retry = Retry()
    gone: list[str] = []
    for rejection in store.rejections.list(stream_prefix=f"members:{list_id}:"):
        if rejection.object != records.MEMBER:
            continue
        payload = rejection.payload if isinstance(rejection.payload, dict) else {}
        email = str(payload.get("CM_Email__c") or rejection.key.partition(":")[2])
        try:
            subscriber = systems.campaign_monitor.subscriber(list_id, email)
        except CampaignMonitorError as error:
            if error.code == ErrorCode.SUBSCRIBER_NOT_IN_LIST:
                gone.append(rejection.key)
            elif error.code == ErrorCode.INVALID_EMAIL and payload:
                retry.as_refused.setdefault(rejection.stream, []).append(payload)
            else:
                raise
            continue
        retry.current.setdefault(subscriber.state, []).append(subscriber)
    store.rejections.resolve(records.MEMBER, gone)
    return retry


def _remove_departed(systems: Systems, run_id: int, digests: str, found: set[int]) -> None:
    """After a full pass: delete the member rows Salesforce holds that CM no longer has (an email changed):
    those found under none of the pass's seen markers ``found``."""
    departed = systems.store.digests.unseen(digests, found)
    for start in range(0, len(departed), 200):
        keys = departed[start : start + 200]
        ids = [
            row["Id"]
            for row in systems.salesforce.query(
                f"SELECT Id FROM {records.MEMBER} WHERE CM_Member_Key__c IN {literal_list(keys)}"
            )
        ]
        results = systems.salesforce.delete(records.MEMBER, ids) if ids else []
        if all(result.success or "ENTITY_IS_DELETED" in result.status_codes for result in results):
            systems.store.digests.forget(digests, keys)
        deleted = sum(result.success for result in results)
        systems.store.runs.count(run_id, records.MEMBER, "deleted", deleted)
        RECORDS.labels(records.MEMBER, "deleted").inc(deleted)


def _write_mapped_fields(
    systems: Systems, run_id: int, list_id: str, updates: dict[str, list[dict[str, object]]]
) -> None:
    """cm2sf values onto the linked Contacts and Leads; a refused update is kept with its reason."""
    for object_name, rows in updates.items():
        unique = list({str(row["Id"]): row for row in rows}.values())
        if not unique:
            continue
        results = systems.salesforce.update(object_name, unique)
        refused = 0
        systems.store.rejections.resolve(
            object_name, [str(unique[result.index]["Id"]) for result in results if result.success]
        )
        for result in results:
            if not result.success:
                refused += 1
                row = unique[result.index]
                reason = "; ".join(str(error) for error in result.errors)
                systems.store.rejections.add(object_name, str(row["Id"]), f"mappings:{list_id}", reason, row, run_id)
        systems.store.runs.count(run_id, object_name, "updated", len(unique) - refused)
        systems.store.runs.count(run_id, object_name, "rejected", refused)
