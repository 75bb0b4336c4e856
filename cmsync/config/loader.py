"""Read a YAML file into ``Settings``; refuse it whole, with every error, when anything is wrong."""

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from cmsync.config.cross_checks import cross_field_issues
from cmsync.config.errors import ConfigError, ConfigIssue, issues_from
from cmsync.config.files import read_small_file
from cmsync.config.model import Settings
from cmsync.config.secrets import UNCHECKED_CREDENTIALS

MAX_NESTING = 20
"""No setting sits deeper than a handful of levels; a deeper file is a mistake (and would exhaust the stack)."""
MAX_VALUES = 100_000
"""More values than any installation needs; a limit that also stops aliases multiplying a small file."""


class _StrictLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a key given twice in one mapping (YAML would keep the last silently), a
    key that is not a plain value, and a date that does not exist, each with its line."""


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, yaml.Mark] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise yaml.constructor.ConstructorError(
                None, None, "a key must be a plain name, not a list or mapping", key_node.start_mark
            )
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


def _checked_timestamp(loader: _StrictLoader, node: yaml.ScalarNode) -> Any:
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)
    except ValueError as error:
        raise yaml.constructor.ConstructorError(
            None, None, f"{node.value!r} is not a real date or time ({error}); quote it if it is text", node.start_mark
        ) from None


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)
_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _checked_timestamp)


def _check_nesting(node: yaml.Node | None) -> None:
    """Refuse nesting deeper than MAX_NESTING or more than MAX_VALUES values (aliases counted each time
    they are used), walking the parsed nodes without recursion."""
    pending = [(node, 1)] if node is not None else []
    count = 0
    while pending:
        current, depth = pending.pop()
        count += 1
        if count > MAX_VALUES:
            raise ConfigError("", [ConfigIssue("", f"holds more than {MAX_VALUES} values")])
        if depth > MAX_NESTING:
            mark = current.start_mark
            raise ConfigError("", [ConfigIssue(f"line {mark.line + 1}", f"nested more than {MAX_NESTING} levels deep")])
        if isinstance(current, yaml.SequenceNode):
            pending.extend((item, depth + 1) for item in current.value)
        elif isinstance(current, yaml.MappingNode):
            pending.extend((value, depth + 1) for _, value in current.value)


def _load_yaml(text: str, source: str) -> Any:
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        _check_nesting(node)
        return loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(source, [ConfigIssue(where, f"not valid YAML: {problem}")]) from None
    except ConfigError as error:
        raise ConfigError(source, error.issues) from None
    except RecursionError:
        raise ConfigError(source, [ConfigIssue("", f"nested more than {MAX_NESTING} levels deep")]) from None
    finally:
        loader.dispose()


def parse_settings(text: str, source: str = "<config>", *, unchecked: list[str] | None = None) -> Settings:
    """Validate YAML text; raise ConfigError naming every mistake.

    With ``unchecked`` (a list), systemd credentials that cannot be read outside their unit are listed
    there instead of refused: that is how ``check-config`` checks a production file from a shell.
    """
    data = _load_yaml(text, source)
    if not isinstance(data, dict):
        raise ConfigError(source, [ConfigIssue("", "the file must hold a mapping of settings (it is empty or a list)")])
    try:
        context = {UNCHECKED_CREDENTIALS: unchecked} if unchecked is not None else None
        return Settings.model_validate(data, context=context)
    except ValidationError as error:
        issues = issues_from(Settings, error)
        issues += [issue for issue in cross_field_issues(data) if issue not in issues]
        raise ConfigError(source, issues) from None


def load_settings(path: str | Path, *, unchecked: list[str] | None = None) -> Settings:
    """Read and validate the configuration file at ``path`` (see ``parse_settings`` for ``unchecked``)."""
    return parse_settings(_read_text(path), str(path), unchecked=unchecked)


def read_yaml(path: str | Path) -> Any:
    """The file at ``path`` parsed, before any validation; raise ConfigError when it is not YAML text."""
    return _load_yaml(_read_text(path), str(path))


def _read_text(path: str | Path) -> str:
    try:
        data = read_small_file(Path(path))
    except ValueError as error:
        raise ConfigError(str(path), [ConfigIssue("", str(error))]) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ConfigError(
            str(path),
            [ConfigIssue(f"line {line}", f"not UTF-8 text (byte 0x{data[error.start]:02x}); save the file as UTF-8")],
        ) from None
