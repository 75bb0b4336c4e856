"""The fields rules and mappings refer to, as each system defines them: Salesforce field types (from
describe) and each list's CM custom fields. Both are kept in the state store for a while, so that a poll
every few seconds costs no describe or custom-field calls.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cmsync.clients.campaign_monitor.errors import BadRequestError, NotFoundError
from cmsync.logs import get_logger
from cmsync.mapping.records import field_key
from cmsync.state import Fact
from cmsync.systems import Systems

log = get_logger(__name__)
KEPT = timedelta(minutes=10)
"""How long a description is used before it is read again (a field added to either system is known by then)."""


@dataclass(frozen=True)
class CmField:
    """A list's custom field as CM defines it: its data type and, for multi-select fields, its options."""

    key: str
    data_type: str
    options: tuple[str, ...]


class Catalog:
    """Field look-ups for one poll, read from the state store or, when stale, from the two APIs."""

    def __init__(self, systems: Systems) -> None:
        self.systems = systems
        self._objects: dict[str, dict[str, Any]] = {}
        self._lists: dict[str, dict[str, CmField]] = {}

    def _remembered(self, fact: Fact[dict[str, Any]], read: Callable[[], Any]) -> Any:
        """The value kept as ``fact``, or ``read()`` (then kept) when there is none younger than ``KEPT``."""
        entry = fact.get()
        if isinstance(entry, dict) and datetime.fromisoformat(entry["read_at"]) + KEPT > datetime.now(UTC):
            return entry["value"]
        value = read()
        fact.set({"read_at": datetime.now(UTC).isoformat(), "value": value})
        return value

    def _salesforce_object(self, object_name: str) -> dict[str, Any]:
        """``{"types": {field: type}, "relations": {relationship: object}}`` with lower-case names."""
        if object_name not in self._objects:

            def describe() -> dict[str, Any]:
                fields = self.systems.salesforce.describe(object_name)["fields"]
                return {
                    "types": {field["name"].lower(): field["type"] for field in fields},
                    "relations": {
                        field["relationshipName"].lower(): field["referenceTo"][0]
                        for field in fields
                        if field.get("relationshipName") and field.get("referenceTo")
                    },
                }

            self._objects[object_name] = self._remembered(
                self.systems.store.facts.salesforce_fields(object_name), describe
            )
        return self._objects[object_name]

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
        if list_id not in self._lists:

            def read() -> list[list[Any]]:
                try:
                    fields = self.systems.campaign_monitor.custom_fields(list_id)
                except (BadRequestError, NotFoundError) as error:
                    log.warning("list custom fields unknown; values go as text", list=list_id, error=str(error))
                    return []
                return [[field.key, field.data_type, list(field.options)] for field in fields]

            rows = self._remembered(self.systems.store.facts.list_fields(list_id), read)
            self._lists[list_id] = {field_key(key): CmField(key, kind, tuple(options)) for key, kind, options in rows}
        return self._lists[list_id]
