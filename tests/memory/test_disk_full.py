"""A full disk (SQLite's own SQLITE_FULL, made real with max_page_count): a clear typed error, nothing
half-written, the journal still readable and usable once there is room again."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from memory.journal import Journal, JournalWriteError
from tests.memory.factories import decision, limit_buy

CAP_BYTES = 256 * 1024


def _fill_until_full(journal: Journal) -> tuple[int, JournalWriteError]:
    for n in range(1, 100_000):
        try:
            journal.record_order_intent(limit_buy(n), time_ms=n, strategy="momentum", position_id=None,
                                        reason="filling the disk " * 20)
        except JournalWriteError as exc:
            return n, exc
    raise AssertionError("the capped journal never filled up")


def test_full_disk_raises_a_clear_error_and_saves_nothing_of_the_failed_intent(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with Journal(path, max_size_bytes=CAP_BYTES) as journal:
        failed_at, error = _fill_until_full(journal)
        assert error.code == "JOURNAL_WRITE_FAILED"
        assert error.sqlite_code == "SQLITE_FULL"
        assert str(path) in error.message and "database or disk is full" in error.message
        assert error.details["path"] == str(path)
        assert journal.order(f"cx-test-{failed_at}") is None
        assert len(journal.open_orders()) == failed_at - 1
        assert journal.counts()["order_updates"] == failed_at - 1
    with Journal(path) as reopened:
        assert reopened.order(f"cx-test-{failed_at - 1}") is not None
        assert reopened.record_order_intent(limit_buy(failed_at), time_ms=0, strategy=None, position_id=None,
                                            reason="room again") is True
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def test_full_disk_inside_a_batch_saves_none_of_the_batch(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with Journal(path, max_size_bytes=CAP_BYTES) as journal:
        journal.record_equity(1, Decimal(1000), Decimal(1000), Decimal(0))
        with pytest.raises(JournalWriteError) as raised, journal.batch():
            for t in range(100_000):
                journal.record_decision(decision(t))
        assert raised.value.sqlite_code == "SQLITE_FULL"
        assert journal.counts()["decisions"] == 0
        assert journal.equity_curve() == [(1, Decimal(1000))]
        journal.record_equity(2, Decimal(1001), Decimal(1001), Decimal(0))
        assert len(journal.equity_curve()) == 2


def test_writes_after_a_failure_in_the_same_batch_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with Journal(path, max_size_bytes=CAP_BYTES) as journal:
        with pytest.raises(JournalWriteError), journal.batch():
            failed = None
            for t in range(100_000):
                try:
                    journal.record_decision(decision(t))
                except JournalWriteError as exc:
                    failed = exc
                    break
            assert failed is not None
            journal.record_equity(5, Decimal(1), Decimal(1), Decimal(0))
        assert journal.counts()["decisions"] == 0
        assert journal.counts()["equity"] == 0


def test_no_room_for_the_schema_is_a_clear_error_and_a_later_open_finishes_the_migration(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with pytest.raises(JournalWriteError) as raised:
        Journal(path, max_size_bytes=8 * 1024)
    assert "migrate the schema" in raised.value.message and raised.value.sqlite_code == "SQLITE_FULL"
    with Journal(path) as journal:
        assert journal.counts()["orders"] == 0
