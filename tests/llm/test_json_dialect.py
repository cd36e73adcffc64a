"""The JSON dialect is a setting per server (LMSTUDIO_JSON_DIALECT, DEEPSEEK_JSON_DIALECT), never sniffed: each
dialect sends what its server takes, over a socket to the loopback fake, and every answer is validated alike."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from memory.journal import Journal
from scouts.llm.client import ANSWER_FUNCTION
from scouts.llm.results import Invalid, InvalidReason, Ok, Unavailable, UnavailableReason
from scouts.llm.settings import JsonDialect, LlmSettings
from tests.fakes.openai_compat import FakeOpenAI, Reply
from tests.llm.support import ASK, EXAMPLE, Verdict, analyzer, scout

GOOD = {"verdict": "reduce", "size_pct": 0.5}


def test_defaults_are_each_servers_own_dialect() -> None:
    settings = LlmSettings.from_env({"DEEPSEEK_API_KEY": "sk-0123456789abcdef", "SCOUT_MODELS": "qwen"})
    assert settings.analyzer().json_dialect is JsonDialect.JSON_OBJECT
    assert settings.scouts()[0].json_dialect is JsonDialect.JSON_SCHEMA


def test_an_unknown_dialect_names_its_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        LlmSettings.from_env({"LMSTUDIO_JSON_DIALECT": "grammar"})
    assert caught.value.setting == "LMSTUDIO_JSON_DIALECT"


@pytest.mark.parametrize(("dialect", "sent"), [
    ("json_object", {"type": "json_object"}),
    ("json_object_schema", {"type": "json_object", "schema": Verdict.model_json_schema()}),
])
def test_deepseek_side_dialects_send_their_response_format(dialect: str, sent: dict[str, object],
                                                           deepseek: FakeOpenAI, journal: Journal) -> None:
    deepseek.script(Reply.json(GOOD))
    result = analyzer(deepseek, journal, DEEPSEEK_JSON_DIALECT=dialect).complete_sync(ASK, EXAMPLE)
    assert isinstance(result, Ok) and result.value == Verdict(**GOOD)
    [request] = deepseek.completions()
    assert request.body["response_format"] == sent and "tool_choice" not in request.body


def test_lmstudio_json_schema_sends_the_schema(lmstudio: FakeOpenAI, journal: Journal) -> None:
    lmstudio.script(Reply.json(GOOD))
    result = scout(lmstudio, journal).complete_sync(ASK, EXAMPLE)
    assert isinstance(result, Ok)
    [request] = lmstudio.completions()
    assert request.body["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "Verdict", "schema": Verdict.model_json_schema()}}


def test_lmstudio_refuses_json_object_so_a_misconfigured_dialect_is_unavailable_not_a_crash(
        lmstudio: FakeOpenAI, journal: Journal) -> None:
    lmstudio.script(Reply.json(GOOD))
    result = scout(lmstudio, journal, LMSTUDIO_JSON_DIALECT="json_object").complete_sync(ASK, EXAMPLE)
    assert isinstance(result, Unavailable) and result.reason is UnavailableReason.REJECTED
    [row] = journal.llm_calls()
    assert (row["outcome"], row["reason"]) == ("unavailable", "rejected")


def test_forced_tool_names_the_answer_function_and_reads_its_arguments(deepseek: FakeOpenAI,
                                                                      journal: Journal) -> None:
    deepseek.script(Reply.calls((ANSWER_FUNCTION, GOOD)))
    result = analyzer(deepseek, journal, DEEPSEEK_JSON_DIALECT="forced_tool").complete_sync(ASK, EXAMPLE)
    assert isinstance(result, Ok) and result.value == Verdict(**GOOD)
    [request] = deepseek.completions()
    assert request.body["tool_choice"] == {"type": "function", "function": {"name": ANSWER_FUNCTION}}
    [tool] = request.body["tools"]
    assert tool["function"]["name"] == ANSWER_FUNCTION
    assert tool["function"]["parameters"] == Verdict.model_json_schema()
    assert "response_format" not in request.body


@pytest.mark.parametrize(("reply", "reason"), [
    (Reply.calls(("trade", {"symbol": "BTCUSDT", "side": "buy", "quote_amount": "1e9"})), InvalidReason.MALFORMED),
    (Reply.json(GOOD), InvalidReason.MALFORMED),  # content instead of the forced call: not read
    (Reply.calls((ANSWER_FUNCTION, "")), InvalidReason.BLANK),
    (Reply.calls((ANSWER_FUNCTION, "{not json")), InvalidReason.NOT_JSON),
    (Reply.calls((ANSWER_FUNCTION, {"verdict": "approve", "size_pct": 1e309})), InvalidReason.SCHEMA),
])
def test_forced_tool_refuses_any_other_call_or_junk(reply: Reply, reason: InvalidReason, deepseek: FakeOpenAI,
                                                    journal: Journal) -> None:
    deepseek.script(reply, reply)
    result = analyzer(deepseek, journal, DEEPSEEK_JSON_DIALECT="forced_tool").complete_sync(ASK, EXAMPLE)
    assert isinstance(result, Invalid) and result.reason is reason
    [row] = journal.llm_calls()
    assert (row["outcome"], row["reason"]) == ("invalid", reason.value)


def test_lmstudio_refuses_a_named_tool_choice(lmstudio: FakeOpenAI, journal: Journal) -> None:
    lmstudio.script(Reply.calls((ANSWER_FUNCTION, GOOD)))
    result = scout(lmstudio, journal, LMSTUDIO_JSON_DIALECT="forced_tool").complete_sync(ASK, EXAMPLE)
    assert isinstance(result, Unavailable) and result.reason is UnavailableReason.REJECTED
