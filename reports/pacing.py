"""How often one destination may be sent to: a minimum gap between messages and a cap per sliding window.

Telegram (Bot API FAQ, "My bot is hitting limits"): about one message a second in one chat, and no more than 20
messages a minute in one group; a group's chat id is negative. Discord webhooks: about 5 requests per 2 seconds
(the 429 `retry_after` governs beyond that). The sender asks `wait_s` before each send and calls `note` after it;
time is `time.monotonic()` seconds, passed in so that the rule is testable without sleeping.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

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


def telegram_pace(chat_ids: str | Sequence[str]) -> Pace:
    """One message a second per chat; when any chat is a group (negative id), also 20 a minute. A notifier sends
    each message to every chat it serves, so its pace is that of its strictest chat."""
    group = any(chat.strip().startswith("-") for chat in ((chat_ids,) if isinstance(chat_ids, str) else chat_ids))
    return Pace(TELEGRAM_CHAT_INTERVAL_S, TELEGRAM_GROUP_PER_MINUTE if group else None, 60.0)


def discord_pace() -> Pace:
    return Pace(DISCORD_WEBHOOK_INTERVAL_S)
