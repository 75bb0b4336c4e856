"""Read a YAML file into ``Settings``; refuse it whole, with every error, when anything is wrong."""

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from cmsync.config.errors import ConfigError, ConfigIssue, issues_from
from cmsync.config.model import Settings
from cmsync.config.secrets import UNCHECKED_CREDENTIALS


class _StrictLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a key given twice in one mapping (YAML would keep the last silently)."""


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, yaml.Mark] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"key {key!r} is given twice (first on line {seen[key].line + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def parse_settings(text: str, source: str = "<config>", *, unchecked: list[str] | None = None) -> Settings:
    """Validate YAML text; raise ConfigError naming every mistake.

    With ``unchecked`` (a list), systemd credentials that cannot be read outside their unit are listed
    there instead of refused: that is how ``check-config`` checks a production file from a shell.
    """
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(source, [ConfigIssue(where, f"not valid YAML: {problem}")]) from None
    if not isinstance(data, dict):
        raise ConfigError(source, [ConfigIssue("", "the file must hold a mapping of settings (it is empty or a list)")])
    try:
        context = {UNCHECKED_CREDENTIALS: unchecked} if unchecked is not None else None
        return Settings.model_validate(data, context=context)
    except ValidationError as error:
        raise ConfigError(source, issues_from(Settings, error)) from None


def load_settings(path: str | Path, *, unchecked: list[str] | None = None) -> Settings:
    """Read and validate the configuration file at ``path`` (see ``parse_settings`` for ``unchecked``)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(str(path), [ConfigIssue("", f"cannot read the file: {error.strerror}")]) from None
    return parse_settings(text, str(path), unchecked=unchecked)
