"""cm2sf custom field mappings: CM custom field values written to the linked Contact and Lead.

A value is written only when it differs from what Salesforce holds, so a run over unchanged data writes
nothing. ``create_only`` writes only into an empty field; defaults stand in for an empty CM value.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cmsync.config.subscriptions import FieldMapping
from cmsync.mapping.linking import Match
from cmsync.mapping.records import field_key


def incoming_mappings(mappings: Iterable[FieldMapping], list_id: str) -> list[FieldMapping]:
    """The cm2sf mappings of one list."""
    return [mapping for mapping in mappings if mapping.list == list_id and mapping.direction == "cm2sf"]


def mapped_fields(mappings: Sequence[FieldMapping]) -> dict[str, list[str]]:
    """The Contact and Lead fields the linking query must read for these mappings."""
    return {
        "Contact": [mapping.contact_field for mapping in mappings if mapping.contact_field],
        "Lead": [mapping.lead_field for mapping in mappings if mapping.lead_field],
    }


def _value(values: Mapping[str, str | list[str]], key: str) -> str | None:
    value = values.get(field_key(key))
    text = ";".join(value) if isinstance(value, list) else value
    return text or None


def field_updates(
    mappings: Sequence[FieldMapping], values: Mapping[str, str | list[str]], matches: Mapping[str, Match]
) -> dict[str, dict[str, Any]]:
    """Per linked object (``Contact``/``Lead``), the fields to update: ``{"Id": …, field: value}``."""
    updates: dict[str, dict[str, Any]] = {}
    for object_name, match in matches.items():
        changes: dict[str, Any] = {}
        for mapping in mappings:
            target = mapping.contact_field if object_name == "Contact" else mapping.lead_field
            if not target:
                continue
            default = mapping.default_contact_value if object_name == "Contact" else mapping.default_lead_value
            value = _value(values, mapping.cm_field) or default
            current = match.fields.get(target)
            if value is None or (mapping.create_only and current not in (None, "")):
                continue
            if current is None or str(current) != value:
                changes[target] = value
        if changes:
            updates[object_name] = {"Id": match.id, **changes}
    return updates
