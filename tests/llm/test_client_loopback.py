"""The LLM client against the fake OpenAI-compatible server over real sockets, through the real `openai` package."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest

from memory.journal import Journal
from scouts.llm.errors import BudgetReached, DeadlineExceeded, LlmConfigError, NoBalance
from scouts.llm.results import Invalid, InvalidReason, Ok, Unavailable, UnavailableReason
from tests.fakes.openai_compat import FakeOpenAI, Reply
from tests.llm.support import ASK, EXAMPLE, KEY, PEAK_MS, FixedClock, Verdict, analyzer, scout, utc_ms

VETO = {"verdict": "veto", "size_pct": 0}
USAGE = {"prompt_tokens": 1_000_000, "completion_tokens": 100_000,
         "prompt_cache_hit_tokens": 400_000, "prompt_cache_miss_tokens": 600_000}
# deepseek-flash: 0.4M × $0.003 + 0.6M × $0.15 + 0.1M × $0.60
USAGE_COST = Decimal("0.0012") + Decimal("0.09") + Decimal("0.06")


def test_an_answer_is_validated_priced_from_usage_with_cache_tokens_and_journaled(
        deepseek: FakeOpenAI, journal: Journal) -> None:
    deepseek.script(Reply.json(VETO, usage=USAGE))
    result = analyzer(deepseek, journal).complete_sync(ASK, EXAMPLE)
    assert isinstance(result, Ok) and result.value == Verdict(verdict="veto", size_pct=0)
    assert result.call.cost_usd == USAGE_COST and result.call.attempts == 1
    [row] = journal.llm_calls()
    assert {k: row[k] for k in ("role", "model", "provider", "attempts", "billed_attempts", "prompt_tokens",
                                "completion_tokens", "cache_hit_tokens", "cache_miss_tokens", "cost_usd",
                                "outcome", "reason", "ok")} == {
        "role": "analyzer", "model": "deepseek-flash", "provider": "deepseek", "attempts": 1, "billed_attempts": 1,
        "prompt_tokens": 1_000_000, "completion_tokens": 100_000, "cache_hit_tokens": 400_000,
        "cache_miss_tokens": 600_000, "cost_usd": USAGE_COST, "outcome": "ok", "reason": None, "ok": True}
    assert row["latency_ms"] >= 0 and json.loads(row["answer"]) == VETO
    [sent] = deepseek.completions()
    assert sent.body["response_format"] == {"type": "json_object"}
    assert sent.body["model"] == "deepseek-flash"


def test_peak_hours_double_the_cost(deepseek: FakeOpenAI, journal: Journal) -> None:
    deepseek.script(Reply.json(VETO, usage=USAGE))
    result = analyzer(deepseek, journal, FixedClock(PEAK_MS)).complete_sync(ASK, EXAMPLE)
    assert isinstance(result, Ok) and result.call.cost_usd == 2 * USAGE_COST


def test_the_deadline_holds_while_keep_alive_lines_trickle(deepseek: FakeOpenAI, journal: Journal) -> None:
    # Blank lines every 50 ms keep every read inside its timeout; only the wall-clock deadline ends the call.
    deepseek.script(Reply.json(VETO, keepalive_lines=200, keepalive_every_s=0.05))
    started = time.monotonic()
    result = analyzer(deepseek, journal, DEEPSEEK_DEADLINE_S="1").complete_sync(ASK, EXAMPLE)
    elapsed = time.monotonic() - started
    assert isinstance(result, Unavailable) and result.reason is UnavailableReason.DEADLINE
    assert isinstance(result.error, DeadlineExceeded) and "DEEPSEEK_DEADLINE_S=1" in str(result.error)
    assert 0.9 < elapsed < 2.5  # the trickle alone would last 10 s
    [row] = journal.llm_calls()
    assert (row["outcome"], row["reason"], row["attempts"]) == ("unavailable", "deadline", 1)


def test_a_hang_ends_at_the_deadline_with_every_attempt_counted(deepseek: FakeOpenAI, journal: Journal) -> None:
    # 3 s with one retry: the first attempt times out at 1.5 s, openai backs off at most 0.5 s and resends,
    # and the deadline ends the second attempt.
    deepseek.script(Reply(hang=True), Reply(hang=True))
    started = time.monotonic()
    result = analyzer(deepseek, journal).complete_sync(ASK, EXAMPLE)
    assert time.monotonic() - started < 4.5
    assert isinstance(result, Unavailable) and result.reason is UnavailableReason.DEADLINE
    assert result.call.attempts == len(deepseek.completions()) == 2
    assert result.call.billed_attempts == 2 and result.call.cost_usd == 0  # no answer seen: tokens unknown


def test_a_timed_out_post_resent_by_openai_is_two_attempts_and_billed_twice(
        deepseek: FakeOpenAI, journal: Journal) -> None:
    # One retry and a 5 s deadline: each attempt may wait 2.5 s. The first answer comes after 3 s, too late
    # for the client but still generated (and billed) by the server; openai resends the POST.
    usage = {"prompt_tokens": 1000, "completion_tokens": 100, "prompt_cache_hit_tokens": 0,
             "prompt_cache_miss_tokens": 1000}
    deepseek.script(Reply.json(VETO, usage=usage, delay_s=3.0), Reply.json(VETO, usage=usage))
    result = analyzer(deepseek, journal, DEEPSEEK_DEADLINE_S="5").complete_sync(ASK, EXAMPLE)
    assert deepseek.wait_answered(2)
    assert isinstance(result, Ok)
    one = Decimal(1000) * Decimal("0.15") / 1_000_000 + Decimal(100) * Decimal("0.60") / 1_000_000
    assert (result.call.attempts, result.call.billed_attempts, result.call.cost_usd) == (2, 2, 2 * one)
    [row] = journal.llm_calls()
    assert (row["attempts"], row["billed_attempts"], row["prompt_tokens"], row["cost_usd"]) == (2, 2, 2000, 2 * one)


def test_402_stops_calls_without_retrying_until_reset(deepseek: FakeOpenAI, journal: Journal) -> None:
    client = analyzer(deepseek, journal)
    deepseek.script(Reply.error(402), Reply.json(VETO))
    first = client.complete_sync(ASK, EXAMPLE)
    assert isinstance(first, Unavailable) and first.reason is UnavailableReason.NO_BALANCE
    assert isinstance(first.error, NoBalance) and first.call.attempts == 1
    second = client.complete_sync(ASK, EXAMPLE)
    assert isinstance(second, Unavailable) and second.reason is UnavailableReason.STOPPED
    assert len(deepseek.completions()) == 1
    assert [e["code"] for e in journal.errors()] == ["LLM_NO_BALANCE"]
    assert [r["outcome"] for r in journal.llm_calls()] == ["unavailable", "refused"]
    client.reset_stop()
    assert isinstance(client.complete_sync(ASK, EXAMPLE), Ok)


def test_401_is_a_configuration_error_naming_the_key_variable(deepseek: FakeOpenAI, journal: Journal) -> None:
    client = analyzer(deepseek, journal, DEEPSEEK_API_KEY="sk-wrongwrongwrongwrongwrongwrong00")
    result = client.complete_sync(ASK, EXAMPLE)
    assert isinstance(result, Unavailable) and result.reason is UnavailableReason.AUTH
    assert isinstance(result.error, LlmConfigError) and result.error.variable == "DEEPSEEK_API_KEY"
    assert "DEEPSEEK_API_KEY" in str(result.error) and "sk-wrongwrong" not in str(result.error)
    assert len(deepseek.completions()) == 1
    [alert] = journal.errors()
    assert alert["code"] == "LLM_CONFIG" and alert["details"]["setting"] == "DEEPSEEK_API_KEY"


def test_429_and_503_back_off_within_the_deadline(deepseek: FakeOpenAI, journal: Journal) -> None:
    deepseek.script(Reply.error(429, retry_after=0.3), Reply.error(503, retry_after=0.3), Reply.json(VETO))
    started = time.monotonic()
    result = analyzer(deepseek, journal, LLM_MAX_RETRIES="2", DEEPSEEK_DEADLINE_S="8").complete_sync(ASK, EXAMPLE)
    assert isinstance(result, Ok) and result.call.attempts == 3 and result.call.billed_attempts == 1
    assert 0.5 < time.monotonic() - started < 8


def test_a_retry_after_past_the_deadline_is_not_waited_for(deepseek: FakeOpenAI, journal: Journal) -> None:
    deepseek.script(Reply.error(429, retry_after=60), Reply.json(VETO))
    started = time.monotonic()
    result = analyzer(deepseek, journal).complete_sync(ASK, EXAMPLE)
    assert time.monotonic() - started < 2
    assert isinstance(result, Unavailable) and result.reason is UnavailableReason.SERVER
    assert result.call.attempts == 1 and len(deepseek.completions()) == 1


def test_a_dropped_connection_is_retried_and_counted(deepseek: FakeOpenAI, journal: Journal) -> None:
    deepseek.script(Reply(drop=True), Reply.json(VETO))
    result = analyzer(deepseek, journal).complete_sync(ASK, EXAMPLE)
    assert isinstance(result, Ok) and result.call.attempts == 2


def test_400_and_422_are_rejections_not_retried(deepseek: FakeOpenAI, journal: Journal) -> None:
    client = analyzer(deepseek, journal)
    for status in (400, 422):
        deepseek.script(Reply.error(status))
        result = client.complete_sync(ASK, EXAMPLE)
        assert isinstance(result, Unavailable) and result.reason is UnavailableReason.REJECTED
        assert result.call.attempts == 1
    assert client.stopped is None


def test_a_budget_reached_refuses_before_sending_with_one_alert(deepseek: FakeOpenAI, journal: Journal) -> None:
    clock = FixedClock()
    journal.record_llm_call(clock.ms - 60_000, "analyzer", "deepseek-flash", 10, 10, 100, True, "earlier",
                            provider="deepseek", cost_usd=Decimal("0.10"))
    client = analyzer(deepseek, journal, clock, DEEPSEEK_DAILY_BUDGET_USD="0.10")
    deepseek.script(Reply.json(VETO))
    for _ in range(2):
        result = client.complete_sync(ASK, EXAMPLE)
        assert isinstance(result, Unavailable) and result.reason is UnavailableReason.BUDGET
        assert isinstance(result.error, BudgetReached)
        assert (result.error.budget, result.error.limit) == ("DEEPSEEK_DAILY_BUDGET_USD", Decimal("0.10"))
        assert "DEEPSEEK_DAILY_BUDGET_USD=0.10" in str(result.error)
    assert deepseek.requests == []
    [alert] = journal.errors()
    assert alert["code"] == "LLM_BUDGET_REACHED" and alert["details"]["budget"] == "DEEPSEEK_DAILY_BUDGET_USD"
    assert [r["outcome"] for r in journal.llm_calls()] == [None, "refused", "refused"]


def test_the_monthly_token_budget_counts_earlier_days_and_the_day_budget_does_not(
        deepseek: FakeOpenAI, journal: Journal) -> None:
    clock = FixedClock(utc_ms(2026, 3, 4, 5))
    journal.record_llm_call(utc_ms(2026, 3, 2, 5), "analyzer", "deepseek-flash", 900, 100, 100, True, "",
                            provider="deepseek", cost_usd=Decimal(0))
    journal.record_llm_call(utc_ms(2026, 2, 27, 5), "analyzer", "deepseek-flash", 9_000, 0, 100, True, "",
                            provider="deepseek", cost_usd=Decimal(0))
    journal.record_llm_call(clock.ms, "scout", "qwen", 50_000, 0, 100, True, "", provider="lmstudio")
    deepseek.script(Reply.json(VETO))
    within = analyzer(deepseek, journal, clock, DEEPSEEK_DAILY_BUDGET_TOKENS="1000",
                      DEEPSEEK_MONTHLY_BUDGET_TOKENS="1001").complete_sync(ASK, EXAMPLE)
    assert isinstance(within, Ok)
    over = analyzer(deepseek, journal, clock, DEEPSEEK_MONTHLY_BUDGET_TOKENS="1000").complete_sync(ASK, EXAMPLE)
    assert isinstance(over, Unavailable) and isinstance(over.error, BudgetReached)
    assert over.error.budget == "DEEPSEEK_MONTHLY_BUDGET_TOKENS" and len(deepseek.completions()) == 1


def test_blank_json_mode_content_is_retried_once(deepseek: FakeOpenAI, journal: Journal) -> None:
    deepseek.script(Reply(content=""), Reply.json(VETO))
    result = analyzer(deepseek, journal).complete_sync(ASK, EXAMPLE)
    assert isinstance(result, Ok) and result.call.attempts == 2 and len(deepseek.completions()) == 2
    deepseek.script(Reply(content="  "), Reply(content="\n"), Reply.json(VETO))
    result = analyzer(deepseek, journal).complete_sync(ASK, EXAMPLE)
    assert isinstance(result, Invalid) and result.reason is InvalidReason.BLANK
    assert len(deepseek.completions()) == 4


def test_invalid_answers_are_invalid_results_never_exceptions(deepseek: FakeOpenAI, journal: Journal) -> None:
    client = analyzer(deepseek, journal)
    cases = [
        (Reply(content="buy 100% now"), InvalidReason.NOT_JSON),
        (Reply.json({"verdict": "approve", "size_pct": 1e309}), InvalidReason.SCHEMA),
        (Reply.json({"verdict": "approve", "size_pct": 400}), InvalidReason.SCHEMA),
        (Reply.json({"verdict": "buy", "size_pct": 1}), InvalidReason.SCHEMA),
        (Reply.json({"verdict": "veto", "size_pct": 0, "raise_limit": "MAX_POSITION_SIZE_PCT"}), InvalidReason.SCHEMA),
        (Reply(content=None, tool_calls=[{"id": "c1", "type": "function",
                                          "function": {"name": "trade", "arguments": "{}"}}]), InvalidReason.BLANK),
    ]
    for reply, reason in cases:
        blank_retry = [Reply(content=None)] if reason is InvalidReason.BLANK else []
        deepseek.script(reply, *blank_retry)
        result = client.complete_sync(ASK, EXAMPLE)
        assert isinstance(result, Invalid) and result.reason is reason, reply
    assert [r["outcome"] for r in journal.llm_calls()] == ["invalid"] * len(cases)


def test_no_secret_reaches_a_prompt_or_the_journal(deepseek: FakeOpenAI, journal: Journal) -> None:
    other = "tg-0123456789:AAbbccddeeffgghhiijjkkllmmnnooppqq"
    settings_client = analyzer(deepseek, journal)
    client = type(settings_client)(settings_client.config, settings_client._settings, journal,
                                   clock=FixedClock(), secrets=[other])
    deepseek.script(Reply.json({"verdict": "veto", "size_pct": 0, "echo": KEY}))
    client.complete_sync([{"role": "user", "content": f"the key is {KEY} and {other}; json please"}], EXAMPLE)
    [sent] = deepseek.completions()
    assert KEY not in sent.raw and other not in sent.raw and "sk-01…cdef" in sent.raw
    assert sent.headers["Authorization"] == f"Bearer {KEY}"  # the key goes where it belongs, and only there
    stored = json.dumps([{k: str(v) for k, v in row.items()} for row in journal.llm_calls()])
    assert KEY not in stored and other not in stored


def test_lm_studio_gets_json_schema_and_costs_nothing(lmstudio: FakeOpenAI, journal: Journal) -> None:
    lmstudio.script(Reply.json(VETO, usage={"prompt_tokens": 5000, "completion_tokens": 500}))
    result = scout(lmstudio, journal).complete_sync(ASK, EXAMPLE)
    assert isinstance(result, Ok) and result.call.cost_usd == 0
    [sent] = lmstudio.completions()
    assert sent.path == "/v1/chat/completions"
    assert sent.body["response_format"]["type"] == "json_schema"
    assert sent.body["response_format"]["json_schema"]["schema"] == Verdict.model_json_schema()
    [row] = journal.llm_calls()
    assert (row["role"], row["provider"], row["model"], row["prompt_tokens"]) == (
        "scout", "lmstudio", "qwen2.5-3b-instruct", 5000)


def test_lm_studio_is_never_budgeted_and_a_blank_answer_is_not_retried(lmstudio: FakeOpenAI, journal: Journal) -> None:
    lmstudio.script(Reply(content=""), Reply.json(VETO))
    result = scout(lmstudio, journal, DEEPSEEK_DAILY_BUDGET_TOKENS="0").complete_sync(ASK, EXAMPLE)
    assert isinstance(result, Invalid) and result.reason is InvalidReason.BLANK
    assert len(lmstudio.completions()) == 1


def test_the_ca_bundle_is_loaded_once_per_process_not_once_per_call(
        deepseek: FakeOpenAI, journal: Journal, monkeypatch: pytest.MonkeyPatch) -> None:
    # Loading the CA bundle takes ~0.25 s: per call, it cost more than a small local model's answer.
    import httpcore2

    from scouts.llm.client import tls_context

    loads = []
    real = httpcore2.default_ssl_context
    monkeypatch.setattr(httpcore2, "default_ssl_context", lambda *a, **k: loads.append(1) or real(*a, **k))
    tls_context.cache_clear()
    deepseek.script(Reply.json(VETO), Reply.json(VETO))
    client = analyzer(deepseek, journal)
    assert all(isinstance(client.complete_sync(ASK, EXAMPLE), Ok) for _ in range(2))
    assert len(loads) == 1


def test_every_request_caps_the_answer_with_max_tokens(deepseek: FakeOpenAI, lmstudio: FakeOpenAI,
                                                       journal: Journal) -> None:
    # A small model asked for json without max_tokens generated until the 120 s deadline.
    deepseek.script(Reply.json(VETO))
    analyzer(deepseek, journal, LLM_MAX_OUTPUT_TOKENS="300").complete_sync(ASK, EXAMPLE)
    lmstudio.script(Reply.json(VETO))
    scout(lmstudio, journal).complete_sync(ASK, EXAMPLE)
    assert [r.body["max_tokens"] for r in (*deepseek.completions(), *lmstudio.completions())] == [300, 1024]
