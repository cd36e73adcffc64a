"""Run the real command line as a subprocess and read what it left in the journal."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import REPO_ROOT


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BINANCE_", "MAX_", "DAILY_", "WEEKLY_",
                                                                     "DRAWDOWN_", "KELLY_"))}
    env.update({"EXECUTOR_HOME": str(home), "PYTHONUNBUFFERED": "1"}, **extra)
    return env


def run_cli(home: Path, *args: str, timeout: float = 300, **env: str) -> tuple[int, dict[str, Any], str]:
    """`python executor.py ARGS --format json`; returns (exit code, envelope, stderr)."""
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "executor.py"), *args, "--format", "json"],
                          capture_output=True, text=True, timeout=timeout, env=cli_env(home, **env), cwd=REPO_ROOT)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one JSON envelope on stdout, got {proc.stdout!r}; stderr {proc.stderr[-2000:]}"
    return proc.returncode, json.loads(lines[0]), proc.stderr


def start_cli(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(REPO_ROOT / "executor.py"), *args, "--format", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=cli_env(home, **(env or {})), cwd=REPO_ROOT)


def query(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:  # closed at once: a connection left open would keep an old view of a -wal file a test deletes
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def saved_checkpoint(home: Path) -> dict[str, Any] | None:
    """The engine checkpoint a home's journal holds (read-only), or None before the first one."""
    db = home / "journal.db"
    if not db.exists():
        return None
    try:
        rows = query(db, "SELECT document FROM engine_checkpoint WHERE id = 1")
    except sqlite3.Error:  # the journal is being created
        return None
    return json.loads(rows[0][0]) if rows else None


def replace_checkpoint(home: Path, document: dict[str, Any]) -> None:
    """Store `document` as the home's checkpoint the way the executor does (a new generation, and the marker
    after it), for tests that put an engine state in a chosen shape."""
    from memory.home_state import write_marker
    from memory.journal import Journal

    with Journal(home / "journal.db") as journal:
        journal.save_checkpoint(document, written_ms=0)
        write_marker(home, journal.identity())
