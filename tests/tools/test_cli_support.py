"""Helpers for the tests that run `executor.py` as a subprocess: a prepared home, planted fake secrets.

A home with real state comes from a short replay (`run --mode replay --synthetic --seed 3 --steps 1500`):
open positions with OCO protection, a journal with orders and fills, a checkpoint. Every subprocess gets
fake credentials in its environment, and `run_executor` fails the test if any of them is printed.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from memory.journal import Journal
from runtime.home import Home
from tests.runtime.helpers import saved_checkpoint

REPO = Path(__file__).resolve().parents[2]
EXECUTOR = REPO / "executor.py"

FAKE_SECRETS: dict[str, str] = {
    "BINANCE_API_KEY": "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
    "BINANCE_API_SECRET": "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j",
    "DEEPSEEK_API_KEY": "sk-0123456789abcdef0123456789abcdef",
    "TELEGRAM_BOT_TOKEN": "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1",
}
# The rest of a complete Telegram setup (not a secret): `run` refuses half of one at start-up.
CHAT_ID = "-1001234567890"
# Settings that would change what a tool does, so the tests never inherit them from the developer's shell.
_CLEARED = ("EXECUTOR_HOME", "SCAN_SYMBOLS", "TRADE_CONFIRMATION", "TELEGRAM_CHAT_ID", *FAKE_SECRETS)


def closed_loopback_url() -> str:
    """A loopback URL on which nothing listens: the oracle gets a fast refusal, never the internet."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def executor_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _CLEARED}
    return {**env, **FAKE_SECRETS, "TELEGRAM_CHAT_ID": CHAT_ID, "EXECUTOR_HOME": str(home),
            "BINANCE_BASE_URL": closed_loopback_url(),
            "PYTHONUNBUFFERED": "1", **extra}


def assert_no_secret(*texts: str) -> None:
    for name, secret in FAKE_SECRETS.items():
        for text in texts:
            assert secret not in text, f"{name} leaked"


def run_executor(home: Path, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    """`python executor.py ARGS --home HOME`; fails the test if a planted secret shows on stdout or stderr."""
    home_flag = [] if args[0] == "tools" else ["--home", str(home)]
    done = subprocess.run([sys.executable, str(EXECUTOR), *args, *home_flag], cwd=REPO,
                          env=executor_env(home, **env), capture_output=True, text=True, timeout=timeout,
                          check=False)
    assert_no_secret(done.stdout, done.stderr)
    return done


def run_in_process(home: Path, monkeypatch: Any, capsys: Any, *args: str, **env: str) -> tuple[int, str]:
    """`executor.main(ARGS --home HOME)` in this process (fast), with the same environment and secret check.

    Returns the exit code and stdout. The subprocess tests cover the process boundary; this covers the rest.
    """
    import executor

    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)
    for name, value in executor_env(home, **env).items():
        monkeypatch.setenv(name, value)
    code = executor.main([*args, "--home", str(home)] if args[0] != "tools" else list(args))
    out, err = capsys.readouterr()
    assert_no_secret(out, err)
    return code, out


def parsed(code: int, out: str) -> dict[str, Any]:
    """The envelope from an in-process run, checked like `envelope` checks a subprocess's."""
    return envelope(subprocess.CompletedProcess([], code, out, ""))


def envelope(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The one JSON envelope a tool command printed, checked against the contract's shape and exit code."""
    document = json.loads(done.stdout)
    assert set(document) in ({"ok", "tool", "data"}, {"ok", "tool", "error"}), document
    if document["ok"]:
        assert done.returncode == 0, done.stderr
    else:
        assert set(document["error"]) == {"code", "message", "details"}
        expected = 2 if document["error"]["code"] in ("INVALID_ARGUMENT", "INVALID_CONFIG") else 1
        assert done.returncode == expected, (document, done.stderr)
    return document


def replay_into(home: Path) -> Path:
    """A short seeded replay of the synthetic market through the whole engine, as a user would run it."""
    done = run_executor(home, "run", "--mode", "replay", "--synthetic", "--seed", "3", "--steps", "1500",
                        "--no-view", "--format", "json")
    assert done.returncode == 0, done.stderr
    return home


@functools.cache
def _replayed_template() -> Path:
    """One replayed home per test process, copied for each test that needs one (the replay is deterministic)."""
    folder = Path(tempfile.mkdtemp(prefix="executor-home-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return replay_into(folder / "home")


def prepare_home(home: Path) -> Path:
    """A home with real state (open positions with OCO protection, orders and fills in the journal, a
    checkpoint): a copy of this process's replayed home, so each test may change its own freely."""
    shutil.copytree(_replayed_template(), home)
    return home


def journal_counts(home: Path) -> dict[str, int]:
    """Rows per journal table: orders, fills, commands… unchanged means nothing was traded or queued."""
    with Journal(Home(home).journal) as journal:
        return journal.counts()


def test_a_prepared_home_has_orders_fills_and_a_checkpoint(tmp_path):
    home = prepare_home(tmp_path / "home")
    assert not (home / "KILL").exists()
    counts = journal_counts(home)
    assert counts["orders"] > 0 and counts["fills"] > 0
    assert saved_checkpoint(home) is not None


def test_a_planted_secret_would_be_caught():
    leaked = "x " + FAKE_SECRETS["BINANCE_API_SECRET"]
    try:
        assert_no_secret(leaked)
    except AssertionError:
        return
    raise AssertionError("assert_no_secret missed a planted secret")
