"""The checks that weigh one setting against another, run on the file as written, so that they are
reported together with every other mistake (pydantic skips a model's own checks once a field fails)."""

from collections.abc import Iterator
from typing import Any

from cmsync.config.errors import ConfigIssue
from cmsync.config.model import console_problem, schedule_problem, tracking_problem
from cmsync.config.subscriptions import rule_problem, second_mapping_problem, second_rule_problem

_FREQUENCIES = ("never", "hourly", "daily", "weekly")


def cross_field_issues(data: dict[str, Any]) -> list[ConfigIssue]:
    """Every cross-field mistake found in the raw settings, each worded as the model words it; values of
    the wrong type are left to the field checks, which report them."""
    return [
        *_schedule_issues(data.get("sync")),
        *_tracking_issues(data.get("tracking")),
        *_rule_issues(data.get("subscription_rules")),
        *_mapping_issues(data.get("field_mappings")),
        *_console_issues(data.get("console")),
    ]


def _lower(value: object) -> str | None:
    return value.lower() if isinstance(value, str) else None


def _schedule_issues(sync: object) -> Iterator[ConfigIssue]:
    if not isinstance(sync, dict):
        return
    frequency = _lower(sync.get("import_frequency", "hourly"))
    at = sync.get("at")
    if isinstance(at, int) and not isinstance(at, bool):
        at = f"{at // 3600:02d}:{at // 60 % 60:02d}"
    weekday = sync.get("weekday")
    if frequency not in _FREQUENCIES or not isinstance(at, str | None) or not isinstance(weekday, str | None):
        return
    problem = schedule_problem(frequency, at, weekday)
    if problem:
        yield ConfigIssue("sync", problem)


def _tracking_issues(tracking: object) -> Iterator[ConfigIssue]:
    if isinstance(tracking, dict) and tracking.get("types") == []:
        problem = tracking_problem(tracking.get("enabled", True) is not False, [])
        if problem:
            yield ConfigIssue("tracking", problem)


def _console_issues(console: object) -> Iterator[ConfigIssue]:
    if isinstance(console, dict):
        problem = console_problem(console.get("listen") is not None, console.get("password") is not None)
        if problem:
            yield ConfigIssue("console", problem)


def _rule_issues(rules: object) -> Iterator[ConfigIssue]:
    if not isinstance(rules, list):
        return
    keys = []
    for index, rule in enumerate(rules):
        if not isinstance(rule, dict):
            continue
        action, evaluation, criteria, logic = (
            _lower(rule.get("action")),
            rule.get("evaluation"),
            rule.get("criteria", []),
            rule.get("logic"),
        )
        record_object = rule.get("object")
        if isinstance(rule.get("list"), str) and isinstance(record_object, str) and action in ("add", "delete"):
            keys.append((index, (rule["list"], record_object.capitalize(), action)))
        if action in ("add", "delete") and isinstance(criteria, list) and isinstance(logic, str | None):
            problem = rule_problem(action, _lower(evaluation), len(criteria), logic)
            if problem:
                yield ConfigIssue(f"subscription_rules[{index}]", problem)
    problem = second_rule_problem(keys)
    if problem:
        yield ConfigIssue("subscription_rules", problem)


def _mapping_issues(mappings: object) -> Iterator[ConfigIssue]:
    if not isinstance(mappings, list):
        return
    fields = [
        (index, mapping["list"], mapping["cm_field"])
        for index, mapping in enumerate(mappings)
        if isinstance(mapping, dict)
        and isinstance(mapping.get("list"), str)
        and isinstance(mapping.get("cm_field"), str)
    ]
    problem = second_mapping_problem(fields)
    if problem:
        yield ConfigIssue("field_mappings", problem)
