"""Reasons of a replayed run: every one names its rule, and a report counts skips by rule, never by parsed text."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from core.config import load_config
from core.types import Decision, ReasonKind, RuleId
from memory.journal import Journal
from reports.build import build_report
from reports.render import render_text
from reports.rule_labels import RULE_LABELS
from runtime.backtest import run_backtest
from runtime.sources import synthetic_source

SEED = 7
REPLAY_WEEK = date(2023, 11, 14)  # the synthetic market runs from 2023-11-14 22:13 to 11-15 00:43 UTC


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("replay") / "run"
    run_backtest(synthetic_source(SEED, None, 9_000), load_config(env={}), out, quote_balance=Decimal(10_000))
    return out / "journal.db"


def test_top_skip_reasons_are_rule_ids_with_their_labels(replayed: Path) -> None:
    """Before rule ids, the sizing note `size: …` of a refused entry counted as a skip reason ("size ×1322") and
    other reasons were grouped as text with their numbers blanked ("# after the fee at stop limit #")."""
    with Journal(replayed, read_only=True) as journal:
        report = build_report(journal, "week", REPLAY_WEEK)
    top = report.decisions.top_skip_reasons
    assert report.decisions.skipped > 0 and top
    for counted in top:
        assert counted.rule is not RuleId.UNSPECIFIED and counted.label == RULE_LABELS[counted.rule]
        assert "#" not in counted.label and "size" not in counted.label
        assert counted.rule not in (RuleId.SIZING_KELLY, RuleId.SIZING_MANUAL)
    line = next(line for line in render_text(report).splitlines() if "top skips" in line)
    assert "#" not in line and "size ×" not in line


def test_every_journaled_reason_names_a_known_rule(replayed: Path) -> None:
    with Journal(replayed, read_only=True) as journal:
        rows = journal.decisions(limit=journal.counts()["decisions"])
    decisions = [Decision.model_validate({k: v for k, v in row.items() if k != "id"}) for row in rows]
    assert any(d.reasons for d in decisions)
    for decision in decisions:
        assert all(r.rule is not RuleId.UNSPECIFIED and r.message for r in decision.reasons), decision
        refusals = [r for r in decision.reasons if r.kind is ReasonKind.REFUSAL]
        assert bool(refusals) == (decision.action == "skip"), decision


def test_every_rule_has_a_label() -> None:
    assert set(RULE_LABELS) == set(RuleId)
    assert all(label.strip() and "#" not in label and "size" not in label for label in RULE_LABELS.values())
