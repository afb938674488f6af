"""Imports flow api → rag → index: the HTTP layer reaches the index only through `rag`, and `rag` never
imports the HTTP layer (it builds the app through an entry point)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[1]


def imported(package: str) -> dict[str, set[str]]:
    """Every absolute module each file of `package` imports, by file."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
        found[path.relative_to(ROOT).as_posix()] = names
    return found


def reaching(package: str, target: str) -> dict[str, list[str]]:
    return {
        file: sorted(m for m in modules if m == target or m.startswith(target + "."))
        for file, modules in imported(package).items()
        if any(m == target or m.startswith(target + ".") for m in modules)
    }


def test_no_module_of_the_api_imports_the_index() -> None:
    assert imported("api"), "no api modules found"
    assert reaching("api", "index") == {}


def test_no_module_of_rag_imports_the_api() -> None:
    assert imported("rag"), "no rag modules found"
    assert reaching("rag", "api") == {}


def test_the_desk_imports_no_answering_cache_or_cli() -> None:
    """rag/desk/__init__.py's rule: the answer path uses the desk's disagreement rule, never the reverse."""
    assert imported("rag/desk"), "no desk modules found"
    assert {t: reaching("rag/desk", t) for t in ("rag.answering", "rag.cache", "rag.cli")} == {
        "rag.answering": {}, "rag.cache": {}, "rag.cli": {}
    }  # fmt: skip
