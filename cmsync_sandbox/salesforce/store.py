"""The in-memory record store: one table per object, indexed by Id, unique and external IDs, indexed
fields (Email, lookups) and SystemModstamp order, with a recycle bin, a delete log and rollback.

Rows are plain lists of stored values in the object's field order, so a million records fit in memory.
The store does not lock: callers hold ``RecordStore.lock`` around every read or write.
"""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from cmsync_sandbox.salesforce.clock import ServerClock
from cmsync_sandbox.salesforce.errors import Problem, RecordError
from cmsync_sandbox.salesforce.ids import make_id, normalize_id
from cmsync_sandbox.salesforce.schema import Field, FieldType, Schema, SObjectType

Row = list[Any]


class Clock:
    """Server time in milliseconds that never goes backwards, so SystemModstamp order is write order."""

    def __init__(self, source: ServerClock | None = None) -> None:
        self._source = source or ServerClock()
        self._last = 0
        self._held: int | None = None
        self.released: Callable[[], None] = lambda: None
        """Called when the outermost ``held()`` ends: the transaction is over."""

    @property
    def holding(self) -> bool:
        return self._held is not None

    def now(self) -> int:
        if self._held is not None:
            return self._held
        self._last = max(self._last, self._source.milliseconds())
        return self._last

    @contextmanager
    def held(self) -> Iterator[int]:
        """One instant for every write inside: the records of one Salesforce transaction share their stamps,
        and a transaction's instant is later than any before it, so two transactions never share one."""
        outer = self._held
        if outer is None:
            self._last = max(self._last + 1, self._source.milliseconds())
        self._held = self.now()
        try:
            yield self._held
        finally:
            self._held = outer
            if outer is None:
                self.released()


def folds(definition: Field) -> bool:
    """Whether a field's values are indexed case-insensitively (any but a case-sensitive field or the Id)."""
    return not definition.case_sensitive and definition.type != FieldType.ID


def _folded(value: Any) -> Any:
    """A text in lower case (the stored string itself when it already is), anything else as it is."""
    if isinstance(value, str):
        lowered = value.lower()
        return value if lowered == value else lowered
    return value


class Table:
    """The records of one object and their indexes."""

    def __init__(self, sobject: SObjectType) -> None:
        self.sobject = sobject
        self.fields = sobject.stored_fields()
        self.slot = {definition.name: position for position, definition in enumerate(self.fields)}
        self.rows: dict[str, Row] = {}
        self.unique: dict[str, dict[Any, str]] = {f.name: {} for f in self.fields if f.unique}
        self.indexed: dict[str, dict[Any, str | set[str]]] = {
            f.name: {}
            for f in self.fields
            if f.indexed and not f.unique and f.type not in (FieldType.ID, FieldType.DATETIME)
        }
        self.blank: Row = [definition.default for definition in self.fields]
        """A new record's row before its values: every field's default."""
        self.keyed = [
            (self.unique[name], self.slot[name], folds(definition))
            for name, definition in ((f.name, f) for f in self.fields if f.name in self.unique)
        ]
        """Each unique index with its field's slot and whether it folds case."""
        self.grouped = [
            (self.indexed[name], self.slot[name], folds(definition))
            for name, definition in ((f.name, f) for f in self.fields if f.name in self.indexed)
        ]
        """Each index of a field that is not unique, with its slot and whether it folds case."""
        self.indexed_names = frozenset(self.unique) | frozenset(self.indexed)
        self.folding = {definition.name: folds(definition) for definition in self.fields}
        """Whether each field's values are indexed case-insensitively."""
        name_field = sobject.field("Name")
        self.name_field = name_field if name_field is not None and name_field.stored else None
        """The Name field the server fills in when a new record has none (an auto-number, or the Id)."""
        self.modstamp_order: dict[str, None] = {}
        self.modstamp_sorted = True
        self.recycle_bin: dict[str, None] = {}
        self.delete_log: list[tuple[int, str]] = []
        self.counter = 0
        self.auto_number = 0

    def value(self, row: Row, name: str) -> Any:
        return row[self.slot[name]]

    def live(self, record_id: str) -> Row | None:
        row = self.rows.get(record_id)
        return row if row is not None and record_id not in self.recycle_bin else None

    def owner(self, name: str, value: Any) -> str | None:
        """The live record whose unique field ``name`` equals ``value`` (case rules of the field), or None."""
        return self.unique[name].get(value.lower() if self.folding[name] and isinstance(value, str) else value)

    def lookup(self, name: str, value: Any) -> list[str]:
        """Live records whose indexed field ``name`` equals ``value`` (case rules of the field)."""
        if name in self.unique:
            found = self.owner(name, value)
            return [found] if found else []
        entry = self.indexed[name].get(_folded(value) if self.folding[name] else value)
        if entry is None:
            return []
        return [entry] if isinstance(entry, str) else sorted(entry)

    def _index(self, record_id: str, row: Row) -> None:
        for index, slot, folds in self.keyed:
            value = row[slot]
            if value is not None:
                if folds and isinstance(value, str) and (lowered := value.lower()) != value:
                    value = lowered
                index[value] = record_id
        for multi, slot, folds in self.grouped:
            key = row[slot]
            if key is None:
                continue
            if folds and isinstance(key, str) and (lowered := key.lower()) != key:
                key = lowered  # the stored text itself when it is in lower case already, as _folded gives
            entry = multi.get(key)
            if entry is None:
                multi[key] = record_id
            elif isinstance(entry, str):
                multi[key] = {entry, record_id}
            else:
                entry.add(record_id)

    def _unindex(self, record_id: str, row: Row) -> None:
        for index, slot, folds in self.keyed:
            value = row[slot]
            if value is not None:
                index.pop(_folded(value) if folds else value, None)
        for multi, slot, folds in self.grouped:
            value = row[slot]
            if value is None:
                continue
            key = _folded(value) if folds else value
            entry = multi.get(key)
            if entry == record_id:
                del multi[key]
            elif isinstance(entry, set):
                entry.discard(record_id)
                if len(entry) == 1:
                    multi[key] = next(iter(entry))

    def _touch(self, record_id: str) -> None:
        self.modstamp_order.pop(record_id, None)
        self.modstamp_order[record_id] = None

    def _sort_by_modstamp(self) -> None:
        """Restore SystemModstamp order, which only a rollback (putting an old stamp back) can disturb."""
        if not self.modstamp_sorted:
            stamp = self.slot["SystemModstamp"]
            ordered = sorted(self.modstamp_order, key=lambda record_id: self.rows[record_id][stamp])
            self.modstamp_order = dict.fromkeys(ordered)
            self.modstamp_sorted = True

    def modified_since(self, milliseconds: int) -> Iterator[str]:
        """Ids with SystemModstamp after ``milliseconds``, newest first, reading only the recent end."""
        self._sort_by_modstamp()
        stamp = self.slot["SystemModstamp"]
        for record_id in reversed(self.modstamp_order):
            if self.rows[record_id][stamp] <= milliseconds:
                return
            yield record_id


@dataclass(frozen=True)
class SavedChange:
    """One record written in a transaction, as Change Data Capture reports it: the kind of change, the
    fields it set (name → stored value) and the ones it set to null, who saved it and when."""

    sobject: str
    record_id: str
    kind: str
    values: tuple[tuple[str, Any], ...]
    nulled: tuple[str, ...]
    user_id: str
    stamp: int
    origin: str


_UNREPORTED = frozenset({"Id", "IsDeleted", "SystemModstamp"})
"""Fields a change event never carries (the Id is in its header)."""


@dataclass
class _Journal:
    """What a transaction changed, to put back on rollback: each touched row's first pre-image."""

    before: dict[str, tuple[Table, Row | None, bool]] = field(default_factory=dict)
    log_lengths: dict[str, int] = field(default_factory=dict)
    saved_length: int = 0


class RecordStore:
    """Every record of the emulated org."""

    def __init__(self, schema: Schema, source: ServerClock | None = None) -> None:
        self.schema = schema
        self.lock = threading.RLock()
        self._committed: Callable[[list[SavedChange]], None] = lambda _changes: None
        self._reported: frozenset[str] = frozenset()
        self._saved: list[SavedChange] = []
        self.origin = ""
        """Who writes now, as ``changeOrigin`` names it (set by the API serving the write; empty for a person)."""
        self.clock = Clock(source)
        self.tables: dict[str, Table] = {sobject.name.lower(): Table(sobject) for sobject in schema}
        self.delete_log_start = 0
        """When the delete logs begin (ms): what getDeleted answers as ``earliestDateAvailable``."""
        self._journal: _Journal | None = None

    @property
    def clock(self) -> Clock:
        return self._clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self._clock = clock
        clock.released = self._commit

    def listen(self, receiver: Callable[[list[SavedChange]], None], objects: frozenset[str]) -> None:
        """Give ``receiver`` the changes to ``objects`` of each committed transaction (the change events'
        source); changes to other objects are not kept."""
        self._committed, self._reported = receiver, objects

    def _commit(self) -> None:
        saved, self._saved = self._saved, []
        if saved:
            self._committed(saved)

    def _reports(self, table: Table) -> bool:
        return table.sobject.name in self._reported

    def _save(self, table: Table, record_id: str, kind: str, values: dict[str, Any], nulled: tuple[str, ...]) -> None:
        """Note a write for the change events; a write outside a held instant is a transaction of its own."""
        if not self._reports(table):
            return
        row = table.rows[record_id]
        reported = tuple((name, value) for name, value in values.items() if name not in _UNREPORTED)
        self._saved.append(
            SavedChange(
                table.sobject.name, record_id, kind, reported, nulled,
                row[table.slot["LastModifiedById"]], row[table.slot["SystemModstamp"]], self.origin,
            )
        )  # fmt: skip
        if not self._clock.holding:
            self._commit()

    def table(self, name: str) -> Table | None:
        return self.tables.get(name.lower())

    def table_of(self, record_id: str) -> Table | None:
        sobject = self.schema.by_prefix(record_id)
        return self.tables[sobject.name.lower()] if sobject else None

    def find(self, record_id: str, *, include_deleted: bool = False) -> tuple[Table, Row] | None:
        """The table and row of an Id (15 or 18 characters), or None."""
        normalized = normalize_id(record_id)
        table = self.table_of(normalized) if normalized else None
        if table is None or normalized is None:
            return None
        row = table.rows.get(normalized) if include_deleted else table.live(normalized)
        return (table, row) if row is not None else None

    def _remember(self, table: Table, record_id: str) -> None:
        journal = self._journal
        if journal is None or record_id in journal.before:
            return
        row = table.rows.get(record_id)
        journal.before[record_id] = (table, None if row is None else list(row), record_id in table.recycle_bin)
        journal.log_lengths.setdefault(table.sobject.name, len(table.delete_log))

    def _check_unique(self, table: Table, values: dict[str, Any], record_id: str | None) -> None:
        for name, index in table.unique.items():
            value = values.get(name)
            if value is not None:
                owner = index.get(value.lower() if table.folding[name] and isinstance(value, str) else value)
                if owner is not None and owner != record_id:
                    raise RecordError(
                        Problem(
                            "DUPLICATE_VALUE",
                            f"duplicate value found: {name} duplicates value on record with id: {owner}",
                            (name,),
                        )
                    )

    def insert(self, table: Table, values: dict[str, Any], user_id: str, *, at: int | None = None) -> str:
        """Add a record (values already checked); the server fills Id, audit fields, defaults and Name."""
        self._check_unique(table, values, None)
        table.counter += 1
        record_id = make_id(table.sobject.key_prefix, table.counter)
        stamp = self._clock.now() if at is None else at
        row: Row = table.blank.copy()
        slot = table.slot
        for name, value in values.items():
            row[slot[name]] = value
        row[slot["Id"]] = record_id
        row[slot["IsDeleted"]] = False
        row[slot["CreatedDate"]] = row[slot["LastModifiedDate"]] = row[slot["SystemModstamp"]] = stamp
        row[slot["CreatedById"]] = row[slot["LastModifiedById"]] = user_id
        if "OwnerId" in slot and row[slot["OwnerId"]] is None:
            row[slot["OwnerId"]] = user_id
        name_field = table.name_field
        if name_field is not None and row[slot["Name"]] is None:
            if name_field.auto_number:
                table.auto_number += 1
                row[slot["Name"]] = _auto_number(name_field.auto_number, table.auto_number)
            else:
                row[slot["Name"]] = record_id
        self._remember(table, record_id)
        table.rows[record_id] = row
        table._index(record_id, row)
        table.modstamp_order[record_id] = None  # a new Id: the newest stamp
        if self._reports(table):
            created = {table.fields[position].name: value for position, value in enumerate(row) if value is not None}
            self._save(table, record_id, "CREATE", created, ())
        return record_id

    def update(self, table: Table, record_id: str, values: dict[str, Any], user_id: str) -> None:
        """Change a live record's values (already checked) and its audit fields."""
        row = table.live(record_id)
        if row is None:
            raise RecordError(Problem("ENTITY_IS_DELETED", "entity is deleted"))
        self._check_unique(table, values, record_id)
        self._remember(table, record_id)
        slot = table.slot
        reindexed = False
        for name in table.indexed_names:
            if name in values and row[slot[name]] != values[name]:
                reindexed = True
                break
        reports = self._reports(table)
        changed = {name: value for name, value in values.items() if row[slot[name]] != value} if reports else {}
        if reindexed:
            table._unindex(record_id, row)
        for name, value in values.items():
            row[slot[name]] = value
        stamp = self._clock.now()
        row[slot["LastModifiedDate"]] = row[slot["SystemModstamp"]] = stamp
        row[slot["LastModifiedById"]] = user_id
        if reindexed:
            table._index(record_id, row)
        table._touch(record_id)
        if reports:
            nulled = tuple(name for name, value in changed.items() if value is None)
            changed.update(LastModifiedDate=stamp, LastModifiedById=user_id)
            self._save(table, record_id, "UPDATE", changed, nulled)

    def delete(self, table: Table, record_id: str, user_id: str, *, hard: bool = False) -> None:
        """Move a record to the recycle bin (or drop it for good), logging the delete for getDeleted."""
        row = table.rows.get(record_id)
        if row is None or (record_id in table.recycle_bin and not hard):
            raise RecordError(Problem("ENTITY_IS_DELETED", "entity is deleted"))
        self._remember(table, record_id)
        stamp = self.clock.now()
        if record_id not in table.recycle_bin:
            table._unindex(record_id, row)
            table.delete_log.append((stamp, record_id))
        if hard:
            if record_id not in table.recycle_bin:
                row[table.slot["SystemModstamp"]] = stamp
                row[table.slot["LastModifiedById"]] = user_id
                self._save(table, record_id, "DELETE", {}, ())
            del table.rows[record_id]
            table.modstamp_order.pop(record_id, None)
            table.recycle_bin.pop(record_id, None)
            return
        row[table.slot["IsDeleted"]] = True
        row[table.slot["SystemModstamp"]] = stamp
        row[table.slot["LastModifiedById"]] = user_id
        table.recycle_bin[record_id] = None
        table._touch(record_id)
        self._save(table, record_id, "DELETE", {}, ())

    def undelete(self, table: Table, record_id: str, user_id: str) -> None:
        """Bring a record back from the recycle bin, as a person does from the Recycle Bin page."""
        row = table.rows.get(record_id)
        if row is None or record_id not in table.recycle_bin:
            raise RecordError(Problem("UNDELETE_FAILED", "entity is not in the recycle bin"))
        self._check_unique(table, {name: row[table.slot[name]] for name in table.unique}, record_id)
        self._remember(table, record_id)
        stamp = self.clock.now()
        del table.recycle_bin[record_id]
        row[table.slot["IsDeleted"]] = False
        row[table.slot["SystemModstamp"]] = stamp
        row[table.slot["LastModifiedById"]] = user_id
        table._index(record_id, row)
        table._touch(record_id)
        self._save(table, record_id, "UNDELETE", {}, ())

    @contextmanager
    def transaction(self) -> Iterator["Transaction"]:
        """Group writes so that ``rollback()`` puts every touched record back as it was. A transaction opened
        inside another hands what it kept to the outer one, so rolling back the outer undoes both."""
        outer = self._journal
        journal = _Journal(saved_length=len(self._saved))
        self._journal = journal
        try:
            yield Transaction(self, journal)
        finally:
            self._journal = outer
            if outer is not None:
                for record_id, before in journal.before.items():
                    outer.before.setdefault(record_id, before)
                for name, length in journal.log_lengths.items():
                    outer.log_lengths.setdefault(name, length)

    def _rollback(self, journal: _Journal) -> None:
        for record_id, (table, before, was_deleted) in reversed(list(journal.before.items())):
            current = table.rows.get(record_id)
            if current is not None and record_id not in table.recycle_bin:
                table._unindex(record_id, current)
            table.recycle_bin.pop(record_id, None)
            if before is None:
                table.rows.pop(record_id, None)
                table.modstamp_order.pop(record_id, None)
                continue
            table.rows[record_id] = before
            table.modstamp_order[record_id] = None
            table.modstamp_sorted = False
            if was_deleted:
                table.recycle_bin[record_id] = None
            else:
                table._index(record_id, before)
        for name, length in journal.log_lengths.items():
            del self.tables[name.lower()].delete_log[length:]
        del self._saved[journal.saved_length :]
        journal.before.clear()

    def clear(self) -> None:
        self.tables = {sobject.name.lower(): Table(sobject) for sobject in self.schema}

    def count(self) -> int:
        return sum(len(table.rows) for table in self.tables.values())


class Transaction:
    """Handle of an open transaction."""

    def __init__(self, store: RecordStore, journal: _Journal) -> None:
        self._store = store
        self._journal = journal

    def rollback(self) -> None:
        self._store._rollback(self._journal)


def _auto_number(display_format: str, number: int) -> str:
    """``EA-{0000000000}`` and 42 give ``EA-0000000042``."""
    start, _, rest = display_format.partition("{")
    digits, _, end = rest.partition("}")
    return f"{start}{number:0{len(digits)}d}{end}"
