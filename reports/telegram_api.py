"""The Bot API calls the command bot makes (https://core.telegram.org/bots/api), over one httpx client.

`getUpdates` long polling (`offset` confirms every update below it, `timeout` is how long Telegram holds the
request open when there is nothing new), `sendMessage` (HTML parse mode, up to 4096 characters, optional inline
keyboard), `sendPhoto` (caption up to 1024), `answerCallbackQuery` (stops the button's spinner). Sends to one
chat wait their turn on the process's shared per-chat paces (`reports.pacing`); 429 waits `retry_after` and
5xx are retried through `reports.delivery.deliver`, as for the report notifier.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from core.errors import ExecutorError
from reports.delivery import NotifyError, TransientFailure, deliver, register_secret, scrub
from reports.notify import TELEGRAM_CAPTION_LIMIT, TELEGRAM_TEXT_LIMIT, telegram_result, truncate
from reports.pacing import TELEGRAM_CHATS, ChatPaces

if TYPE_CHECKING:
    pass

SERVICE = "telegram"
Keyboard = list[list[dict[str, str]]]


class ChatPacer:
    """Waits for a chat's turn on the process's shared per-chat paces (`reports.pacing.TELEGRAM_CHATS`): one
    message a second per chat and 20 a minute per group, counted together with the alert and report sender's."""

    def __init__(self, paces: ChatPaces = TELEGRAM_CHATS, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._paces = paces
        self._clock = clock
        self._sleep = sleep

    def wait_turn(self, chat_id: str) -> None:
        while (wait := self._paces.reserve(chat_id, self._clock())) > 0:
            self._sleep(wait)


class TelegramApi:
    def __init__(self, token: str, api_base: str, *, timeout_s: float = 10.0, max_wait_s: float = 30.0,
                 pacer: ChatPacer | None = None) -> None:
        import httpx

        register_secret(token)
        self._base = f"{api_base.rstrip('/')}/bot{token}"
        self._timeout_s = timeout_s
        self._max_wait_s = max_wait_s
        self._pacer = pacer or ChatPacer()
        self._client = httpx.Client(timeout=httpx.Timeout(timeout_s), follow_redirects=False)

    def __repr__(self) -> str:
        return "TelegramApi(token=…)"

    def close(self) -> None:
        self._client.close()

    def get_updates(self, offset: int, timeout_s: int) -> list[dict[str, Any]]:
        """Updates from `offset` on; one attempt (the poll loop is the retry), NotifyError on any failure."""
        result = self._post("getUpdates", {"json": {"offset": offset, "timeout": timeout_s,
                                                     "allowed_updates": ["message", "callback_query"]}},
                            read_timeout_s=timeout_s + self._timeout_s)
        if not isinstance(result, list):
            raise NotifyError(SERVICE, "getUpdates answered without a list of updates")
        return [update for update in result if isinstance(update, dict) and isinstance(update.get("update_id"), int)]

    def send_message(self, chat_id: str, html_text: str, keyboard: Keyboard | None = None) -> int | None:
        """Send one HTML message (cut to 4096 characters); the message id Telegram gave it."""
        body: dict[str, Any] = {"chat_id": chat_id, "text": truncate(html_text, TELEGRAM_TEXT_LIMIT),
                                "parse_mode": "HTML", "disable_web_page_preview": True}
        if keyboard is not None:
            body["reply_markup"] = {"inline_keyboard": keyboard}
        result = self._send(chat_id, "sendMessage", {"json": body})
        return result.get("message_id") if isinstance(result, dict) else None

    def send_photo(self, chat_id: str, png: bytes, html_caption: str) -> None:
        data = {"chat_id": chat_id, "caption": truncate(html_caption, TELEGRAM_CAPTION_LIMIT), "parse_mode": "HTML"}
        self._send(chat_id, "sendPhoto", {"data": data, "files": {"photo": ("report.png", png, "image/png")}})

    def answer_callback(self, callback_id: str, text: str) -> None:
        self._retrying("answerCallbackQuery", {"json": {"callback_query_id": callback_id, "text": text[:200]}})

    def _send(self, chat_id: str, method: str, request: dict[str, Any]) -> Any:
        self._pacer.wait_turn(chat_id)
        return self._retrying(method, request)

    def _retrying(self, method: str, request: dict[str, Any]) -> Any:
        answer: list[Any] = []
        deliver(SERVICE, lambda: answer.append(self._post(method, request)), max_wait_s=self._max_wait_s)
        return answer[-1]

    def _post(self, method: str, request: dict[str, Any], read_timeout_s: float | None = None) -> Any:
        import httpx

        timeout = httpx.Timeout(self._timeout_s, read=read_timeout_s or self._timeout_s)
        try:
            response = self._client.post(f"{self._base}/{method}", timeout=timeout, **request)
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise TransientFailure(f"{method}: {type(exc).__name__}: {scrub(str(exc)) or 'no detail'}") from None
        except httpx.HTTPError as exc:
            raise NotifyError(SERVICE, f"{method}: {type(exc).__name__}: {scrub(str(exc)) or 'no detail'}") from None
        return telegram_result(method, response)


def callback_data(*parts: str) -> str:
    """Inline-button data: at most 64 bytes (Bot API), checked here so a long value fails loudly, not in Telegram."""
    data = ":".join(parts)
    if len(data.encode()) > 64:
        raise ExecutorError(f"callback data too long ({len(data.encode())} bytes, 64 allowed)", data_bytes=len(data))
    return data
