"""Which Contact and Lead a subscriber must be linked to (DESIGN.md §1, campaign-monitor.md §1.3): by email,
case-insensitive, the most recently modified record of each object; a ``[SalesforceId]`` naming an existing
Contact or Lead wins over the email for that object. Converted Leads are matched by Id only."""

from dataclasses import dataclass
from typing import Any

from tests.e2e.apis import SalesforceApi


@dataclass(frozen=True)
class AnyOf:
    """An expected value with several right answers (records modified in the same millisecond tie; a tracking
    event's link made before its person's email changed in Salesforce)."""

    choices: tuple[str | None, ...]

    def __repr__(self) -> str:
        return " or ".join(repr(choice) for choice in self.choices)


Expected = str | AnyOf | None


def _newest(rows: list[dict[str, Any]]) -> Expected:
    if not rows:
        return None
    latest = max(str(row["LastModifiedDate"]) for row in rows)
    tied = tuple(sorted(row["Id"] for row in rows if str(row["LastModifiedDate"]) == latest))
    return tied[0] if len(tied) == 1 else AnyOf(tied)


class People:
    """Salesforce's Contacts and Leads as the REST query API shows them."""

    def __init__(self, salesforce: SalesforceApi) -> None:
        contacts = salesforce.query("SELECT Id, Email, LastModifiedDate FROM Contact")
        leads = salesforce.query("SELECT Id, Email, LastModifiedDate, IsConverted FROM Lead")
        self.objects = {"Contact": contacts, "Lead": leads}
        self.by_email: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for object_name, rows in self.objects.items():
            for row in rows:
                if row.get("Email") and not row.get("IsConverted"):
                    self.by_email.setdefault((object_name, row["Email"].lower()), []).append(row)
        self.by_id = {
            row["Id"][:15]: (object_name, row["Id"]) for object_name, rows in self.objects.items() for row in rows
        }

    def links(self, email: str, salesforce_id: str | None = None) -> dict[str, Expected]:
        """``{"Contact": id, "Lead": id}`` for one subscriber (None where nothing matches)."""
        found = {name: _newest(self.by_email.get((name, email.lower()), [])) for name in self.objects}
        named = (salesforce_id or "").strip()
        if len(named) in (15, 18) and named[:15] in self.by_id:
            object_name, record_id = self.by_id[named[:15]]
            found[object_name] = record_id
        return found
