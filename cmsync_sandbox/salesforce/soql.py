"""A parser for the SOQL that cmsync and its tools send, into a small syntax tree.

Covered: ``SELECT`` fields (with parent relationship paths such as ``Account.Industry``), child
relationship subqueries (``(SELECT LastName FROM Contacts WHERE …)``) or ``COUNT()``, ``FROM``, ``WHERE``
with ``AND``/``OR``/``NOT`` and parentheses (mixing AND and OR without parentheses is refused, as
Salesforce refuses it), ``= != <> < <= > >= LIKE IN NOT IN``, string literals with SOQL's backslash
escapes, numbers, ``true``/``false``/``null``, dates, date-times and date literals (``TODAY``,
``LAST_N_DAYS:30``), ``ORDER BY`` with ``ASC``/``DESC`` and ``NULLS FIRST``/``LAST``, ``LIMIT`` and
``OFFSET``. Anything else is MALFORMED_QUERY.
"""

import re
from dataclasses import dataclass
from typing import Any

from cmsync_sandbox.salesforce.date_literals import is_date_literal, parse_date_literal
from cmsync_sandbox.salesforce.errors import ApiError

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<relative>[A-Za-z][A-Za-z0-9_]*\s*:\s*[^\s(),]*)
  | (?P<number>[+-]?\d+(?:\.\d+)?)
  | (?P<operator>!=|<>|<=|>=|=|<|>)
  | (?P<punctuation>[(),])
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_KEYWORDS = frozenset(
    ("select", "from", "where", "and", "or", "not", "in", "like", "order", "by", "asc", "desc", "nulls", "first",
     "last", "limit", "offset", "null", "true", "false", "count")
)  # fmt: skip


def malformed(message: str) -> ApiError:
    return ApiError(400, "MALFORMED_QUERY", message)


@dataclass(frozen=True)
class Literal:
    """A value written in the query: ``kind`` is string, number, boolean, null, date, datetime or date_literal
    (whose value is a DateLiteral)."""

    kind: str
    value: Any
    text: str


@dataclass(frozen=True)
class Comparison:
    path: tuple[str, ...]
    operator: str
    literal: Literal


@dataclass(frozen=True)
class Membership:
    path: tuple[str, ...]
    literals: tuple[Literal, ...]
    negated: bool


@dataclass(frozen=True)
class Like:
    path: tuple[str, ...]
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class Junction:
    """``AND`` or ``OR`` of two or more conditions."""

    operator: str
    items: tuple["Condition", ...]


@dataclass(frozen=True)
class Negation:
    item: "Condition"


Condition = Comparison | Membership | Like | Junction | Negation


@dataclass(frozen=True)
class OrderItem:
    path: tuple[str, ...]
    descending: bool
    nulls_last: bool


@dataclass(frozen=True)
class Query:
    """A SELECT; in a subquery, ``sobject`` is the child relationship name (``Contacts``)."""

    fields: tuple[tuple[str, ...], ...]
    count: bool
    sobject: str
    where: Condition | None
    order: tuple[OrderItem, ...]
    limit: int | None
    offset: int
    subqueries: tuple["Query", ...] = ()


def unescape(body: str) -> str:
    """The value of a string literal's body; ``\\%`` and ``\\_`` are kept as escapes (LIKE uses them)."""
    out: list[str] = []
    position = 0
    while position < len(body):
        char = body[position]
        if char != "\\":
            out.append(char)
            position += 1
            continue
        escaped = body[position + 1 : position + 2]
        if escaped in _ESCAPES:
            out.append(_ESCAPES[escaped])
            position += 2
        elif escaped.lower() in ("n", "r", "t", "b", "f"):
            out.append(_ESCAPES[escaped.lower()])
            position += 2
        elif escaped == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", body[position + 2 : position + 6]):
            out.append(chr(int(body[position + 2 : position + 6], 16)))
            position += 6
        elif escaped in ("%", "_"):
            out.append("\\" + escaped)
            position += 2
        else:
            raise malformed(
                f"Invalid string literal '{body}'. Illegal character sequence '\\{escaped}' in string literal."
            )
    return "".join(out)


def like_pattern(body: str) -> re.Pattern[str]:
    """A case-insensitive regular expression for a LIKE pattern (``%`` any run, ``_`` one character)."""
    text = unescape(body)
    parts: list[str] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char == "\\" and text[position + 1 : position + 2] in ("%", "_"):
            parts.append(re.escape(text[position + 1]))
            position += 2
            continue
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        position += 1
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


@dataclass
class _Token:
    kind: str
    text: str

    @property
    def keyword(self) -> str | None:
        return self.text.lower() if self.kind == "name" and self.text.lower() in _KEYWORDS else None


def _tokens(soql: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(soql):
        match = _TOKEN.match(soql, position)
        if match is None:
            raise malformed(f"unexpected token: '{soql[position : position + 20]}'")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(_Token(kind, match.group()))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, soql: str) -> None:
        self.tokens = _tokens(soql)
        self.position = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def next(self) -> _Token:
        token = self.peek()
        if token is None:
            raise malformed("unexpected end of query")
        self.position += 1
        return token

    def accept(self, keyword: str) -> bool:
        token = self.peek()
        if token is not None and (token.keyword == keyword or (token.kind == "punctuation" and token.text == keyword)):
            self.position += 1
            return True
        return False

    def expect(self, keyword: str) -> None:
        if not self.accept(keyword):
            token = self.peek()
            raise malformed(
                f"unexpected token: '{token.text if token else 'end of query'}', expected {keyword.upper()}"
            )

    def path(self) -> tuple[str, ...]:
        token = self.next()
        if token.kind != "name" or token.keyword in ("select", "from", "where", "and", "or", "not", "in", "like"):
            raise malformed(f"unexpected token: '{token.text}'")
        return tuple(token.text.split("."))

    def query(self, *, nested: bool = False) -> Query:
        self.expect("select")
        count = False
        fields: list[tuple[str, ...]] = []
        subqueries: list[Query] = []
        token = self.peek()
        if token is not None and token.keyword == "count":
            self.next()
            self.expect("(")
            self.expect(")")
            count = True
        else:
            self.select_item(fields, subqueries, nested=nested)
            while self.accept(","):
                self.select_item(fields, subqueries, nested=nested)
        self.expect("from")
        sobject = self.next()
        if sobject.kind != "name" or "." in sobject.text:
            raise malformed(f"unexpected token: '{sobject.text}'")
        where = self.condition() if self.accept("where") else None
        order: list[OrderItem] = []
        if self.accept("order"):
            self.expect("by")
            order.append(self.order_item())
            while self.accept(","):
                order.append(self.order_item())
        limit = self.integer() if self.accept("limit") else None
        offset = self.integer() if self.accept("offset") else 0
        if nested:
            self.expect(")")
        elif self.peek() is not None:
            raise malformed(f"unexpected token: '{self.next().text}'")
        return Query(tuple(fields), count, sobject.text, where, tuple(order), limit, offset, tuple(subqueries))

    def select_item(self, fields: list[tuple[str, ...]], subqueries: list[Query], *, nested: bool) -> None:
        """A field path, or (at the top level only) a parenthesised child relationship subquery."""
        if nested or not self.accept("("):
            fields.append(self.path())
            return
        subquery = self.query(nested=True)
        if subquery.count:
            raise malformed("COUNT() is not supported in a relationship subquery")
        subqueries.append(subquery)

    def integer(self) -> int:
        token = self.next()
        if token.kind != "number" or not token.text.isdigit():
            raise malformed(f"unexpected token: '{token.text}', expected a whole number")
        return int(token.text)

    def order_item(self) -> OrderItem:
        path = self.path()
        descending = False
        if self.accept("desc"):
            descending = True
        else:
            self.accept("asc")
        nulls_last = descending
        if self.accept("nulls"):
            if self.accept("last"):
                nulls_last = True
            else:
                self.expect("first")
                nulls_last = False
        return OrderItem(path, descending, nulls_last)

    def condition(self) -> Condition:
        items = [self.negation()]
        operators: set[str] = set()
        while (token := self.peek()) is not None and token.keyword in ("and", "or"):
            operators.add(token.keyword)
            self.next()
            items.append(self.negation())
        if len(operators) > 1:
            raise malformed("unexpected token: 'OR'; use parentheses when mixing AND and OR")
        return items[0] if len(items) == 1 else Junction(operators.pop().upper(), tuple(items))

    def negation(self) -> Condition:
        if self.accept("not"):
            return Negation(self.negation())
        if self.accept("("):
            inner = self.condition()
            self.expect(")")
            return inner
        return self.predicate()

    def predicate(self) -> Condition:
        path = self.path()
        token = self.next()
        if token.kind == "operator":
            operator = "!=" if token.text == "<>" else token.text
            return Comparison(path, operator, self.literal())
        if token.keyword == "like":
            literal = self.next()
            if literal.kind != "string":
                raise malformed(f"unexpected token: '{literal.text}', LIKE needs a string")
            return Like(path, like_pattern(literal.text[1:-1]))
        negated = token.keyword == "not"
        if negated:
            token = self.next()
        if token.keyword == "in":
            self.expect("(")
            literals = [self.literal()]
            while self.accept(","):
                literals.append(self.literal())
            self.expect(")")
            return Membership(path, tuple(literals), negated)
        raise malformed(f"unexpected token: '{token.text}'")

    def literal(self) -> Literal:
        token = self.next()
        if token.kind == "string":
            return Literal("string", unescape(token.text[1:-1]).replace("\\%", "%").replace("\\_", "_"), token.text)
        if token.kind == "number":
            return Literal("number", float(token.text), token.text)
        if token.kind in ("date", "datetime"):
            return Literal(token.kind, token.text, token.text)
        if token.kind == "relative" or (token.kind == "name" and not token.keyword and is_date_literal(token.text)):
            return Literal("date_literal", parse_date_literal(token.text), token.text)
        if token.keyword in ("true", "false"):
            return Literal("boolean", token.keyword == "true", token.text)
        if token.keyword == "null":
            return Literal("null", None, token.text)
        raise malformed(f"unexpected token: '{token.text}'")


def parse(soql: str) -> Query:
    """The syntax tree of ``soql``; ApiError MALFORMED_QUERY when it is not in the supported subset."""
    if not soql or not soql.strip():
        raise malformed("empty query")
    return _Parser(soql).query()
