"""The shape the code keeps, checked (the import layering itself is import-linter's, in pyproject.toml).

- docs/architecture.md names only files that exist, and names every module of the game and inference
  apps, so the newcomer's map cannot silently go stale;
- consumers stay thin: they never reach the ORM themselves (the game's writes are actions, its reads
  selectors);
- management commands only parse arguments and print: no ORM writes and no module-level helpers of
  their own (library code lives in modules, where tests and other callers reach it too).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "architecture.md"
APPS = ("config", "game", "inference", "training", "tools")
CONSUMERS = [REPO / "game" / "consumers.py", REPO / "inference" / "consumers.py"]
COMMANDS = sorted(
    p for app in APPS for p in (REPO / app / "management" / "commands").glob("*.py") if p.name != "__init__.py"
)
ORM_CALLS = {
    "objects",
    "save",
    "delete",
    "bulk_create",
    "bulk_update",
    "update_or_create",
    "get_or_create",
    "select_for_update",
}


def named_paths(text: str) -> set[str]:
    return set(re.findall(r"`((?:[a-z_]+/)+[A-Za-z_.]+\.(?:py|js|md|toml|html|txt))`", text))


def test_the_architecture_page_names_only_files_that_exist():
    missing = sorted(p for p in named_paths(DOC.read_text()) if not (REPO / p).exists())
    assert not missing, f"docs/architecture.md names files that do not exist: {missing}"


@pytest.mark.parametrize("app", ["game", "inference"])
def test_the_architecture_page_names_every_module_of_the_runtime_apps(app):
    named = named_paths(DOC.read_text())
    modules = sorted(
        f"{app}/{p.name}"
        for p in (REPO / app).glob("*.py")
        if p.name not in {"__init__.py", "apps.py", "admin.py", "urls.py", "routing.py"}
    )
    unnamed = [m for m in modules if m not in named]
    assert not unnamed, f"docs/architecture.md does not say what these are for: {unnamed}"


def attribute_names(tree: ast.AST) -> set[str]:
    return {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}


@pytest.mark.parametrize("path", CONSUMERS, ids=lambda p: str(p.relative_to(REPO)))
def test_consumers_never_reach_the_orm_themselves(path):
    used = attribute_names(ast.parse(path.read_text())) & ORM_CALLS
    assert not used, f"{path.name} uses the ORM directly ({sorted(used)}): call an action or a selector"


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: str(p.relative_to(REPO)))
def test_management_commands_only_parse_arguments(path):
    tree = ast.parse(path.read_text())
    helpers = [node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]
    assert not helpers, f"{path.name} defines library code {helpers}: move it into a module"
    writes = attribute_names(tree) & (ORM_CALLS - {"objects"})
    assert not writes, f"{path.name} writes through the ORM ({sorted(writes)}): call a service"


def test_every_app_has_commands_to_check():
    assert len(COMMANDS) >= 8, COMMANDS  # the glob above would pass vacuously if the layout moved
