"""What Salesforce holds for a list's members, brought up to date before a full pass compares CM with it.

The state store keeps a digest per member key of the ``CM_List_Member__c`` row Salesforce holds (only the
fields cmsync writes). A full pass refreshes them from the rows changed since the last full pass: changed
(``SystemModstamp``) by anyone but cmsync while that pass ran, by anyone since it ended, deleted since
(``queryAll`` finds them in the recycle bin), or touched by Salesforce itself (``SystemModstamp`` moved
past a ``LastModifiedDate`` older than the pass, e.g. an undelete). getDeleted tells whether every delete
since is still known: a row deleted past the recycle bin cannot be tied to its key, so then, and when
there was no earlier pass, it is older than getDeleted's window or the digests were dropped, all the
list's rows are read again: counted first (a first sync into an empty org stops there), then one Bulk API
2.0 query, or a REST query when they are few. A row whose key names another list is left to that list's
pass, which moves it back.
"""

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice

from cmsync.clients.salesforce.client import SalesforceClient
from cmsync.clients.salesforce.soql import like, literal, literal_list, select
from cmsync.logs import get_logger
from cmsync.mapping.records import MEMBER, MEMBER_FIELDS, held_digest
from cmsync.state import StateStore
from cmsync.sync.directory import DELETED_WINDOW, OVERLAP

log = get_logger(__name__)
_SAVE_EVERY = 5_000
_PER_QUERY = 200
"""Keys or Ids named in one ``IN`` list (the URL of a REST query stays short)."""
_PAGE = 2_000
"""Rows per page of a REST query (Salesforce's largest)."""


def refresh_held_members(salesforce: SalesforceClient, store: StateStore, list_id: str, digests: str) -> None:
    """Bring the digests kept under ``digests`` up to date with what Salesforce holds for ``list_id``: from
    the rows changed since the last full pass when they tell everything, else from all its rows."""
    fact = store.facts.full_pass(list_id)
    started, ended = fact.get(), fact.changed_at()
    if (
        started
        and ended
        and store.digests.kept(digests)
        and _catch_up(salesforce, store, list_id, digests, datetime.fromisoformat(started), ended)
    ):
        return
    fact.clear()
    held = _read_whole(salesforce, store, list_id, digests)
    log.info("list members read whole from salesforce", list=list_id, held=held)


def _read_whole(salesforce: SalesforceClient, store: StateStore, list_id: str, digests: str) -> int:
    """Replace the digests kept under ``digests`` by those of the rows Salesforce holds for ``list_id``;
    return how many rows it holds. Memory stays flat: rows are streamed and saved in batches."""
    where = f"CM_List__r.CM_List_ID__c = {literal(list_id)}"
    soql = select(MEMBER, ["Id", *MEMBER_FIELDS], where=where)
    store.digests.forget(digests)
    held = salesforce.count(f"SELECT COUNT() FROM {MEMBER} WHERE {where}")
    if not held:
        return 0
    read = salesforce.bulk_query(soql) if held > salesforce.bulk_threshold else salesforce.query(soql, batch_size=_PAGE)
    own = f"{list_id}:"
    rows = (row for row in read if (row.get("CM_Member_Key__c") or "").startswith(own))
    return _save(store, digests, rows)


def _catch_up(
    salesforce: SalesforceClient, store: StateStore, list_id: str, digests: str, started: datetime, ended: datetime
) -> bool:
    """Refresh the digests of the rows changed since the pass that ran from ``started`` to ``ended``;
    False (nothing refreshed) when getDeleted no longer knows every delete since."""
    since = started - OVERLAP
    now = datetime.now(UTC)
    if now - since > DELETED_WINDOW:
        return False
    deleted = salesforce.deleted(MEMBER, since, now + OVERLAP)  # capped at Salesforce's now, to the millisecond
    if deleted.earliest_date_available > since:
        return False
    own = f"{list_id}:"
    changed = (
        f"SystemModstamp > {literal(since)} AND CM_Member_Key__c LIKE {like(own, suffix_wildcard=True)} AND "
        f"(SystemModstamp > {literal(ended)} OR LastModifiedById != {literal(salesforce.user_id)} "
        f"OR IsDeleted = true OR LastModifiedDate <= {literal(since)})"
    )
    soql = select(MEMBER, ["Id", "IsDeleted", *MEMBER_FIELDS], where=changed)
    gone: dict[str, str] = {}
    """Deleted rows read: Id → key (few: deletes since the last pass)."""

    def live(rows: Iterable[dict[str, object]]) -> Iterator[dict[str, object]]:
        for row in rows:
            key = str(row.get("CM_Member_Key__c") or "")
            if row.pop("IsDeleted", False):
                gone[str(row["Id"])] = key
            elif key.startswith(own):
                yield row

    refreshed = _save(store, digests, live(salesforce.query(soql, include_deleted=True, batch_size=_PAGE)))
    if _hard_deleted(salesforce, sorted({record_id for record_id, _ in deleted.records} - gone.keys())):
        return False
    forgotten = _forget_deleted(
        salesforce, store, digests, sorted({key for key in gone.values() if key.startswith(own)})
    )
    log.info("list members caught up from salesforce", list=list_id, refreshed=refreshed, deleted=forgotten)
    return True


def _hard_deleted(salesforce: SalesforceClient, ids: list[str]) -> bool:
    """True when one of ``ids`` (deleted rows not read as this list's) is gone past the recycle bin, so its
    key is not known any more."""
    for first in range(0, len(ids), _PER_QUERY):
        chunk = ids[first : first + _PER_QUERY]
        found = {
            str(row["Id"])
            for row in salesforce.query(
                select(MEMBER, ["Id"], where=f"Id IN {literal_list(chunk)}"), include_deleted=True
            )
        }
        if len(found) < len(chunk):
            return True
    return False


def _forget_deleted(salesforce: SalesforceClient, store: StateStore, digests: str, keys: list[str]) -> int:
    """Forget the digests of deleted rows' keys, unless a live row holds the key again (written anew);
    return how many were forgotten."""
    forgotten = 0
    for first in range(0, len(keys), _PER_QUERY):
        chunk = keys[first : first + _PER_QUERY]
        soql = select(MEMBER, ["Id", *MEMBER_FIELDS], where=f"CM_Member_Key__c IN {literal_list(chunk)}")
        rows = list(salesforce.query(soql))
        _save(store, digests, rows)
        held = {str(row["CM_Member_Key__c"]) for row in rows}
        store.digests.forget(digests, [key for key in chunk if key not in held])
        forgotten += len(chunk) - len(held)
    return forgotten


def _save(store: StateStore, digests: str, rows: Iterable[dict[str, object]]) -> int:
    """Keep the digest of each row under its key, a batch at a time; return how many rows there were."""
    saved = 0
    iterator = iter(rows)
    while batch := list(islice(iterator, _SAVE_EVERY)):
        store.digests.refresh(digests, {str(row["CM_Member_Key__c"]): held_digest(row) for row in batch})
        saved += len(batch)
    return saved
