"""What Salesforce holds for a list's members, read back before a full pass compares CM with it.

One Bulk API 2.0 query reads the list's ``CM_List_Member__c`` rows (only the fields cmsync writes) and
keeps a digest per member key in the state store, replacing what cmsync remembered writing. The full
pass then writes only members whose digest differs (edited in Salesforce, or changed in CM), creates
those Salesforce lacks (deleted there) and deletes rows no CM member was read for. A row whose key names
another list is left to that list's own pass, which moves it back.
"""

from cmsync.clients.salesforce.client import SalesforceClient
from cmsync.clients.salesforce.soql import literal, select
from cmsync.mapping.records import MEMBER, MEMBER_FIELDS, held_digest
from cmsync.state import StateStore

_SAVE_EVERY = 5_000


def read_held_members(salesforce: SalesforceClient, store: StateStore, list_id: str, digests: str) -> int:
    """Replace the digests kept under ``digests`` by those of the rows Salesforce holds for ``list_id``;
    return how many rows it holds. Memory stays flat: rows are streamed and saved in batches."""
    soql = select(MEMBER, ["Id", *MEMBER_FIELDS], where=f"CM_List__r.CM_List_ID__c = {literal(list_id)}")
    store.digests.forget(digests)
    held = 0
    batch: dict[str, bytes] = {}
    own = f"{list_id}:"
    for row in salesforce.bulk_query(soql):
        key = row.get("CM_Member_Key__c") or ""
        if not key.startswith(own):
            continue
        batch[key] = held_digest(row)
        held += 1
        if len(batch) >= _SAVE_EVERY:
            store.digests.save(digests, batch)
            batch = {}
    if batch:
        store.digests.save(digests, batch)
    return held
