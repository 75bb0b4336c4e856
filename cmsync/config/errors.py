"""Configuration errors that name the setting's path, what was given and what is allowed."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from cmsync.config.secrets import SECRET_SETTING_NAMES
from cmsync.redaction import REDACTOR

MAX_SHOWN = 80
"""A value given is quoted in an error up to this many characters, so one mistake stays one line."""
_UNION_TAGS = frozenset({"api_key", "oauth", "jwt", "refresh_token"})
_UNION_OWNERS = frozenset({"auth"})


@dataclass(frozen=True)
class ConfigIssue:
    """One mistake in a configuration file."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(Exception):
    """A configuration was refused; ``issues`` holds every mistake found, section by section."""

    def __init__(self, source: str, issues: Iterable[ConfigIssue]) -> None:
        self.source = source
        self.issues = list(issues)
        count = len(self.issues)
        super().__init__(f"{source}: {count} error{'s' if count != 1 else ''}")

    def report(self) -> str:
        """Every issue on a line of its own, prefixed by the file, as ``nginx -t`` does; each message has
        been through the redactor (the setting's path is left alone: ``api_key:`` is a name, not a secret)."""
        lines = [str(self)]
        for issue in self.issues:
            message = " ".join(REDACTOR.text(issue.message).split())
            lines.append(f"{self.source}: {issue.path}: {message}" if issue.path else f"{self.source}: {message}")
        return "\n".join(lines)


def _path(loc: tuple[int | str, ...]) -> tuple[str, tuple[int | str, ...]]:
    text = ""
    kept: list[int | str] = []
    for position, part in enumerate(loc):
        if isinstance(part, str) and part in _UNION_TAGS and position and loc[position - 1] in _UNION_OWNERS:
            continue
        kept.append(part)
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text, tuple(kept)


def _allowed_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The setting names allowed beside an unknown key, found by walking the model along ``loc``."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        current = _model_inside(field.annotation)
        if current is None:
            return []
    return list(getattr(current, "model_fields", {}))


def _model_inside(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in getattr(annotation, "__args__", ()):
        found = _model_inside(argument)
        if found is not None:
            return found
    return None


def _given(error: ErrorDetails, secret: bool) -> str:
    if secret:
        return "the value given"
    value = error.get("input")
    if isinstance(value, dict | list):
        return f"a {type(value).__name__}"
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else f"{text[: MAX_SHOWN - 1]}…"


def _message(model: type[BaseModel], error: ErrorDetails, loc: tuple[int | str, ...]) -> str:
    kind = error["type"]
    secret = bool(loc) and str(loc[-1]) in SECRET_SETTING_NAMES
    context = error.get("ctx") or {}
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, loc)
        suffix = f"; allowed here: {', '.join(allowed)}" if allowed else ""
        return f"unknown setting (a typo?){suffix}"
    if kind == "missing":
        return "is required but missing"
    if kind == "value_error":
        return str(context.get("error", error["msg"]))
    if kind == "assertion_error":
        return error["msg"]
    if kind == "auth_kind":
        return error["msg"]
    if kind == "literal_error":
        return f"{_given(error, secret)} is not allowed; expected one of {context.get('expected')}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        return f"{_given(error, secret)} is not allowed; {error['msg'].lower().replace('input should be', 'must be')}"
    if kind == "too_long":
        return f"has {context.get('actual_length')} items; at most {context.get('max_length')} are allowed"
    if kind == "too_short":
        return f"has {context.get('actual_length')} items; at least {context.get('min_length')} required"
    if kind == "string_pattern_mismatch":
        return f"{_given(error, secret)} does not have the expected form {context.get('pattern')}"
    return f"{_given(error, secret)} is not allowed: {error['msg']}"


def issues_from(model: type[BaseModel], error: ValidationError) -> list[ConfigIssue]:
    """Translate pydantic's errors into path-named issues, hiding the values of secret settings."""
    issues = []
    for detail in error.errors(include_url=False):
        text, loc = _path(detail["loc"])
        issues.append(ConfigIssue(text, _message(model, detail, loc)))
    return issues
