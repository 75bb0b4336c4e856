"""Avro schemas of the change events, one per object, built from the org's schema, and their payloads.

A change event is a record: ``ChangeEventHeader`` first, then every stored field of the object as an
optional value (text as string, numbers as double, booleans, datetimes as epoch milliseconds, dates as
days since the epoch). The field bitmaps in the header number those top-level fields from 0, in schema
order. The schema ID is a digest of the schema text, so it changes when a field is added.
"""

import hashlib
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import fastavro

from cmsync_sandbox.salesforce.schema import NUMBER_TYPES, Field, FieldType, SObjectType

CHANGE_TYPES = (
    "CREATE", "UPDATE", "DELETE", "UNDELETE",
    "GAP_CREATE", "GAP_UPDATE", "GAP_DELETE", "GAP_UNDELETE", "GAP_OVERFLOW",
)  # fmt: skip
_STRINGS = {"type": "array", "items": "string"}
_HEADER = {
    "type": "record",
    "name": "ChangeEventHeader",
    "fields": [
        {"name": "entityName", "type": "string"},
        {"name": "recordIds", "type": _STRINGS},
        {"name": "changeType", "type": {"type": "enum", "name": "ChangeType", "symbols": list(CHANGE_TYPES)}},
        {"name": "changeOrigin", "type": "string"},
        {"name": "transactionKey", "type": "string"},
        {"name": "sequenceNumber", "type": "int"},
        {"name": "commitTimestamp", "type": "long"},
        {"name": "commitNumber", "type": "long"},
        {"name": "commitUser", "type": "string"},
        {"name": "nulledFields", "type": _STRINGS},
        {"name": "diffFields", "type": _STRINGS},
        {"name": "changedFields", "type": _STRINGS},
    ],
}
_EPOCH = date(1970, 1, 1)


def _avro_type(definition: Field) -> str:
    if definition.type == FieldType.BOOLEAN:
        return "boolean"
    if definition.type == FieldType.DATETIME:
        return "long"
    if definition.type == FieldType.DATE:
        return "int"
    if definition.type in NUMBER_TYPES:
        return "double"
    return "string"


def _avro_value(definition: Field, stored: Any) -> Any:
    if stored is None:
        return None
    if definition.type == FieldType.DATE:
        return (date.fromisoformat(str(stored)) - _EPOCH).days
    if definition.type in NUMBER_TYPES:
        return float(stored)
    return stored


@dataclass(frozen=True)
class EventSchema:
    """One object's change-event schema: its JSON text, ID, parsed form and field positions."""

    sobject: str
    json_text: str
    schema_id: str
    parsed: Any
    fields: dict[str, Field]
    positions: dict[str, int]

    @classmethod
    def of(cls, sobject: SObjectType) -> "EventSchema":
        stored = [definition for definition in sobject.stored_fields() if definition.name not in ("IsDeleted", "Id")]
        schema = {
            "type": "record",
            "name": f"{sobject.name}ChangeEvent",
            "namespace": "com.sforce.eventbus",
            "fields": [
                {"name": "ChangeEventHeader", "type": _HEADER},
                *({"name": d.name, "type": ["null", _avro_type(d)], "default": None} for d in stored),
            ],
        }
        text = json.dumps(schema, separators=(",", ":"))
        schema_id = hashlib.sha256(text.encode()).hexdigest()[:22]
        positions = {definition.name: position + 1 for position, definition in enumerate(stored)}
        fields = {definition.name: definition for definition in stored}
        return cls(sobject.name, text, schema_id, fastavro.parse_schema(schema), fields, positions)

    def bitmap(self, names: Iterable[str]) -> list[str]:
        """The ``0x…`` bitmap of top-level fields (empty list when none)."""
        bits = 0
        for name in names:
            if name in self.positions:
                bits |= 1 << self.positions[name]
        return [hex(bits)] if bits else []

    def encode(self, header: dict[str, Any], values: dict[str, Any]) -> bytes:
        """The event's schemaless Avro binary."""
        record: dict[str, Any] = {"ChangeEventHeader": header}
        for name, stored in values.items():
            definition = self.fields.get(name)
            if definition is not None:
                record[name] = _avro_value(definition, stored)
        out = io.BytesIO()
        fastavro.schemaless_writer(out, self.parsed, record)
        return out.getvalue()
