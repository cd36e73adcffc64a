"""Schema migrations: a fresh journal reaches the latest version in WAL mode; re-opening changes nothing."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from memory.journal import Journal, JournalTooNew, JournalUnreadable
from memory.schema import LATEST_VERSION, MIGRATIONS, apply_migrations, schema_version
from tests.memory.factories import limit_buy


def _pragma(path: Path, name: str) -> object:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        conn.close()


def test_fresh_journal_reaches_latest_version_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    Journal(path).close()
    assert _pragma(path, "user_version") == LATEST_VERSION == len(MIGRATIONS)
    assert _pragma(path, "journal_mode") == "wal"


def test_reopening_is_a_no_op_and_keeps_rows(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with Journal(path) as journal:
        journal.record_order_intent(limit_buy(1), time_ms=1, strategy=None, position_id=None, reason="r")
    conn = sqlite3.connect(path)
    schema_before = conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
    conn.close()
    with Journal(path) as journal:
        assert journal.order("cx-test-1") is not None
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == schema_before
    assert apply_migrations(conn) == []
    conn.close()


def test_migrations_apply_in_order_once_each(tmp_path: Path) -> None:
    ran: list[int] = []

    def step(n: int):
        def migrate(conn: sqlite3.Connection) -> None:
            ran.append(n)
            conn.execute(f"CREATE TABLE t{n} (x)")

        return migrate

    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    assert apply_migrations(conn, [step(1), step(2)]) == [1, 2]
    assert apply_migrations(conn, [step(1), step(2), step(3)]) == [3]
    assert apply_migrations(conn, [step(1), step(2), step(3)]) == []
    assert ran == [1, 2, 3]
    assert schema_version(conn) == 3


def test_a_failing_migration_leaves_the_previous_version_intact(tmp_path: Path) -> None:
    def good(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE kept (x)")

    def half_done(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half (x)")
        raise RuntimeError("migration bug")

    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    with pytest.raises(RuntimeError):
        apply_migrations(conn, [good, half_done])
    assert schema_version(conn) == 1
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"kept"}


def test_a_journal_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    Journal(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(JournalTooNew) as raised:
        Journal(path)
    assert raised.value.code == "JOURNAL_SCHEMA_TOO_NEW"
    assert str(path) in raised.value.message


def test_a_file_that_is_not_a_journal_is_refused_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    path.write_bytes(b"this is not an SQLite database, it is a text file " * 100)
    with pytest.raises(JournalUnreadable) as raised:
        Journal(path)
    assert str(path) in raised.value.message


def test_several_connections_opening_a_fresh_journal_at_once_all_succeed(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    start = threading.Barrier(4)
    failures: list[BaseException] = []

    def open_and_write(n: int) -> None:
        start.wait()
        try:
            with Journal(path) as journal:
                journal.record_order_intent(limit_buy(n), time_ms=n, strategy=None, position_id=None, reason="r")
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=open_and_write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert _pragma(path, "user_version") == LATEST_VERSION
    with Journal(path) as journal:
        assert len(journal.orders()) == 4
