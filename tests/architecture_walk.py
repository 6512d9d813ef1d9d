"""Walks crm/'s imports with ast: which package imports which, and from where.

Shared by tests/test_architecture.py (the rule) and bench/architecture.py (the counts).
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

# Lowest first. A package may import its own modules and any package of a lower
# layer; never one of a higher layer (that is an arrow going back up). Packages on
# one layer do not import each other. Kept in step with docs/architecture.md.
LAYERS: list[set[str]] = [
    {"core"},  # crm/*.py: extensions, database, config, jobs, signals, errors, forms, urls ...
    {"storage"},
    {"shops"},  # the tenant, its LINE channel and its plan rules
    {"staff"},
    {"customers"},  # the ledger
    {"conversations"},  # friends, messages, read state: channel-neutral
    {"line_platform", "line_login"},  # the gateway: webhook in, send pipeline out
    {"linking"},
    {"bookings", "tags"},
    {"autoreply"},  # automatic responses: あいさつ, 時間外, キーワード応答, 予約リマインダー
    {"line_tab", "broadcasts"},  # the LINE tab's UI and its features (drafts, 送信予約); 一斉配信
    {"plans", "digests"},
    {"app"},  # crm/__init__.py, commands.py, demo.py, models.py, wsgi.py: the assembly
]
APP_MODULES = {"crm", "crm.commands", "crm.demo", "crm.models", "crm.ticker", "crm.wsgi"}
VIEW_DECORATORS = {"route", "get", "post", "put", "patch", "delete"}


def rank(package: str) -> int:
    """The layer number of a package (unknown packages sit just under the assembly)."""
    for number, layer in enumerate(LAYERS):
        if package in layer:
            return number
    return len(LAYERS) - 2


@dataclass(frozen=True)
class Import:
    source: str  # importing module, dotted
    target: str  # imported crm module, dotted
    line: int
    in_function: bool
    type_only: bool
    reason: str  # the comment on the import's line, if any


def package_of(module: str) -> str:
    """crm.line_tab.views → line_tab; crm.jobs → core; crm → app."""
    if module in APP_MODULES:
        return "app"
    parts = module.split(".")
    if len(parts) == 2 and not _is_package(parts[1]):
        return "core"
    return parts[1]


_PACKAGES: set[str] = set()


def _is_package(name: str) -> bool:
    return name in _PACKAGES


def module_name(path: Path, crm_dir: Path) -> str:
    """The dotted name of a file under crm/."""
    rel = path.relative_to(crm_dir.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def crm_files(crm_dir: Path) -> list[Path]:
    """Every Python module of the app (migrations are Alembic's, not ours)."""
    return sorted(p for p in crm_dir.rglob("*.py") if "migrations" not in p.parts)


def _resolve(node: ast.ImportFrom, module: str, is_pkg: bool, modules: set[str]) -> list[str]:
    if node.level:
        base = module.split(".") if is_pkg else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    targets = []
    for alias in node.names:
        candidate = f"{prefix}.{alias.name}"
        targets.append(candidate if candidate in modules else prefix)
    return targets


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                for inner in ast.walk(child):
                    if hasattr(inner, "lineno"):
                        lines.add(inner.lineno)
    return lines


def imports(crm_dir: Path) -> list[Import]:
    """Every import of a crm module by a crm module."""
    files = crm_files(crm_dir)
    modules = {module_name(p, crm_dir) for p in files}
    _PACKAGES.clear()
    _PACKAGES.update(p.parent.name for p in files if p.name == "__init__.py" and p.parent != crm_dir)
    found: list[Import] = []
    for path in files:
        source = module_name(path, crm_dir)
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        tree = ast.parse(text)
        type_only = _type_checking_lines(tree)
        in_function: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)):
                        in_function.add(inner.lineno)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.split(".")[0] == "crm"]
            elif isinstance(node, ast.ImportFrom):
                targets = [t for t in _resolve(node, source, path.name == "__init__.py", modules)
                           if t.split(".")[0] == "crm"]
            else:
                continue
            line = lines[node.lineno - 1]
            reason = line.split("#", 1)[1].strip() if "#" in line else ""
            if node.lineno > 1 and not reason:
                above = lines[node.lineno - 2].strip()
                reason = above[1:].strip() if above.startswith("#") else ""
            for target in targets:
                while target not in modules and "." in target:
                    target = target.rpartition(".")[0]
                if target == source:
                    continue
                found.append(Import(source, target, node.lineno, node.lineno in in_function,
                                    node.lineno in type_only, reason))
    return found


def arrows_up(found: list[Import]) -> list[str]:
    """Package-level arrows from a lower layer to a higher one (or across one layer)."""
    arrows = set()
    for imp in found:
        a, b = package_of(imp.source), package_of(imp.target)
        if a == b or imp.type_only:
            continue
        if rank(b) >= rank(a):
            arrows.add(f"{a} → {b}")
    return sorted(arrows)


def _sccs(graph: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return result


def package_cycles(found: list[Import]) -> list[list[str]]:
    """Groups of packages that import each other, in-function imports counted."""
    graph: dict[str, set[str]] = {}
    for imp in found:
        a, b = package_of(imp.source), package_of(imp.target)
        if a != b and not imp.type_only:
            graph.setdefault(a, set()).add(b)
    return _sccs(graph)


def module_cycles(found: list[Import]) -> list[list[str]]:
    """Groups of modules that import each other, in-function imports counted."""
    graph: dict[str, set[str]] = {}
    for imp in found:
        if not imp.type_only:
            graph.setdefault(imp.source, set()).add(imp.target)
    return _sccs(graph)


def view_modules(crm_dir: Path) -> list[Path]:
    """Modules that declare routes (a decorator such as @bp.get or @bp.route)."""
    result = []
    for path in crm_files(crm_dir):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for deco in node.decorator_list:
                    func = deco.func if isinstance(deco, ast.Call) else deco
                    if isinstance(func, ast.Attribute) and func.attr in VIEW_DECORATORS:
                        result.append(path)
                        break
                else:
                    continue
                break
    return result


def commit_calls(paths: list[Path], crm_dir: Path) -> list[str]:
    """Calls of .commit() or .rollback() in the given modules."""
    calls = []
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in {"commit", "rollback"}):
                calls.append(f"{module_name(path, crm_dir)}:{node.lineno}")
    return calls


def long_modules(crm_dir: Path, limit: int = 300) -> list[str]:
    """Modules longer than the limit, with their length."""
    result = []
    for path in crm_files(crm_dir):
        count = len(path.read_text(encoding="utf-8").splitlines())
        if count > limit:
            result.append(f"{module_name(path, crm_dir)} ({count})")
    return result


def measure(crm_dir: Path) -> dict[str, object]:
    """All the counts the issue asks for."""
    found = imports(crm_dir)
    hidden = [i for i in found if i.in_function]
    return {
        "arrows going up": arrows_up(found),
        "package cycles": [" ⇄ ".join(c) for c in package_cycles(found)],
        "module cycles": [" ⇄ ".join(c) for c in module_cycles(found)],
        "in-function crm imports": len(hidden),
        "in-function crm imports without a reason": [
            f"{i.source}:{i.line} → {i.target}" for i in hidden if not i.reason],
        "commit calls in view modules": commit_calls(view_modules(crm_dir), crm_dir),
        "modules over 300 lines": long_modules(crm_dir),
    }
