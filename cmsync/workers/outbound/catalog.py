"""The fields rules and mappings refer to, as each system defines them: Salesforce field types (from
describe) and each list's CM custom fields. Both are kept in the state store for a while, so that a poll
every few seconds costs no describe or custom-field calls.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cmsync.workers.engine import Engine
from cmsync.workers.sync.records import field_key

SALESFORCE_KEPT = timedelta(hours=1)
CM_KEPT = timedelta(minutes=10)


@dataclass(frozen=True)
class CmField:
    """A list's custom field as CM defines it: its data type and, for multi-select fields, its options."""

    key: str
    data_type: str
    options: tuple[str, ...]


def _fresh(entry: Any, kept: timedelta) -> bool:
    return isinstance(entry, dict) and datetime.fromisoformat(entry["read_at"]) + kept > datetime.now(UTC)


class Catalog:
    """Field look-ups for one poll, read from the state store or, when stale, from the two APIs."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._objects: dict[str, dict[str, Any]] = {}
        self._lists: dict[str, dict[str, CmField]] = {}

    def _salesforce_object(self, object_name: str) -> dict[str, Any]:
        """``{"types": {field: type}, "relations": {relationship: object}}`` with lower-case names."""
        if object_name in self._objects:
            return self._objects[object_name]
        store = self.engine.store
        entry = store.fact(f"outbound_salesforce_fields:{object_name}")
        if not _fresh(entry, SALESFORCE_KEPT):
            described = self.engine.salesforce.describe(object_name)
            entry = {
                "read_at": datetime.now(UTC).isoformat(),
                "types": {field["name"].lower(): field["type"] for field in described["fields"]},
                "relations": {
                    field["relationshipName"].lower(): field["referenceTo"][0]
                    for field in described["fields"]
                    if field.get("relationshipName") and field.get("referenceTo")
                },
            }
            store.set_fact(f"outbound_salesforce_fields:{object_name}", entry)
        self._objects[object_name] = entry
        return entry

    def salesforce_type(self, object_name: str, path: str) -> str | None:
        """The describe type of ``path`` (``Email``, ``Account.Industry``) on ``object_name``; None when the
        org has no such field."""
        *relations, name = path.lower().split(".")
        current = object_name
        for relation in relations:
            target = self._salesforce_object(current)["relations"].get(relation)
            if target is None:
                return None
            current = target
        found: str | None = self._salesforce_object(current)["types"].get(name)
        return found

    def cm_fields(self, list_id: str) -> dict[str, CmField]:
        """A list's custom fields by ``field_key``."""
        if list_id in self._lists:
            return self._lists[list_id]
        store = self.engine.store
        entry = store.fact(f"outbound_cm_fields:{list_id}")
        if not _fresh(entry, CM_KEPT):
            entry = {
                "read_at": datetime.now(UTC).isoformat(),
                "fields": [
                    [field.key, field.data_type, list(field.options)]
                    for field in self.engine.campaign_monitor.custom_fields(list_id)
                ],
            }
            store.set_fact(f"outbound_cm_fields:{list_id}", entry)
        fields = {
            field_key(key): CmField(key, data_type, tuple(options)) for key, data_type, options in entry["fields"]
        }
        self._lists[list_id] = fields
        return fields
