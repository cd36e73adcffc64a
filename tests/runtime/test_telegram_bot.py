"""The Telegram command bot inside a real `run --mode replay`, against a loopback Bot API server (tests/fakes)."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes.telegram import TOKEN, FakeTelegram
from tests.runtime.helpers import query, run_cli, saved_checkpoint, start_cli
from tests.tools.test_trade_support import SEED, SYMBOLS, operator_orders

pytestmark = pytest.mark.slow
CHAT = 4242
OTHER_CHAT = 777
RUN = ("run", "--mode", "replay", "--synthetic", "--seed", str(SEED), "--steps", "200000", "--symbols", SYMBOLS,
       "--balance", "100", "--no-view", "--speed", "20", "--checkpoint-every", "20")


@dataclass
class Running:
    home: Path
    proc: subprocess.Popen[str]
    telegram: FakeTelegram
    env: dict[str, str]

    def ask(self, text: str, replies: int = 1) -> list[str]:
        """Send `text` from the allowed chat; the text of the `replies` new messages it got."""
        before = len(self.telegram.sent(chat_id=CHAT))
        self.telegram.say(CHAT, text)
        calls = self.telegram.wait_for("sendMessage", before + replies, chat_id=CHAT)
        return [call.body["text"] for call in calls[before:before + replies]]

    def stop(self) -> dict[str, object]:
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=60)
        document = json.loads(out.strip().splitlines()[-1])
        assert document["ok"], err[-3000:]
        return document


def bot_env(telegram: FakeTelegram, **extra: str) -> dict[str, str]:
    return {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_CHAT_ID": f"{CHAT},-100999", "TELEGRAM_API_BASE": telegram.base_url,
            "TELEGRAM_COMMANDS": "on", "ALERTS": "none", **extra}


def start(home: Path, telegram: FakeTelegram, env: dict[str, str], run: tuple[str, ...] = RUN) -> Running:
    proc = start_cli(home, *run, env=env)
    deadline = time.monotonic() + 60
    while saved_checkpoint(home) is None or not telegram.offsets:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "run wrote no checkpoint or never polled Telegram"
        time.sleep(0.05)
    return Running(home, proc, telegram, env)


@contextmanager
def bot_running(home: Path, **env: str) -> Iterator[Running]:
    """A fake Telegram and a paced replay whose bot talks to it, stopped (if still running) at the end."""
    telegram = FakeTelegram()
    with telegram.running():
        bot = start(home, telegram, bot_env(telegram, **env))
        try:
            yield bot
        finally:
            if bot.proc.poll() is None:
                bot.proc.send_signal(signal.SIGTERM)
                bot.proc.communicate(timeout=60)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    with bot_running(tmp_path / "home") as bot:
        yield bot


def test_every_command_is_answered_from_the_tool_registry(running: Running) -> None:
    [help_text] = running.ask("/help")
    assert "/trade SYMBOL buy QUOTE" in help_text and "/kill" in help_text
    [status] = running.ask("/status")
    assert status.startswith("<b>Status</b>") and "Kill switch: off" in status and "Equity" in status
    [balance] = running.ask("/balance")
    assert "Equity" in balance and "Cash" in balance and "USDT" in balance
    [bought] = running.ask("/trade ETHUSDT buy 10")
    assert "trade: ok" in bought and "BUY ETHUSDT" in bought, bought
    [positions] = running.ask("/positions@executor_bot")
    assert "Positions (1)" in positions and "ETHUSDT" in positions and "protected (oco)" in positions
    [paused] = running.ask("/pause btcusdt 30")
    assert "entries on BTCUSDT paused for 30 min" in paused
    [paused_all] = running.ask("/pause all 5")
    assert "every symbol" in paused_all
    [resumed] = running.ask("/resume")
    assert "resume: ok" in resumed
    [sold] = running.ask("/sell ETHUSDT")
    assert "SELL ETHUSDT" in sold, sold
    [profit] = running.ask("/profit day")
    assert profit.startswith("<b>Profit, day of ") and "P&amp;L" in profit
    [report] = running.ask("/report week")
    assert report.startswith("<b>Report, week of ")
    [day_report] = running.ask("/report day 2023-11-14")
    assert day_report.startswith("<b>Report, day of 2023-11-14</b>")
    [killed] = running.ask("/kill")
    assert "kill: ok" in killed and "kill_switch: yes" in killed
    assert (running.home / "KILL").exists(), "the kill switch engaged at once"
    [refused] = running.ask("/trade BTCUSDT buy 10")
    assert "control.kill_switch" in refused or "kill switch" in refused.lower()
    orders = operator_orders(running.home)
    assert [(o[1], o[2]) for o in orders if o[3] == "MARKET"] == [("ETHUSDT", "BUY"), ("ETHUSDT", "SELL")]
    for call in running.telegram.sent(chat_id=CHAT):
        assert call.body["parse_mode"] == "HTML" and len(call.body["text"]) <= 4096
    final = running.stop()
    assert final["data"]["kill_switch"] is True  # type: ignore[index]


def test_bad_arguments_get_a_reply_naming_what_was_wrong_with_html_escaped(running: Running) -> None:
    [reply] = running.ask("/pause <b>&x 10")
    assert reply.startswith("<b>Not understood: '&lt;b&gt;&amp;x' is not a symbol like BTCUSDT")
    assert "Usage: /pause SYMBOL|all MINUTES" in reply
    [reply] = running.ask("/pause BTCUSDT soon")
    assert "MINUTES must be a whole number from 1 to 10080, not 'soon'" in reply
    [reply] = running.ask("/trade BTCUSDT sell 10")
    assert "only buy is supported here" in reply and "/sell" in reply
    [reply] = running.ask("/trade BTCUSDT buy -5")
    assert "QUOTE must be a positive number, not '-5'" in reply
    [reply] = running.ask("/report day 12-2026-01")
    assert "date '12-2026-01' is not YYYY-MM-DD" in reply
    [reply] = running.ask("/launch")
    assert "unknown command /launch" in reply
    [reply] = running.ask("/sell DOGEUSDT")
    assert "refused" in reply and "DOGEUSDT" in reply
    assert operator_orders(running.home) == []


def test_an_unauthorized_chat_commands_nothing_and_is_journaled(running: Running) -> None:
    running.telegram.say(OTHER_CHAT, "/kill")
    running.telegram.say(OTHER_CHAT, "/trade BTCUSDT buy 10")
    last = running.telegram.press(OTHER_CHAT, "tc:1:ABCD-EFGH")
    running.telegram.wait_for_offset(last + 1)
    [answer] = running.ask("/status")  # the allowed chat is answered after them: the others were handled
    assert "Kill switch: off" in answer
    assert running.telegram.sent(chat_id=OTHER_CHAT) == [] and running.telegram.sent("answerCallbackQuery") == []
    assert not (running.home / "KILL").exists() and operator_orders(running.home) == []
    rows = query(running.home / "journal.db", "SELECT code, message, details_json FROM errors WHERE code = ?",
                 "TELEGRAM_UNAUTHORIZED")
    assert len(rows) == 3
    tried = [json.loads(details)["tried"] for _, _, details in rows]
    assert tried == ["message '/kill'", "message '/trade BTCUSDT buy 10'", "button tc:1"]
    assert all(json.loads(details)["chat_id"] == str(OTHER_CHAT) for _, _, details in rows)
    assert not any(TOKEN in message + details for _, message, details in rows)
    assert "ABCD-EFGH" not in json.dumps(rows), "a code in a button press is never journaled"


def test_a_429_is_honoured_and_the_reply_still_arrives_once(running: Running) -> None:
    running.telegram.fail("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    running.telegram.fail("sendMessage", 502, "Bad Gateway")
    running.telegram.say(CHAT, "/balance")
    attempts = running.telegram.wait_for("sendMessage", 3, chat_id=CHAT)
    time.sleep(0.5)
    assert len(running.telegram.sent(chat_id=CHAT)) == 3, "one 429, one 502, then the reply; nothing more"
    assert attempts[1].at - attempts[0].at >= 1.0, "the retry waited the retry_after Telegram asked for"
    assert sum(1 for call in attempts if "Equity" in call.body["text"]) == 3  # the same message each time


def test_a_restart_does_not_answer_old_updates_again(tmp_path: Path) -> None:
    telegram = FakeTelegram()
    home = tmp_path / "home"
    with telegram.running():
        first = start(home, telegram, bot_env(telegram))
        first.ask("/pause BTCUSDT 30")
        last = telegram.say(CHAT, "/status")
        telegram.wait_for("sendMessage", 2, chat_id=CHAT)
        first.stop()
        second = start(home, telegram, bot_env(telegram))
        assert telegram.offsets[-1] == last + 1, "the restarted bot asks from after the last update it took"
        [answer] = second.ask("/help")
        assert "Commands" in answer
        second.stop()
    texts = [call.body["text"] for call in telegram.sent(chat_id=CHAT)]
    assert len(texts) == 3 and sum("paused for 30 min" in text for text in texts) == 1


def test_trade_confirmation_channel_needs_the_bot_settings(tmp_path: Path) -> None:
    code, envelope, _ = run_cli(tmp_path / "home", *RUN[:10], TRADE_CONFIRMATION_CHANNEL="telegram")
    assert code == 2 or not envelope["ok"]
    assert envelope["error"]["details"]["setting"] == "TELEGRAM_BOT_TOKEN"
    code, envelope, _ = run_cli(tmp_path / "home", *RUN[:10], TRADE_CONFIRMATION_CHANNEL="sms")
    assert envelope["error"]["details"]["setting"] == "TRADE_CONFIRMATION_CHANNEL"


# ----- out-of-band confirmation -------------------------------------------------------------------------------

AGENT_TRADE = ("trade", "--symbol", "ETHUSDT", "--side", "buy", "--quote", "10")


def _preview(bot: Running, **env: str) -> tuple[dict[str, object], str]:
    """The agent asks for a trade (its environment without the Telegram settings); its envelope and output."""
    code, envelope, stderr = run_cli(bot.home, *AGENT_TRADE, TRADE_CONFIRMATION="always", **env)
    assert code == 0, (envelope, stderr[-2000:])
    return envelope, json.dumps(envelope) + stderr


def _buttons(telegram: FakeTelegram, count: int) -> list[tuple[str, str]]:
    """(confirm data, cancel data) of every confirmation message sent to the first chat so far."""
    calls = [c for c in telegram.wait_for("sendMessage", count, chat_id=CHAT) if "reply_markup" in c.body]
    return [(row[0]["callback_data"], row[1]["callback_data"])
            for row in (c.body["reply_markup"]["inline_keyboard"][0] for c in calls)]


def _entries(home: Path) -> list[tuple[object, ...]]:
    return [o for o in operator_orders(home) if o[2] == "BUY" and o[3] == "MARKET"]


@pytest.fixture
def confirming(tmp_path: Path) -> Iterator[Running]:
    with bot_running(tmp_path / "home", TELEGRAM_COMMANDS="off", TRADE_CONFIRMATION_CHANNEL="telegram",
                     TRADE_CONFIRMATION="always") as bot:
        yield bot


def test_a_trade_confirmed_in_telegram_executes_once_and_its_code_is_never_in_clear(confirming: Running) -> None:
    telegram = confirming.telegram
    envelope, agent_saw = _preview(confirming)
    data = envelope["data"]
    assert data["status"] == "preview" and data["confirmation"] is None  # type: ignore[index]
    delivery = data["confirmation_delivery"]  # type: ignore[index]
    assert delivery["delivered"] is True and delivery["channel"] == "telegram"
    assert "press Confirm there" in data["message"] and _entries(confirming.home) == []  # type: ignore[index]
    [(confirm, cancel)] = _buttons(telegram, 1)
    assert telegram.sent(chat_id=-100999), "every allowed chat gets the buttons"
    code = confirm.split(":")[2]
    assert cancel == f"tx:{confirm.split(':')[1]}:{code}"
    preview = telegram.sent(chat_id=CHAT)[0].body["text"]
    assert "BUY ETHUSDT" in preview and code not in preview
    assert code not in agent_saw, "the agent's answer never holds the code"

    before = len(telegram.sent(chat_id=CHAT))
    telegram.press(CHAT, confirm)
    telegram.press(CHAT, confirm)
    telegram.press(CHAT, cancel)
    answers = telegram.wait_for("answerCallbackQuery", 3)
    assert [a.body["text"] for a in answers] == ["confirmed"] + ["already confirmed: nothing more done"] * 2
    [executed] = [c.body["text"] for c in telegram.wait_for("sendMessage", before + 1, chat_id=CHAT)[before:]]
    assert "trade: ok" in executed and "protected by oco" in executed, executed
    assert len(_entries(confirming.home)) == 1, "Confirm pressed twice places one order"

    # The same code typed by an agent into the terminal path is spent: refused, nothing placed.
    _, refused, _ = run_cli(confirming.home, *AGENT_TRADE, "--confirm", code, TRADE_CONFIRMATION="always")
    assert refused["ok"] is False or refused["data"]["replayed"] is True
    assert len(_entries(confirming.home)) == 1
    confirming.stop()
    for path in confirming.home.rglob("*"):
        if path.is_file():
            assert code.encode() not in path.read_bytes(), f"the code is in {path} in clear"


def test_cancel_spends_the_code_and_an_expired_code_refuses(confirming: Running) -> None:
    telegram = confirming.telegram
    _preview(confirming)
    [(confirm, cancel)] = _buttons(telegram, 1)
    telegram.press(CHAT, cancel)
    telegram.press(CHAT, confirm)
    answers = telegram.wait_for("answerCallbackQuery", 2)
    assert [a.body["text"] for a in answers] == ["cancelled", "already cancelled: nothing more done"]
    code = confirm.split(":")[2]
    _, refused, _ = run_cli(confirming.home, *AGENT_TRADE, "--confirm", code, TRADE_CONFIRMATION="always")
    assert refused["error"]["code"] == "CONFIRMATION_USED"

    _preview(confirming)
    [_, (confirm, _)] = _buttons(telegram, 2)
    db = sqlite3.connect(confirming.home / "journal.db")  # the 120 s pass
    with db:
        db.execute("UPDATE confirmations SET expires_ms = 0 WHERE used_ms IS NULL")
    db.close()
    before = len(telegram.sent(chat_id=CHAT))
    telegram.press(CHAT, confirm)
    [reply] = [c.body["text"] for c in telegram.wait_for("sendMessage", before + 1, chat_id=CHAT)[before:]]
    assert "CONFIRMATION_EXPIRED" in reply
    assert telegram.wait_for("answerCallbackQuery", 3)[2].body["text"] == "refused"
    assert _entries(confirming.home) == []


def test_a_code_that_cannot_be_delivered_is_said_so_and_confirms_nothing(confirming: Running) -> None:
    confirming.telegram.fail("sendMessage", 403, "Forbidden: bot was blocked by the user", times=2)
    envelope, _ = _preview(confirming)
    delivery = envelope["data"]["confirmation_delivery"]  # type: ignore[index]
    assert delivery["delivered"] is False and "bot was blocked by the user" in delivery["detail"]
    assert "could NOT be delivered" in envelope["data"]["message"]  # type: ignore[index]
    confirming.stop()
    envelope, _ = _preview(confirming)  # nothing runs the home now: no bot can deliver or read a press
    delivery = envelope["data"]["confirmation_delivery"]  # type: ignore[index]
    assert delivery["delivered"] is False and "no running executor" in delivery["detail"]
    assert _entries(confirming.home) == []


def test_a_trade_asked_in_the_chat_is_confirmed_with_the_buttons_too(confirming: Running) -> None:
    telegram = confirming.telegram
    [buttons, preview] = confirming.ask("/trade ETHUSDT buy 10", replies=2)
    assert buttons.startswith("<b>Trade waiting for your confirmation</b>")
    assert "press Confirm there" in preview and _entries(confirming.home) == []
    [(confirm, _)] = _buttons(telegram, 1)
    assert confirm.split(":")[2] not in preview
    before = len(telegram.sent(chat_id=CHAT))
    telegram.press(CHAT, confirm)
    [executed] = [c.body["text"] for c in telegram.wait_for("sendMessage", before + 1, chat_id=CHAT)[before:]]
    assert "trade: ok" in executed and len(_entries(confirming.home)) == 1


def test_report_sends_its_text_then_its_chart_as_a_photo(tmp_path: Path) -> None:
    telegram = FakeTelegram()
    fast = tuple("5000" if arg == "20" else arg for arg in RUN)  # a day of market time in about 17 s
    with telegram.running():
        bot = start(tmp_path / "home", telegram, bot_env(telegram), fast)
        try:
            deadline = time.monotonic() + 120
            while True:  # until the replay's first UTC day is over and has its equity points
                [text] = bot.ask("/report day")
                if "no equity snapshots" not in text:
                    break
                assert time.monotonic() < deadline, text
                time.sleep(2)
            deadline = time.monotonic() + 30
            # The replay also sends its own daily report (plain text); the bot's answer is the HTML one.
            while not (photos := [p for p in telegram.sent("sendPhoto", CHAT) if p.body.get("parse_mode")]):
                assert time.monotonic() < deadline, "the bot sent no chart"
                time.sleep(0.05)
        finally:
            bot.stop()
    day = text.split("day of ")[1].split("<")[0]
    assert text.startswith(f"<b>Report, day of {day}</b>") and "Equity" in text
    [photo] = photos
    assert photo.files["photo"].startswith(b"\x89PNG") and photo.body["parse_mode"] == "HTML"
    assert photo.body["caption"] == f"day report of {day}"
