"""The Contact and Lead directory: who holds which email, kept in the state store.

Every Contact and unconverted Lead is in it, with or without an email: a ``[SalesforceId]`` links to a
record that has none. A converted Lead is left out (its data belongs to the Contact it became).

Linking a page of subscribers by querying Salesforce would cost several queries per page; instead each
run brings the directory up to date with the records changed since the last run (by ``SystemModstamp``,
plus getDeleted), so linking is a local lookup. The first run, or one after getDeleted's window has
passed, loads it whole with one Bulk API query. Each refresh is a new directory version; a catch-up notes
the emails it changed at it, and a whole load is noted as a reload (DESIGN.md §4, "Pages left alone").
"""

import contextvars
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from cmsync.clients.salesforce.client import SalesforceClient
from cmsync.clients.salesforce.soql import literal
from cmsync.logs import get_logger
from cmsync.state import StateStore

log = get_logger(__name__)
OBJECTS = ("Contact", "Lead")
OVERLAP = timedelta(minutes=1)
DELETED_WINDOW = timedelta(days=29)
"""getDeleted answers for about 30 days back; older than that, the directory is loaded whole again."""
_BATCH = 2000
"""Rows per REST page of a catch-up."""
_SAVE_BATCH = 20_000
"""Entries per transaction: written sorted by Id, a larger batch touches each page of the table fewer times."""
VERSION = 2
"""What a directory holds; one loaded by an older cmsync (without the records that have no email, which a
``[SalesforceId]`` may still name) is loaded whole again."""


def _columns(object_name: str) -> str:
    converted = ", IsConverted" if object_name == "Lead" else ""
    return f"Id, Email, LastModifiedDate, SystemModstamp{converted}"


def _entry(row: dict[str, Any]) -> tuple[str, str | None, str]:
    """A record's directory entry: a converted Lead has none (None), one without email only its Id ("")."""
    converted = str(row.get("IsConverted", "")).lower() == "true"
    email = None if converted else (row.get("Email") or "")
    return row["Id"], email, str(row["LastModifiedDate"])


def _save(
    store: StateStore, object_name: str, rows: Iterable[dict[str, Any]], version: int | None = None
) -> str | None:
    """Save ``rows`` into the directory, ``_SAVE_BATCH`` entries at a time (each row kept only as its small
    entry), noting the emails changed at ``version`` when given; the newest ``SystemModstamp`` among them,
    None if there were none."""
    newest = ""
    batch: list[tuple[str, str | None, str]] = []
    for row in rows:
        batch.append(_entry(row))
        modstamp = str(row["SystemModstamp"])
        if modstamp > newest:
            newest = modstamp
        if len(batch) == _SAVE_BATCH:
            store.directory.save(object_name, batch, version=version)
            batch = []
    if batch:
        store.directory.save(object_name, batch, version=version)
    return newest or None


def _parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00").replace("+0000", "+00:00"))


def _load_whole(salesforce: SalesforceClient, store: StateStore, object_name: str) -> str | None:
    store.directory.clear(object_name)
    soql = f"SELECT {_columns(object_name)} FROM {object_name}"
    newest = _save(store, object_name, salesforce.bulk_query(soql))
    log.info("directory loaded whole", object=object_name)
    return newest


def _catch_up(
    salesforce: SalesforceClient,
    store: StateStore,
    object_name: str,
    mark: dict[str, Any],
    now: datetime,
    version: int,
) -> str | None:
    """Apply the changes and deletions since the last refresh, noted at ``version``; None when getDeleted
    cannot reach back."""
    checked = _parse(mark["checked"]) - OVERLAP
    deleted = salesforce.deleted(object_name, checked, now + OVERLAP)  # capped at Salesforce's now, to the millisecond
    if deleted.earliest_date_available > checked:
        return None
    where = f" WHERE SystemModstamp >= {literal(_parse(mark['modstamp']) - OVERLAP)}" if mark.get("modstamp") else ""
    soql = f"SELECT {_columns(object_name)} FROM {object_name}{where} ORDER BY SystemModstamp"
    rows = salesforce.query(soql, batch_size=_BATCH)
    newest = _save(store, object_name, rows, version) or mark.get("modstamp") or ""
    store.directory.forget(object_name, (record_id for record_id, _ in deleted.records), version=version)
    return newest


def refresh_directory(salesforce: SalesforceClient, store: StateStore, now: datetime | None = None) -> None:
    """Bring the directory up to date with Salesforce's Contacts and Leads, both at once (two Bulk queries
    on a first run: their processing time in Salesforce overlaps instead of adding up)."""
    now = now or datetime.now(UTC)
    versions = store.facts.directory_version()
    before = versions.get() or {"version": 0, "reloaded": 0}
    version = int(before["version"]) + 1
    with ThreadPoolExecutor(max_workers=len(OBJECTS), thread_name_prefix="directory") as refreshing:
        refreshes = [
            refreshing.submit(contextvars.copy_context().run, _refresh, salesforce, store, object_name, now, version)
            for object_name in OBJECTS
        ]
    reloaded = [refresh.result() for refresh in refreshes]
    versions.set({"version": version, "reloaded": version if any(reloaded) else before["reloaded"]})


def _refresh(salesforce: SalesforceClient, store: StateStore, object_name: str, now: datetime, version: int) -> bool:
    """Catch up on one object's changes since the last refresh, or load it whole when that cannot be done
    (then True)."""
    mark = store.facts.directory_mark(object_name).get() or {}
    current = mark.get("version") == VERSION
    recent = current and mark.get("checked") and now - _parse(mark["checked"]) <= DELETED_WINDOW
    newest = _catch_up(salesforce, store, object_name, mark, now, version) if recent else None
    whole = newest is None
    if newest is None:
        newest = _load_whole(salesforce, store, object_name)
    store.facts.directory_mark(object_name).set(
        {"modstamp": newest or None, "checked": now.isoformat(), "version": VERSION}
    )
    return whole
