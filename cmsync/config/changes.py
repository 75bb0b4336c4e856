"""What a reload changes: the setting paths whose values differ between two configurations.

Secret values are compared but never shown: a changed secret is reported by its path alone.
"""

from typing import Any

from pydantic import BaseModel, SecretStr

RESTART_SECTIONS = ("broker", "state", "metrics")
"""Sections a reload cannot swap in a running process (its connections and port are made at start)."""


def _flatten(value: Any, path: str, into: dict[str, Any]) -> None:
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _flatten(getattr(value, name), f"{path}.{name}" if path else name, into)
    elif isinstance(value, list) and value and isinstance(value[0], BaseModel):
        into[path] = [item.model_dump(mode="json") for item in value]
    elif isinstance(value, SecretStr):
        into[path] = ("secret", value.get_secret_value())
    else:
        into[path] = value


def changed_settings(old: BaseModel, new: BaseModel) -> list[str]:
    """The paths (``tracking.days_to_keep``, ``subscription_rules`` …) whose values differ, in model order."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    _flatten(old, "", before)
    _flatten(new, "", after)
    return [path for path in after if before.get(path) != after[path]]


def needs_restart(paths: list[str]) -> list[str]:
    """The changed paths a reload leaves as they were until the next restart."""
    return [path for path in paths if path.split(".", 1)[0] in RESTART_SECTIONS]
