"""Runs parsed SOQL against the record store: names checked against the schema, filters typed as
Salesforce types them (text compares case-insensitively, date literals as ranges of the org clock's days),
indexes used where the filter allows, child relationship subqueries run per parent record, results
rendered as REST records or Bulk CSV rows.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from cmsync_sandbox.salesforce.clock import ServerClock
from cmsync_sandbox.salesforce.date_literals import DateLiteral
from cmsync_sandbox.salesforce.errors import ApiError
from cmsync_sandbox.salesforce.ids import normalize_id
from cmsync_sandbox.salesforce.schema import NUMBER_TYPES, TEXT_TYPES, Field, FieldType
from cmsync_sandbox.salesforce.soql import (
    Comparison,
    Condition,
    Junction,
    Like,
    Literal,
    Membership,
    Negation,
    Query,
    malformed,
    parse,
)
from cmsync_sandbox.salesforce.store import RecordStore, Row, Table
from cmsync_sandbox.salesforce.values import parse_datetime, to_csv, to_json

Getter = Callable[[Row], Any]
Predicate = Callable[[Row], bool]


@dataclass(frozen=True)
class Step:
    """One hop up a relationship: the reference field, its slot in the child row, and the parent table."""

    reference: Field
    slot: int
    parent: Table


@dataclass(frozen=True)
class Column:
    """A resolved field path: the hops to the row that holds it, the field, and how to read it."""

    steps: tuple[Step, ...]
    field: Field
    read: Getter
    get: Getter

    @property
    def header(self) -> str:
        return ".".join([*(step.reference.relationship_name or "" for step in self.steps), self.field.name])


@dataclass
class CompiledQuery:
    table: Table
    columns: list[Column]
    count: bool
    predicate: Predicate | None
    plan: Callable[[], Iterable[str]] | None
    order: list[tuple[Column, bool, bool]]
    limit: int | None
    offset: int
    children: list["ChildQuery"] = field(default_factory=list)


@dataclass
class ChildQuery:
    """A child relationship subquery: its name, the lookup on the child that points at the parent, and the query
    run on the children of each parent record."""

    name: str
    reference: Field
    compiled: CompiledQuery


def _no_such_column(name: str, table: Table) -> ApiError:
    return ApiError(
        400,
        "INVALID_FIELD",
        f"No such column '{name}' on entity '{table.sobject.name}'. If you are attempting to use a custom field, be "
        "sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for "
        "the appropriate names.",
    )


def _read(table: Table, definition: Field) -> Getter:
    if definition.joins:
        slots = [table.slot[name] for name in definition.joins]
        return lambda row: " ".join(row[slot] for slot in slots if row[slot]) or None
    slot = table.slot[definition.name]
    return lambda row: row[slot]


def _type_error(definition: Field) -> ApiError:
    text = definition.type in TEXT_TYPES
    kind = "string" if text else "dateTime" if definition.type == FieldType.DATETIME else str(definition.type)
    quoting = "should be enclosed in quotes" if text else "should not be enclosed in quotes"
    return ApiError(
        400,
        "INVALID_QUERY_FILTER_OPERATOR",
        f"value of filter criterion for field '{definition.name}' must be of type {kind} and {quoting}",
    )


def _comparable(definition: Field, literal: Literal) -> Any:
    """The literal in the form the stored values of ``definition`` compare with."""
    if literal.kind == "null":
        return None
    if literal.kind == "date_literal":
        if definition.type not in (FieldType.DATE, FieldType.DATETIME):
            raise _type_error(definition)
        raise ApiError(400, "INVALID_QUERY_FILTER_OPERATOR", f"date literal {literal.text} cannot be in an IN list")
    if definition.type in (FieldType.ID, FieldType.REFERENCE):
        normalized = normalize_id(literal.value) if literal.kind == "string" else None
        if normalized is None:
            if literal.kind == "string":
                raise ApiError(400, "INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {literal.value}")
            raise _type_error(definition)
        return normalized
    if definition.type in TEXT_TYPES:
        if literal.kind != "string":
            raise _type_error(definition)
        return literal.value.lower()
    if definition.type in NUMBER_TYPES:
        if literal.kind != "number":
            raise _type_error(definition)
        return literal.value
    if definition.type == FieldType.BOOLEAN:
        if literal.kind != "boolean":
            raise _type_error(definition)
        return literal.value
    if definition.type == FieldType.DATE:
        if literal.kind != "date":
            raise _type_error(definition)
        return literal.value
    if definition.type == FieldType.DATETIME:
        if literal.kind != "datetime":
            raise _type_error(definition)
        return parse_datetime(literal.value)
    raise _type_error(definition)


def _folded(definition: Field, get: Getter) -> Getter:
    """Text compares case-insensitively (Ids exactly); every other type as stored."""
    if definition.type in TEXT_TYPES and definition.type not in (FieldType.ID, FieldType.REFERENCE):
        return lambda row: None if (value := get(row)) is None else value.lower()
    return get


_ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda left, right: left < right,
    "<=": lambda left, right: left <= right,
    ">": lambda left, right: left > right,
    ">=": lambda left, right: left >= right,
}


class QueryEngine:
    """Compiles SOQL for one store and runs it."""

    def __init__(self, store: RecordStore, clock: ServerClock | None = None) -> None:
        self.store = store
        self.clock = clock or ServerClock()

    def column(self, table: Table, path: tuple[str, ...]) -> Column:
        """Resolve ``Email``, ``Account.Industry`` or ``CM_List__r.CM_Client__r.Name`` on ``table``."""
        if len(path) > 1 and path[0].lower() == table.sobject.name.lower():
            path = path[1:]
        steps: list[Step] = []
        current = table
        for name in path[:-1]:
            reference = current.sobject.relationship(name)
            if reference is None or reference.reference_to is None:
                raise ApiError(
                    400,
                    "INVALID_FIELD",
                    f"Didn't understand relationship '{name}' in field path. If you are attempting to use a custom "
                    "relationship, be sure to append the '__r' after the custom relationship name.",
                )
            parent = self.store.table(reference.reference_to)
            assert parent is not None
            steps.append(Step(reference, current.slot[reference.name], parent))
            current = parent
        definition = current.sobject.field(path[-1])
        if definition is None:
            raise _no_such_column(".".join(path), table)
        read = _read(current, definition)
        get = read
        for step in reversed(steps):
            get = _through(step, get)
        return Column(tuple(steps), definition, read, get)

    def compile(self, soql: str) -> CompiledQuery:
        query: Query = parse(soql)
        table = self.store.table(query.sobject)
        if table is None:
            raise ApiError(
                400,
                "INVALID_TYPE",
                f"sObject type '{query.sobject}' is not supported. If you are attempting to use a custom object, be "
                "sure to append the '__c' after the entity name. Please reference your WSDL or the describe call "
                "for the appropriate names.",
            )
        compiled = self._compile(table, query)
        compiled.children = [self._child(table, subquery) for subquery in query.subqueries]
        return compiled

    def _child(self, parent: Table, subquery: Query) -> ChildQuery:
        """Compile ``(SELECT … FROM Contacts)`` against the object whose lookup to ``parent`` has that name."""
        for sobject in self.store.schema:
            for definition in sobject.fields.values():
                name = definition.child_relationship_name
                if (
                    definition.reference_to == parent.sobject.name
                    and name is not None
                    and name.lower() == subquery.sobject.lower()
                ):
                    child = self.store.table(sobject.name)
                    assert child is not None
                    return ChildQuery(name, definition, self._compile(child, subquery))
        raise ApiError(
            400,
            "INVALID_TYPE",
            f"Didn't understand relationship '{subquery.sobject}' in FROM part of query call. If you are attempting "
            "to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please "
            "reference your WSDL or the describe call for the appropriate names.",
        )

    def _compile(self, table: Table, query: Query) -> CompiledQuery:
        columns = [self.column(table, path) for path in query.fields]
        headers = [column.header.lower() for column in columns]
        duplicate = next((header for header in headers if headers.count(header) > 1), None)
        if duplicate:
            raise malformed(f"duplicate field selected: {duplicate}")
        predicate = self.condition(table, query.where) if query.where is not None else None
        order = [(self.column(table, item.path), item.descending, item.nulls_last) for item in query.order]
        plan = self._plan(table, query.where)
        return CompiledQuery(table, columns, query.count, predicate, plan, order, query.limit, query.offset)

    def condition(self, table: Table, condition: Condition) -> Predicate:
        if isinstance(condition, Junction):
            parts = [self.condition(table, item) for item in condition.items]
            if condition.operator == "AND":
                return lambda row: all(part(row) for part in parts)
            return lambda row: any(part(row) for part in parts)
        if isinstance(condition, Negation):
            inner = self.condition(table, condition.item)
            return lambda row: not inner(row)
        column = self.column(table, condition.path)
        definition = column.field
        if not definition.filterable:
            raise ApiError(400, "INVALID_FIELD", f"field '{definition.name}' can not be filtered in query call")
        get = _folded(definition, column.get)
        if isinstance(condition, Like):
            if definition.type not in TEXT_TYPES:
                raise ApiError(
                    400, "INVALID_QUERY_FILTER_OPERATOR", f"invalid operator on {definition.type} field: LIKE"
                )
            pattern = condition.pattern
            return lambda row: (value := column.get(row)) is not None and pattern.fullmatch(value) is not None
        if isinstance(condition, Membership):
            wanted = {_comparable(definition, literal) for literal in condition.literals}
            if condition.negated:
                return lambda row: get(row) not in wanted
            return lambda row: get(row) in wanted
        return self._comparison(definition, get, condition)

    def _comparison(self, definition: Field, get: Getter, condition: Comparison) -> Predicate:
        if condition.literal.kind == "date_literal":
            return self._within(definition, get, condition.operator, condition.literal)
        operator, value = condition.operator, _comparable(definition, condition.literal)
        if operator == "=":
            return lambda row: get(row) == value
        if operator == "!=":
            return lambda row: get(row) != value
        if value is None or definition.type == FieldType.BOOLEAN:
            raise ApiError(
                400, "INVALID_QUERY_FILTER_OPERATOR", f"invalid operator on {definition.type} field: {operator}"
            )
        compare = _ORDERINGS[operator]
        return lambda row: (current := get(row)) is not None and compare(current, value)

    def _within(self, definition: Field, get: Getter, operator: str, literal: Literal) -> Predicate:
        """A comparison with a date literal's range: ``=`` within it, ``!=`` outside, ``<`` before its start,
        ``<=`` before its end, ``>`` after its end, ``>=`` from its start."""
        if definition.type not in (FieldType.DATE, FieldType.DATETIME):
            raise _type_error(definition)
        assert isinstance(literal.value, DateLiteral)
        first, after = literal.value.days(self.clock.moment().date())
        start, end = (_stored_day(definition, day) for day in (first, after))
        if operator == "=":
            return lambda row: (value := get(row)) is not None and start <= value < end
        if operator == "!=":
            return lambda row: (value := get(row)) is None or not start <= value < end
        bound, compare = {"<": (start, "<"), "<=": (end, "<"), ">": (end, ">="), ">=": (start, ">=")}[operator]
        check = _ORDERINGS[compare]
        return lambda row: (value := get(row)) is not None and check(value, bound)

    def _plan(self, table: Table, where: Condition | None) -> Callable[[], Iterable[str]] | None:
        """Ids to examine from an index, when a top-level condition is an indexed equality or a modstamp range."""
        if where is None:
            return None
        conjuncts = where.items if isinstance(where, Junction) and where.operator == "AND" else (where,)
        for condition in conjuncts:
            if not isinstance(condition, Comparison | Membership) or len(condition.path) != 1:
                continue
            definition = table.sobject.field(condition.path[0])
            if definition is None:
                continue
            if (
                isinstance(condition, Comparison)
                and definition.name == "SystemModstamp"
                and condition.operator in (">", ">=")
                and condition.literal.kind == "datetime"
            ):
                since = parse_datetime(condition.literal.value) - (1 if condition.operator == ">=" else 0)
                return lambda since=since: table.modified_since(since)
            equal = isinstance(condition, Comparison) and condition.operator == "="
            member = isinstance(condition, Membership) and not condition.negated
            if not (equal or member):
                continue
            literals = condition.literals if isinstance(condition, Membership) else (condition.literal,)
            if any(literal.kind == "null" for literal in literals):
                continue
            if definition.name == "Id":
                ids = [normalize_id(literal.value) for literal in literals if literal.kind == "string"]
                return lambda ids=ids: [record_id for record_id in ids if record_id]
            if definition.name in table.unique or definition.name in table.indexed:
                keys = [literal.value for literal in literals if literal.kind in ("string", "number")]
                if definition.type == FieldType.REFERENCE:
                    keys = [normalize_id(key) for key in keys if isinstance(key, str)]
                name = definition.name
                return lambda keys=keys, name=name: {found for key in keys if key for found in table.lookup(name, key)}
        return None

    def run(self, compiled: CompiledQuery, *, include_deleted: bool = False) -> list[str]:
        """Ids of the matching records in result order (ORDER BY, else creation order), OFFSET and LIMIT applied."""
        table = compiled.table
        if compiled.plan is None:
            candidates: Iterable[str] = list(table.rows)
        else:
            chosen = set(compiled.plan())
            if include_deleted:
                chosen.update(table.recycle_bin)
            candidates = sorted(chosen)
        return self._select(compiled, candidates, include_deleted=include_deleted)

    def _select(self, compiled: CompiledQuery, candidates: Iterable[str], *, include_deleted: bool) -> list[str]:
        """The candidates that match, in result order, OFFSET and LIMIT applied."""
        table = compiled.table
        predicate = compiled.predicate
        bin_ = table.recycle_bin
        rows = table.rows
        matches = [
            record_id
            for record_id in candidates
            if record_id in rows
            and (include_deleted or record_id not in bin_)
            and (predicate is None or predicate(rows[record_id]))
        ]
        for column, descending, nulls_last in reversed(compiled.order):
            get = _folded(column.field, column.get)
            none_rank = 0 if descending == nulls_last else 1
            matches.sort(key=lambda record_id: _sort_key(get(rows[record_id]), none_rank), reverse=descending)
        end = None if compiled.limit is None else compiled.offset + compiled.limit
        return matches[compiled.offset : end]

    def render(self, compiled: CompiledQuery, record_id: str, version: str) -> dict[str, Any]:
        """One record as the REST query resource returns it, with nested parents and ``attributes``."""
        table = compiled.table
        row = table.rows[record_id]
        out: dict[str, Any] = {"attributes": _attributes(table, record_id, version)}
        for column in compiled.columns:
            container: dict[str, Any] = out
            current: Row = row
            missing = False
            for step in column.steps:
                parent_id = current[step.slot]
                parent_row = step.parent.rows.get(parent_id) if parent_id else None
                name = step.reference.relationship_name or step.reference.name
                if parent_row is None:
                    container.setdefault(name, None)
                    missing = True
                    break
                nested = container.get(name)
                if nested is None:
                    nested = {"attributes": _attributes(step.parent, parent_id, version)}
                    container[name] = nested
                container, current = nested, parent_row
            if not missing:
                container[column.field.name] = to_json(column.field, column.read(current))
        for child in compiled.children:
            out[child.name] = self._children(child, record_id, version)
        return out

    def _children(self, child: ChildQuery, parent_id: str, version: str) -> dict[str, Any] | None:
        """The live children of one parent as a nested query result, or None when it has none that match."""
        table = child.compiled.table
        name = child.reference.name
        if name in table.indexed:
            candidates: Iterable[str] = table.lookup(name, parent_id)
        else:
            slot = table.slot[name]
            candidates = [record_id for record_id, row in table.rows.items() if row[slot] == parent_id]
        ids = self._select(child.compiled, sorted(candidates), include_deleted=False)
        if not ids:
            return None
        records = [self.render(child.compiled, record_id, version) for record_id in ids]
        return {"totalSize": len(records), "done": True, "records": records}

    def csv_row(self, compiled: CompiledQuery, record_id: str) -> list[str]:
        row = compiled.table.rows[record_id]
        return [to_csv(column.field, column.get(row)) for column in compiled.columns]


def _stored_day(definition: Field, day: date) -> Any:
    """Midnight GMT of ``day`` as ``definition`` stores it (date text, or date-time milliseconds)."""
    if definition.type == FieldType.DATE:
        return day.isoformat()
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def _through(step: Step, inner: Getter) -> Getter:
    rows = step.parent.rows

    def get(row: Row) -> Any:
        parent_id = row[step.slot]
        parent = rows.get(parent_id) if parent_id else None
        return None if parent is None else inner(parent)

    return get


def _sort_key(value: Any, none_rank: int) -> tuple[int, Any]:
    return (none_rank, 0) if value is None else (1 - none_rank, value)


def _attributes(table: Table, record_id: str, version: str) -> dict[str, str]:
    return {"type": table.sobject.name, "url": f"/services/data/v{version}/sobjects/{table.sobject.name}/{record_id}"}
