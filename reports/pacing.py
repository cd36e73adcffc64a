"""How often one destination may be sent to: a minimum gap between messages and a cap per sliding window.

Telegram (Bot API FAQ, "My bot is hitting limits"): about one message a second in one chat, and no more than 20
messages a minute in one group; a group's chat id is negative. Discord webhooks: about 5 requests per 2 seconds
(the 429 `retry_after` governs beyond that). The sender asks `wait_s` before each send and calls `note` after it;
time is `time.monotonic()` seconds, passed in so that the rule is testable without sleeping.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

TELEGRAM_CHAT_INTERVAL_S = 1.0
TELEGRAM_GROUP_PER_MINUTE = 20
DISCORD_WEBHOOK_INTERVAL_S = 0.4


@dataclass(slots=True)
class Pace:
    """`min_interval_s` between two messages, and at most `per_window` messages in any `window_s` (None: no cap)."""

    min_interval_s: float
    per_window: int | None = None
    window_s: float = 60.0
    _sent: deque[float] = field(default_factory=deque)

    def wait_s(self, now: float) -> float:
        """Seconds to wait from `now` before the next message may go (0: it may go now)."""
        while self._sent and now - self._sent[0] >= self.window_s:
            self._sent.popleft()
        wait = self._sent[-1] + self.min_interval_s - now if self._sent else 0.0
        if self.per_window is not None and len(self._sent) >= self.per_window:
            wait = max(wait, self._sent[-self.per_window] + self.window_s - now)
        return max(0.0, wait)

    def note(self, now: float) -> None:
        self._sent.append(now)
        keep = max(self.per_window or 1, 1)
        while len(self._sent) > keep:
            self._sent.popleft()


class Pacing(Protocol):
    """What a sender asks before a message and tells after it (`Pace`, or a Telegram notifier's `ChatsPace`)."""

    def wait_s(self, now: float) -> float: ...

    def note(self, now: float) -> None: ...


class ChatPaces:
    """One Pace per Telegram chat for the whole process: the alert and report sender and the command bot send to
    the same chats from different threads, and Telegram's limits are per chat, not per sender."""

    def __init__(self) -> None:
        self._paces: dict[str, Pace] = {}
        self._lock = threading.Lock()

    def _pace(self, chat_id: str) -> Pace:
        pace = self._paces.get(chat_id)
        if pace is None:
            group = chat_id.strip().startswith("-")
            pace = self._paces[chat_id] = Pace(TELEGRAM_CHAT_INTERVAL_S,
                                               TELEGRAM_GROUP_PER_MINUTE if group else None, 60.0)
        return pace

    def wait_s(self, chat_ids: Sequence[str], now: float) -> float:
        with self._lock:
            return max((self._pace(chat).wait_s(now) for chat in chat_ids), default=0.0)

    def note(self, chat_ids: Sequence[str], now: float) -> None:
        with self._lock:
            for chat in chat_ids:
                self._pace(chat).note(now)

    def reserve(self, chat_id: str, now: float) -> float:
        """0 and the send counted when `chat_id` may be sent to at `now`; else the seconds to wait first."""
        with self._lock:
            wait = self._pace(chat_id).wait_s(now)
            if wait == 0.0:
                self._pace(chat_id).note(now)
            return wait


TELEGRAM_CHATS = ChatPaces()  # this process's


@dataclass(frozen=True, slots=True)
class ChatsPace:
    """A Telegram notifier's pace: it sends each message to every chat it serves, so it waits for the strictest."""

    chat_ids: tuple[str, ...]
    paces: ChatPaces

    def wait_s(self, now: float) -> float:
        return self.paces.wait_s(self.chat_ids, now)

    def note(self, now: float) -> None:
        self.paces.note(self.chat_ids, now)


def telegram_pace(chat_ids: str | Sequence[str], paces: ChatPaces = TELEGRAM_CHATS) -> ChatsPace:
    """One message a second per chat; a group (negative id) also 20 a minute; shared with every other sender of
    this process to the same chats (`TELEGRAM_CHATS`)."""
    return ChatsPace((chat_ids,) if isinstance(chat_ids, str) else tuple(chat_ids), paces)


def discord_pace() -> Pace:
    return Pace(DISCORD_WEBHOOK_INTERVAL_S)
