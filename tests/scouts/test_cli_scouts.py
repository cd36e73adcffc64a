"""`executor.py scouts --once` as a person runs it: a subprocess started from `/`, a fresh home, the fake LM
Studio over a real socket; then `status` shows the calls and the spend."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from core.config import ExecutorConfig
from memory.journal import Journal
from runtime.home import Home
from tests.fakes.openai_compat import FakeOpenAI, Reply
from tests.scouts.support import PLAIN_MODEL, TOOL_MODEL, scout_env
from tests.tools.test_cli_support import (
    EXECUTOR,
    closed_loopback_url,
    envelope,
    executor_env,
    journal_counts,
    prepare_home,
)
from tools.scouts import ScoutsInput, handle
from tools.spec import ToolContext
from tools.state import read_saved_engine

INTEL = {"symbol": "BTCUSDT", "bias": "bearish", "confidence": 0.7, "horizon_min": 30,
         "rationale": "spread widening", "expires_in_min": 30}


def scouts(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(EXECUTOR), *args, "--home", str(home)], cwd="/",
                          env=executor_env(home, SCAN_SYMBOLS="BTCUSDT,ETHUSDT", **env), capture_output=True,
                          text=True, timeout=120, check=False)


def test_scouts_once_from_the_root_directory_on_a_fresh_home(lmstudio: FakeOpenAI, tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    lmstudio.script(Reply.calls(("scan", {"symbols": ["BTCUSDT"]})), Reply.json({"intel": [INTEL]}))
    done = scouts(home, "scouts", "--once", LMSTUDIO_BASE_URL=lmstudio.base_url, SCOUT_MODELS=TOOL_MODEL)
    document = envelope(done)
    assert document["ok"], document
    [round_] = document["data"]["rounds"]
    assert round_["tool_calls"] == ["scan"] and round_["intel"][0]["symbol"] == "BTCUSDT"
    assert round_["advice"][0]["action"] == "skip"
    assert document["data"]["advice_delivered"] == 0  # a fresh home has no engine to take it yet: said so
    assert "NOT_STARTED" in document["data"]["notes"][0]

    text = scouts(home, "scouts", "--once", "--format", "text", LMSTUDIO_BASE_URL=lmstudio.base_url,
                  SCOUT_MODELS=TOOL_MODEL)
    assert text.returncode == 0 and f"{TOOL_MODEL}: no intel" in text.stdout  # the fake has no reply left

    status = envelope(scouts(home, "status", LMSTUDIO_BASE_URL=lmstudio.base_url, SCOUT_MODELS=TOOL_MODEL))
    llm = status["data"]["llm"]
    assert llm["calls"] == 3 and llm["failures"] == 1
    [scout] = [r for r in llm["roles"] if r["role"] == "scout"]
    assert scout["configured"] and scout["model"] == TOOL_MODEL and scout["last_ok"] is False
    analyzer = next(r for r in llm["roles"] if r["role"] == "analyzer")
    assert analyzer["configured"] and analyzer["calls"] == 0  # DEEPSEEK_API_KEY is set, never called yet
    spend = llm["spend"]
    assert spend["provider"] == "deepseek" and spend["today_usd"] == "0" and spend["daily_left_usd"] == "0.10"


def test_scouts_once_names_what_to_fix(tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    unset = envelope(scouts(home, "scouts", "--once", SCOUT_MODELS=""))
    assert unset["error"]["code"] == "INVALID_CONFIG" and "SCOUT_MODELS" in unset["error"]["message"]
    down = envelope(scouts(home, "scouts", "--once", LMSTUDIO_BASE_URL=f"{closed_loopback_url()}/v1",
                           SCOUT_MODELS=TOOL_MODEL))
    assert down["error"]["code"] == "LLM_UNREACHABLE" and "LMSTUDIO_BASE_URL" in down["error"]["message"]
    without_once = envelope(scouts(home, "scouts", SCOUT_MODELS=TOOL_MODEL))
    assert without_once["error"]["code"] == "INVALID_ARGUMENT"


def test_advice_reaches_the_engine_of_a_started_home_as_a_pause_until_it_expires(
        lmstudio: FakeOpenAI, tmp_path: Path) -> None:
    home = prepare_home(tmp_path / "home")
    orders_before = journal_counts(home)["orders"]
    engine_now = read_saved_engine(Home(home), ExecutorConfig()).engine.now_ms  # type: ignore[union-attr]
    symbols = sorted(read_saved_engine(Home(home), ExecutorConfig()).engine.symbols)  # type: ignore[union-attr]
    env = scout_env(lmstudio, PLAIN_MODEL)
    lmstudio.script(Reply.json({"intel": [{**INTEL, "symbol": symbols[0], "confidence": 0.95},
                                          {**INTEL, "symbol": symbols[-1], "confidence": 0.4}]}))
    ctx = ToolContext(home=Home(home), config=ExecutorConfig(), env=env, now_ms=lambda: engine_now)
    out = handle(ScoutsInput(once=True), ctx)

    assert out.advice_delivered == 1 and "ADVICE_NOT_DELIVERABLE" in out.notes[0]  # the shrink: no command yet
    saved = read_saved_engine(Home(home), ExecutorConfig())
    assert saved is not None
    assert saved.engine.controls.paused_symbols[symbols[0]] >= engine_now + 30 * 60_000
    assert symbols[-1] not in saved.engine.controls.paused_symbols
    with Journal(Home(home).journal) as journal:
        [call] = journal.llm_calls()
        assert [a["action"] for a in call["advice"]] == ["pause", "shrink"]
    assert journal_counts(home)["orders"] == orders_before  # advice never trades
