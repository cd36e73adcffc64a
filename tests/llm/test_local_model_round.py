"""One scout round end to end against the real model (SmolLM2-135M under llama_cpp.server): the real `scan` and
`status` tools from the registry, the real client and journal. A 135M model's tool calls and intel are mostly
junk: whatever it says is validated, refused or turned into tightening advice only, and nothing it says lets
an entry grow."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from core.types import AdviceAction
from memory.journal import Journal
from scouts.llm.client import LlmClient
from scouts.llm.settings import LlmSettings
from scouts.round import ScoutPath, ScoutRound
from scouts.runner import round_limits
from tests.llm.local_model import MODEL_NAME, LocalModel
from tests.llm.redteam import advised, assert_never_looser, baseline
from tests.scouts.support import Recorder, context
from tests.tools.test_cli_support import closed_loopback_url
from tools.scouts import run_round, scout_tools, watched_symbols

pytestmark = [pytest.mark.llm, pytest.mark.xdist_group("llm")]

TIGHTENING = {AdviceAction.PAUSE, AdviceAction.SKIP, AdviceAction.SHRINK}


def local_env(model: LocalModel) -> dict[str, str]:
    return {"LMSTUDIO_BASE_URL": model.base_url, "SCOUT_MODELS": MODEL_NAME, "LMSTUDIO_DEADLINE_S": "600",
            "LLM_MAX_RETRIES": "0", "LLM_MAX_OUTPUT_TOKENS": "48", "SCOUT_MAX_ROUNDS": "1",
            "BINANCE_BASE_URL": closed_loopback_url(), "SCAN_SYMBOLS": "BTCUSDT,ETHUSDT"}


def test_a_tool_calling_scout_round_on_the_real_model_only_ever_tightens(local_model: LocalModel,
                                                                         tmp_path: Path) -> None:
    ctx = context(tmp_path, local_env(local_model))
    settings = LlmSettings.from_env(ctx.env)
    watched = frozenset(watched_symbols(ctx))
    submitted = Recorder()
    with Journal(ctx.home.journal) as journal:
        client = LlmClient(settings.scouts()[0], settings, journal)
        scout = ScoutRound(client, journal, scout_tools(ctx), watched, submitted, round_limits(settings), ctx.now_ms)
        report = asyncio.run(scout.run(tool_use=True))
        calls = journal.llm_calls()

    # One turn (a second, with the tools' answers in the prompt, takes minutes on two busy cores): the model
    # calls tools (run or refused, then the loop bound: no say) or answers (validated).
    assert report.path is ScoutPath.TOOLS and report.turns == 1
    [call] = calls
    assert call["outcome"] in ("ok", "invalid") and call["prompt_tokens"] > 0
    assert set(report.tool_calls) <= {"scan", "status"}  # anything else was refused, never run
    assert all(intel.symbol in watched for intel in report.intel)
    assert report.advice == submitted.advice
    assert all(a.action in TIGHTENING and a.size_multiplier <= 1 for a in submitted.advice)
    assert (report.failure is None) or not submitted.advice
    assert_never_looser(baseline(), advised(list(submitted.advice)))


def test_scouts_once_on_the_real_server_fails_cleanly_and_submits_nothing(local_model: LocalModel,
                                                                          tmp_path: Path) -> None:
    # llama_cpp.server has no LM Studio /api/v1/models: no model is known to use tools, so the round takes the
    # json_schema path, which this server answers with a 500. The round reports it; nothing reaches the engine.
    submitted = Recorder()
    [report] = run_round(context(tmp_path, local_env(local_model)), submitted)
    assert report.path is ScoutPath.JSON_SCHEMA and report.failure is not None and report.failure.startswith("server")
    assert submitted.advice == [] and report.intel == []
