"""Alerts: engine records → outbox rows → the sender thread → real loopback Telegram / Discord servers."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.engine import Holding, Notice
from core.portfolio import ClosedTrade
from core.research import StrategyMixChange
from core.risk.breakers import BreakerEvent, BreakerLevel
from core.types import StrategyName
from memory.journal import Journal
from memory.outbox import MAX_ATTEMPTS, OutboxStatus
from reports.alerts import (
    Alert,
    AlertKind,
    OutageWatch,
    alerts_from_record,
    batch_message,
    entry_alert,
    llm_alert,
    strategy_mix_alert,
)
from reports.embeds import (
    EMBED_DESCRIPTION_LIMIT,
    EMBED_FIELD_NAME_LIMIT,
    EMBED_FIELD_VALUE_LIMIT,
    EMBED_FIELDS_LIMIT,
    EMBED_TITLE_LIMIT,
    EMBED_TOTAL_LIMIT,
    EMBEDS_PER_MESSAGE,
    embed_size,
    escape_markdown,
)
from reports.notify import TELEGRAM_TEXT_LIMIT, DiscordNotifier, TelegramNotifier
from reports.outbox import OutboxSender
from reports.pacing import Pace
from scouts.llm.errors import BudgetReached, NoBalance
from tests.reports.loopback import Answer, LoopbackServer, telegram_error, telegram_ok

TOKEN = "4242:alerts_token"
NASTY = "<b>X&Y</b> @everyone"


def _holding(symbol: str = "BTCUSDT", kind: str = "oco") -> Holding:
    return Holding(position_id=f"{symbol}-1000-1", symbol=symbol, strategy=StrategyName("momentum"),
                   take_profit_pct=Decimal(2), stop_loss_pct=Decimal(1), entry_price=Decimal("100"),
                   stop_price=Decimal("99"), take_profit_price=Decimal("102"), high=100.0, next_rung=101.0,
                   protection_id="cx-p-1", protection_kind=kind)


def one_of_each() -> list[Alert]:
    """One alert of every kind, each from the record the engine emits for it."""
    minute = 60_000
    watch = OutageWatch(5 * minute)
    outage = watch.on_record(Notice(1_000, "data_outage", "ETHUSDT", "DATA_OUTAGE: stream silent"))
    outage += watch.on_record(Notice(1_000 + 6 * minute, "stop_through_market", "BTCUSDT", "moved"))
    alerts = [entry_alert(_holding(), Decimal("0.5"), Decimal("1000"), 2_000)]
    alerts += alerts_from_record(ClosedTrade("BTCUSDT-1000-1", "BTCUSDT", StrategyName("momentum"), Decimal("0.5"),
                                             Decimal("100"), Decimal("98.9"), Decimal("-0.55"), -1.1, 2_000, 3_000))
    alerts += alerts_from_record(Notice(4_000, "stop_gapped", "BTCUSDT", "stop gapped; selling at market"))
    alerts += alerts_from_record(BreakerEvent(5_000, "daily_loss", "tripped", BreakerLevel.DAILY_PAUSE, 3.2, 3.0,
                                              "daily loss 3.2% over 3%"))
    alerts += alerts_from_record(Notice(6_000, "kill", None, "kill switch engaged"))
    alerts += outage
    alerts += alerts_from_record(Notice(7_000, "entry_rejected", "SOLUSDT", "insufficient balance"))
    alerts += [llm_alert(BudgetReached("analyzer", "DEEPSEEK_DAILY_BUDGET_USD", Decimal("1.00"), Decimal("1.02")),
                         8_000)]
    alerts += [strategy_mix_alert(StrategyMixChange(
        9_000, 3, ((StrategyName("momentum"), Decimal("0.5")), (StrategyName("scalping"), Decimal("0.5"))),
        ((StrategyName("momentum"), Decimal("0.7")), (StrategyName("scalping"), Decimal("0.3"))),
        "momentum won 8 of 10"))]
    return alerts


def test_every_kind_comes_from_a_typed_record_and_once_per_event() -> None:
    alerts = one_of_each()
    assert [a.kind for a in alerts] == list(AlertKind), "one alert of every kind, in the order they are declared"
    assert len({a.key for a in alerts}) == len(alerts)
    again = one_of_each()
    assert [a.key for a in again] == [a.key for a in alerts], "a re-lived event must give the same key"
    assert alerts_from_record(Notice(1, "trail_skipped", "BTCUSDT", "x")) == []


def test_an_outage_is_alerted_once_after_the_threshold_and_not_when_it_ends_sooner() -> None:
    watch = OutageWatch(5 * 60_000)
    assert watch.on_record(Notice(0, "data_outage", "ETHUSDT", "stale")) == []
    assert watch.on_record(Notice(4 * 60_000, "data_gap", "BTCUSDT", "gap")) == []
    first = watch.on_record(Notice(5 * 60_000, "data_gap", "BTCUSDT", "gap"))
    assert [a.key for a in first] == ["outage:ETHUSDT:0"]
    assert watch.on_record(Notice(9 * 60_000, "data_gap", "BTCUSDT", "gap")) == []
    watch.on_record(Notice(10 * 60_000, "data_restored", "ETHUSDT", "back"))
    watch.on_record(Notice(11 * 60_000, "data_outage", "ETHUSDT", "stale"))
    assert watch.on_record(Notice(12 * 60_000, "data_restored", "ETHUSDT", "back")) == []


def test_a_closed_trade_counts_as_time_passing_for_an_outage() -> None:
    """A replay with a notifier stopped with AttributeError at its first closed trade (no `time_ms` on it)."""
    watch = OutageWatch(5 * 60_000)
    assert watch.on_record(Notice(0, "data_outage", "ETHUSDT", "stale")) == []
    trade = ClosedTrade("BTCUSDT-1000-1", "BTCUSDT", StrategyName("momentum"), Decimal("0.5"), Decimal("100"),
                        Decimal("101"), Decimal("0.5"), 1.0, 1_000, 5 * 60_000)
    assert [a.key for a in watch.on_record(trade)] == ["outage:ETHUSDT:0"]


def test_entry_alert_names_its_protection_and_size() -> None:
    fields = dict(entry_alert(_holding(), Decimal("0.5"), Decimal("1000"), 1).fields)
    assert fields == {"symbol": "BTCUSDT", "quantity": "0.5", "price": "100", "take-profit": "102", "stop": "99",
                      "strategy": "momentum", "size": "5.00% of equity"}
    assert dict(entry_alert(_holding(kind="stop"), Decimal("0.5"), Decimal("1000"), 1).fields)["take-profit"] \
        == "none (stop only)"


def test_special_characters_are_escaped_for_each_service() -> None:
    payload = alerts_from_record(Notice(1, "exit_rejected", NASTY, f"refused: {NASTY} *bold* _it_ `code`"))[0].payload()
    telegram, _ = batch_message("telegram", [payload])
    assert isinstance(telegram, str)
    assert "&lt;b&gt;X&amp;Y&lt;/b&gt;" in telegram and "<b>X" not in telegram
    assert telegram.startswith("<b>Exit rejected</b>")
    embeds, count = batch_message("discord", [payload])
    assert count == 1 and isinstance(embeds, tuple)
    values = [f["value"] for f in embeds[0]["fields"]]
    assert values[0] == "<b\\>X&Y</b\\> @\u200beveryone"
    assert values[1] == "refused: <b\\>X&Y</b\\> @\u200beveryone \\*bold\\* \\_it\\_ \\`code\\`"
    assert all("@everyone" not in v for v in values)


def test_an_llm_stop_that_is_not_one_is_refused() -> None:
    from core.errors import InvalidArgument

    with pytest.raises(ValueError, match="not an LLM stop"):
        llm_alert(InvalidArgument("x", field="f", value=1), 1)
    alert = llm_alert(NoBalance("analyzer", "DEEPSEEK_API_KEY"), 5)
    assert alert.kind is AlertKind.LLM and alert.title == "LLM account out of balance (402)"
    assert dict(alert.fields)["setting"] == "DEEPSEEK_API_KEY"


_text = st.text(min_size=0, max_size=1500)


@settings(max_examples=60, deadline=None)
@given(reasons=st.lists(st.text(min_size=0, max_size=3000), min_size=1, max_size=12))
def test_a_telegram_batch_always_fits_4096_and_holds_at_least_one_alert(reasons: list[str]) -> None:
    payloads = [Alert(AlertKind.ERROR, str(i), i, "Entry rejected", "A&B", (("reason", r),)).payload()
                for i, r in enumerate(reasons)]
    text, count = batch_message("telegram", payloads)
    assert isinstance(text, str) and 1 <= count <= len(payloads)
    assert len(text) <= TELEGRAM_TEXT_LIMIT
    assert "&" not in text.replace("&amp;", "").replace("&lt;", "").replace("&gt;", "")


@settings(max_examples=80, deadline=None)
@given(items=st.lists(st.tuples(st.text(max_size=400), st.text(max_size=5000),
                                st.lists(st.tuples(_text, _text), max_size=40)), min_size=1, max_size=14),
       service=st.sampled_from(["discord", "discord_research"]))
def test_a_discord_batch_always_respects_every_embed_limit(items: list[tuple[str, str, list[tuple[str, str]]]],
                                                           service: str) -> None:
    payloads = [{"title": t or "x", "description": d, "fields": [list(f) for f in fs], "footer": "intel · scout"}
                for t, d, fs in items]
    embeds, count = batch_message(service, payloads)
    assert isinstance(embeds, tuple) and 1 <= count == len(embeds) <= min(len(payloads), EMBEDS_PER_MESSAGE)
    assert sum(embed_size(e) for e in embeds) <= EMBED_TOTAL_LIMIT
    for embed in embeds:
        assert len(embed["title"]) <= EMBED_TITLE_LIMIT
        assert len(embed.get("description", "")) <= EMBED_DESCRIPTION_LIMIT
        assert len(embed["fields"]) <= EMBED_FIELDS_LIMIT
        assert all(0 < len(f["name"]) <= EMBED_FIELD_NAME_LIMIT and 0 < len(f["value"]) <= EMBED_FIELD_VALUE_LIMIT
                   for f in embed["fields"])


def test_fields_past_the_25th_are_kept_in_the_last_one() -> None:
    payload = {"title": "many", "fields": [[f"n{i}", f"v{i}"] for i in range(30)]}
    (embed,), _ = batch_message("discord", [payload])
    assert len(embed["fields"]) == EMBED_FIELDS_LIMIT
    assert embed["fields"][-1]["name"] == "more" and "n29: v29" in embed["fields"][-1]["value"]


def _queue(journal: Journal, alerts: list[Alert], services: list[str]) -> None:
    with journal.batch():
        for alert in alerts:
            journal.outbox.add(alert.key, services, alert.kind.value, alert.time_ms, alert.payload())


def _wait_settled(journal: Journal, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(s.pending == 0 for s in journal.outbox.summary()):
            return
        time.sleep(0.05)
    raise AssertionError(f"outbox not settled: {journal.outbox.summary()}")


def _titles(texts: list[str]) -> list[str]:
    return [line for text in texts for line in text.split("\n") if line.startswith(("<b>", "**"))]


def test_every_kind_arrives_once_in_order_at_both_services_and_duplicates_are_not_queued(tmp_path: Path) -> None:
    telegram, discord = LoopbackServer([telegram_ok()]), LoopbackServer([Answer(204, None)])
    journal = Journal(tmp_path / "journal.db")
    alerts = one_of_each()
    _queue(journal, alerts, ["discord", "telegram"])
    _queue(journal, alerts, ["discord", "telegram"])  # the same events re-lived after a restart
    with telegram.running(), discord.running():
        notifiers = [TelegramNotifier(TOKEN, "42", telegram.base_url),
                     DiscordNotifier(f"{discord.base_url}/api/webhooks/1/secret")]
        sender = OutboxSender(journal.path, notifiers).start()
        _wait_settled(journal)
        sender.stop(1.0)
    assert _titles([r.json["text"] for r in telegram.received]) == [f"<b>{a.title}</b>" for a in alerts]
    assert all(r.json["parse_mode"] == "HTML" for r in telegram.received)
    embeds = [e for r in discord.received for e in r.json["embeds"]]
    assert [e["title"] for e in embeds] == [escape_markdown(a.title) for a in alerts]
    assert all(r.json["allowed_mentions"] == {"parse": []} and "content" not in r.json for r in discord.received)
    summary = {s.service: s for s in journal.outbox.summary()}
    assert summary["telegram"].pending == summary["telegram"].failed == 0
    assert summary["telegram"].last_sent_ms is not None
    journal.close()


def test_a_burst_is_one_message(tmp_path: Path) -> None:
    server = LoopbackServer([telegram_ok()])
    journal = Journal(tmp_path / "journal.db")
    _queue(journal, one_of_each(), ["telegram"])
    with server.running():
        sender = OutboxSender(journal.path, [TelegramNotifier(TOKEN, "42", server.base_url)]).start()
        _wait_settled(journal)
        sender.stop(1.0)
    assert len(server.received) == 1
    journal.close()


def test_429_retry_after_is_honoured_and_5xx_is_retried(tmp_path: Path) -> None:
    server = LoopbackServer([telegram_error(429, "Too Many Requests: retry after 1", retry_after=1),
                             telegram_error(502, "Bad Gateway"), telegram_ok()])
    journal = Journal(tmp_path / "journal.db")
    _queue(journal, one_of_each()[:1], ["telegram"])
    with server.running():
        started = time.monotonic()
        sender = OutboxSender(journal.path, [TelegramNotifier(TOKEN, "42", server.base_url)]).start()
        _wait_settled(journal)
        waited = time.monotonic() - started
        sender.stop(1.0)
    assert len(server.received) == 3, "429, then 502, then delivered"
    assert waited >= 1.0, "the 429 asked for one second"
    assert journal.outbox.summary()[0].pending == 0 and journal.outbox.summary()[0].failed == 0
    journal.close()


def test_a_message_the_service_refuses_is_marked_failed_and_the_next_ones_go_out(tmp_path: Path) -> None:
    server = LoopbackServer([telegram_error(400, "Bad Request: can't parse entities")] * MAX_ATTEMPTS
                            + [telegram_ok()])
    journal = Journal(tmp_path / "journal.db")
    alerts = one_of_each()
    _queue(journal, alerts[:1], ["telegram"])
    with server.running():
        notifier = TelegramNotifier(TOKEN, "42", server.base_url)
        notifier.pace = Pace(0.0)
        sender = OutboxSender(journal.path, [notifier], retry_backoff_s=0.01).start()
        _wait_settled(journal)
        _queue(journal, alerts[1:2], ["telegram"])
        _wait_settled(journal)
        sender.stop(1.0)
    summary = journal.outbox.summary()[0]
    assert summary.failed == 1 and summary.pending == 0
    assert "can't parse entities" in (summary.last_error or "")
    assert len(server.received) == MAX_ATTEMPTS + 1
    assert server.received[-1].json["text"].startswith("<b>Exit BTCUSDT</b>")
    statuses = [r[0] for r in journal._db.fetch_all("SELECT status FROM alert_outbox ORDER BY id")]
    assert statuses == [OutboxStatus.FAILED.value, OutboxStatus.SENT.value]
    journal.close()


def test_a_hanging_service_does_not_hold_up_stop(tmp_path: Path) -> None:
    server = LoopbackServer([Answer(200, {"ok": True}, delay_s=20)])
    journal = Journal(tmp_path / "journal.db")
    _queue(journal, one_of_each()[:1], ["telegram"])
    with server.running():
        sender = OutboxSender(journal.path, [TelegramNotifier(TOKEN, "42", server.base_url, timeout_s=30)]).start()
        time.sleep(0.3)
        sender.stop(0.2)
    assert journal.outbox.summary()[0].pending == 1, "undelivered alerts wait in the outbox for the next start"
    journal.close()


@pytest.mark.parametrize("raw, telegram, discord", [
    (None, set(AlertKind), set(AlertKind)),
    ("none", set(), set()),
    ("entry,Exit", {AlertKind.ENTRY, AlertKind.EXIT}, {AlertKind.ENTRY, AlertKind.EXIT}),
    ("telegram:all;discord:kill,breaker", set(AlertKind), {AlertKind.KILL, AlertKind.BREAKER}),
    ("discord:error", set(), {AlertKind.ERROR}),
])
def test_alerts_setting_routes_kinds_per_service(raw: str | None, telegram: set[AlertKind],
                                                 discord: set[AlertKind]) -> None:
    from runtime.settings import alert_routes

    routes = alert_routes({} if raw is None else {"ALERTS": raw})
    assert routes == {"telegram": frozenset(telegram), "discord": frozenset(discord)}


def test_the_sender_keeps_to_the_notifiers_pace(tmp_path: Path) -> None:
    """A destination whose window is used up gets nothing more until the window moves on; the others still go."""
    telegram, discord = LoopbackServer([telegram_ok()]), LoopbackServer([Answer(204, None)])
    journal = Journal(tmp_path / "journal.db")
    alerts = one_of_each()
    with telegram.running(), discord.running():
        paced = TelegramNotifier(TOKEN, "-1001", telegram.base_url)
        paced.pace = Pace(0.0, per_window=1, window_s=3600.0)  # one message an hour: the second must wait
        free = DiscordNotifier(f"{discord.base_url}/api/webhooks/1/secret")
        free.pace = Pace(0.0)
        sender = OutboxSender(journal.path, [paced, free]).start()
        _queue(journal, alerts[:1], ["discord", "telegram"])
        _wait_settled(journal)
        _queue(journal, alerts[1:2], ["discord", "telegram"])
        deadline = time.monotonic() + 30
        while len(discord.received) < 2:
            assert time.monotonic() < deadline, "the unpaced service must not wait for the paced one"
            time.sleep(0.05)
        sender.stop(0.5)
    assert len(telegram.received) == 1
    summary = {s.service: s for s in journal.outbox.summary()}
    assert summary["telegram"].pending == 1 and summary["discord"].pending == 0
    journal.close()


def test_a_telegram_group_is_paced_at_20_a_minute_and_a_private_chat_is_not() -> None:
    group = TelegramNotifier(TOKEN, "-100330331", "http://127.0.0.1:1").pace  # ids no other test uses: the
    private = TelegramNotifier(TOKEN, "330331", "http://127.0.0.1:1").pace  # paces are the process's
    for second in range(20):
        group.note(float(second))
        private.note(float(second))
    assert group.wait_s(20.0) == 40.0, "the 21st message to a group waits for the first to leave the minute"
    assert private.wait_s(20.0) == 0.0
