"""The analyzer against the real model (SmolLM2-135M under llama_cpp.server on 127.0.0.1), in the JSON dialects
this server takes (`json_object_schema`, `forced_tool` with a named-function `tool_choice`): a 135M model's verdict
is mostly junk; whatever it says is validated, refused or clamped, and an entry is never sent larger than the
deterministic rules alone send it."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.review import AnalyzerFallback
from memory.journal import Journal
from scouts.analyzer import Analyzer, Review
from scouts.llm.client import LlmClient
from scouts.llm.results import Invalid, InvalidReason, Ok
from scouts.llm.settings import LlmSettings
from tests.llm.local_model import MODEL_NAME, LocalModel
from tests.llm.support import Verdict
from tests.llm.test_analyzer_engine import MIN_PCT, first_entry
from tests.llm.test_local_model import ASK, EXAMPLE, FREE_PRICE
from tests.runtime.test_engine_flow import Rig

pytestmark = [pytest.mark.llm, pytest.mark.xdist_group("llm")]

REFUSALS = {InvalidReason.BLANK, InvalidReason.NOT_JSON, InvalidReason.SCHEMA, InvalidReason.MALFORMED}


def analyzer_settings(model: LocalModel, dialect: str, max_tokens: int) -> LlmSettings:
    return LlmSettings.from_env({
        "DEEPSEEK_BASE_URL": model.base_url, "DEEPSEEK_API_KEY": "sk-local-model-needs-no-key-000000",
        "DEEPSEEK_MODEL": MODEL_NAME, "DEEPSEEK_DEADLINE_S": "600", "LLM_PRICES": FREE_PRICE,
        "LLM_MAX_RETRIES": "0", "LLM_MAX_OUTPUT_TOKENS": str(max_tokens), "DEEPSEEK_JSON_DIALECT": dialect})


def test_a_named_function_tool_choice_is_answered_by_a_call_and_validated(local_model: LocalModel,
                                                                         journal: Journal) -> None:
    # forced_tool: tool_choice names the one function `answer`; the server accepts it (no 4xx/5xx) and the model's
    # call's arguments are validated like any answer.
    settings = analyzer_settings(local_model, "forced_tool", 32)
    result = LlmClient(settings.analyzer(), settings, journal).complete_sync(ASK, EXAMPLE)
    match result:
        case Ok(value=value):
            assert isinstance(value, Verdict) and 0 <= value.size_pct <= 100
        case Invalid(reason=reason):
            assert reason in REFUSALS
        case _:
            pytest.fail(f"the server refused a named-function tool_choice: {result!r}")
    [row] = journal.llm_calls()
    assert row["outcome"] in ("ok", "invalid") and row["prompt_tokens"] > 0


def test_an_analyzer_review_on_the_real_model_never_lets_an_entry_grow(local_model: LocalModel,
                                                                      tmp_path: Path) -> None:
    plain_rig = Rig(tmp_path / "plain")
    try:
        plain, _ = first_entry(plain_rig)
    finally:
        plain_rig.journal.close()
    assert plain is not None and plain > MIN_PCT * 100

    rig = Rig(tmp_path / "reviewed")
    settings = analyzer_settings(local_model, "json_object_schema", 24)
    with Journal(tmp_path / "llm.db", durable=False) as calls:
        verdicts: list[Review] = []
        rig.engine.review = Analyzer(LlmClient(settings.analyzer(), settings, calls), MIN_PCT,
                                     AnalyzerFallback.SHRINK, on_verdict=lambda review, _: verdicts.append(review))
        try:
            reviewed, clamps = first_entry(rig)
        finally:
            rig.journal.close()
        [row] = calls.llm_calls()

    # The server takes json_object with the schema (its json_schema answers 500): an answer, valid or junk.
    assert row["outcome"] in ("ok", "invalid") and row["prompt_tokens"] > 0
    [review] = verdicts
    if review.answer is None:  # junk: the fallback cut the entry to the threshold
        assert reviewed is not None and reviewed <= MIN_PCT * 100 and clamps == ["advice.size_multiplier"]
    assert reviewed is None or reviewed <= plain  # approve keeps, reduce shrinks, veto sends nothing
