"""`status` shows LLM health per role and the paid provider's spend against its budgets, from the journal the
real client wrote (DeepSeek fake over a socket)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from core.config import ExecutorConfig
from memory.journal import Journal
from runtime.home import Home
from scouts.llm.client import LlmClient
from scouts.llm.settings import LlmSettings
from tests.fakes.openai_compat import FakeOpenAI, Mode, Reply
from tests.llm.support import ASK, EXAMPLE, KEY, OFF_PEAK_MS, FixedClock
from tools.chat import status_text
from tools.spec import ToolContext
from tools.status import StatusInput, handle

USAGE = {"prompt_tokens": 100_000, "completion_tokens": 10_000,
         "prompt_cache_hit_tokens": 0, "prompt_cache_miss_tokens": 100_000}
COST = Decimal("0.015") + Decimal("0.006")  # 0.1M × $0.15 + 0.01M × $0.60 (deepseek-flash, off-peak)


def test_status_shows_each_roles_health_the_stop_after_402_and_the_spend(tmp_path: Path) -> None:
    home = Home(tmp_path / "home").ensure()
    with FakeOpenAI(Mode.DEEPSEEK, api_key=KEY) as fake:
        env = {"DEEPSEEK_API_KEY": KEY, "DEEPSEEK_BASE_URL": fake.base_url, "DEEPSEEK_DEADLINE_S": "3",
               "SCOUT_MODELS": "qwen2.5-3b-instruct", "DEEPSEEK_DAILY_BUDGET_USD": "0.05"}
        settings = LlmSettings.from_env(env)
        fake.script(Reply.json({"verdict": "veto", "size_pct": 0}, usage=USAGE), Reply.error(402))
        with Journal(home.journal) as journal:
            client = LlmClient(settings.analyzer(), settings, journal, clock=FixedClock())
            client.complete_sync(ASK, EXAMPLE)
            client.complete_sync(ASK, EXAMPLE)
    ctx = ToolContext(home=home, config=ExecutorConfig(), env=env, now_ms=lambda: OFF_PEAK_MS + 60_000)
    llm = handle(StatusInput(), ctx).llm
    assert llm is not None
    analyzer, scout = llm.roles
    assert (analyzer.role, analyzer.model, analyzer.configured, analyzer.calls, analyzer.failures) == (
        "analyzer", "deepseek-flash", True, 2, 1)
    assert analyzer.last_ok is False and analyzer.last_reason == "no_balance" and analyzer.stopped_by == "no_balance"
    assert (scout.role, scout.configured, scout.calls, scout.last_call_ms) == ("scout", True, 0, None)
    assert llm.spend is not None
    assert Decimal(llm.spend.today_usd) == COST == Decimal(llm.spend.month_usd)
    assert Decimal(llm.spend.daily_left_usd) == Decimal("0.05") - COST
    assert llm.spend.today_tokens == 110_000 and llm.spend.daily_tokens_left == 300_000 - 110_000

    text = "\n".join(status_text(handle(StatusInput(), ctx).model_dump(mode="json")).detail)
    assert "analyzer deepseek-flash: configured, last call failed (no_balance)" in text
    assert "STOPPED by no_balance" in text and "deepseek spend: today $0.0210" in text

    next_day = ToolContext(home=home, config=ExecutorConfig(), env=env, now_ms=lambda: OFF_PEAK_MS + 86_400_000)
    spend = handle(StatusInput(), next_day).llm.spend  # type: ignore[union-attr]
    assert spend is not None and Decimal(spend.today_usd) == 0 and Decimal(spend.month_usd) == COST


def test_a_setting_status_cannot_read_is_shown_not_fatal(tmp_path: Path) -> None:
    home = Home(tmp_path / "home").ensure()
    with Journal(home.journal):
        pass
    ctx = ToolContext(home=home, config=ExecutorConfig(), env={"SCOUT_MAX_ROUNDS": "99"}, now_ms=lambda: 0)
    llm = handle(StatusInput(), ctx).llm
    assert llm is not None and llm.spend is None and llm.settings_error is not None
