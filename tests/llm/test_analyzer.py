"""The DeepSeek analyzer against the loopback fake (DeepSeek mode): every answer, and every failure, ends as advice
that the clamp applies, and the entry is never larger than without the analyzer."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.review import (
    AnalyzerAnswer,
    AnalyzerFallback,
    ReviewCause,
    ReviewVerdict,
    fallback_advice,
    review_cause,
    verdict_advice,
)
from core.risk import clamp_advice
from core.types import Decision, DecisionAction, RuleId
from memory.journal import Journal
from scouts.analyzer import Analyzer, Review
from tests.core.test_risk_support import MONDAY_MS, btc_rules, enter_decision
from tests.fakes.openai_compat import FakeOpenAI, Reply
from tests.llm.support import FixedClock, analyzer

RULES = btc_rules()
EQUITY = Decimal("10000")
MIN_PCT = Decimal("5")  # the entry below spends 2000, 20 % of equity: it is reviewed
ENTRY = enter_decision()
RELIES = ["risk.max_position_size_pct"]


def review(fake: FakeOpenAI, journal: Journal, fallback: AnalyzerFallback = AnalyzerFallback.SHRINK,
           **env: str) -> tuple[Review, Decision]:
    posted: list[Review] = []
    reviewer = Analyzer(analyzer(fake, journal, FixedClock(), **env), MIN_PCT, fallback,
                        on_verdict=lambda r, _d: posted.append(r))
    cause = review_cause(ENTRY, EQUITY, MIN_PCT)
    assert cause is ReviewCause.LARGE
    done = reviewer.review(ENTRY, cause, EQUITY, MONDAY_MS)
    assert posted == [done]  # the research-channel hook sees every verdict
    after = clamp_advice(ENTRY, [done.advice], MONDAY_MS, rules=RULES)
    assert after.quote_amount <= ENTRY.quote_amount and after.quantity <= ENTRY.quantity
    return done, after


def test_approve_keeps_the_entry(deepseek: FakeOpenAI, journal: Journal) -> None:
    deepseek.script(Reply.json({"verdict": "approve", "rule_ids": RELIES, "reason": "fine"}))
    done, after = review(deepseek, journal)
    assert done.answer is not None and done.fallback_reason is None
    assert after == ENTRY


def test_reduce_shrinks_to_the_size_asked(deepseek: FakeOpenAI, journal: Journal) -> None:
    deepseek.script(Reply.json({"verdict": "reduce", "size_quote": "1000", "rule_ids": RELIES}))
    _, after = review(deepseek, journal)
    assert after.action is DecisionAction.ENTER and after.quantity == Decimal("0.02500")
    assert [c.rule for c in after.clamps] == [RuleId.ADVICE_SIZE]
    assert after.clamps[0].source == "analyzer"


def test_reduce_to_more_than_proposed_enlarges_nothing(deepseek: FakeOpenAI, journal: Journal) -> None:
    deepseek.script(Reply.json({"verdict": "reduce", "size_quote": "90000", "rule_ids": RELIES}))
    _, after = review(deepseek, journal)
    assert after == ENTRY


def test_veto_skips(deepseek: FakeOpenAI, journal: Journal) -> None:
    deepseek.script(Reply.json({"verdict": "veto", "rule_ids": ["breaker.daily_loss"], "reason": "conflict"}))
    _, after = review(deepseek, journal)
    assert after.action is DecisionAction.SKIP
    assert [c.rule for c in after.clamps] == [RuleId.ADVICE_VETO]


THRESHOLD_QUANTITY = Decimal("0.01250")  # 500 USDT (5 % of 10 000) at 40 000


@pytest.mark.parametrize("replies, env", [
    ([Reply.json({"verdict": "approve", "rule_ids": ["risk.raise_everything"]})], {}),  # unknown rule id
    ([Reply(content="{not json at all")], {}),
    ([Reply.json({"verdict": "approve", "rule_ids": RELIES, "size_quote": "1e309"})], {}),
    ([Reply.json({"verdict": "approve", "rule_ids": RELIES}, keepalive_lines=100, keepalive_every_s=0.05)],
     {"DEEPSEEK_DEADLINE_S": "1"}),  # keep-alive blank lines past the deadline
    ([Reply.error(402)], {}),
    ([Reply.json({"verdict": "approve", "rule_ids": RELIES})], {"DEEPSEEK_DAILY_BUDGET_USD": "0"}),
], ids=["unknown-rule-id", "junk-json", "overflow-size", "deadline", "402", "budget-reached"])
def test_no_usable_answer_cuts_the_entry_to_the_threshold(deepseek: FakeOpenAI, journal: Journal,
                                                           replies: list[Reply], env: dict[str, str]) -> None:
    deepseek.script(*replies)
    done, after = review(deepseek, journal, **env)
    assert done.answer is None and done.fallback_reason
    assert after.action is DecisionAction.ENTER and after.quantity == THRESHOLD_QUANTITY
    [call] = journal.llm_calls()  # the call is on the record, refused or failed as it was
    assert call["role"] == "analyzer" and not call["ok"]


def test_fallback_skip(deepseek: FakeOpenAI, journal: Journal) -> None:
    deepseek.script(Reply.error(402))
    _, after = review(deepseek, journal, AnalyzerFallback.SKIP)
    assert after.action is DecisionAction.SKIP and [c.rule for c in after.clamps] == [RuleId.ADVICE_SKIP]


def test_an_unknown_rule_id_is_not_a_valid_answer() -> None:
    with pytest.raises(ValueError, match="rule_ids"):
        AnalyzerAnswer.model_validate({"verdict": "veto", "rule_ids": ["ignore.all.rules"]})
    with pytest.raises(ValueError, match="size_quote"):
        AnalyzerAnswer.model_validate({"verdict": "reduce", "rule_ids": RELIES})


def test_what_is_reviewed() -> None:
    small = enter_decision(quantity="0.00100")  # 40 USDT
    assert review_cause(small, EQUITY, MIN_PCT) is None
    shrunk_by_scout = clamp_advice(small, [fallback_advice(small, EQUITY, Decimal("0.2"), AnalyzerFallback.SHRINK,
                                                           MONDAY_MS, "test").model_copy(update={"source": "scout:q"})],
                                   MONDAY_MS, rules=RULES)
    assert review_cause(shrunk_by_scout, EQUITY, MIN_PCT) is ReviewCause.CONFLICT
    assert review_cause(ENTRY.model_copy(update={"action": DecisionAction.SKIP}), EQUITY, MIN_PCT) is None


@given(verdict=st.sampled_from(list(ReviewVerdict)),
       size=st.none() | st.decimals(Decimal("0"), Decimal("1e15"), allow_nan=False, allow_infinity=False),
       fallback=st.sampled_from(list(AnalyzerFallback)), pct=st.decimals(Decimal("0.01"), Decimal("100"), places=2))
def test_property_a_review_never_enlarges(verdict: ReviewVerdict, size: Decimal | None, fallback: AnalyzerFallback,
                                          pct: Decimal) -> None:
    if verdict is ReviewVerdict.REDUCE and size is None:
        size = Decimal("1")
    answer = AnalyzerAnswer(verdict=verdict, size_quote=size, rule_ids=[RuleId.MAX_POSITION_SIZE])
    for advice in (verdict_advice(ENTRY, answer, MONDAY_MS),
                   fallback_advice(ENTRY, EQUITY, pct, fallback, MONDAY_MS, "down")):
        after = clamp_advice(ENTRY, [advice], MONDAY_MS, rules=RULES)
        assert after.quote_amount <= ENTRY.quote_amount and after.quantity <= ENTRY.quantity
