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
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute(sql, params).fetchall()
