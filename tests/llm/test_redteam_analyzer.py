"""The red-team corpus against the DeepSeek analyzer itself (`scouts.analyzer.Analyzer`, the real client, over a
socket to the loopback fake): every adversarial answer is used only as a verdict that keeps or shrinks the entry,
or refused and replaced by the fallback; the reviewed entry is never larger than the deterministic rules alone
decide; a server that keeps the answer past the deadline gives the fallback (`deadline`)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from core.review import AnalyzerFallback, ReviewCause, review_cause
from core.risk import clamp_advice
from core.types import DecisionAction
from memory.journal import Journal
from scouts.analyzer import Analyzer
from tests.core.test_risk_support import MONDAY_MS, context
from tests.fakes.openai_compat import FakeOpenAI, Mode
from tests.llm.redteam import (
    RULES,
    AnalyzerCase,
    ReviewResult,
    assert_never_looser,
    baseline,
    effect,
    load_analyzer_corpus,
)
from tests.llm.support import KEY, FixedClock, analyzer

CASES = load_analyzer_corpus()
MIN_PCT = Decimal("1")  # the baseline entry spends 350 of 10 000 (3.5 %): reviewed; the fallback cuts it to 100
EQUITY = context().equity
DEADLINE_S = 3.0  # the keep-alive case trickles for 5 s
ENV = {"DEEPSEEK_DEADLINE_S": str(DEADLINE_S), "LLM_MAX_RETRIES": "2"}


def test_the_analyzer_corpus_covers_every_attack() -> None:
    assert len(CASES) >= 30 and len({case.id for case in CASES}) == len(CASES)
    assert {"enlarge", "number", "rule", "extra_field", "blank", "http", "keepalive", "tool_call"} <= {
        case.kind for case in CASES}
    assert {400, 401, 402, 422, 429, 503} <= {reply.status for case in CASES for reply in case.replies}


@pytest.mark.parametrize("fallback", list(AnalyzerFallback))
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_analyzer_case(case: AnalyzerCase, fallback: AnalyzerFallback, tmp_path: Path) -> None:
    before = baseline()
    cause = review_cause(before, EQUITY, MIN_PCT)
    assert cause is ReviewCause.LARGE
    with Journal(tmp_path / "journal.db", durable=False) as journal, FakeOpenAI(Mode.DEEPSEEK, api_key=KEY) as fake:
        fake.script(*case.replies)
        reviewer = Analyzer(analyzer(fake, journal, FixedClock(), **ENV), MIN_PCT, fallback)
        review = reviewer.review(before, cause, EQUITY, MONDAY_MS)
        [row] = journal.llm_calls()

    if case.result is ReviewResult.VERDICT:
        assert review.answer is not None and review.answer.verdict.value == case.reason
        assert row["outcome"] == "ok"
    else:
        assert review.answer is None and review.fallback_reason is not None
        assert row["outcome"] in ("invalid", "unavailable")
        assert row["reason"] == case.reason if case.reason is not None else row["reason"] in ("not_json", "schema")

    after = clamp_advice(before, [review.advice], MONDAY_MS, rules=RULES)
    assert_never_looser(before, after)
    if case.result is ReviewResult.FALLBACK and fallback is AnalyzerFallback.SKIP:
        assert after.action is not DecisionAction.ENTER
    else:
        assert effect(before, after) is case.order
    if after.action is DecisionAction.ENTER and case.result is ReviewResult.FALLBACK:
        assert after.quote_amount <= EQUITY * MIN_PCT / 100
