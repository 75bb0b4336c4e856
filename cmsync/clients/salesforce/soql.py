"""SOQL built safely: every value goes through ``literal`` (one escaping function), and object and field
names are checked against Salesforce's name rules, so neither an email with ``'`` or ``\\`` nor a bad
setting can change a query's meaning.
"""

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

from cmsync.config.names import check_salesforce_field_path, check_salesforce_name

_ESCAPES = str.maketrans(
    {"\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
)
_LIKE_ESCAPES = str.maketrans({"%": "\\%", "_": "\\_"})

Value = str | bool | int | float | Decimal | date | datetime | None


def quote(text: str) -> str:
    """A SOQL string literal: ``O'Brien\\x`` becomes ``'O\\'Brien\\\\x'``."""
    return "'" + text.translate(_ESCAPES) + "'"


def literal(value: Value) -> str:
    """Any Python value as a SOQL literal: strings quoted and escaped, date-times in UTC, None as null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{value!r} has no time zone; SOQL date-times must be absolute")
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return quote(value)
    raise TypeError(f"{type(value).__name__} cannot be written as a SOQL literal")


def literal_list(values: Iterable[Value]) -> str:
    """``('a', 'b')`` for ``IN``; an empty list is refused, since SOQL has no empty IN."""
    items = [literal(value) for value in values]
    if not items:
        raise ValueError("an IN list needs at least one value")
    return "(" + ", ".join(items) + ")"


def like(text: str, *, prefix_wildcard: bool = False, suffix_wildcard: bool = False) -> str:
    """A LIKE pattern matching ``text`` literally (its ``%`` and ``_`` escaped), with optional wildcards."""
    pattern = text.translate(_ESCAPES).translate(_LIKE_ESCAPES)
    return "'" + ("%" if prefix_wildcard else "") + pattern + ("%" if suffix_wildcard else "") + "'"


def select(
    sobject: str,
    fields: Sequence[str],
    *,
    where: str | None = None,
    order_by: Sequence[str] = (),
    descending: bool = False,
    limit: int | None = None,
) -> str:
    """``SELECT … FROM … [WHERE …] [ORDER BY …] [LIMIT …]`` with every name checked; ``where`` must be
    built from ``literal``/``literal_list``/``like`` and checked names."""
    if not fields:
        raise ValueError("a query needs at least one field")
    check_salesforce_name(sobject, "Salesforce object API name")
    for name in (*fields, *order_by):
        check_salesforce_field_path(name)
    soql = f"SELECT {', '.join(fields)} FROM {sobject}"
    if where:
        soql += f" WHERE {where}"
    if order_by:
        direction = " DESC" if descending else ""
        soql += " ORDER BY " + ", ".join(f"{name}{direction}" for name in order_by)
    if limit is not None:
        soql += f" LIMIT {int(limit)}"
    return soql
