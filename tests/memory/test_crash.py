"""Crash safety: a writer SIGKILLed mid-batch leaves a readable journal with every committed intent."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from core.types import OrderStatus
from memory.journal import Journal
from tests.conftest import REPO_ROOT
from tests.memory.crash_writer_process import HALF


def _run_and_kill(path: Path, extra_args: list[str], kill_after: str, intents_needed: int) -> list[str]:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.memory.crash_writer_process", str(path), *extra_args],
        cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    acknowledged: list[str] = []
    try:
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith("intent "):
                acknowledged.append(line.split()[1])
            if line.strip() == kill_after and len(acknowledged) >= intents_needed:
                break
            assert line.strip() != "finished", "the writer finished before it could be killed"
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    return acknowledged


def _check_journal(path: Path, acknowledged: list[str]) -> Counter[int]:
    with Journal(path) as journal:
        journaled = {row.client_order_id for row in journal.open_orders()}
        assert all(journal.order(cid).status is OrderStatus.PENDING_SEND for cid in journaled)  # type: ignore[union-attr]
    assert set(acknowledged) <= journaled, "an intent acknowledged to the caller was lost"
    last = len(acknowledged)
    assert journaled <= {f"cx-test-{i}" for i in range(1, last + 2)}, "an intent appeared that was never made"
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        per_round = Counter(dict(conn.execute("SELECT time_ms, COUNT(*) FROM decisions GROUP BY time_ms").fetchall()))
    finally:
        conn.close()
    assert set(per_round.values()) <= {HALF, 2 * HALF}, "a batch was saved in part"
    assert all(per_round[i] >= HALF for i in range(1, last + 1))
    return per_round


def test_kill_while_blocked_inside_a_batch(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    acknowledged = _run_and_kill(path, ["--block-at", "20"], "blocked mid-batch", 20)
    assert len(acknowledged) == 20
    per_round = _check_journal(path, acknowledged)
    assert per_round[20] == HALF, "rows written after the intent in an unfinished batch must not be saved"
    assert all(per_round[i] == 2 * HALF for i in range(1, 20))


@pytest.mark.parametrize("intents_before_kill", [3, 40])
def test_kill_at_an_arbitrary_moment(tmp_path: Path, intents_before_kill: int) -> None:
    path = tmp_path / "journal.db"
    acknowledged = _run_and_kill(path, [], f"intent cx-test-{intents_before_kill}", intents_before_kill)
    _check_journal(path, acknowledged)
