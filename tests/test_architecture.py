"""Imports only go downward: cli → daemon → pipeline/digest → leaves → core."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "readerd"
# Core: settings, tables, errors, result types, and pure text helpers (language, tag
# normalisation) that any leaf may use.
CORE = (
    "readerd.config",
    "readerd.models",
    "readerd.errors",
    "readerd.results",
    "readerd.language",
    "readerd.tags",
)
LEAVES = {
    "sources": ("readerd.sources",),
    "fetch": ("readerd.fetch", "readerd.netguard"),
    "extract": ("readerd.extract", "readerd.sandbox"),
    "analyze": ("readerd.analyze",),
    "store": ("readerd.store", "readerd.library", "readerd.database"),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _readerd_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    # `from readerd import models` names the module it imports; the package root holds
    # only the version, so only the submodules count.
    return {name for name in found if name.startswith("readerd.")} | {
        f"readerd.{alias.name}"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.module == "readerd"
        for alias in node.names
    }


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _modules() -> dict[str, set[str]]:
    return {_module_name(p): _readerd_imports(p) for p in PACKAGE.rglob("*.py")}


def test_core_imports_only_core() -> None:
    for module, imports in _modules().items():
        if _within(module, CORE):
            assert all(_within(i, CORE) for i in imports), f"{module} imports {imports}"


def test_leaves_never_import_each_other() -> None:
    modules = _modules()
    for leaf, prefixes in LEAVES.items():
        for module, imports in modules.items():
            if not _within(module, prefixes):
                continue
            wrong = {i for i in imports if not (_within(i, CORE) or _within(i, prefixes))}
            assert not wrong, f"{leaf} module {module} imports {sorted(wrong)}"
