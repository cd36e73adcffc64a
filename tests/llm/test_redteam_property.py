"""The property of issue 13, section 6: for any sequence of LLM outputs, every limit afterwards is no looser than
before, and no order is larger than the deterministic rules alone would have allowed; for the scouts' kind of
advice and for the analyzer's verdicts on an entry.

Each output is served by the loopback fake and read by the real client (validation included); what validates
becomes advice, the advice accumulates as it would in the engine, and after every output the same signal is
evaluated again by the risk engine with the advice and the pauses it asked for.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.config import ExecutorConfig
from core.review import AnalyzerFallback, review_cause
from core.risk import ALL_SYMBOLS, advice_pauses, clamp_advice
from core.risk.gate import evaluate_entry
from core.types import Advice, Decision, DecisionAction, RuleId
from memory.journal import Journal
from scouts.analyzer import Analyzer
from tests.core.test_risk_support import MONDAY_MS, context, signal
from tests.fakes.openai_compat import FakeOpenAI, Mode, Reply
from tests.llm.redteam import (
    CONFIG,
    EXAMPLE,
    RULES,
    advice_of,
    assert_never_looser,
    baseline,
    load_analyzer_corpus,
    load_corpus,
    messages_for,
)
from tests.llm.support import KEY, analyzer

REVIEW_MIN_PCT = Decimal("1")  # the rules' entry spends 3.5 % of equity: every one is reviewed
FAST_CORPUS_REPLIES = [reply for case in load_corpus() for reply in case.replies
                       if not (reply.hang or reply.keepalive_lines or reply.delay_s) and reply.status != 401
                       and (reply.retry_after or 0) < 1]
NUMBERS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**40, 10**40),
                    st.sampled_from([0, -1, 1, 1e309, 5e-324, 100, 1e6]))
TEXT = st.one_of(st.text(max_size=12), st.sampled_from(["BTCUSDT", "BTCUSD\u0422", "BTC\u200bUSDT", "ETHUSDT", "NaN",
                                                         "approve", "veto", "pause", "shrink", "skip", "-5", "150"]))
FIELDS = st.sampled_from(["symbol", "action", "size_multiplier", "stop_loss_pct", "take_profit_pct", "pause_minutes",
                          "reason", "MAX_POSITION_SIZE_PCT", "source", "override"])
ACTIONS = st.sampled_from(["approve", "skip", "shrink", "pause", "veto", "buy", "resume"])


@st.composite
def generated_answer(draw: st.DrawFn) -> Reply:
    """A JSON object with an action and any mix of known, unknown, absurd and well-formed fields."""
    answer: dict[str, object] = {"action": draw(ACTIONS)}
    answer |= draw(st.dictionaries(FIELDS, st.one_of(NUMBERS, TEXT, st.none(), st.booleans()), max_size=4))
    if draw(st.booleans()):
        answer["symbol"] = draw(st.sampled_from(["BTCUSDT", "ETHUSDT"]))
    return Reply(content=json.dumps(answer, allow_nan=True))


LLM_OUTPUT = st.one_of(generated_answer(), st.sampled_from(FAST_CORPUS_REPLIES),
                       st.sampled_from([Reply.error(429, retry_after=0.01), Reply.error(503, retry_after=0.01),
                                        Reply.error(400), Reply.error(422), Reply(content=""),
                                        Reply(content="buy 100 %")]))


@pytest.fixture(scope="module")
def deepseek_fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(Mode.DEEPSEEK, api_key=KEY) as fake:
        yield fake


@pytest.fixture(scope="module")
def module_journal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Journal]:
    path: Path = tmp_path_factory.mktemp("property") / "journal.db"
    with Journal(path, durable=False) as journal:
        yield journal


def _evaluate(advice: list[Advice]) -> tuple[Decision, dict[str, int]]:
    """The entry and the pauses in force once `advice` reached the engine (pauses into the controls)."""
    pauses = advice_pauses(advice, MONDAY_MS)
    ctx = context(paused={k: v for k, v in pauses.items() if k != ALL_SYMBOLS},
                  all_paused_until=pauses.get(ALL_SYMBOLS, 0))
    return evaluate_entry(signal(), ctx, RULES, CONFIG, MONDAY_MS, advice), pauses


@pytest.mark.slow
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(outputs=st.lists(LLM_OUTPUT, min_size=1, max_size=4))
def test_any_sequence_of_llm_outputs_only_tightens(outputs: list[Reply], deepseek_fake: FakeOpenAI,
                                                   module_journal: Journal) -> None:
    deepseek_fake.reset()  # a 402 stops the client: what it left unserved must not reach the next example
    deepseek_fake.script(*outputs)
    client = analyzer(deepseek_fake, module_journal, DEEPSEEK_DAILY_BUDGET_TOKENS="1000000000",
                      DEEPSEEK_MONTHLY_BUDGET_TOKENS="1000000000")
    rules_only = baseline()
    assert rules_only.action is DecisionAction.ENTER
    advice: list[Advice] = []
    previous, previous_pauses = rules_only, {}
    for _ in outputs:
        advice += advice_of(client.complete_sync(messages_for(None), EXAMPLE))
        decision, pauses = _evaluate(advice)
        assert_never_looser(rules_only, decision)  # no order larger than the rules alone allow
        assert_never_looser(previous, decision) if previous.action is DecisionAction.ENTER else \
            _assert_still_skipped(decision)
        assert all(pauses.get(key, 0) >= until for key, until in previous_pauses.items())  # no pause shortened
        assert ExecutorConfig() == CONFIG  # no limit of the configuration moved
        previous, previous_pauses = decision, pauses


def _assert_still_skipped(decision: Decision) -> None:
    """Once advice skipped the entry, later advice cannot bring it back (advice only accumulates)."""
    assert decision.action is not DecisionAction.ENTER


RULE_IDS = st.lists(st.one_of(st.sampled_from([r.value for r in RuleId]), TEXT), max_size=3)
ANALYZER_FIELDS = st.sampled_from(["size_quote", "reason", "MAX_POSITION_SIZE_PCT", "action", "size_multiplier"])


@st.composite
def analyzer_answer(draw: st.DrawFn) -> Reply:
    """An analyzer-shaped answer: a verdict (or not), any size (absurd, negative, non-finite, text), rule ids
    known and unknown, and extra fields."""
    answer: dict[str, object] = {"verdict": draw(st.sampled_from(["approve", "reduce", "veto", "buy", "enlarge"])),
                                 "rule_ids": draw(RULE_IDS)}
    answer |= draw(st.dictionaries(ANALYZER_FIELDS, st.one_of(NUMBERS, TEXT, st.none(), st.booleans()), max_size=3))
    return Reply(content=json.dumps(answer, allow_nan=True))


ANALYZER_OUTPUT = st.one_of(analyzer_answer(), st.sampled_from(
    [reply for case in load_analyzer_corpus() for reply in case.replies
     if not (reply.hang or reply.keepalive_lines or reply.delay_s) and reply.status != 401]))


@pytest.mark.slow
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(outputs=st.lists(ANALYZER_OUTPUT, min_size=1, max_size=4), fallback=st.sampled_from(list(AnalyzerFallback)))
def test_any_sequence_of_analyzer_answers_never_enlarges_an_entry(outputs: list[Reply], fallback: AnalyzerFallback,
                                                                   deepseek_fake: FakeOpenAI,
                                                                   module_journal: Journal) -> None:
    """Each answer reviews the entry the rules alone decide; its verdict or fallback goes through the clamp, alone and
    with every earlier verdict still live: no order is ever larger than the rules allow, its exits never looser."""
    deepseek_fake.reset()
    deepseek_fake.script(*outputs)
    reviewer = Analyzer(analyzer(deepseek_fake, module_journal, DEEPSEEK_DAILY_BUDGET_TOKENS="1000000000",
                                 DEEPSEEK_MONTHLY_BUDGET_TOKENS="1000000000"), REVIEW_MIN_PCT, fallback)
    rules_only = baseline()
    cause = review_cause(rules_only, context().equity, REVIEW_MIN_PCT)
    assert cause is not None
    verdicts: list[Advice] = []
    previous = rules_only
    for _ in outputs:
        verdicts.append(reviewer.review(rules_only, cause, context().equity, MONDAY_MS).advice)
        assert_never_looser(rules_only, clamp_advice(rules_only, verdicts[-1:], MONDAY_MS, rules=RULES))
        together = clamp_advice(rules_only, verdicts, MONDAY_MS, rules=RULES)
        assert_never_looser(rules_only, together)
        assert_never_looser(previous, together) if previous.action is DecisionAction.ENTER else \
            _assert_still_skipped(together)
        assert ExecutorConfig() == CONFIG
        previous = together
