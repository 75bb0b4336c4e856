"""No module of cmsync or cmsync_sandbox imports under ``if TYPE_CHECKING:``: such an import hides a cycle
from import-linter, so every import must be a real one the layers contracts check (docs/DESIGN.md §2)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("cmsync", "cmsync_sandbox")


def _is_type_checking(test: ast.expr) -> bool:
    """Whether an ``if`` test is ``TYPE_CHECKING`` or ``typing.TYPE_CHECKING`` (alone or in a boolean)."""
    return any(
        (isinstance(node, ast.Name) and node.id == "TYPE_CHECKING")
        or (isinstance(node, ast.Attribute) and node.attr == "TYPE_CHECKING")
        for node in ast.walk(test)
    )


def type_checking_imports(source: str) -> list[int]:
    """The lines of the imports made only under ``if TYPE_CHECKING:`` in ``source``."""
    lines = []
    for statement in ast.walk(ast.parse(source)):
        if isinstance(statement, ast.If) and _is_type_checking(statement.test):
            lines += [
                node.lineno
                for guarded in statement.body
                for node in ast.walk(guarded)
                if isinstance(node, ast.Import | ast.ImportFrom)
            ]
    return sorted(lines)


def _modules() -> list[Path]:
    """Every module of the packages but the generated protobuf ones."""
    return [path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py")) if "_pb2" not in path.name]


def test_the_check_finds_an_import_under_type_checking() -> None:
    source = "import typing\nfrom typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from a import B\n"
    assert type_checking_imports(source) == [5]
    assert type_checking_imports("import typing\nif typing.TYPE_CHECKING:\n    import a\n") == [3]
    assert type_checking_imports("if not DEBUG:\n    import a\n") == []


def test_no_module_imports_under_type_checking() -> None:
    modules = _modules()
    assert len(modules) > 100  # the walk found the packages
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in modules
        for line in type_checking_imports(path.read_text(encoding="utf-8"))
    ]
    assert not found, "imports under `if TYPE_CHECKING:` hide import cycles: " + ", ".join(found)
