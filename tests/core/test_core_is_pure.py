"""Invariant 3: `core/` is pure. No network, LLM, file-system, clock or randomness imports; no project imports
outside `core`. Checked on the source (every import statement) and on what importing core actually loads. The
example strategy plugins of `strategies/` are held to the same rules: a strategy is deterministic."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT

CORE = REPO_ROOT / "core"
PURE = (CORE, REPO_ROOT / "strategies")
FORBIDDEN_MODULES = {
    "socket", "ssl", "http", "urllib", "httpx", "httpx2", "requests", "aiohttp", "websockets", "asyncio",
    "openai", "mcp", "binance", "binance_common", "binance_sdk_spot",
    "os", "pathlib", "shutil", "io", "tempfile", "glob", "sqlite3", "pickle", "shelve", "gzip", "zipfile",
    "subprocess", "threading", "multiprocessing", "signal", "logging",
    "time", "random", "secrets", "uuid",
}
# datetime is allowed for calendar arithmetic and formatting of timestamps the caller passes in; reading the
# wall clock through it is not.
WALL_CLOCK_METHODS = {"now", "utcnow", "today"}
PROJECT_PACKAGES = {"exchange", "oracle", "memory", "runtime", "tools", "scouts", "reports", "executor", "strategies"}
FORBIDDEN_CALLS = {"open", "print", "input", "exec", "eval", "__import__"}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def test_no_forbidden_imports_in_core_source() -> None:
    offences = []
    files = sorted(path for root in PURE for path in root.rglob("*.py"))
    assert len(files) > 10 and any(p.is_relative_to(PURE[1]) for p in files)
    for path in files:
        for line, module in _imports(path):
            top = module.split(".")[0]
            if top in FORBIDDEN_MODULES or top in PROJECT_PACKAGES:
                offences.append(f"{path.relative_to(REPO_ROOT)}:{line} imports {module}")
    assert not offences, "\n".join(offences)


def test_no_io_builtins_or_wall_clock_in_core() -> None:
    offences = []
    for path in sorted(path for root in PURE for path in root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
                offences.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno} calls {node.func.id}()")
            if isinstance(node, ast.Attribute) and node.attr in WALL_CLOCK_METHODS:
                offences.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno} reads the wall clock (.{node.attr})")
    assert not offences, "\n".join(offences)


def test_importing_core_loads_no_network_or_llm_library() -> None:
    probe = (
        "import sys, importlib, pkgutil, core\n"
        "for m in pkgutil.walk_packages(core.__path__, 'core.'): importlib.import_module(m.name)\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    loaded = set(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                                cwd=REPO_ROOT).stdout.split())
    heavy = {"httpx", "httpx2", "requests", "aiohttp", "websockets", "openai", "mcp", "sqlite3", "binance_sdk_spot"}
    assert not loaded & heavy, f"importing core pulled in {sorted(loaded & heavy)}"
    assert not loaded & {f"{p}" for p in PROJECT_PACKAGES}


def test_the_built_in_strategies_are_core_modules_this_test_checks() -> None:
    """The built-ins are plugins like any other, and they live in core/: every check above covers their source."""
    from core.strategies.registry import BUILT_INS

    checked = {path.resolve() for path in CORE.rglob("*.py")}
    for candidate in BUILT_INS:
        source = Path(sys.modules[candidate.cls.__module__].__file__ or "").resolve()
        assert source in checked, f"{candidate.origin.where} is not in core/"
