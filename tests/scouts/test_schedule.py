"""The scouts' schedule inside `run`: off in a replay and without SCOUT_MODELS; a round on the home's engine
never raises, whatever LM Studio does."""

from __future__ import annotations

from pathlib import Path

from core.config import ExecutorConfig
from runtime.home import Home
from runtime.scout_schedule import ScoutSchedule
from scouts.llm.settings import LlmSettings
from tests.fakes.openai_compat import FakeOpenAI, Reply
from tests.scouts.support import PLAIN_MODEL, scout_env
from tests.tools.test_cli_support import closed_loopback_url, prepare_home
from tools.state import read_saved_engine


def test_the_schedule_is_off_without_models_and_in_a_replay() -> None:
    with_models = LlmSettings.from_env({"SCOUT_MODELS": "qwen2.5-3b-instruct"})
    assert ScoutSchedule.wanted(with_models, "paper")
    assert not ScoutSchedule.wanted(with_models, "replay")
    assert not ScoutSchedule.wanted(LlmSettings.from_env({}), "paper")


def test_a_scheduled_round_pauses_the_symbol_on_the_homes_engine(lmstudio: FakeOpenAI, tmp_path: Path) -> None:
    home = Home(prepare_home(tmp_path / "home"))
    saved = read_saved_engine(home, ExecutorConfig())
    assert saved is not None
    symbol, now = sorted(saved.engine.symbols)[0], saved.engine.now_ms
    lmstudio.script(Reply.json({"intel": [{"symbol": symbol, "bias": "bearish", "confidence": 0.9, "horizon_min": 30,
                                           "rationale": "sell-off", "expires_in_min": 45}]}))
    env = scout_env(lmstudio, PLAIN_MODEL)
    schedule = ScoutSchedule(home, ExecutorConfig(), env, LlmSettings.from_env(env), lambda: now)
    schedule.run_once()
    after = read_saved_engine(home, ExecutorConfig())
    assert after is not None and after.engine.controls.paused_symbols[symbol] >= now + 44 * 60_000


def test_a_round_that_fails_never_raises_and_the_thread_stops_at_once(tmp_path: Path) -> None:
    env = {"SCOUT_MODELS": "qwen2.5-3b-instruct", "LMSTUDIO_BASE_URL": f"{closed_loopback_url()}/v1"}
    schedule = ScoutSchedule(Home(tmp_path / "home").ensure(), ExecutorConfig(), env, LlmSettings.from_env(env),
                             lambda: 0)
    schedule.run_once()  # LM Studio unreachable: logged, not raised
    assert schedule.rounds == 1
    schedule.start()
    schedule.stop()
    assert schedule.rounds == 1 and not schedule.running
