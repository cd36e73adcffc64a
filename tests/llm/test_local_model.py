"""Our LLM client against a real model (SmolLM2-135M under llama_cpp.server on 127.0.0.1): whatever a small,
often wrong model answers is validated and either accepted or refused cleanly, and every call is journaled
with the server's own token counts."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest

from memory.journal import Journal
from scouts.llm.client import LlmClient
from scouts.llm.errors import ServerFailed
from scouts.llm.results import Invalid, InvalidReason, Ok, ToolCalls, Unavailable, UnavailableReason
from scouts.llm.settings import LlmSettings
from tests.llm.local_model import MODEL_NAME, LocalModel
from tests.llm.support import Verdict

pytestmark = [pytest.mark.llm, pytest.mark.xdist_group("llm")]

FREE_PRICE = json.dumps({MODEL_NAME: {"cache_hit": "0", "cache_miss": "0", "output": "0"}})
EXAMPLE = Verdict(verdict="reduce", size_pct=0.5)
ASK = [{"role": "system", "content": "You review proposed spot trades for risk."},
       {"role": "user", "content": "Entry: BTCUSDT, 2 % of equity, stop 0.8 % below. Approve, reduce or veto? "
                                   "Answer in json."}]
SCAN_TOOL = {"type": "function", "function": {
    "name": "scan", "description": "Read the latest market features of some symbols (read only).",
    "parameters": {"type": "object", "properties": {"symbols": {"type": "array", "items": {"type": "string"}}},
                   "required": ["symbols"]}}}
REFUSALS = {InvalidReason.BLANK, InvalidReason.NOT_JSON, InvalidReason.SCHEMA}


def local_settings(model: LocalModel) -> LlmSettings:
    return LlmSettings.from_env({
        "LMSTUDIO_BASE_URL": model.base_url, "SCOUT_MODELS": MODEL_NAME, "LMSTUDIO_DEADLINE_S": "600",
        "DEEPSEEK_BASE_URL": model.base_url, "DEEPSEEK_API_KEY": "sk-local-model-needs-no-key-000000",
        "DEEPSEEK_MODEL": MODEL_NAME, "DEEPSEEK_DEADLINE_S": "600", "LLM_PRICES": FREE_PRICE,
        "LLM_MAX_RETRIES": "0", "LLM_MAX_OUTPUT_TOKENS": "32"})


def test_a_json_object_answer_is_validated_and_accepted_or_refused(local_model: LocalModel,
                                                                    journal: Journal) -> None:
    # DeepSeek's dialect: response_format json_object, the schema and an example in the prompt.
    settings = local_settings(local_model)
    result = LlmClient(settings.analyzer(), settings, journal).complete_sync(ASK, EXAMPLE)
    match result:
        case Ok(value=value):
            assert isinstance(value, Verdict) and 0 <= value.size_pct <= 100
        case Invalid(reason=reason):
            assert reason in REFUSALS
        case _:
            pytest.fail(f"the local model did not answer: {result!r}")
    [row] = journal.llm_calls()
    assert row["outcome"] == ("ok" if isinstance(result, Ok) else "invalid")
    assert row["attempts"] == 1 and row["prompt_tokens"] > 0 and row["completion_tokens"] > 0
    assert row["cost_usd"] == Decimal(0) and row["model"] == MODEL_NAME


def test_json_schema_is_answered_500_by_this_server_and_refused_cleanly(local_model: LocalModel,
                                                                       journal: Journal) -> None:
    # LM Studio's dialect (json_schema) is not llama_cpp.server's: it answers 500. Unavailable, never a raise.
    settings = local_settings(local_model)
    result = LlmClient(settings.scouts()[0], settings, journal).complete_sync(ASK, EXAMPLE)
    assert isinstance(result, Unavailable) and result.reason is UnavailableReason.SERVER
    assert isinstance(result.error, ServerFailed) and result.error.status == 500
    [row] = journal.llm_calls()
    assert (row["outcome"], row["reason"]) == ("unavailable", "server")


def test_tool_choice_auto_returns_tool_calls_or_an_answer_both_validated(local_model: LocalModel,
                                                                         journal: Journal) -> None:
    settings = local_settings(local_model)
    client = LlmClient(settings.scouts()[0], settings, journal)
    messages = [{"role": "user", "content": "Scan BTCUSDT with the scan tool, then answer in json."}]
    result = asyncio.run(client.complete_with_tools(messages, EXAMPLE, [SCAN_TOOL]))
    match result:
        case ToolCalls(calls=calls):
            assert calls and all(isinstance(c.name, str) and isinstance(c.arguments, str) for c in calls)
            [row] = journal.llm_calls()
            assert row["outcome"] == "ok" and row["summary"].startswith("tool calls: ")
        case Ok(value=value):
            assert isinstance(value, Verdict)
        case Invalid(reason=reason):
            assert reason in REFUSALS
        case _:
            pytest.fail(f"the local model did not answer: {result!r}")



def test_the_llm_tests_are_one_xdist_group(request: pytest.FixtureRequest) -> None:
    """`make test` runs `-n 2 --dist=loadgroup`: every `llm` test must reach xdist as part of the `llm` group, or
    each worker starts its own model server (tests/conftest.py restores the group pytest 9.2 dropped)."""
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("only meaningful under pytest-xdist with --dist=loadgroup (as `make test` runs)")
    assert request.node.nodeid.endswith("@llm"), request.node.nodeid
