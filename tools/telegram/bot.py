"""The Telegram command bot inside `run`: two daemon threads beside the trading loop, never in it.

The poller long-polls `getUpdates` from the offset the journal holds, saves the next offset BEFORE acting on an
update (at most once: after a crash an update is lost rather than run twice — a lost /trade is asked again, a
doubled one cannot be undone), ignores and journals anything from a chat not in TELEGRAM_CHAT_ID, and answers
commands by calling the tool registry with `tools.validation.invoke`, exactly as the CLI and MCP do: writes
reach the engine through the command queue the trading loop drains. The dispatcher sends out-of-band
confirmation codes (`tools.telegram.confirm`). Each thread has its own journal connection.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from core.errors import ExecutorError
from memory.bot_store import RequestStatus
from memory.journal import Journal
from reports.delivery import NotifyError, TransientFailure, scrub
from reports.telegram_api import TelegramApi
from runtime.home import Home
from runtime.settings import TelegramBotSettings
from tools.registry import get_spec
from tools.spec import ToolContext, wall_clock_ms
from tools.telegram.commands import (
    BadCommand,
    Call,
    Command,
    answer_text,
    bad_command_text,
    escape,
    help_text,
    message,
    parse,
)
from tools.telegram.confirm import CANCEL, CONFIRM, Dispatcher
from tools.trade import code_digest, params_digest
from tools.validation import invoke

log = logging.getLogger(__name__)

BOT_NAME = "telegram"
POLL_TIMEOUT_S = 20  # long-poll hold time asked of Telegram
DISPATCH_EVERY_S = 0.2
ERROR_PAUSE_S = 2.0  # after a failed getUpdates, before the next
UNAUTHORIZED = "TELEGRAM_UNAUTHORIZED"


class TelegramBot:
    def __init__(self, home: Home, settings: TelegramBotSettings, context: ToolContext, *,
                 poll_timeout_s: int = POLL_TIMEOUT_S) -> None:
        self.home = home
        self.chat_ids = settings.chat_ids
        self._settings = settings
        # Trades asked from the chat confirm in the chat: the code of a two-phase trade never comes back as text.
        self._context = ToolContext(home=context.home, config=context.config,
                                    env={**context.env, "TRADE_CONFIRMATION_CHANNEL": "telegram"},
                                    now_ms=context.now_ms, limits=context.limits)
        self._poll_timeout_s = poll_timeout_s
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._api: TelegramApi | None = None

    def __repr__(self) -> str:
        return f"TelegramBot(chats={self.chat_ids!r})"

    def start(self) -> TelegramBot:
        self._api = TelegramApi(self._settings.token, self._settings.api_base)
        for target, name in ((self._poll, "telegram-poll"), (self._dispatch, "telegram-dispatch")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout_s: float = 2.0) -> None:
        """Ask both threads to end; a long poll in flight is abandoned (daemon thread), never waited for long."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=timeout_s)

    # -- the threads ----------------------------------------------------------------------------------------

    def _poll(self) -> None:
        assert self._api is not None
        with Journal(self.home.journal) as journal:
            while not self._stop.is_set():
                try:
                    updates = self._api.get_updates(journal.bot.offset(BOT_NAME), self._poll_timeout_s)
                except (NotifyError, TransientFailure, ExecutorError) as failure:  # Telegram, or a busy journal
                    log.warning("telegram getUpdates failed: %s", scrub(str(failure)))
                    self._stop.wait(ERROR_PAUSE_S)
                    continue
                for update in sorted(updates, key=lambda u: u["update_id"]):
                    if self._stop.is_set():
                        return
                    journal.bot.save_offset(BOT_NAME, update["update_id"] + 1)
                    try:
                        self._handle(journal, update)
                    except Exception:  # one bad update must not end the bot; never log its content (codes)
                        log.exception("telegram update %s could not be answered", update["update_id"])

    def _dispatch(self) -> None:
        assert self._api is not None
        with Journal(self.home.journal) as journal:
            dispatcher = Dispatcher(journal, self._api, self.chat_ids, wall_clock_ms)
            while not self._stop.wait(DISPATCH_EVERY_S):
                try:
                    dispatcher.send_waiting()
                except Exception:
                    log.exception("telegram confirmation dispatch failed")

    # -- one update -----------------------------------------------------------------------------------------

    def _handle(self, journal: Journal, update: dict[str, Any]) -> None:
        if isinstance(update.get("callback_query"), dict):
            self._press(journal, update["callback_query"])
        elif isinstance(update.get("message"), dict):
            self._message(journal, update["message"])

    def _message(self, journal: Journal, msg: dict[str, Any]) -> None:
        chat_id = str((msg.get("chat") or {}).get("id", ""))
        text = str(msg.get("text") or "")
        if chat_id not in self.chat_ids:
            self._unauthorized(journal, chat_id, msg.get("from"), f"message {text[:200]!r}")
            return
        if not text.startswith("/"):
            return
        try:
            call = parse(text)
        except BadCommand as problem:
            self._reply(chat_id, bad_command_text(problem))
            return
        if call.command is Command.HELP:
            self._reply(chat_id, help_text())
            return
        envelope = self._invoke(call.tool, call.arguments)
        self._reply(chat_id, answer_text(call, envelope))
        if call.command is Command.REPORT and envelope.get("ok"):
            self._chart(chat_id, envelope["data"])

    def _press(self, journal: Journal, query: dict[str, Any]) -> None:
        chat_id = str(((query.get("message") or {}).get("chat") or {}).get("id", ""))
        action, _, rest = str(query.get("data") or "").partition(":")
        request_id, _, code = rest.partition(":")
        if chat_id not in self.chat_ids:
            self._unauthorized(journal, chat_id, query.get("from"), f"button {action}:{request_id}")
            return
        request = journal.bot.request(int(request_id)) if request_id.isdigit() else None
        if request is None or request.code_hash != code_digest(code) or action not in (CONFIRM, CANCEL):
            self._answer(str(query.get("id")), "unknown confirmation: ask for a new preview")
            return
        if request.status is not RequestStatus.SENT:
            self._answer(str(query.get("id")), f"already {request.status.value}: nothing more done")
            return
        if action == CANCEL:
            # Spent first: from here on neither this button nor `trade confirm=CODE` can execute it.
            journal.use_confirmation(code_digest(code), params_digest(request.params), wall_clock_ms())
            journal.bot.move_request(request.id, RequestStatus.SENT, RequestStatus.CANCELLED, wall_clock_ms())
            self._answer(str(query.get("id")), "cancelled")
            self._reply(chat_id, message("Cancelled", f"{request.preview_text}\nNothing was placed; the code is "
                                                      "spent."))
            return
        arguments = {k: v for k, v in request.params.items() if v is not None}
        envelope = self._invoke("trade", {**arguments, "confirm": code})
        if envelope.get("ok"):
            journal.bot.move_request(request.id, RequestStatus.SENT, RequestStatus.CONFIRMED, wall_clock_ms())
        self._answer(str(query.get("id")), "confirmed" if envelope.get("ok") else "refused")
        self._reply(chat_id, answer_text(Call(Command.TRADE, "trade"), envelope))

    def _unauthorized(self, journal: Journal, chat_id: str, sender: Any, tried: str) -> None:
        who = sender.get("username") or sender.get("id") if isinstance(sender, dict) else None
        journal.record_error(wall_clock_ms(), UNAUTHORIZED,
                             f"Telegram chat {chat_id or '?'} is not in TELEGRAM_CHAT_ID; ignored its {tried}",
                             {"chat_id": chat_id, "from": None if who is None else str(who), "tried": tried})

    # -- out ------------------------------------------------------------------------------------------------

    def _invoke(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return invoke(get_spec(tool, agent_facing_only=True), arguments, lambda: self._context)

    def _reply(self, chat_id: str, html_text: str) -> None:
        assert self._api is not None
        try:
            self._api.send_message(chat_id, html_text)
        except NotifyError as failure:
            log.warning("telegram reply not delivered: %s", failure.message)

    def _answer(self, callback_id: str, text: str) -> None:
        assert self._api is not None
        try:
            self._api.answer_callback(callback_id, text)
        except NotifyError as failure:
            log.warning("telegram answerCallbackQuery failed: %s", failure.message)

    def _chart(self, chat_id: str, data: dict[str, Any]) -> None:
        png = (data.get("files") or {}).get("png")
        if not png or not Path(png).is_file():
            return
        assert self._api is not None
        try:
            self._api.send_photo(chat_id, Path(png).read_bytes(),
                                 escape(f"{data['period']} report of {data['date']}"))
        except NotifyError as failure:
            log.warning("telegram chart not delivered: %s", failure.message)
