"""Subscription rule evaluation: evaluation time, each criterion by its field's Salesforce type, the logic.

Types decide how values compare, as in the app: booleans by equality, numbers, dates and date-times by
order, text (strings, picklists, emails …) case-insensitively, with ``startswith``, ``contains`` and
``doesnotcontain``. An empty field equals an empty (or no) value, passes ``notequalto`` and
``doesnotcontain`` of anything else, and fails every ordering.
"""

import operator
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from cmsync.config.subscriptions import RuleCriterion, SubscriptionRule
from cmsync.outbound.scope import Scope

NUMBER_TYPES = frozenset({"int", "double", "currency", "percent", "long"})
ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    "equals": operator.eq,
    "notequalto": operator.ne,
    "lessthan": operator.lt,
    "lessorequal": operator.le,
    "greaterthan": operator.gt,
    "greaterorequal": operator.ge,
}


def value_at(record: Mapping[str, Any], path: str) -> Any:
    """A field of a query record, following parent relationships (``Account.Industry``); names in any case."""
    current: Any = record
    for name in path.split("."):
        if not isinstance(current, Mapping):
            return None
        current = next((value for key, value in current.items() if key.lower() == name.lower()), None)
    return current


def _moment(value: Any) -> datetime | date:
    """A date stays a date; a date-time (text from Salesforce or a YAML value) becomes an aware UTC instant."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return value
    text = str(value).strip()
    return date.fromisoformat(text) if len(text) == 10 else _moment(datetime.fromisoformat(text))


def _boolean(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).strip().lower() in ("true", "1", "yes")


def _typed(kind: str, record_value: Any, wanted: Any) -> tuple[Any, Any]:
    """Both sides in the comparable form of the field's type (ValueError when ``wanted`` is not of it)."""
    if kind == "boolean":
        return _boolean(record_value), _boolean(wanted)
    if kind in NUMBER_TYPES:
        return float(record_value), float(wanted)
    if kind in ("date", "datetime"):
        have, want = _moment(record_value), _moment(wanted)
        if isinstance(want, datetime) != isinstance(have, datetime):
            have = have.date() if isinstance(have, datetime) else have
            want = want.date() if isinstance(want, datetime) else want
        return have, want
    return str(record_value).casefold(), str(wanted).casefold()


def _empty(value: Any) -> bool:
    return value is None or value == ""


def criterion_holds(criterion: RuleCriterion, record_value: Any, kind: str) -> bool:
    """Whether one criterion holds for a field value of Salesforce type ``kind``."""
    op, wanted = criterion.op, criterion.value
    if _empty(record_value) or _empty(wanted):
        both_empty = _empty(record_value) and _empty(wanted)
        return both_empty if op == "equals" else not both_empty if op in ("notequalto", "doesnotcontain") else False
    try:
        have, want = _typed(kind, record_value, wanted)
    except ValueError:
        return op in ("notequalto", "doesnotcontain")
    if op in ORDERINGS:
        return ORDERINGS[op](have, want)
    text, part = str(have), str(want)
    if op == "startswith":
        return text.startswith(part)
    if op == "contains":
        return part in text
    return part not in text


def rule_matches(rule: SubscriptionRule, record: Mapping[str, Any], created: bool, scope: Scope) -> bool:
    """Whether a saved record fires ``rule``: its evaluation time fits, and its criteria meet the logic."""
    if (rule.evaluation == "created" and not created) or (rule.evaluation == "edited" and created):
        return False
    results = [
        criterion_holds(criterion, value_at(record, criterion.field), scope.type_of(rule.object, criterion.field))
        for criterion in rule.criteria
    ]
    return rule.expression.evaluate(results)
