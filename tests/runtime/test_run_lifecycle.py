"""`run` as a user meets it: crash and restart, a second run on the same home, corrupt memory, a full disk."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from core.filters import rules_from_exchange_info
from exchange.feeds.synthetic import SyntheticMarket
from exchange.paper import PaperExchange
from tests.runtime.helpers import query, run_cli, saved_checkpoint, start_cli

pytestmark = pytest.mark.slow
RUN = ("run", "--mode", "replay", "--synthetic", "--seed", "11", "--steps", "2400", "--no-view",
       "--checkpoint-every", "700")


def _orders(home: Path) -> list[tuple[str, ...]]:
    return query(home / "journal.db", "SELECT client_order_id, symbol, side, type, quantity, status FROM orders "
                                      "ORDER BY client_order_id")


def _fills(home: Path) -> list[tuple[str, ...]]:
    return query(home / "journal.db", "SELECT symbol, trade_id, client_order_id, price, quantity FROM fills "
                                      "ORDER BY symbol, trade_id")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("straight")
    code, envelope, stderr = run_cli(home, *RUN)
    assert code == 0, (envelope, stderr[-3000:])
    assert envelope["data"]["finished"] is True
    assert _orders(home), "the synthetic replay must trade for this test to mean anything"
    return home


def _wait_for_orders(home: Path, proc: subprocess.Popen[str], count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    db = home / "journal.db"
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"run ended before it was killed: {proc.communicate()}"
        if saved_checkpoint(home) is not None:
            try:
                if query(db, "SELECT count(*) FROM orders")[0][0] >= count:
                    return
            except Exception:  # the journal is being created
                pass
        time.sleep(0.05)
    raise AssertionError("the run placed no orders in time")


def test_sigkill_mid_replay_then_restart_loses_and_duplicates_nothing(uninterrupted: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc = start_cli(home, *RUN)
    _wait_for_orders(home, proc, count=6)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    code, envelope, stderr = run_cli(home, *RUN)
    assert code == 0, (envelope, stderr[-3000:])
    data = envelope["data"]
    assert data["resumed_from"] is not None and data["finished"] is True

    orders = _orders(home)
    ids = Counter(o[0] for o in orders)
    assert all(n == 1 for n in ids.values()), "an order was journaled twice"
    assert orders == _orders(uninterrupted), "the restarted run must end exactly where an uninterrupted one does"
    assert _fills(home) == _fills(uninterrupted)
    assert not [o for o in orders if o[5] == "PENDING_SEND"], "an order was left neither sent nor reconciled"

    checkpoint = saved_checkpoint(home)
    assert checkpoint is not None
    exchange_rules = rules_from_exchange_info(SyntheticMarket(seed=11).exchange_info())
    paper = PaperExchange.from_state(checkpoint["paper"], exchange_rules)
    working = {o.list_client_id or o.client_order_id for o in paper.open_orders()}
    for symbol, position in data["open_positions"].items():
        assert position["protected_by"] in working, f"{symbol} is open but its protection is not on the exchange"


def test_second_run_on_the_same_home_refuses_clearly(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = start_cli(home, *RUN[:-2], "--speed", "0.001")  # paced: stays alive while we try a second one
    try:
        deadline = time.monotonic() + 60
        while not (home / "executor.lock").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        code, envelope, _ = run_cli(home, *RUN)
        assert code == 1
        assert envelope["error"]["code"] == "HOME_LOCKED"
        assert "another executor is already running" in envelope["error"]["message"]
        assert str(first.pid) in envelope["error"]["details"]["holder"]
    finally:
        first.send_signal(signal.SIGTERM)
        out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err[-2000:]
    stopped = json.loads(out.strip().splitlines()[-1])["data"]
    assert stopped["stopped_because"] == "signal SIGTERM" and stopped["finished"] is False


def _generation_without_the_wal(db: Path, scratch: Path) -> int:
    """The checkpoint generation the main database file holds by itself (-1 when it holds none yet)."""
    shutil.copyfile(db, scratch)
    conn = sqlite3.connect(f"{scratch.as_uri()}?immutable=1", uri=True)
    try:
        row = conn.execute("SELECT generation FROM engine_checkpoint").fetchone()
    except sqlite3.DatabaseError:
        row = None
    finally:
        conn.close()
    return -1 if row is None else int(row[0])


def _kill_while_the_wal_holds_the_last_checkpoint(home: Path, proc: subprocess.Popen[str], scratch: Path) -> None:
    """SIGKILL the run at a moment its -wal file holds a checkpoint the main file does not (an automatic WAL
    checkpoint may just have copied everything into the main file, and then losing the -wal loses nothing).
    The run is stopped while the files are compared, so what is compared is what the kill leaves."""
    for _ in range(100):
        os.kill(proc.pid, signal.SIGSTOP)
        marker_file = home / "journal.marker.json"
        marker = json.loads(marker_file.read_text(encoding="utf-8")) if marker_file.exists() else None
        if marker is not None and _generation_without_the_wal(home / "journal.db", scratch) < marker["generation"]:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return
        os.kill(proc.pid, signal.SIGCONT)
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    raise AssertionError("the run's -wal file never held a checkpoint beyond its main file")


def test_item4_a_lost_wal_is_refused_not_resumed_as_if_all_were_well(tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc = start_cli(home, *RUN)
    _wait_for_orders(home, proc, count=6)
    _kill_while_the_wal_holds_the_last_checkpoint(home, proc, tmp_path / "main-file-alone.db")
    assert (home / "journal.db-wal").exists(), "a killed run leaves its last commits in the -wal file"
    (home / "journal.db-wal").unlink()
    (home / "journal.db-shm").unlink(missing_ok=True)

    code, envelope, stderr = run_cli(home, *RUN)
    assert code == 1, envelope
    assert envelope["error"]["code"] == "STATE_DIVERGED", envelope
    assert envelope["error"]["details"]["file"] == str(home / "journal.db")
    assert "--accept-journal-rollback" in envelope["error"]["message"]
    assert "Traceback" not in stderr

    code, envelope, stderr = run_cli(home, *RUN, "--accept-journal-rollback")
    assert code == 0, (envelope, stderr[-2000:])
    assert any("accept-journal-rollback" in w for w in envelope["data"]["warnings"]), envelope["data"]["warnings"]
    assert query(home / "journal.db", "SELECT count(*) FROM errors WHERE code = 'JOURNAL_ROLLBACK_ACCEPTED'") == [(1,)]


def test_item4_a_deleted_or_truncated_journal_is_a_clear_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    code, envelope, stderr = run_cli(home, "run", "--mode", "replay", "--synthetic", "--seed", "11", "--steps", "600",
                                     "--no-view")
    assert code == 0, (envelope, stderr[-2000:])
    truncated = tmp_path / "truncated"
    shutil.copytree(home, truncated)
    with open(truncated / "journal.db", "r+b") as handle:
        handle.truncate(8192)
    (home / "journal.db").unlink()

    for broken, expected in ((home, "STATE_DIVERGED"), (truncated, "JOURNAL_UNREADABLE")):
        for command in (RUN, ("status",), ("trade", "--symbol", "BTCUSDT", "--side", "buy", "--quote", "20")):
            code, envelope, stderr = run_cli(broken, *command)
            assert code == 1, (command, envelope)
            assert envelope["error"]["code"] == expected, (command, envelope)
            assert str(broken / "journal.db") in json.dumps(envelope["error"]), envelope
            assert "Traceback" not in stderr
    assert not (home / "journal.db").exists(), "refusing must not create an empty journal in its place"


@pytest.fixture
def tiny_filesystem(tmp_path: Path) -> Path:
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs for a real full-disk test")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_full_disk_stops_trading_with_a_clear_error(tiny_filesystem: Path) -> None:
    home = tiny_filesystem / "home"
    code, envelope, stderr = run_cli(home, *RUN)
    assert code == 1, envelope
    error = envelope["error"]
    assert error["code"] in ("JOURNAL_WRITE_FAILED", "MEMORY_FILE_ERROR"), error
    assert str(home) in json.dumps(error)
    assert "Traceback" not in stderr
    if (home / "journal.db").exists():  # whatever was written before the disk filled is intact and readable
        assert query(home / "journal.db", "PRAGMA integrity_check") == [("ok",)]
