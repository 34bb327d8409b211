"""The package layout holds: imports point one way (sources → store → measures → engine →
scoring → read → surfaces), the read layer knows nothing about surfaces, and the scoring core
touches no database. Checked on the source (AST), following healthscore's own imports
transitively, without importing anything."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import healthscore

SRC = Path(healthscore.__file__).resolve().parent


def _module_file(name: str) -> Path | None:
    rel = name.split(".")[1:]
    for candidate in (SRC.joinpath(*rel).with_suffix(".py"), SRC.joinpath(*rel, "__init__.py")):
        if candidate.is_file():
            return candidate
    return None


def _name_of(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["healthscore", *parts])


@cache
def _imports(path: Path) -> frozenset[str]:
    """Every module a file imports (at any depth of its code), absolute names."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return frozenset(out)


def _closure(package: str) -> dict[str, set[str]]:
    """Module → the modules it reaches through healthscore's own imports (package __init__
    files of the imported modules excluded: they re-export, they are not dependencies)."""
    start = [p for p in (SRC / package.split(".", 1)[1]).rglob("*.py")]
    reached: dict[str, set[str]] = {}
    for path in start:
        seen: set[str] = set()
        todo = [path]
        while todo:
            for name in _imports(todo.pop()):
                if name in seen:
                    continue
                seen.add(name)
                f = _module_file(name) if name.startswith("healthscore.") else None
                if f is not None and f.name != "__init__.py":
                    todo.append(f)
        reached[_name_of(path)] = seen
    return reached


def _offending(package: str, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    return {mod: sorted(n for n in names if n.startswith(forbidden))
            for mod, names in _closure(package).items()
            if any(n.startswith(forbidden) for n in names)}


def test_read_knows_nothing_about_surfaces():
    assert _offending("healthscore.read", ("healthscore.server", "healthscore.api",
                                           "healthscore.web", "healthscore.cli")) == {}


def test_scoring_touches_no_database():
    forbidden = ("duckdb", "ibis", "healthscore.store", "healthscore.engine",
                 "healthscore.sources", "healthscore.measures", "healthscore.read",
                 "healthscore.pipeline", "healthscore.workspace")
    assert _offending("healthscore.scoring", forbidden) == {}


def test_core_layers_do_not_import_surfaces():
    surfaces = ("healthscore.server", "healthscore.api", "healthscore.web", "healthscore.cli")
    for package in ("healthscore.store", "healthscore.sources", "healthscore.measures",
                    "healthscore.engine", "healthscore.scoring", "healthscore.config"):
        assert _offending(package, surfaces) == {}, package


def test_the_check_can_fail():
    """The walker sees a forbidden import: the server reaches the API (by design)."""
    assert _offending("healthscore.server", ("healthscore.api",))
