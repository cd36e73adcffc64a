"""The bot's command parsing, its HTML, and the settings that start it (issue 14, section 2)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import ConfigError
from reports.notify import TELEGRAM_TEXT_LIMIT, telegram_chat_ids
from reports.pacing import TELEGRAM_GROUP_PER_MINUTE, ChatPaces, telegram_pace
from reports.telegram_api import ChatPacer, callback_data
from runtime.settings import check_settings
from tools.telegram.commands import BadCommand, Command, message, parse

BOT = {"TELEGRAM_BOT_TOKEN": "123:secret-token-value", "TELEGRAM_CHAT_ID": "42"}


@pytest.mark.parametrize(("text", "tool", "arguments"), [
    ("/status", "status", {}),
    ("/positions@my_bot", "status", {}),
    ("/balance", "status", {}),
    ("/profit", "report", {"period": "day"}),
    ("/profit WEEK", "report", {"period": "week"}),
    ("/report week 2026-01-05", "report", {"period": "week", "date": "2026-01-05"}),
    ("/pause ethusdt 15", "pause", {"symbol": "ETHUSDT", "minutes": 15}),
    ("/pause all 60", "pause", {"minutes": 60}),
    ("/resume", "resume", {}),
    ("/resume BTCUSDT", "resume", {"symbol": "BTCUSDT"}),
    ("/kill", "kill", {}),
    ("/sell btcusdt", "trade", {"symbol": "BTCUSDT", "side": "sell"}),
    ("/trade BTCUSDT buy 25", "trade", {"symbol": "BTCUSDT", "side": "buy", "quote": "25"}),
    ("/trade BTCUSDT BUY 25.5 2% 1", "trade", {"symbol": "BTCUSDT", "side": "buy", "quote": "25.5", "tp": "2",
                                               "sl": "1"}),
])
def test_each_command_is_one_tool_call(text: str, tool: str, arguments: dict[str, object]) -> None:
    call = parse(text)
    assert (call.tool, call.arguments) == (tool, arguments)


@pytest.mark.parametrize(("text", "problem"), [
    ("/kill now", "expected 0 argument(s), got 1"),
    ("/pause BTCUSDT", "expected 2 argument(s), got 1"),
    ("/pause BTC-USDT 5", "'BTC-USDT' is not a symbol"),
    ("/pause all 0", "MINUTES must be a whole number from 1 to 10080, not '0'"),
    ("/profit month", "period must be day or week, not 'month'"),
    ("/trade BTCUSDT buy NaN", "QUOTE must be a positive number, not 'NaN'"),
    ("/trade BTCUSDT buy 10 x", "TP% must be a positive number, not 'x'"),
    ("/reset_kill", "unknown command /reset_kill"),
])
def test_bad_arguments_name_what_was_wrong(text: str, problem: str) -> None:
    with pytest.raises(BadCommand) as refused:
        parse(text)
    assert problem in refused.value.problem


def test_the_kill_reset_is_not_a_bot_command() -> None:
    assert "kill_reset" not in {c.value for c in Command} and "reset" not in " ".join(c.value for c in Command)


@given(st.text(min_size=0, max_size=6000), st.text(min_size=1, max_size=100))
def test_every_message_is_escaped_html_within_the_limit(body: str, title: str) -> None:
    text = message(title, body)
    assert len(text) <= TELEGRAM_TEXT_LIMIT
    inner = text.removeprefix("<b>")
    assert "<" not in inner.replace("</b>", "", 1), "no tag but our own"
    assert all(part.split(";")[0] in ("lt", "gt", "amp") for part in inner.split("&")[1:]), "every & is an entity"


def test_callback_data_fits_telegram_limit() -> None:
    assert callback_data("tc", "123456", "ABCD-EFGH") == "tc:123456:ABCD-EFGH"
    with pytest.raises(Exception, match="64 allowed"):
        callback_data("tc", "x" * 70)


class FakeTime:
    def __init__(self, now: float) -> None:
        self.now = now
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_the_pacer_spaces_messages_to_one_chat_by_a_second() -> None:
    clock = FakeTime(100.0)
    pacer = ChatPacer(ChatPaces(), clock=lambda: clock.now, sleep=clock.sleep)
    pacer.wait_turn("1")
    pacer.wait_turn("2")
    pacer.wait_turn("1")
    pacer.wait_turn("1")
    assert clock.slept == [1.0, 1.0], "the second and third messages to chat 1 wait their turn; chat 2 does not"


def test_the_bot_and_the_alert_sender_share_each_chats_limits() -> None:
    """Both send to the same chats from one process: Telegram counts their messages together."""
    paces, clock = ChatPaces(), FakeTime(0.0)
    alerts = telegram_pace(["42", "-100"], paces)  # what the alert sender of a notifier for both chats asks
    bot = ChatPacer(paces, clock=lambda: clock.now, sleep=clock.sleep)
    alerts.note(clock.now)
    bot.wait_turn("42")
    assert clock.slept == [1.0], "the bot waits for the alert that just went to the same chat"
    assert alerts.wait_s(clock.now) == 1.0, "and the alert sender waits for the bot's message"
    for _ in range(TELEGRAM_GROUP_PER_MINUTE - 1):
        bot.wait_turn("-100")
    assert clock.now < 60.0 and alerts.wait_s(clock.now) > 1.0, "the group's 20 a minute are the bot's and the alerts'"


def test_chat_ids_are_a_list_and_one_id_still_works() -> None:
    assert telegram_chat_ids("42") == ("42",)
    assert telegram_chat_ids(" 42, -100123 ,42,@my_channel") == ("42", "-100123", "@my_channel")
    with pytest.raises(ConfigError, match="TELEGRAM_CHAT_ID"):
        telegram_chat_ids("42;43")


@pytest.mark.parametrize(("env", "setting"), [
    ({"TRADE_CONFIRMATION_CHANNEL": "sms"}, "TRADE_CONFIRMATION_CHANNEL"),
    ({"TRADE_CONFIRMATION_CHANNEL": "telegram"}, "TELEGRAM_BOT_TOKEN"),
    ({"TRADE_CONFIRMATION_CHANNEL": "Telegram", "TELEGRAM_BOT_TOKEN": "1:x"}, "TELEGRAM_CHAT_ID"),
    ({"TELEGRAM_COMMANDS": "on"}, "TELEGRAM_BOT_TOKEN"),
    ({"TELEGRAM_COMMANDS": "yes", **BOT}, "TELEGRAM_COMMANDS"),
])
def test_bot_settings_are_refused_by_name(env: dict[str, str], setting: str) -> None:
    with pytest.raises(ConfigError) as refused:
        check_settings(env)
    assert refused.value.details["setting"] == setting


def test_the_bot_starts_only_when_asked_for() -> None:
    assert check_settings(BOT).telegram_bot is None, "reports alone need no command bot"
    commands = check_settings({**BOT, "TELEGRAM_COMMANDS": "on", "TELEGRAM_CHAT_ID": "42,43"})
    assert commands.telegram_bot is not None and commands.telegram_bot.chat_ids == ("42", "43")
    assert commands.confirmation_channel == "terminal"
    channel = check_settings({**BOT, "TRADE_CONFIRMATION_CHANNEL": "telegram"})
    assert channel.telegram_bot is not None and channel.confirmation_channel == "telegram"
    assert "secret-token-value" not in repr(channel)


def test_reports_and_alerts_go_to_every_listed_chat() -> None:
    from reports.notify import TelegramNotifier
    from tests.reports.loopback import LoopbackServer, telegram_ok

    server = LoopbackServer([telegram_ok()])
    with server.running():
        notifier = TelegramNotifier("123:secret-token-value", "42,-100123", server.base_url)
        notifier.send("daily report")
        notifier.send_alert("<b>Entry</b>")
    assert [(r.json["chat_id"], r.json["text"]) for r in server.received] == [
        ("42", "daily report"), ("-100123", "daily report"), ("42", "<b>Entry</b>"), ("-100123", "<b>Entry</b>")]
