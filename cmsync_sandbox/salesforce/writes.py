"""Writes of single records, checked against the schema the way Salesforce checks them.

The same checks serve every way in (REST, sObject Collections, Bulk CSV, the sandbox's own seeding):
unknown fields, read-only fields, types, lengths, restricted picklists, emails, required fields, lookups
(by Id or by a parent's external ID), unique values and upserts by external ID. A batch runs in a
transaction when it is all-or-none, so one bad record puts every other one back.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from cmsync_sandbox.salesforce.errors import ApiError, Problem, RecordError
from cmsync_sandbox.salesforce.faults import Faults
from cmsync_sandbox.salesforce.ids import normalize_id
from cmsync_sandbox.salesforce.schema import Field, FieldType
from cmsync_sandbox.salesforce.store import RecordStore, Table, folds
from cmsync_sandbox.salesforce.values import (
    WrongTypeError,
    csv_reader,
    from_csv,
    from_json,
    json_reader,
    kept_csv_length,
)

ROLLED_BACK = Problem(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone header",
)


@dataclass
class Outcome:
    """The result of writing one record: its Id, whether it was created, or why it was rejected."""

    id: str | None = None
    created: bool | None = None
    problems: Sequence[Problem] = ()

    @property
    def success(self) -> bool:
        return not self.problems

    def as_json(self, *, upsert: bool = False) -> dict[str, Any]:
        result: dict[str, Any] = {
            "id": self.id,
            "success": self.success,
            "errors": [problem.as_json() for problem in self.problems],
        }
        if upsert:
            result["created"] = bool(self.created) if self.success else False
        return result


def unknown_field(name: str, table: Table) -> ApiError:
    return ApiError(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {table.sobject.name}")


def wrong_type(error: WrongTypeError) -> ApiError:
    """A JSON value of the wrong type refuses the request, as Salesforce's JSON reader does."""
    return ApiError(
        400, "JSON_PARSER_ERROR", f"Cannot deserialize instance of {error.field.type} from value {error.value}"
    )


class Writer:
    """Prepares and writes records for one store, as one user, with the lock fault applied."""

    def __init__(self, store: RecordStore, faults: Faults) -> None:
        self.store = store
        self.faults = faults

    def _reference(self, definition: Field, value: str) -> str:
        normalized = normalize_id(value)
        if normalized is None:
            raise RecordError(
                Problem("MALFORMED_ID", f"{definition.label}: id value of incorrect type: {value}", (definition.name,))
            )
        target = self.store.table_of(normalized)
        if target is None or target.sobject.name != definition.reference_to:
            raise RecordError(
                Problem(
                    "FIELD_INTEGRITY_EXCEPTION",
                    f"{definition.label}: id value of incorrect type: {value}",
                    (definition.name,),
                )
            )
        row = target.rows.get(normalized)
        if row is None:
            raise RecordError(Problem("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", (definition.name,)))
        if normalized in target.recycle_bin:
            raise RecordError(Problem("ENTITY_IS_DELETED", "entity is deleted", (definition.name,)))
        stored_id: str = row[target.slot["Id"]]
        return stored_id

    def _parent_by_external_id(self, definition: Field, key_field: str, value: Any) -> str | None:
        """Resolve ``CM_List__r: {CM_List_ID__c: ...}`` to the parent's Id."""
        return self._parent_reader(definition, key_field)(value)

    def _parent_reader(self, definition: Field, key_field: str) -> Callable[[Any], str | None]:
        """``_parent_by_external_id`` of one reference by one key field, the parent and its key looked up once."""
        assert definition.reference_to is not None
        parent = self.store.table(definition.reference_to)
        assert parent is not None
        key = parent.sobject.field(key_field)
        if key is None or not (key.external_id or key.name == "Id"):
            problem = Problem(
                "INVALID_FIELD",
                f"{key_field} is not an External ID or Id field of {parent.sobject.name}",
                (definition.name,),
            )

            def refuse(_value: Any) -> str | None:
                raise RecordError(problem)

            return refuse
        by_id, unique, kept = key.name == "Id", key.name in parent.unique, kept_csv_length(key)
        convert = json_reader(key)

        def read(value: Any) -> str | None:
            if value is None or value == "":
                return None
            if by_id:
                return self._reference(definition, str(value))
            if (
                unique
                and type(value) is str
                and (len(value) <= kept or (kept >= 0 and len(value) <= key.length and value.isascii()))
                and (found := parent.owner(key.name, value))
            ):
                return found  # a text no check could refuse (short, not an email or a picklist value), as it is
            matches = parent.lookup(key.name, convert(value))
            if not matches:
                raise RecordError(
                    Problem(
                        "INVALID_FIELD",
                        f"Foreign key external ID: {value} not found for field {key.name} in entity "
                        f"{parent.sobject.name}",
                        (definition.name,),
                    )
                )
            if len(matches) > 1:
                raise RecordError(
                    Problem(
                        "DUPLICATE_EXTERNAL_ID", "More than 1 record found for External ID field", (definition.name,)
                    )
                )
            return matches[0]

        return read

    def _convert(self, definition: Field, value: Any, *, csv: bool) -> Any:
        if csv:
            stored = from_csv(definition, value)
        else:
            try:
                stored = from_json(definition, value)
            except WrongTypeError as error:
                raise wrong_type(error) from None
        if definition.type == FieldType.REFERENCE and stored is not None:
            return self._reference(definition, stored)
        return stored

    def _csv_converter(self, definition: Field) -> Callable[[str], Any]:
        """``_convert`` of a CSV cell for one field, its type and the table it refers to looked at once."""
        read = csv_reader(definition)
        if definition.type != FieldType.REFERENCE:
            return read
        table = self.store.table(definition.reference_to) if definition.reference_to else None
        rows, recycle_bin = ({}, {}) if table is None else (table.rows, table.recycle_bin)

        def read_reference(text: str) -> Any:
            if text in rows and text not in recycle_bin:
                return text  # an Id as the store keeps it: 18 characters of this object, live
            if text == "#N/A":
                return None
            stored = read(text)
            return None if stored is None else self._reference(definition, stored)

        return read_reference

    def columns(self, table: Table, names: Sequence[str], *, creating: bool, csv: bool = False) -> "Columns":
        """How values under ``names`` are checked and stored in ``table`` (see ``Columns``)."""
        return Columns(self, table, names, creating=creating, csv=csv)

    def prepare(self, table: Table, payload: Mapping[str, Any], *, creating: bool, csv: bool = False) -> dict[str, Any]:
        """Stored values for ``payload``; ApiError for a request-level fault, RecordError for a bad record."""
        return self.columns(table, list(payload), creating=creating, csv=csv).values(list(payload.values()))

    def check_request(self, table: Table, payload: Mapping[str, Any]) -> None:
        """Refuse the whole request for an unknown field or a value of the wrong type, before any write."""
        for name, raw in payload.items():
            if name == "attributes":
                continue
            definition = table.sobject.field(name)
            if definition is None:
                if not (isinstance(raw, Mapping) and table.sobject.relationship(name)):
                    raise unknown_field(name, table)
                continue
            try:
                from_json(definition, raw)
            except WrongTypeError as error:
                raise wrong_type(error) from None
            except RecordError:
                continue

    def _locked(self, record_id: str | None = None) -> None:
        if self.faults.take_lock():
            what = f": {record_id}" if record_id else ""
            raise RecordError(
                Problem("UNABLE_TO_LOCK_ROW", f"unable to obtain exclusive access to this record or 1 records{what}")
            )

    def insert(self, table: Table, payload: Mapping[str, Any], user_id: str, *, csv: bool = False) -> Outcome:
        return self.insert_cells(
            table, self.columns(table, list(payload), creating=True, csv=csv), list(payload.values()), user_id
        )

    def insert_cells(self, table: Table, columns: "Columns", cells: Sequence[Any], user_id: str) -> Outcome:
        """``insert`` of a record given as ``cells`` under ``columns`` made for creating."""
        values = columns.values(cells)
        self._locked()
        return Outcome(self.store.insert(table, values, user_id), created=True)

    def update(
        self, table: Table, record_id: Any, payload: Mapping[str, Any], user_id: str, *, csv: bool = False
    ) -> Outcome:
        columns = self.columns(table, list(payload), creating=False, csv=csv)
        return self.update_cells(table, record_id, columns, list(payload.values()), user_id)

    def update_cells(
        self, table: Table, record_id: Any, columns: "Columns", cells: Sequence[Any], user_id: str
    ) -> Outcome:
        """``update`` of a record given as ``cells`` under ``columns`` made for updating."""
        if isinstance(record_id, str) and record_id in table.rows:
            normalized: str | None = record_id  # an Id as the store keeps it: 18 characters of this object
        else:
            normalized = normalize_id(record_id) if isinstance(record_id, str) else None
        if not record_id:
            raise RecordError(Problem("MISSING_ARGUMENT", "Id not specified in an update call"))
        if normalized is None:
            raise RecordError(Problem("MALFORMED_ID", f"malformed id {record_id}", ("Id",)))
        if self.store.table_of(normalized) is not table or normalized not in table.rows:
            raise RecordError(Problem("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id"))
        if normalized in table.recycle_bin:
            raise RecordError(Problem("ENTITY_IS_DELETED", "entity is deleted"))
        return self._update_live(table, normalized, columns, cells, user_id)

    def _update_live(
        self, table: Table, record_id: str, columns: "Columns", cells: Sequence[Any], user_id: str
    ) -> Outcome:
        """``update_cells`` of a live record of ``table`` by its stored Id."""
        values = columns.values(cells)
        self._locked(record_id)
        self.store.update(table, record_id, values, user_id)
        return Outcome(record_id, created=False)

    def upsert(
        self, table: Table, key: Field, payload: Mapping[str, Any], user_id: str, *, csv: bool = False
    ) -> Outcome:
        raw = payload.get(key.name)
        if raw is None:  # field names are not case-sensitive
            raw = next((value for name, value in payload.items() if name.lower() == key.name.lower()), None)
        if raw is None or raw == "":
            raise RecordError(Problem("MISSING_ARGUMENT", f"{key.name} not specified"))
        if key.name == "Id":
            record_id = normalize_id(str(raw))
            if record_id is None or record_id not in table.rows:
                return self.insert(table, {k: v for k, v in payload.items() if k.lower() != "id"}, user_id, csv=csv)
            return self.update(table, record_id, payload, user_id, csv=csv)
        match = self._match(table, key, from_csv(key, raw) if csv else self._convert(key, raw, csv=False))
        if match is None:
            return self.insert(table, payload, user_id, csv=csv)
        return self.update(table, match, payload, user_id, csv=csv)

    def upsert_cells(self, table: Table, key: Field, header: "Header", cells: Sequence[str], user_id: str) -> Outcome:
        """``upsert`` of one CSV row under ``header`` by the External ID field ``key``."""
        raw = cells[header.key_column] if header.key_column is not None else None
        if key.name == "Id" or raw is None or raw == "" or header.read_key is None:
            return self.upsert(table, key, dict(zip(header.names, cells, strict=True)), user_id, csv=True)
        match = self._match(table, key, header.read_key(raw))
        if match is None:
            return self.insert_cells(table, header.creating, cells, user_id)
        return self._update_live(table, match, header.updating, cells, user_id)  # an index holds only live records

    def _match(self, table: Table, key: Field, value: Any) -> str | None:
        """The one record whose External ID ``key`` is ``value``, or None; more than one rejects the record."""
        if key.name in table.unique:  # one record at most
            return table.owner(key.name, value)
        matches = table.lookup(key.name, value)
        if len(matches) > 1:
            raise RecordError(
                Problem(
                    "DUPLICATE_EXTERNAL_ID",
                    f"{key.name}: more than one record found for external id field: {matches}",
                    (key.name,),
                )
            )
        return matches[0] if matches else None

    def delete(self, record_id: Any, user_id: str, *, table: Table | None = None, hard: bool = False) -> Outcome:
        normalized = normalize_id(record_id) if isinstance(record_id, str) else None
        if normalized is None:
            raise RecordError(Problem("MALFORMED_ID", f"malformed id {record_id}"))
        owner = self.store.table_of(normalized)
        if owner is None or (table is not None and owner is not table) or normalized not in owner.rows:
            raise RecordError(Problem("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id"))
        if normalized in owner.recycle_bin and not hard:
            raise RecordError(Problem("ENTITY_IS_DELETED", "entity is deleted"))
        self._locked(normalized)
        self.store.delete(owner, normalized, user_id, hard=hard)
        return Outcome(normalized)

    def external_key(self, table: Table, name: str) -> Field:
        """The field an upsert matches on: an External ID field (or Id); anything else is NOT_FOUND."""
        key = table.sobject.field(name)
        if key is None or not (key.external_id or key.name == "Id"):
            raise ApiError(404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {name}")
        return key

    def batch(self, steps: Sequence[Callable[[], Outcome] | Problem], *, all_or_none: bool) -> list[Outcome]:
        """Run one write per record, each failing alone, or all put back when ``all_or_none``.

        A step given as a Problem was rejected before it ran (a duplicate key in the same batch). The batch is
        one transaction, so the records it writes share one SystemModstamp, as in Salesforce.
        """
        with self.store.clock.held():
            if not all_or_none:
                return [_run(step) for step in steps]
            with self.store.transaction() as transaction:
                outcomes = [_run(step) for step in steps]
                if any(not outcome.success for outcome in outcomes):
                    transaction.rollback()
                    return [outcome if not outcome.success else Outcome(problems=[ROLLED_BACK]) for outcome in outcomes]
            return outcomes


def _kept_length(definition: Field | None) -> int:
    """The longest CSV cell of ``definition`` its reader stores as it is (-1: it reads every cell, as a
    lookup's reader checks every Id)."""
    if definition is None or definition.type == FieldType.REFERENCE:
        return -1
    return kept_csv_length(definition)


_SKIPPED, _VALUE, _PARENT, _ID_ON_CREATE, _READ_ONLY = range(5)
"""What a column is to a write: left out, a value of a field, a parent by external ID, an Id given to an
insert (refused), or a field the user cannot write (refused)."""


class Columns:
    """How the values a record names are checked and stored in one table, worked out once for a set of names
    (a Bulk job's header, a record's keys) and for creating or updating: ``values`` applies it to a record's
    cells, with Salesforce's checks in the order it makes them (unknown fields, types, lengths, picklists,
    lookups, read-only fields, then required fields)."""

    def __init__(self, writer: Writer, table: Table, names: Sequence[str], *, creating: bool, csv: bool) -> None:
        self.writer = writer
        self.table = table
        self.creating = creating
        self.csv = csv
        self.steps = [self._step(name) for name in names]
        self.required = [
            definition.name for definition in table.fields if definition.required and definition.default is None
        ]
        self.cell_writes: list[tuple[str, Callable[[str], Any], int]] | None = None
        """For CSV cells that are all values or parents named with their key field (a Bulk job's usual
        header): where each cell is stored, how it is read, and the longest cell stored as it is without
        reading it (-1: none), so that a row needs no other step."""
        if csv and all(kind == _VALUE or (kind == _PARENT and how and key) for kind, _, how, key in self.steps):
            self.cell_writes = [
                (name, how, _kept_length(table.sobject.field(name)))
                if kind == _VALUE
                else (how.name, writer._parent_reader(how, key), -1)
                for kind, name, how, key in self.steps
            ]

    def _step(self, name: str) -> tuple[int, str, Any, str]:
        """What to do with the column ``name``: its kind, the name it is stored or reported under, how (a
        converter, or the reference field of a parent) and the parent's key field."""
        sobject = self.table.sobject
        if name == "attributes" or (not self.creating and name.lower() == "id"):
            return _SKIPPED, name, None, ""
        relationship, _, key_field = name.partition(".") if self.csv else (name, "", "")
        definition = sobject.field(name)
        if definition is None:
            return _PARENT, name, sobject.relationship(relationship), key_field
        if name.lower() == "id" and self.creating:
            return _ID_ON_CREATE, name, None, ""
        if not (definition.createable if self.creating else definition.updateable):
            return _READ_ONLY, definition.name, None, ""
        if self.csv:
            return _VALUE, definition.name, self.writer._csv_converter(definition), ""
        return _VALUE, definition.name, partial(self.writer._convert, definition, csv=False), ""

    def values(self, cells: Sequence[Any]) -> dict[str, Any]:
        """Stored values of a record's ``cells`` (in the order of the names); ApiError for a request-level
        fault, RecordError for a bad record. An empty CSV cell leaves its field as it is."""
        if self.cell_writes is not None:
            return self._completed(
                {
                    name: raw if len(raw) <= kept and raw != "#N/A" else read(raw)
                    for (name, read, kept), raw in zip(self.cell_writes, cells, strict=True)
                    if raw != ""
                }
            )
        csv = self.csv
        values: dict[str, Any] = {}
        read_only: list[str] = []
        for (kind, name, how, key_field), raw in zip(self.steps, cells, strict=True):
            if kind == _VALUE:
                if not (csv and raw == ""):
                    values[name] = how(raw)
            elif kind == _PARENT:
                self._parent(values, name, how, key_field, raw)
            elif kind != _SKIPPED and not (csv and raw == ""):
                if kind == _ID_ON_CREATE:
                    raise RecordError(
                        Problem("INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", ("Id",))
                    )
                read_only.append(name)
        if read_only:
            raise RecordError(
                Problem(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {', '.join(read_only)}. Please check the security settings "
                    "of this field and verify that it is read/write for your profile or permission set.",
                    tuple(read_only),
                )
            )
        return self._completed(values)

    def _completed(self, values: dict[str, Any]) -> dict[str, Any]:
        """``values`` once every required field has one (REQUIRED_FIELD_MISSING otherwise)."""
        if None not in map(values.get, self.required):
            return values
        if self.creating:
            missing = [name for name in self.required if values.get(name) is None]
        else:
            missing = [name for name in self.required if name in values and values[name] is None]
        if missing:
            raise RecordError(
                Problem(
                    "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", tuple(missing)
                )
            )
        return values

    def _parent(self, values: dict[str, Any], name: str, reference: Field | None, key_field: str, raw: Any) -> None:
        """Set the lookup that ``CM_List__r.CM_List_ID__c`` (CSV) or ``CM_List__r: {CM_List_ID__c: ...}``
        (JSON) names by the parent's external ID."""
        if reference is None or not (key_field or isinstance(raw, Mapping)):
            raise unknown_field(name, self.table)
        if self.csv and raw == "":
            return
        if isinstance(raw, Mapping):
            keys = [key for key in raw if key != "attributes"]
            if len(keys) != 1:
                raise ApiError(400, "INVALID_FIELD", f"{name}: give exactly one External ID field of the parent")
            key_field, raw = keys[0], raw[keys[0]]
        values[reference.name] = self.writer._parent_by_external_id(reference, key_field, raw)


class Header:
    """A Bulk job's header as the writes of its rows use it: its columns for creating and for updating, and
    where the upsert key is. A name given twice counts once, its last cell kept, as in a record."""

    def __init__(self, writer: Writer, table: Table, names: Sequence[str], key: Field | None) -> None:
        last = {name: position for position, name in enumerate(names)}
        self.names = list(last)
        self.picks = None if len(last) == len(names) else list(last.values())
        """Which cells of a row to read, when some name is given twice."""
        self.creating = writer.columns(table, self.names, creating=True, csv=True)
        self.updating = writer.columns(table, self.names, creating=False, csv=True)
        self.key_column: int | None = None
        """Where the upsert key is among ``names``: its exact name, else its name in another case."""
        self.read_key = None if key is None else csv_reader(key)
        """The upsert key's stored value from its CSV cell."""
        if key is not None:
            lowered = [name.lower() for name in self.names]
            if key.name in last:
                self.key_column = self.names.index(key.name)
            elif key.name.lower() in lowered:
                self.key_column = lowered.index(key.name.lower())

    def cells(self, row: Sequence[str]) -> Sequence[str]:
        """A CSV row's cells under ``names``."""
        return row if self.picks is None else [row[position] for position in self.picks]


def _run(step: Callable[[], Outcome] | Problem) -> Outcome:
    if isinstance(step, Problem):
        return Outcome(problems=[step])
    try:
        return step()
    except RecordError as rejected:
        return Outcome(problems=[rejected.problem])


def duplicate_keys(key: Field, values: Sequence[Any]) -> set[int]:
    """Positions of records whose upsert key appears more than once in the same batch."""
    first: dict[Any, int] = {}
    duplicates: set[int] = set()
    folding = folds(key)
    for position, value in enumerate(values):
        if value is not None and value != "":
            earlier = first.setdefault(value.lower() if folding and isinstance(value, str) else value, position)
            if earlier != position:
                duplicates.update((earlier, position))
    return duplicates
