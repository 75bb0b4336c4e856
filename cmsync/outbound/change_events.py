"""Change events as cmsync reads them: each payload decoded with its Avro schema (asked for once per schema
ID; a new ID means fields were added) down to what its ChangeEventHeader says.

cmsync needs only the header: which records changed, how, when and through which client. The records
themselves are read afterwards, whole, as the planner needs them (DESIGN.md §5).
"""

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import fastavro

OWN_CLIENT = "cmsync"
"""The client name cmsync's calls give in ``Sforce-Call-Options`` (``changeOrigin`` carries it back)."""


def client_of(origin: str) -> str:
    """The client name in a ``changeOrigin`` such as ``com/salesforce/api/rest/61.0;client=cmsync``."""
    for part in origin.split(";")[1:]:
        name, _, value = part.partition("=")
        if name.strip() == "client":
            return value.strip()
    return ""


@dataclass(frozen=True)
class ChangeNotice:
    """One change event's header: the object, its records, the kind of change and who made it, when."""

    object_name: str
    record_ids: tuple[str, ...]
    change_type: str
    client: str
    transaction_key: str
    committed_at: datetime

    @property
    def own(self) -> bool:
        return self.client == OWN_CLIENT

    @property
    def overflow(self) -> bool:
        return self.change_type == "GAP_OVERFLOW"

    @property
    def kind(self) -> str:
        """The change without its ``GAP_`` prefix: CREATE, UPDATE, DELETE or UNDELETE."""
        return self.change_type.removeprefix("GAP_")


class Decoder:
    """Decodes payloads; ``fetch_schema`` (GetSchema) is called once per schema ID."""

    def __init__(self, fetch_schema: Callable[[str], str]) -> None:
        self._fetch = fetch_schema
        self._schemas: dict[str, Any] = {}

    def notice(self, schema_id: str, payload: bytes) -> ChangeNotice:
        schema = self._schemas.get(schema_id)
        if schema is None:
            schema = self._schemas[schema_id] = fastavro.parse_schema(json.loads(self._fetch(schema_id)))
        record = fastavro.schemaless_reader(io.BytesIO(payload), schema, None)
        assert isinstance(record, dict)
        header = record["ChangeEventHeader"]
        return ChangeNotice(
            object_name=str(header["entityName"]),
            record_ids=tuple(str(record_id) for record_id in header["recordIds"]),
            change_type=str(header["changeType"]),
            client=client_of(str(header.get("changeOrigin") or "")),
            transaction_key=str(header.get("transactionKey") or ""),
            committed_at=datetime.fromtimestamp(int(header["commitTimestamp"]) / 1000, UTC),
        )
