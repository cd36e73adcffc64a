"""Out-of-band trade confirmation (TRADE_CONFIRMATION_CHANNEL=telegram): the code goes to the person's phone only.

The asking side (`request_delivery`, in whatever process previewed the trade) writes a confirmation request —
the trade's parameters and the preview text, no code — and waits a few seconds for the running executor's
bot to deliver it. The bot (`Dispatcher`, a thread of `run`) makes the code, stores only its hash (in
`confirmations`, exactly as a terminal preview does), and sends the preview with Confirm / Cancel buttons to
the chat; the code travels only inside the buttons' callback data. A press of Confirm runs the `trade` tool
with the stored parameters and `confirm=CODE`: the same path as `trade confirm=CODE` (120 s, single use,
bound to the parameters). The agent's answer says whether the code was delivered, never what it is, so an
agent can never confirm its own trade; and the agent's process needs no bot token at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from memory.bot_store import ConfirmationRequest, RequestStatus
from memory.journal import Journal
from reports.delivery import NotifyError
from reports.telegram_api import TelegramApi, callback_data
from runtime.commands import home_is_held
from tools.confirmation_codes import CONFIRMATION_TTL_MS, code_digest, new_code, params_digest
from tools.spec import ToolContext
from tools.telegram.commands import message

CHANNEL = "telegram"
DELIVERY_WAIT_S = 15.0  # how long the asking process waits for the bot to say the code is in the chat
POLL_S = 0.1
CONFIRM, CANCEL = "tc", "tx"
SETTLED = (RequestStatus.SENT, RequestStatus.FAILED, RequestStatus.CONFIRMED, RequestStatus.CANCELLED)


@dataclass(frozen=True)
class Delivery:
    request_id: int
    delivered: bool
    detail: str


def request_delivery(ctx: ToolContext, params: dict[str, str | None], preview_text: str, now_ms: int,
                     wait_s: float) -> Delivery:
    """Ask the running executor's bot to send the code of this previewed trade to Telegram; wait for the outcome."""
    if not home_is_held(ctx.home):  # nothing runs this home, so no bot can send the code or read a button press
        return Delivery(0, False, "no running executor holds this home, so no Telegram bot can deliver the code: "
                                  "start `python executor.py run` with the Telegram settings, then ask again")
    with Journal(ctx.home.journal) as journal:
        request_id = journal.bot.request_confirmation(CHANNEL, params, preview_text, now_ms,
                                                      now_ms + CONFIRMATION_TTL_MS)
        deadline = time.monotonic() + min(wait_s, DELIVERY_WAIT_S)
        while True:
            row = journal.bot.request(request_id)
            assert row is not None
            if row.status in SETTLED:
                return _delivery(row)
            if time.monotonic() >= deadline:
                if journal.bot.move_request(request_id, RequestStatus.REQUESTED, RequestStatus.FAILED, ctx.now_ms(),
                                            detail="the running executor's Telegram bot did not pick it up in time"):
                    waited = min(wait_s, DELIVERY_WAIT_S)
                    return Delivery(request_id, False, f"the running executor has no Telegram bot that took the "
                                    f"request within {waited:g} s (is TRADE_CONFIRMATION_CHANNEL=telegram set for "
                                    "`run`?): nothing can confirm this preview")
                if row.status is RequestStatus.SENDING:
                    return Delivery(request_id, False, "the bot is still sending the code to Telegram: it may yet "
                                    "arrive; if no Confirm button appears in the chat, ask for a new preview")
            time.sleep(POLL_S)


def _delivery(row: ConfirmationRequest) -> Delivery:
    if row.status is RequestStatus.FAILED:
        return Delivery(row.id, False, f"the code could not be delivered to Telegram: {row.detail or 'no detail'}")
    return Delivery(row.id, True, "the code was sent to the Telegram chat only")


class Dispatcher:
    """The bot's side: sends each waiting request to every allowed chat, as the preview with two buttons."""

    def __init__(self, journal: Journal, api: TelegramApi, chat_ids: tuple[str, ...],
                 wall_ms: Callable[[], int]) -> None:
        self._journal = journal
        self._api = api
        self._chat_ids = chat_ids
        self._wall_ms = wall_ms

    def send_waiting(self) -> int:
        """Deliver every request still waiting; how many were taken."""
        taken = 0
        for request in self._journal.bot.open_requests(CHANNEL):
            code = new_code()
            now = self._wall_ms()
            if not self._journal.bot.move_request(request.id, RequestStatus.REQUESTED, RequestStatus.SENDING, now,
                                                  code_hash=code_digest(code)):
                continue  # its asker gave up on it a moment ago
            taken += 1
            self._journal.record_confirmation(code_digest(code), params_digest(request.params), now,
                                              now + CONFIRMATION_TTL_MS)
            self._send(request, code, now)
        return taken

    def _send(self, request: ConfirmationRequest, code: str, now_ms: int) -> None:
        text = message("Trade waiting for your confirmation",
                       f"{request.preview_text}\n\nPress Confirm within {CONFIRMATION_TTL_MS // 1000} s to execute "
                       "it once, or Cancel.")
        keyboard = [[{"text": "Confirm", "callback_data": callback_data(CONFIRM, str(request.id), code)},
                     {"text": "Cancel", "callback_data": callback_data(CANCEL, str(request.id), code)}]]
        failures = []
        for chat_id in self._chat_ids:
            try:
                self._api.send_message(chat_id, text, keyboard)
            except NotifyError as failure:
                failures.append(failure.message)
        if len(failures) < len(self._chat_ids):
            self._journal.bot.move_request(request.id, RequestStatus.SENDING, RequestStatus.SENT, self._wall_ms())
            return
        # Delivered nowhere: spend the code now, so that nothing can ever confirm a preview nobody saw.
        self._journal.use_confirmation(code_digest(code), params_digest(request.params), now_ms)
        self._journal.bot.move_request(request.id, RequestStatus.SENDING, RequestStatus.FAILED, self._wall_ms(),
                                       detail="; ".join(failures))
