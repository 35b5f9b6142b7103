"""The layers import only downward, and no module imports itself back (docs/architecture.md).

    app (bot/*: app factory, run modes, CLIs)  may import everything
      handlers/                                 services, domain, bot.config
        bot/services/                           domain, bot.config (never storage: they type against
                                                bot.domain.ports)
          storage/                              domain (aiogram only for the FSM storage)
          bot/domain/                           nothing of the project; no aiogram, no database, no network
    bot/config.py                               domain only (never imported by domain or storage)

Every import is read from the source with ast, module level and function level alike (a lazy import is
still a dependency), ``if TYPE_CHECKING:`` blocks included.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "handlers", "storage")

#: Which layers a layer may import (its own included).
ALLOWED: dict[str, frozenset[str]] = {
    "domain": frozenset({"domain"}),
    "storage": frozenset({"domain", "storage"}),
    "config": frozenset({"domain", "config"}),
    "services": frozenset({"domain", "config", "services"}),
    "handlers": frozenset({"domain", "config", "services", "handlers"}),
    "app": frozenset({"domain", "config", "services", "handlers", "storage", "app"}),
}
#: Third-party packages a layer must not import (the domain is pure: no Telegram, no database, no network).
FORBIDDEN: dict[str, frozenset[str]] = {
    "domain": frozenset({"aiogram", "aiosqlite", "sqlite3", "asyncpg", "redis", "aiohttp", "apscheduler",
                         "pydantic_settings"}),
    "services": frozenset({"aiosqlite", "sqlite3", "asyncpg", "redis"}),
    "handlers": frozenset({"aiosqlite", "sqlite3", "asyncpg", "redis", "apscheduler"}),
}
#: The storage modules that are aiogram components (the FSM storages: SQLite with its commit barrier, Redis).
STORAGE_AIOGRAM = {"storage.fsm", "storage.fsm_redis"}


def layer(module: str) -> str | None:
    """The layer of a project module (None: not ours)."""
    top = module.split(".")[0]
    if top not in PACKAGES:
        return None
    if module == "bot.config":
        return "config"
    if module == "bot.domain" or module.startswith("bot.domain."):
        return "domain"
    if module == "bot.services" or module.startswith("bot.services."):
        return "services"
    if top == "bot":
        return "app"
    return top


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports(module: str, path: Path, known: dict[str, Path]) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every import in the file, at any depth."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield node.lineno, sub if sub in known else base


def violations() -> list[str]:
    known = modules()
    found = []
    for module, path in known.items():
        own = layer(module)
        assert own is not None
        for line, target in imports(module, path, known):
            where = f"{path.relative_to(ROOT)}:{line} ({own})"
            theirs = layer(target)
            third_party = target.split(".")[0]
            if theirs is not None and theirs not in ALLOWED[own]:
                found.append(f"{where} imports {target} ({theirs})")
            elif theirs is None and third_party in FORBIDDEN.get(own, ()):
                found.append(f"{where} imports {target}")
            elif own == "storage" and third_party == "aiogram" and module not in STORAGE_AIOGRAM:
                found.append(f"{where} imports {target}: only {', '.join(STORAGE_AIOGRAM)} is an aiogram part")
    return found


def cycles() -> list[list[str]]:
    """Groups of project modules that import each other, directly or through others (Tarjan)."""
    known = modules()
    graph = {m: {t for _, t in imports(m, p, known) if t in known and t != m} for m, p in known.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_every_module_is_in_a_layer():
    assert {layer(m) for m in modules()} == set(ALLOWED)


def test_imports_point_down_the_layers():
    found = violations()
    assert not found, "imports against the layers:\n" + "\n".join(found)


def test_no_import_circles():
    found = cycles()
    assert not found, "modules that import each other:\n" + "\n".join(" <-> ".join(g) for g in found)


def test_the_checks_see_what_they_guard(tmp_path):
    """The walker finds a function-level import, a relative one and a TYPE_CHECKING one."""
    source = tmp_path / "probe.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from storage.db import Database\n"
        "def f():\n    from handlers import get_router\n    return get_router\n"
        "from . import text\n",
        encoding="utf-8",
    )
    known = modules()
    found = {t for _, t in imports("bot.domain.probe", source, known)}
    assert {"storage.db", "handlers", "bot.domain.text"} <= found
