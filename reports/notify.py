"""Notifiers: Telegram Bot API and Discord webhooks, over httpx (sync), base URLs configurable.

Telegram (https://core.telegram.org/bots/api): `POST /bot<token>/sendMessage` (text up to 4096 characters)
and `POST /bot<token>/sendPhoto` (multipart, caption up to 1024 characters). Every answer is JSON
`{"ok": bool, ...}`; an error carries `description`, and a 429 carries `parameters.retry_after` in seconds.

Discord (execute webhook): `POST <webhook url>` with JSON `{"embeds": [...], "allowed_mentions": {"parse": []}}`
(no mention pings anyone; embed limits in `reports.embeds`), or multipart with `payload_json` and the chart as
`files[0]`, shown in the embed as `attachment://report.png`; success is 204 (200 with `?wait=true`). A 429
carries `retry_after` in seconds in its JSON body (and the Retry-After header). Two webhooks: the execution
channel (`DISCORD_WEBHOOK_EXECUTION`: alerts, fills, reports) and the research channel
(`DISCORD_WEBHOOK_RESEARCH`: scout intel, analyzer verdicts), each its own notifier and outbox service.

Retries, per send: a 429 waits the `retry_after` it carries (Telegram `parameters.retry_after`, Discord body or
Retry-After header); 5xx, timeouts and connection errors back off exponentially (0.5 s doubling, at most 8 s);
at most `DEFAULT_MAX_ATTEMPTS` attempts and `DEFAULT_MAX_WAIT_S` seconds of waiting (`reports.delivery`).

A retried send after a timeout may deliver a message twice: for a report that is better than none.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from core.errors import ConfigError, InvalidArgument
from memory.redact import mask_secret
from reports.delivery import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_WAIT_S,
    NotifyError,
    TransientFailure,
    deliver,
    register_secret,
    scrub,
)
from reports.embeds import EMBED_DESCRIPTION_LIMIT, EMBED_TITLE_LIMIT, Embed, escape_markdown
from reports.pacing import Pacing, discord_pace, telegram_pace

if TYPE_CHECKING:
    import httpx

__all__ = ["DiscordNotifier", "Notifier", "NotifyError", "TelegramNotifier", "notifiers_from_env", "notify_all",
           "research_notifier_from_env"]

TELEGRAM_API_BASE = "https://api.telegram.org"
TELEGRAM_TEXT_LIMIT = 4096
TELEGRAM_CAPTION_LIMIT = 1024
# Discord pings whoever a message names (`@everyone`, `<@id>`, roles) unless told not to: a symbol, a reason or
# an error text quoted in a report must never notify a whole server.
NO_MENTIONS: dict[str, list[str]] = {"parse": []}
CHART_FILENAME = "report.png"
_ELLIPSIS = "…"
_CHAT_ID = re.compile(r"^(-?[0-9]{1,20}|@[A-Za-z0-9_]{4,32})$")
Sleep = Callable[[float], None]


RESEARCH_SERVICE = "discord_research"


class Notifier(Protocol):
    service: str
    pace: Pacing  # how often the alert sender may send to it

    def send(self, text: str, chart: Path | None = None) -> None: ...

    def send_alert(self, body: str | tuple[Embed, ...]) -> None:
        """One alert message, already formatted for this service by `reports.alerts` (Telegram: an HTML text;
        Discord: the embeds of one message). The wrong shape for the service is a TypeError."""


class TelegramNotifier:
    """Sends to one chat. With a chart, the text is the photo's caption when it fits, else a message of its own."""

    service = "telegram"

    def __init__(self, token: str, chat_id: str, api_base: str = TELEGRAM_API_BASE, timeout_s: float = 10.0, *,
                 max_attempts: int = DEFAULT_MAX_ATTEMPTS, max_wait_s: float = DEFAULT_MAX_WAIT_S,
                 sleep: Sleep = time.sleep) -> None:
        if not token or not chat_id:
            raise ConfigError("TELEGRAM_BOT_TOKEN" if not token else "TELEGRAM_CHAT_ID", "", "must not be empty")
        register_secret(token)
        self._token = token
        self.chat_id = chat_id
        self.chat_ids = telegram_chat_ids(chat_id)
        self.api_base = _http_base("TELEGRAM_API_BASE", api_base)
        self._timeout_s = timeout_s
        self._retry = {"max_attempts": max_attempts, "max_wait_s": max_wait_s, "sleep": sleep}
        self.pace = telegram_pace(self.chat_ids)

    def __repr__(self) -> str:
        return (f"TelegramNotifier(token={mask_secret(self._token)!r}, chat_id={self.chat_id!r}, "
                f"api_base={self.api_base!r})")

    def send(self, text: str, chart: Path | None = None) -> None:
        text = _require_text(text)
        photo = None if chart is None else _read_chart(self.service, chart)
        for chat_id in self.chat_ids:
            if photo is None:
                self._call("sendMessage", json={"chat_id": chat_id, "text": truncate(text, TELEGRAM_TEXT_LIMIT)})
                continue
            caption: dict[str, str] = {}
            if len(text) <= TELEGRAM_CAPTION_LIMIT:
                caption = {"caption": text}
            else:
                self._call("sendMessage", json={"chat_id": chat_id, "text": truncate(text, TELEGRAM_TEXT_LIMIT)})
            self._call("sendPhoto", data={"chat_id": chat_id, **caption},
                       files={"photo": (CHART_FILENAME, photo, "image/png")})

    def send_alert(self, body: str | tuple[Embed, ...]) -> None:
        if not isinstance(body, str):
            raise TypeError(f"a Telegram alert is an HTML text, not {type(body).__name__}")
        text = _require_text(body)
        for chat_id in self.chat_ids:
            self._call("sendMessage", json={"chat_id": chat_id, "text": text, "parse_mode": "HTML"})

    def _call(self, method: str, **request: Any) -> None:
        url = f"{self.api_base}/bot{self._token}/{method}"

        def attempt() -> None:
            telegram_result(method, _post(self.service, url, self._timeout_s, request))

        deliver(self.service, attempt, **self._retry)


class DiscordNotifier:
    """Posts embeds to one Discord webhook. The URL's last path segment (the webhook token) and any query are the
    credential: they are masked wherever the URL is shown. `service` is `discord` (the execution channel) or
    `discord_research` (the research channel)."""

    def __init__(self, webhook_url: str, timeout_s: float = 10.0, *, service: str = "discord",
                 max_attempts: int = DEFAULT_MAX_ATTEMPTS, max_wait_s: float = DEFAULT_MAX_WAIT_S,
                 sleep: Sleep = time.sleep) -> None:
        if service not in _DISCORD_SETTINGS:
            raise ValueError(f"unknown Discord service {service!r}; known: {', '.join(_DISCORD_SETTINGS)}")
        self.service = service
        self._url = _http_base(_DISCORD_SETTINGS[service], webhook_url)
        parts = urlsplit(self._url)
        register_secret(parts.path.rstrip("/").rsplit("/", 1)[-1])
        if parts.query:
            register_secret(parts.query)
        self._timeout_s = timeout_s
        self._retry = {"max_attempts": max_attempts, "max_wait_s": max_wait_s, "sleep": sleep}
        self.pace = discord_pace()

    def __repr__(self) -> str:
        return f"DiscordNotifier(service={self.service!r}, webhook_url={scrub(self._url)!r})"

    def send(self, text: str, chart: Path | None = None) -> None:
        """A report as one embed: its first line the title, the rest the description (markdown escaped), the chart
        as the embed's image."""
        title, _, rest = _require_text(text).partition("\n")
        embed: Embed = {"title": truncate(escape_markdown(title), EMBED_TITLE_LIMIT)}
        if rest.strip():
            embed["description"] = truncate(escape_markdown(rest.strip()), EMBED_DESCRIPTION_LIMIT)
        if chart is None:
            self._post_embeds((embed,))
            return
        embed["image"] = {"url": f"attachment://{CHART_FILENAME}"}
        self._post_embeds((embed,), _read_chart(self.service, chart))

    def send_alert(self, body: str | tuple[Embed, ...]) -> None:
        if isinstance(body, str) or not body:
            raise TypeError("a Discord alert is a non-empty tuple of embeds")
        self._post_embeds(body)

    def _post_embeds(self, embeds: tuple[Embed, ...], chart: bytes | None = None) -> None:
        message: dict[str, Any] = {"embeds": list(embeds), "allowed_mentions": NO_MENTIONS}
        if chart is None:
            request: dict[str, Any] = {"json": message}
        else:
            payload = {**message, "attachments": [{"id": 0, "filename": CHART_FILENAME}]}
            request = {"data": {"payload_json": json.dumps(payload)},
                       "files": {"files[0]": (CHART_FILENAME, chart, "image/png")}}

        def attempt() -> None:
            response = _post(self.service, self._url, self._timeout_s, request)
            if response.status_code in (200, 204):
                return
            body = _json_object(response)
            message = str(body.get("message") or response.reason_phrase or "no message")
            reason = f"webhook answered HTTP {response.status_code}: {message}"
            if response.status_code == 429:
                raise TransientFailure(reason, status=429, retry_after=_seconds(body.get("retry_after"), response))
            if response.status_code >= 500:
                raise TransientFailure(reason, status=response.status_code)
            raise NotifyError(self.service, reason, status=response.status_code)

        deliver(self.service, attempt, **self._retry)


_DISCORD_SETTINGS = {"discord": "DISCORD_WEBHOOK_EXECUTION", RESEARCH_SERVICE: "DISCORD_WEBHOOK_RESEARCH"}


def notifiers_from_env(env: Mapping[str, str]) -> list[Notifier]:
    """Telegram when TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID are set (TELEGRAM_API_BASE optional), Discord when
    DISCORD_WEBHOOK_EXECUTION is set; [] when none is. Half a Telegram setup is a ConfigError, not silence."""
    notifiers: list[Notifier] = []
    token = env.get("TELEGRAM_BOT_TOKEN", "").strip()
    chat_id = env.get("TELEGRAM_CHAT_ID", "").strip()
    if token and chat_id:
        api_base = env.get("TELEGRAM_API_BASE", "").strip() or TELEGRAM_API_BASE
        notifiers.append(TelegramNotifier(token, chat_id, api_base))
    elif token:
        raise ConfigError("TELEGRAM_CHAT_ID", "", "TELEGRAM_BOT_TOKEN is set, so the chat to send to is needed too")
    elif chat_id:
        raise ConfigError("TELEGRAM_BOT_TOKEN", "", "TELEGRAM_CHAT_ID is set but the bot token is missing")
    webhook = env.get("DISCORD_WEBHOOK_EXECUTION", "").strip()
    if webhook:
        notifiers.append(DiscordNotifier(webhook))
    return notifiers


def research_notifier_from_env(env: Mapping[str, str]) -> DiscordNotifier | None:
    """The research channel's notifier when DISCORD_WEBHOOK_RESEARCH is set (scout intel, analyzer verdicts)."""
    webhook = env.get("DISCORD_WEBHOOK_RESEARCH", "").strip()
    return DiscordNotifier(webhook, service=RESEARCH_SERVICE) if webhook else None


def telegram_chat_ids(raw: str) -> tuple[str, ...]:
    """TELEGRAM_CHAT_ID: one chat id or a comma-separated list (user ids, group ids like -100123), without repeats.
    Every chat listed receives reports and alerts and may command the bot."""
    ids = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    bad = [chat for chat in ids if not _CHAT_ID.match(chat)]
    if bad or not ids:
        raise ConfigError("TELEGRAM_CHAT_ID", raw, f"must be a chat id or a comma list of them (digits, a group's "
                                                   f"with a leading -, or a channel's @name); refused: "
                                                   f"{', '.join(bad) or '(none given)'}")
    return ids


def notify_all(notifiers: Iterable[Notifier], text: str, chart: Path | None = None) -> list[NotifyError]:
    """Send to every notifier; one service failing does not keep the others from sending. Returns the failures."""
    failures: list[NotifyError] = []
    for notifier in notifiers:
        try:
            notifier.send(text, chart)
        except NotifyError as failure:
            failures.append(failure)
    return failures


def truncate(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, at a line break when one is in the last quarter, marked with '…'."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    cut = head.rfind("\n")
    if cut >= limit * 3 // 4:
        head = head[:cut]
    return head.rstrip() + _ELLIPSIS


def telegram_result(method: str, response: httpx.Response) -> Any:
    """The `result` of a Bot API answer; TransientFailure for a 429 (with its `retry_after`) or a 5xx, NotifyError
    for any other refusal (its `description`, never the token: the URL is not quoted)."""
    body = _json_object(response)
    if response.status_code == 200 and body.get("ok") is True:
        return body.get("result")
    description = str(body.get("description") or response.reason_phrase or "no description")
    reason = f"{method} answered HTTP {response.status_code}: {description}"
    if response.status_code == 429:
        parameters = body.get("parameters")
        retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
        raise TransientFailure(reason, status=429, retry_after=_seconds(retry_after, response))
    if response.status_code >= 500:
        raise TransientFailure(reason, status=response.status_code)
    raise NotifyError(TelegramNotifier.service, reason, status=response.status_code)


def _post(service: str, url: str, timeout_s: float, request: Mapping[str, Any]) -> httpx.Response:
    # httpx is imported on first use: a backtest checks the notifier settings but sends nothing, and its start-up
    # time should not carry the HTTP stack.
    import httpx

    # Errors that may clear up on their own; the rest of httpx's (a bad URL scheme, a bad header) never will.
    transient = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
    try:
        with httpx.Client(timeout=httpx.Timeout(timeout_s), follow_redirects=False) as client:
            return client.post(url, **request)
    except transient as exc:
        raise TransientFailure(f"{type(exc).__name__}: {scrub(str(exc)) or 'no detail'}") from None
    except httpx.HTTPError as exc:
        raise NotifyError(service, f"{type(exc).__name__}: {scrub(str(exc)) or 'no detail'}") from None


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return body if isinstance(body, dict) else {}


def _seconds(value: Any, response: httpx.Response) -> float | None:
    """The wait a 429 asks for: the body's value, else the Retry-After header; None when neither is a number."""
    for candidate in (value, response.headers.get("Retry-After")):
        try:
            seconds = float(candidate)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        if seconds >= 0:
            return seconds
    return None


def _require_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise InvalidArgument("a notification needs some text", field="text", value="")
    return text


def _read_chart(service: str, chart: Path) -> bytes:
    try:
        return Path(chart).read_bytes()
    except OSError as exc:
        raise NotifyError(service, f"chart {Path(chart).name} could not be read: {exc.strerror or exc}") from None


def _http_base(setting: str, url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(setting, mask_secret(url.strip()), "must be an http(s) URL")
    return url.strip().rstrip("/")
