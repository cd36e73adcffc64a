"""The journal's side of LLM calls: migration 7, the new columns, redaction and capping, spend for budgets."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

from memory.journal import LLM_TEXT_CAP, Journal
from memory.schema import MIGRATIONS, apply_migrations, schema_version
from tests.llm.support import KEY

V7 = MIGRATIONS.index(next(m for m in MIGRATIONS if m.__name__ == "_v7_llm_call_accounting")) + 1


def test_a_journal_from_before_migration_7_keeps_its_llm_calls(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    conn = sqlite3.connect(path, isolation_level=None)
    apply_migrations(conn, MIGRATIONS[: V7 - 1])
    conn.execute("INSERT INTO llm_calls (time_ms, role, model, prompt_tokens, completion_tokens, latency_ms, ok,"
                 " summary) VALUES (5, 'scout', 'gemma', 10, 2, 300, 1, 'calm')")
    conn.close()
    with Journal(path) as journal:
        [row] = journal.llm_calls()
    assert (row["role"], row["prompt_tokens"], row["summary"], row["attempts"], row["outcome"], row["cost_usd"]) == (
        "scout", 10, "calm", 1, None, None)
    assert schema_version(sqlite3.connect(path)) >= V7


def test_a_call_is_stored_with_its_accounting_redacted_and_capped(tmp_path: Path) -> None:
    with Journal(tmp_path / "journal.db") as journal:
        journal.record_llm_call(
            7, "analyzer", "deepseek-flash", 1200, 80, 900, False, f"saw {KEY}", provider="deepseek", attempts=2,
            billed_attempts=2, cache_hit_tokens=200, cache_miss_tokens=1000, cost_usd=Decimal("0.000123456789"),
            outcome="invalid", reason="schema", prompt="p " * LLM_TEXT_CAP + KEY, answer=f"{{\"k\": \"{KEY}\"}}")
        [row] = journal.llm_calls()
    assert (row["attempts"], row["billed_attempts"]) == (2, 2)
    assert (row["cache_hit_tokens"], row["cache_miss_tokens"]) == (200, 1000)
    assert row["cost_usd"] == Decimal("0.000123456789") and (row["outcome"], row["reason"]) == ("invalid", "schema")
    assert len(row["prompt"]) == LLM_TEXT_CAP + 1 and KEY not in row["answer"] and KEY not in row["summary"]


def test_a_secret_astride_the_cap_is_masked_before_the_cut(tmp_path: Path) -> None:
    with Journal(tmp_path / "journal.db") as journal:
        # The cut falls 16 characters into the key: what is left of it no longer looks like a key.
        journal.record_llm_call(1, "analyzer", "m", None, None, 1, True, "",
                                prompt="p " * ((LLM_TEXT_CAP - 16) // 2) + KEY)
        [row] = journal.llm_calls()
    assert KEY[:12] not in row["prompt"]


def test_spend_sums_a_provider_from_a_time_exactly(tmp_path: Path) -> None:
    with Journal(tmp_path / "journal.db") as journal:
        for time_ms, provider, cost in [(1, "deepseek", "0.1"), (2, "deepseek", "0.2"), (3, "lmstudio", "0"),
                                        (4, "deepseek", None)]:
            journal.record_llm_call(time_ms, "r", "m", 100, 10, 1, True, "", provider=provider,
                                    cost_usd=None if cost is None else Decimal(cost))
        assert journal.llm_spend("deepseek", 0) == (Decimal("0.3"), 330)
        assert journal.llm_spend("deepseek", 2) == (Decimal("0.2"), 220)
        assert journal.llm_spend("lmstudio", 0) == (Decimal(0), 110)
