"""The custom ``logic`` of a subscription rule, such as ``1 AND (2 OR NOT 3)``.

As in the app, a logic expression must use every criterion number of its rule exactly once.
The parsed expression is kept so that the outbound evaluator runs the same tree the loader checked.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

MAX_LOGIC_DEPTH = 10
"""Five criteria never need more; deeper text is a mistake (and would exhaust the parser's stack)."""
_TOKEN = re.compile(r"\s*(?:(\d+)|(\()|(\))|([A-Za-z]+)|(\S))")


@dataclass(frozen=True)
class Criterion:
    """A reference to criterion ``number`` (1-based)."""

    number: int

    def evaluate(self, results: Sequence[bool]) -> bool:
        return results[self.number - 1]


@dataclass(frozen=True)
class Not:
    operand: "Expression"

    def evaluate(self, results: Sequence[bool]) -> bool:
        return not self.operand.evaluate(results)


@dataclass(frozen=True)
class AllOf:
    operands: tuple["Expression", ...]

    def evaluate(self, results: Sequence[bool]) -> bool:
        return all(operand.evaluate(results) for operand in self.operands)


@dataclass(frozen=True)
class AnyOf:
    operands: tuple["Expression", ...]

    def evaluate(self, results: Sequence[bool]) -> bool:
        return any(operand.evaluate(results) for operand in self.operands)


Expression = Criterion | Not | AllOf | AnyOf


def default_logic(count: int) -> Expression:
    """Criteria without custom logic are ANDed, as in the app."""
    return AllOf(tuple(Criterion(n) for n in range(1, count + 1)))


def parse_logic(text: str, count: int) -> Expression:
    """Parse ``text`` for a rule with ``count`` criteria; raise ValueError naming the problem."""
    tokens = _tokenize(text)
    parser = _Parser(tokens, text)
    expression = parser.parse_or()
    if parser.position != len(tokens):
        raise ValueError(f"logic {text!r}: unexpected {tokens[parser.position][1]!r}")
    used = parser.numbers
    for number in used:
        if not 1 <= number <= count:
            raise ValueError(f"logic {text!r} refers to criterion {number}, but the rule has {count} criteria")
    repeated = sorted({n for n in used if used.count(n) > 1})
    if repeated:
        raise ValueError(f"logic {text!r} uses criterion {repeated[0]} more than once")
    missing = sorted(set(range(1, count + 1)) - set(used))
    if missing:
        names = ", ".join(str(n) for n in missing)
        raise ValueError(f"logic {text!r} must use every criterion number; it leaves out {names}")
    return expression


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    for number, opening, closing, word, other in _TOKEN.findall(text):
        if number:
            tokens.append(("number", number))
        elif opening or closing:
            tokens.append((opening or closing, opening or closing))
        elif word.upper() in ("AND", "OR", "NOT"):
            tokens.append((word.upper(), word))
        else:
            raise ValueError(f"logic {text!r}: {word or other!r} is not allowed; use numbers, AND, OR, NOT and ( )")
    if not tokens:
        raise ValueError("logic is empty; leave it out to AND all criteria")
    return tokens


class _Parser:
    """Recursive descent: or := and (OR and)*; and := unary (AND unary)*; unary := NOT unary | atom."""

    def __init__(self, tokens: list[tuple[str, str]], text: str) -> None:
        self.tokens = tokens
        self.text = text
        self.position = 0
        self.depth = 0
        self.numbers: list[int] = []

    def _peek(self) -> str | None:
        return self.tokens[self.position][0] if self.position < len(self.tokens) else None

    def _take(self, kind: str) -> str:
        if self._peek() != kind:
            found = self.tokens[self.position][1] if self.position < len(self.tokens) else "the end"
            raise ValueError(f"logic {self.text!r}: expected {kind} but found {found!r}")
        self.position += 1
        return self.tokens[self.position - 1][1]

    def parse_or(self) -> Expression:
        operands = [self._parse_and()]
        while self._peek() == "OR":
            self.position += 1
            operands.append(self._parse_and())
        return operands[0] if len(operands) == 1 else AnyOf(tuple(operands))

    def _parse_and(self) -> Expression:
        operands = [self._parse_unary()]
        while self._peek() == "AND":
            self.position += 1
            operands.append(self._parse_unary())
        return operands[0] if len(operands) == 1 else AllOf(tuple(operands))

    def _parse_unary(self) -> Expression:
        if self._peek() in ("NOT", "("):
            self.depth += 1
            if self.depth > MAX_LOGIC_DEPTH:
                raise ValueError(f"logic nests NOT and ( ) more than {MAX_LOGIC_DEPTH} levels deep; simplify it")
        if self._peek() == "NOT":
            self.position += 1
            negated = Not(self._parse_unary())
            self.depth -= 1
            return negated
        if self._peek() == "(":
            self.position += 1
            inner = self.parse_or()
            self._take(")")
            self.depth -= 1
            return inner
        number = int(self._take("number"))
        self.numbers.append(number)
        return Criterion(number)
