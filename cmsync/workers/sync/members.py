"""Imports one list's members of every state into ``CM_List_Member__c``, linked to Contacts and Leads.

An incremental pass reads each state from its watermark (CM's ``date`` filter: the last change of
state). A full pass reads every member, to catch name and custom-field edits the date filter cannot see;
content hashes keep it from writing what did not change. cm2sf mappings update the linked records.
"""

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice

from cmsync.logs import get_logger
from cmsync.workers.campaign_monitor.records import Subscriber, SubscriberState
from cmsync.workers.engine import Engine
from cmsync.workers.salesforce.soql import literal_list
from cmsync.workers.state import StateStore
from cmsync.workers.sync import records, sources
from cmsync.workers.sync.linking import LINK_FIELDS, SALESFORCE_ID_KEY, find_links, read_fields
from cmsync.workers.sync.mappings import field_updates, incoming_mappings, mapped_fields
from cmsync.workers.sync.streams import StreamWriter
from cmsync.workers.sync.unreadable import UnreadableRecords, digest

log = get_logger(__name__)
PAGE = 1000


def _pages(subscribers: Iterable[Subscriber]) -> Iterator[list[Subscriber]]:
    iterator = iter(subscribers)
    while page := list(islice(iterator, PAGE)):
        yield page


def unreadable_members(store: StateStore, run_id: int, list_id: str, stream: str) -> UnreadableRecords:
    """Where the subscribers of a stream that cannot be read are kept, keyed as members (by a digest
    of what CM sent when the email is missing)."""
    return UnreadableRecords(
        store, run_id, records.MEMBER, stream, lambda error: records.member_key(list_id, error.email or digest(error))
    )


def full_pass_due(engine: Engine, list_id: str) -> bool:
    """A list is re-read whole every ``sync.full_pass_every`` (and on a full run)."""
    last = engine.store.fact(f"full_pass:{list_id}")
    return last is None or datetime.fromisoformat(last) + engine.settings.sync.full_pass_every <= datetime.now(UTC)


def import_list(engine: Engine, run_id: int, client_id: str, list_id: str, *, full_pass: bool) -> None:
    """Import the members of ``list_id`` of every state, from their watermarks or whole."""
    store = engine.store
    client = sources.client(store, client_id)
    offset = client.offset if client else None
    whole = full_pass or full_pass_due(engine, list_id)
    mappings = incoming_mappings(engine.settings.field_mappings, list_id)
    started = datetime.now(UTC)
    marker = f"run:{run_id}" if whole else None

    for state in SubscriberState:
        stream = f"members:{list_id}:{state.value.lower()}"
        watermark = None if whole else store.watermark(stream)
        since = datetime.fromisoformat(watermark) if watermark else None
        writer = StreamWriter(engine.salesforce, store, run_id, records.MEMBER, stream, seen_marker=marker)
        writer.retry_rejected()
        unreadable = unreadable_members(store, run_id, list_id, stream)
        latest = watermark
        reading = engine.campaign_monitor.subscribers(list_id, state, since=since, unreadable=unreadable.reject)
        for page in _pages(reading):
            unreadable.readable(records.member_key(list_id, subscriber.email) for subscriber in page)
            values = [records.custom_field_values(subscriber) for subscriber in page]
            named_ids = [str(fields.get(SALESFORCE_ID_KEY) or "") for fields in values]
            links = find_links(store, (subscriber.email for subscriber in page), named_ids)
            if mappings:
                read_fields(engine.salesforce.query, links, mapped_fields(mappings))
            updates: dict[str, list[dict[str, object]]] = {name: [] for name in LINK_FIELDS}
            for subscriber, fields, named in zip(page, values, named_ids, strict=True):
                matches = links.for_subscriber(subscriber.email, named or None)
                record = records.member_record(subscriber, list_id, offset)
                for object_name, link_field in LINK_FIELDS.items():
                    match = matches.get(object_name)
                    record[link_field] = match.id if match else None
                position = subscriber.date.isoformat(sep=" ")
                latest = max(latest or position, position)
                writer.add(record, latest)
                for object_name, update in field_updates(mappings, fields, matches).items():
                    updates[object_name].append(update)
            _write_mapped_fields(engine, run_id, list_id, updates)
        writer.flush()
        if whole:
            unreadable.forget_unmet()
    if whole:
        _remove_departed(engine, run_id, list_id, f"run:{run_id}")
        store.set_fact(f"full_pass:{list_id}", started.isoformat())
    log.info("list imported", run_id=run_id, client=client_id, list=list_id, full_pass=whole)


def _remove_departed(engine: Engine, run_id: int, list_id: str, marker: str) -> None:
    """After a full pass: delete the members Salesforce holds that CM no longer has (an email changed)."""
    prefix = f"members:{list_id}:"
    departed = engine.store.unseen_keys(prefix, marker)
    for start in range(0, len(departed), 200):
        keys = departed[start : start + 200]
        ids = [
            row["Id"]
            for row in engine.salesforce.query(
                f"SELECT Id FROM {records.MEMBER} WHERE CM_Member_Key__c IN {literal_list(keys)}"
            )
        ]
        results = engine.salesforce.delete(records.MEMBER, ids) if ids else []
        if all(result.success or "ENTITY_IS_DELETED" in result.status_codes for result in results):
            engine.store.forget_keys(prefix, keys)
        engine.store.count(run_id, records.MEMBER, "removed", sum(result.success for result in results))


def _write_mapped_fields(
    engine: Engine, run_id: int, list_id: str, updates: dict[str, list[dict[str, object]]]
) -> None:
    """cm2sf values onto the linked Contacts and Leads; a refused update is kept with its reason."""
    for object_name, rows in updates.items():
        unique = list({str(row["Id"]): row for row in rows}.values())
        if not unique:
            continue
        results = engine.salesforce.update(object_name, unique)
        refused = 0
        engine.store.resolve(object_name, [str(unique[result.index]["Id"]) for result in results if result.success])
        for result in results:
            if not result.success:
                refused += 1
                row = unique[result.index]
                reason = "; ".join(str(error) for error in result.errors)
                engine.store.reject(object_name, str(row["Id"]), f"mappings:{list_id}", reason, row, run_id)
        engine.store.count(run_id, object_name, "updated", len(unique) - refused)
        engine.store.count(run_id, object_name, "rejected", refused)
