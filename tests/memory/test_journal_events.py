"""Decisions with their clamps, breaker events, the equity curve, LLM calls, errors, counts and batches."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from core.types import Decision, RuleId
from memory.journal import Journal, JournalWriteError
from tests.memory.factories import decision, limit_buy


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / "journal.db") as journal:
        yield journal


def test_decisions_keep_reasons_and_clamps_also_get_their_own_rows(journal: Journal) -> None:
    journal.record_decision(decision(1_000, clamps=2))
    journal.record_decision(decision(2_000))
    first, second = journal.decisions()
    assert first["reasons"] == [
        {"rule": "sizing.kelly", "message": "size: fractional Kelly 0.0500 (prior)", "kind": "note"},
        {"rule": "risk.max_position_size_pct", "message": "risk.max_position_size_pct: quote_amount 250 -> 100",
         "kind": "clamp"}]
    assert first["quote_amount"] == "100.00" and first["time_ms"] == 1_000
    assert [clamp["rule"] for clamp in first["clamps"]] == ["max_position_pct_0", "max_position_pct_1"]
    assert second["clamps"] == []
    clamps = journal.clamps()
    assert [(c["decision_id"], c["rule"], c["requested"], c["applied"], c["source"]) for c in clamps] == [
        (first["id"], "max_position_pct_0", "250", "100", "scout:gemma"),
        (first["id"], "max_position_pct_1", "250", "100", "scout:gemma"),
    ]
    assert journal.clamps(since_ms=1_500) == []


def test_a_decision_journaled_with_plain_text_reasons_still_reads(tmp_path: Path) -> None:
    """Journals written before reasons had rule ids hold them as strings: they read whole, as UNSPECIFIED refusals
    of a skip (a report still counts them) and as notes of any other decision."""
    path = tmp_path / "journal.db"
    with Journal(path) as journal:
        journal.record_decision(decision(1_000))
    old_skip = {**json.loads(decision(2_000).model_dump_json()), "action": "skip",
                "reasons": ["DATA_OUTAGE: no market price for BTCUSDT yet", "size ×1322"]}
    old_enter = {**json.loads(decision(3_000).model_dump_json()), "reasons": ["size: requested 100 (manual)"]}
    with sqlite3.connect(path) as conn:
        for document in (old_skip, old_enter):
            conn.execute("INSERT INTO decisions (time_ms, symbol, strategy, action, decision_json)"
                         " VALUES (?, ?, ?, ?, ?)",
                         (document["time_ms"], "BTCUSDT", "momentum", document["action"], json.dumps(document)))
    conn.close()
    with Journal(path) as journal:
        _, skip, enter = journal.decisions()
        assert skip["reasons"] == [
            {"rule": "unspecified", "message": "DATA_OUTAGE: no market price for BTCUSDT yet", "kind": "refusal"},
            {"rule": "unspecified", "message": "size ×1322", "kind": "refusal"}]
        assert enter["reasons"] == [{"rule": "unspecified", "message": "size: requested 100 (manual)", "kind": "note"}]
        read = Decision.model_validate({k: v for k, v in skip.items() if k != "id"})
        assert read.reasons[0].rule is RuleId.UNSPECIFIED


def test_decisions_returns_the_latest_ones_oldest_first(journal: Journal) -> None:
    with journal.batch():
        for t in range(10):
            journal.record_decision(decision(t))
    assert [d["time_ms"] for d in journal.decisions(limit=3)] == [7, 8, 9]
    assert [d["time_ms"] for d in journal.decisions(since_ms=8)] == [8, 9]


def test_breaker_events(journal: Journal) -> None:
    journal.record_breaker_event(5, "daily_loss", "tripped", "pause", 3.2, 3.0, "daily loss 3.2% > 3.0%")
    journal.record_breaker_event(9, "daily_loss", "reset", "ok", 0.0, 3.0, "new UTC day")
    events = journal.breaker_events()
    assert [(e["time_ms"], e["transition"], e["value_pct"], e["limit_pct"]) for e in events] == [
        (5, "tripped", 3.2, 3.0), (9, "reset", 0.0, 3.0)]
    assert [e["time_ms"] for e in journal.breaker_events(since_ms=6)] == [9]


def test_equity_curve_is_exact_ordered_and_one_point_per_time(journal: Journal) -> None:
    journal.record_equity(30, Decimal("1000.12345678"), Decimal("500"), Decimal("500.12345678"))
    journal.record_equity(10, Decimal("999.5"), Decimal("999.5"), Decimal(0))
    journal.record_equity(20, Decimal("1E+3"), Decimal("1000"), Decimal(0))
    journal.record_equity(20, Decimal("1001"), Decimal("1001"), Decimal(0))
    assert journal.equity_curve() == [(10, Decimal("999.5")), (20, Decimal("1001")), (30, Decimal("1000.12345678"))]
    assert journal.equity_curve(from_ms=20, to_ms=20) == [(20, Decimal("1001"))]
    assert journal.counts()["equity"] == 3


def test_llm_calls_and_errors_are_recorded(journal: Journal) -> None:
    journal.record_llm_call(7, "scout", "gemma-2-2b", 812, 64, 1_234, True, "BTC looks calm; prompt_tokens=812")
    journal.record_llm_call(8, "analyzer", "deepseek-chat", None, None, 30_000, False, "timeout")
    journal.record_error(9, "DATA_OUTAGE", "no bars for 90 s", {"symbol": "ETHUSDT", "age_ms": 90_000,
                                                                "last": Decimal("3000.5")})
    calls = journal.llm_calls()
    assert [(c["role"], c["prompt_tokens"], c["ok"]) for c in calls] == [
        ("scout", 812, True), ("analyzer", None, False)]
    assert calls[0]["summary"] == "BTC looks calm; prompt_tokens=812"
    (error,) = journal.errors()
    assert error["details"] == {"symbol": "ETHUSDT", "age_ms": 90_000, "last": "3000.5"}


def test_counts_has_a_row_count_per_table(journal: Journal) -> None:
    journal.record_order_intent(limit_buy(1), time_ms=1, strategy=None, position_id=None, reason="r")
    journal.record_decision(decision(1, clamps=1))
    counts = journal.counts()
    assert counts["orders"] == 1 and counts["decisions"] == 1 and counts["clamps"] == 1
    assert counts["fills"] == 0 and counts["commands"] == 0
    assert set(counts) >= {"orders", "fills", "decisions", "clamps", "breaker_events", "equity", "llm_calls",
                           "errors", "commands"}


def test_a_batch_is_invisible_to_others_until_it_ends_then_all_there(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with Journal(path) as writer, Journal(path) as reader:
        with writer.batch():
            for t in range(5_000):
                writer.record_decision(decision(t))
                writer.record_equity(t, Decimal(1000 + t), Decimal(1000), Decimal(t))
            assert reader.counts()["decisions"] == 0
        assert reader.counts()["decisions"] == 5_000
        assert reader.counts()["equity"] == 5_000


def test_an_exception_in_a_batch_saves_none_of_it(journal: Journal) -> None:
    with pytest.raises(RuntimeError), journal.batch():
        journal.record_decision(decision(1))
        raise RuntimeError("engine bug")
    assert journal.counts()["decisions"] == 0
    journal.record_decision(decision(2))
    assert journal.counts()["decisions"] == 1


def test_nested_batches_commit_once_with_the_outer_one(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with Journal(path) as writer, Journal(path) as reader, writer.batch():
        with writer.batch():
            writer.record_decision(decision(1))
        assert reader.counts()["decisions"] == 0


def test_a_failed_inner_batch_spoils_the_outer_one(journal: Journal) -> None:
    with pytest.raises(JournalWriteError), journal.batch():
        journal.record_decision(decision(1))
        with pytest.raises(RuntimeError), journal.batch():
            journal.record_decision(decision(2))
            raise RuntimeError("inner failure")
        journal.record_decision(decision(3))
    assert journal.counts()["decisions"] == 0
