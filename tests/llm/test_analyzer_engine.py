"""The analyzer in a real run: the engine, the pump, the paper exchange and the journal, with the DeepSeek fake on
127.0.0.1. The entry order sent is never larger than the one the same run sends without an analyzer."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from core.review import AnalyzerFallback
from memory.journal import Journal
from scouts.analyzer import Analyzer
from tests.fakes.openai_compat import FakeOpenAI, Reply
from tests.llm.support import FixedClock, analyzer
from tests.runtime.test_engine_flow import Rig

MIN_PCT = Decimal("0.5")  # 50 USDT of the rig's 10 000: its momentum entry is above it


def first_entry(rig: Rig) -> tuple[Decimal | None, list[str]]:
    """Rise until momentum decides; the entry's quote amount (None when none was sent) and the decision's clamps."""
    for _ in range(60):
        rig.bar(0.12)
        enters = [d for d in rig.journal.decisions(limit=1000) if d["strategy"] == "momentum"]
        if enters:
            orders = [o for o in rig.journal.orders() if o.client_order_id.startswith("cx-e-")]
            quote = orders[0].quote_order_qty if orders else None
            return quote, [c["rule"] for c in enters[-1]["clamps"]]
    raise AssertionError("a steady rise with closes at the highs should trigger momentum")


def run(tmp: Path, fake: FakeOpenAI | None, fallback: AnalyzerFallback = AnalyzerFallback.SHRINK,
        **env: str) -> tuple[Decimal | None, list[str]]:
    rig = Rig(tmp)
    if fake is not None:
        calls = Journal(tmp / "llm.db", durable=False)
        rig.engine.review = Analyzer(analyzer(fake, calls, FixedClock(), **env), MIN_PCT, fallback)
    try:
        return first_entry(rig)
    finally:
        rig.journal.close()


def test_veto_sends_no_entry(tmp_path: Path, deepseek: FakeOpenAI) -> None:
    plain, _ = run(tmp_path / "plain", None)
    assert plain is not None and plain > MIN_PCT * 100
    deepseek.script(Reply.json({"verdict": "veto", "rule_ids": ["risk.max_position_size_pct"]}))
    quote, clamps = run(tmp_path / "veto", deepseek)
    assert quote is None and clamps == ["advice.veto"]
    assert len(deepseek.completions()) == 1


def test_reduce_and_every_failure_send_a_smaller_entry(tmp_path: Path, deepseek: FakeOpenAI) -> None:
    plain, _ = run(tmp_path / "plain", None)
    assert plain is not None
    deepseek.script(Reply.json({"verdict": "reduce", "size_quote": "60", "rule_ids": ["sizing.kelly"]}))
    reduced, clamps = run(tmp_path / "reduce", deepseek)
    assert reduced is not None and reduced <= Decimal("60") and clamps == ["advice.size_multiplier"]
    deepseek.script(Reply.error(402))
    fallback, _ = run(tmp_path / "402", deepseek)
    assert fallback is not None and fallback <= MIN_PCT * 100 < plain
    deepseek.script(Reply.json({"verdict": "approve", "rule_ids": ["sizing.kelly"]}, keepalive_lines=100,
                               keepalive_every_s=0.05))
    late, _ = run(tmp_path / "late", deepseek, AnalyzerFallback.SKIP, DEEPSEEK_DEADLINE_S="1")
    assert late is None
