"""Imports only go down: core ← text ← leaves ← workers ← pipeline/digest ← daemon ← cli.

Every module of readerd/ has a layer, and may import only from its own layer or the
ones below. The leaves (sources, fetch, extract, analyze, store) never import each
other, nor do pipeline and digest; workers runs extract's and analyze's work in
processes. Function-local imports count like the others (they are how the CLI starts
fast, not a way round the layers), and no module imports another module's _private
name.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "readerd"

#: Lowest first. Within a layer listed with several groups, the groups are siblings
#: that never import each other.
LAYERS: list[tuple[str, dict[str, tuple[str, ...]]]] = [
    (
        "core",
        {
            "core": (
                "readerd",
                "readerd.config",
                "readerd.environment",
                "readerd.errors",
                "readerd.exit_codes",
                "readerd.logs",
                "readerd.models",
                "readerd.results",
            )
        },
    ),
    ("text", {"text": ("readerd.text",)}),
    (
        "leaves",
        {
            "sources": ("readerd.sources",),
            "fetch": ("readerd.fetch",),
            "extract": ("readerd.extract",),
            "analyze": ("readerd.analyze",),
            "store": ("readerd.store",),
        },
    ),
    ("workers", {"workers": ("readerd.workers",)}),
    (
        "pipeline/digest",
        {
            "pipeline": ("readerd.pipeline",),
            "digest": ("readerd.digest",),
            "writeback": ("readerd.writeback",),
            "ask": ("readerd.ask",),
        },
    ),
    # The MCP server reads through ask/ and store/: above them, a sibling of the daemon.
    ("daemon", {"daemon": ("readerd.daemon",), "mcp": ("readerd.mcp_server",)}),
    ("cli", {"cli": ("readerd.cli", "readerd.__main__")}),
]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _place(module: str) -> tuple[int, str]:
    """(layer index, group) of a readerd module: the longest matching prefix wins."""
    best: tuple[int, int, str] | None = None
    for rank, (_, groups) in enumerate(LAYERS):
        for group, prefixes in groups.items():
            for prefix in prefixes:
                if _within(module, (prefix,)) and (best is None or len(prefix) > best[0]):
                    best = (len(prefix), rank, group)
    assert best is not None, f"{module} has no layer in tests/test_architecture.py"
    return best[1], best[2]


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every import in the file, function-local ones included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
    return found


def _readerd_imports(path: Path) -> set[str]:
    """The readerd modules a file imports; `from readerd.x import y` counts y if a module."""
    found = set()
    for module, names in _imports(path):
        if module != "readerd" and not module.startswith("readerd."):
            continue
        if module != "readerd":
            found.add(module)
        for name in names:
            candidate = f"{module}.{name}"
            if (PACKAGE.parent / candidate.replace(".", "/")).with_suffix(".py").exists() or (
                PACKAGE.parent / candidate.replace(".", "/") / "__init__.py"
            ).exists():
                found.add(candidate)
    return found


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def test_every_module_has_a_layer() -> None:
    for module in _modules():
        _place(module)


def test_imports_only_go_down() -> None:
    wrong = []
    for module, path in _modules().items():
        rank, group = _place(module)
        for imported in _readerd_imports(path):
            their_rank, their_group = _place(imported)
            if their_rank > rank:
                wrong.append(f"{module} ({LAYERS[rank][0]}) imports {imported} (above it)")
            elif their_rank == rank and their_group != group:
                wrong.append(f"{module} imports its sibling {imported}")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_module_imports_another_modules_private_names() -> None:
    wrong = []
    for module, path in _modules().items():
        for imported, names in _imports(path):
            if imported == "__future__":
                continue
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private:
                wrong.append(f"{module} imports {private} from {imported}")
    assert not wrong, "\n".join(wrong)


#: What only store/ may import: the ORM session, raw SQL text, the migrations tool.
SQL_NAMES = {
    ("sqlmodel", "Session"),
    ("sqlalchemy.orm", "Session"),
    ("sqlalchemy", "text"),
    ("sqlalchemy.sql", "text"),
}


def test_only_store_writes_sql() -> None:
    """No module outside store/ opens a Session, writes SQL text or runs Alembic."""
    for path in PACKAGE.rglob("*.py"):
        module = _module_name(path)
        if _within(module, ("readerd.store",)):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = {(node.module, alias.name) for alias in node.names}
                assert not names & SQL_NAMES, f"{module} imports {sorted(names & SQL_NAMES)}"
                assert not node.module.startswith("alembic"), f"{module} imports {node.module}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith("alembic"), f"{module} imports {alias.name}"


#: Modules that only compute: they build messages or read replies, and may not reach
#: the network, the disk, the clock or the language detector.
PURE_MODULES = ("readerd.analyze.openai.prompts", "readerd.analyze.tools")
IMPURE = ("readerd.text.language", "httpx", "openai", "os", "pathlib", "time", "datetime")


def test_prompt_building_is_pure() -> None:
    modules = _modules()
    for module in PURE_MODULES:
        imported = {name for name, _ in _imports(modules[module])}
        found = sorted(name for name in imported if _within(name, IMPURE))
        assert not found, f"{module} imports {found}: move that work out of it"
