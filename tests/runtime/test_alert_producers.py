"""Alerts and research items from producers outside the engine, through the outbox to loopback servers:
the LLM client's stops (DeepSeek 402, a budget reached), the adaptive memory's strategy-mix changes, and
research items for the research webhook."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from core.clock import MS_PER_DAY
from core.config import AdaptConfig, ExecutorConfig, StrategyConfig
from core.engine import Engine
from core.performance import TradeOutcome
from core.portfolio import Portfolio
from core.research import ResearchItem, ResearchKind, StrategyMixChange
from core.types import StrategyName
from exchange.feeds.rules import offline_rules
from memory.journal import Journal
from memory.versions import LearnedVersions
from reports.alerts import AlertKind
from reports.embeds import escape_markdown
from reports.notify import DiscordNotifier, TelegramNotifier
from reports.outbox import OutboxSender
from runtime.alerting import AlertOutbox, ResearchQueue, llm_stop_hook
from runtime.learned_memory import alert_adjustment
from runtime.settings import alert_routes
from scouts.llm.client import LlmClient
from scouts.llm.results import Unavailable, UnavailableReason
from tests.fakes.openai_compat import FakeOpenAI, Mode, Reply
from tests.llm.support import ASK, EXAMPLE, KEY, FixedClock, settings_for
from tests.reports.loopback import Answer, LoopbackServer, telegram_ok

TOKEN = "4242:producers_token"


@pytest.fixture
def deepseek() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(Mode.DEEPSEEK, api_key=KEY) as fake:
        yield fake


@pytest.fixture
def servers() -> Iterator[tuple[LoopbackServer, LoopbackServer, LoopbackServer]]:
    telegram, execution, research = (LoopbackServer([telegram_ok()]), LoopbackServer([Answer(204, None)]),
                                     LoopbackServer([Answer(204, None)]))
    with telegram.running(), execution.running(), research.running():
        yield telegram, execution, research


def _notifiers(servers: tuple[LoopbackServer, LoopbackServer, LoopbackServer]) -> tuple[
        TelegramNotifier, DiscordNotifier, DiscordNotifier]:
    telegram, execution, research = servers
    return (TelegramNotifier(TOKEN, "-1001", telegram.base_url),
            DiscordNotifier(f"{execution.base_url}/api/webhooks/1/exec-secret"),
            DiscordNotifier(f"{research.base_url}/api/webhooks/2/research-secret", service="discord_research"))


def _deliver(journal: Journal, notifiers: list[object], timeout: float = 30.0) -> None:
    sender = OutboxSender(journal.path, notifiers).start()  # type: ignore[arg-type]
    deadline = time.monotonic() + timeout
    while any(s.pending for s in journal.outbox.summary()):
        assert time.monotonic() < deadline, journal.outbox.summary()
        time.sleep(0.05)
    sender.stop(1.0)


def _analyzer(fake: FakeOpenAI, journal: Journal, outbox: AlertOutbox, **env: str) -> LlmClient:
    settings = settings_for(fake, **env)
    return LlmClient(settings.analyzer(), settings, journal, clock=FixedClock(), on_stop=llm_stop_hook(outbox))


def test_a_402_is_alerted_once_to_both_services(deepseek: FakeOpenAI, tmp_path: Path,
                                                servers: tuple[LoopbackServer, ...]) -> None:
    telegram, execution, _ = servers
    journal = Journal(tmp_path / "journal.db")
    notifiers = _notifiers(servers)  # type: ignore[arg-type]
    outbox = AlertOutbox(journal, notifiers[:2], alert_routes({}))
    client = _analyzer(deepseek, journal, outbox)
    deepseek.script(Reply.error(402))
    for _ in range(3):  # the stop is journaled once; the calls after it are refused without a new stop
        assert isinstance(client.complete_sync(ASK, EXAMPLE), Unavailable)
    _deliver(journal, list(notifiers[:2]))
    [text] = [r.json["text"] for r in telegram.received]
    assert text.startswith("<b>LLM account out of balance (402)</b>") and "DEEPSEEK_API_KEY" in text
    [embed] = [e for r in execution.received for e in r.json["embeds"]]
    assert embed["title"] == escape_markdown("LLM account out of balance (402)")
    journal.close()


def test_a_budget_reached_is_alerted_once_per_budget_and_period(deepseek: FakeOpenAI, tmp_path: Path,
                                                                servers: tuple[LoopbackServer, ...]) -> None:
    telegram, _, _ = servers
    journal = Journal(tmp_path / "journal.db")
    clock = FixedClock()
    journal.record_llm_call(clock.ms - 60_000, "analyzer", "deepseek-flash", 10, 10, 100, True, "earlier",
                            provider="deepseek", cost_usd=Decimal("0.10"))
    notifiers = _notifiers(servers)  # type: ignore[arg-type]
    outbox = AlertOutbox(journal, notifiers[:1], alert_routes({"ALERTS": "llm"}))
    client = _analyzer(deepseek, journal, outbox, DEEPSEEK_DAILY_BUDGET_USD="0.10")
    for _ in range(3):
        result = client.complete_sync(ASK, EXAMPLE)
        assert isinstance(result, Unavailable) and result.reason is UnavailableReason.BUDGET
    _deliver(journal, list(notifiers[:1]))
    [text] = [r.json["text"] for r in telegram.received]
    assert text.startswith("<b>LLM budget reached</b>")
    assert "budget: DEEPSEEK_DAILY_BUDGET_USD" in text and "limit: 0.10" in text
    assert deepseek.requests == []
    journal.close()


def test_an_alert_route_without_llm_queues_nothing_for_it(deepseek: FakeOpenAI, tmp_path: Path,
                                                          servers: tuple[LoopbackServer, ...]) -> None:
    journal = Journal(tmp_path / "journal.db")
    outbox = AlertOutbox(journal, _notifiers(servers)[:1], alert_routes({"ALERTS": "entry,exit"}))  # type: ignore[arg-type]
    deepseek.script(Reply.error(402))
    _analyzer(deepseek, journal, outbox).complete_sync(ASK, EXAMPLE)
    assert [e["code"] for e in journal.errors()] == ["LLM_NO_BALANCE"]
    assert journal.outbox.summary() == []
    journal.close()


def test_a_strategy_mix_change_is_alerted_once(tmp_path: Path, servers: tuple[LoopbackServer, ...]) -> None:
    telegram, _, _ = servers
    journal = Journal(tmp_path / "journal.db")
    notifiers = _notifiers(servers)  # type: ignore[arg-type]
    outbox = AlertOutbox(journal, notifiers[:1], alert_routes({}))
    change = StrategyMixChange(1_700_000_000_000, 4,
                               ((StrategyName("momentum"), Decimal("0.5")), (StrategyName("stat_arb"), Decimal("0.5"))),
                               ((StrategyName("momentum"), Decimal("0.8")), (StrategyName("scalping"), Decimal("0.2"))),
                               "stat_arb lost 6 of 7 <trades> & paused")
    with journal.batch():
        assert outbox.strategy_mix(change) == 1
    assert outbox.strategy_mix(change) == 0, "the same change re-lived is not queued again"
    _deliver(journal, list(notifiers[:1]))
    [text] = [r.json["text"] for r in telegram.received]
    assert text.split("\n") == ["<b>Strategy mix changed (v4)</b>", "momentum: 50.00% → 80.00%",
                                "scalping: 0.00% → 20.00%", "stat_arb: 50.00% → 0.00%",
                                "reason: stat_arb lost 6 of 7 &lt;trades&gt; &amp; paused"]
    assert journal._db.fetch_all("SELECT kind FROM alert_outbox")[0]["kind"] == AlertKind.STRATEGY_MIX.value
    journal.close()


def _item(key: str, kind: ResearchKind = ResearchKind.INTEL) -> ResearchItem:
    return ResearchItem(kind, key, 1_700_000_000_000, "qwen2.5-3b-instruct", "ETH/USDT @here funding flips",
                        "Funding turned *negative* on three venues; [link](http://x) `code` @everyone",
                        symbol="ETHUSDT", fields=(("confidence", "0.62"), ("horizon", "4h")))


def test_research_items_reach_only_the_research_webhook_as_embeds_once(tmp_path: Path,
                                                                       servers: tuple[LoopbackServer, ...]) -> None:
    telegram, execution, research = servers
    journal = Journal(tmp_path / "journal.db")
    notifiers = _notifiers(servers)  # type: ignore[arg-type]
    queue = ResearchQueue(journal, notifiers[2])
    assert queue.publish(_item("scout-round-7:ETHUSDT"))
    assert not queue.publish(_item("scout-round-7:ETHUSDT")), "the same item is queued once"
    assert queue.publish(_item("decision-91", ResearchKind.VERDICT))
    _deliver(journal, list(notifiers))
    assert telegram.received == [] and execution.received == []
    embeds = [e for r in research.received for e in r.json["embeds"]]
    assert all(r.json["allowed_mentions"] == {"parse": []} for r in research.received)
    assert [e["footer"]["text"] for e in embeds] == ["intel · qwen2.5\\-3b\\-instruct",
                                                     "verdict · qwen2.5\\-3b\\-instruct"]
    first = embeds[0]
    assert first["title"] == "ETH/USDT @\u200bhere funding flips"
    assert first["description"] == ("Funding turned \\*negative\\* on three venues; \\[link\\]\\(http://x\\) "
                                    "\\`code\\` @\u200beveryone")
    assert [(f["name"], f["value"]) for f in first["fields"]] == [("symbol", "ETHUSDT"), ("confidence", "0.62"),
                                                                  ("horizon", "4h")]
    journal.close()


def test_without_a_research_webhook_nothing_is_queued(tmp_path: Path, servers: tuple[LoopbackServer, ...]) -> None:
    journal = Journal(tmp_path / "journal.db")
    assert not ResearchQueue(journal, None).publish(_item("k"))
    assert not ResearchQueue(journal, _notifiers(servers)[1]).publish(_item("k")), "the execution webhook is not it"
    assert journal.outbox.summary() == []
    journal.close()


def test_an_adjustment_the_engine_made_is_alerted_to_telegram_and_discord(tmp_path: Path,
                                                                           servers: tuple[LoopbackServer, ...]) -> None:
    telegram, execution, _ = servers
    config = ExecutorConfig(strategies=StrategyConfig(allocation={"momentum": 0.5, "stat_arb": 0.5}),
                            adapt=AdaptConfig(min_trades=2))
    engine = Engine(config, offline_rules({"BTCUSDT": 40_000.0}), Portfolio("USDT", {"USDT": Decimal(1000)}),
                    ["BTCUSDT"], 0)
    engine.outcomes[StrategyName("momentum")] = [TradeOutcome(r, r, None, 1) for r in (2.0, 1.0, 1.5)]
    engine.outcomes[StrategyName("stat_arb")] = [TradeOutcome(r, r, None, 1) for r in (-2.0, -1.0, 0.5)]
    versions = LearnedVersions(tmp_path / "home")
    unchanged = versions.write(engine.learned, 0)  # the configured mix: no adjustment to alert
    engine._advance(MS_PER_DAY)
    adjusted = versions.write(engine.learned, MS_PER_DAY)
    journal = Journal(tmp_path / "journal.db")
    notifiers = _notifiers(servers)  # type: ignore[arg-type]
    outbox = AlertOutbox(journal, notifiers[:2], alert_routes({}))
    with journal.batch():
        assert alert_adjustment(outbox, unchanged) == 0
        assert alert_adjustment(outbox, adjusted) == 2  # one row per service
    assert alert_adjustment(outbox, adjusted) == 0, "a version is alerted once, however often it is published"
    _deliver(journal, list(notifiers[:2]))
    [text] = [r.json["text"] for r in telegram.received]
    assert text.split("\n") == ["<b>Strategy mix changed (v2)</b>", "momentum: 50.00% → 55.00%",
                                "stat_arb: 50.00% → 45.00%",
                                "reason: daily adjustment (lower_confidence_bound_softmax)"]
    [embed] = [e for r in execution.received for e in r.json["embeds"]]
    assert embed["title"] == escape_markdown("Strategy mix changed (v2)")
    assert {f["name"]: f["value"] for f in embed["fields"]}["momentum"] == "50.00% → 55.00%"
    journal.close()
