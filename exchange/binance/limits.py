"""Request weight and order counts, tracked from Binance's own headers, and what 429 and 418 mean for us.

Limits come from exchangeInfo's `rateLimits`; the used amounts from every answer's `X-MBX-USED-WEIGHT-*` and
`X-MBX-ORDER-COUNT-*` headers (the SDK's `.rate_limits`). Windows are fixed and aligned to the clock, as
Binance counts them. Before a request the adapter throttles: if the request would take a window past
`headroom` of its limit, it waits for the window to roll over (or refuses, if that is longer than
`max_wait_ms`). After a 429 nothing is sent before Retry-After; after a 418 nothing at all until the ban ends.

Order and cancel weights (Binance CHANGELOG, 2026-03-27, effective 2026-04-02 07:00 UTC): "Request weights
for the following endpoints and methods become 0 when the request is successful. Failed requests are still
charged the documented weight" — POST /api/v3/order, DELETE /api/v3/order, POST /api/v3/orderList/oco,
DELETE /api/v3/orderList (and the other order-list and cancel-replace endpoints). So an order request costs
nothing when it succeeds, but may cost its documented weight (1) when it fails: the throttle reserves that
worst case, and the headers of the answer say what was actually charged. Order counts (ORDERS limits) are
unchanged by that notice: an accepted order still counts, an OCO as two.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from exchange.binance.errors import TOO_MANY_REQUESTS, RateLimitBanned, RateLimited

_INTERVAL_MS = {"SECOND": 1_000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000}


class LimitKind(StrEnum):
    REQUEST_WEIGHT = "REQUEST_WEIGHT"
    ORDERS = "ORDERS"
    RAW_REQUESTS = "RAW_REQUESTS"


class HeaderCount(Protocol):
    """The SDK's `RateLimit` (binance_common.models): one parsed X-MBX-* header."""

    rateLimitType: str
    interval: str
    intervalNum: int
    count: int


@dataclass(slots=True)
class Window:
    kind: LimitKind
    length_ms: int
    limit: int
    used: int = 0
    start_ms: int = 0

    def roll(self, now_ms: int) -> None:
        start = now_ms - now_ms % self.length_ms
        if start != self.start_ms:
            self.start_ms, self.used = start, 0

    def end_ms(self) -> int:
        return self.start_ms + self.length_ms


@dataclass(frozen=True, slots=True)
class Cost:
    """What a request may take from the limits: its documented weight and the orders it may create."""

    weight: int
    orders: int = 0


class RateLimits:
    """Thread-safe enough for one runtime thread; the user stream never sends REST requests."""

    def __init__(self, *, headroom: float, max_wait_ms: int, clock_ms: Callable[[], int],
                 sleep_s: Callable[[float], None]) -> None:
        self._windows: dict[tuple[LimitKind, int], Window] = {}
        self._headroom = headroom
        self._max_wait_ms = max_wait_ms
        self._clock = clock_ms
        self._sleep = sleep_s
        self.retry_at_ms = 0
        self.banned_until_ms = 0
        self._last_counts: list[HeaderCount] = []  # re-applied when exchangeInfo (that carried them) configures

    # ----- what Binance publishes and tells us -------------------------------------------------------

    def configure(self, rate_limits: Iterable[dict[str, Any]]) -> None:
        """exchangeInfo's `rateLimits`. Unknown kinds are kept (RAW_REQUESTS is checked like the rest)."""
        for raw in rate_limits:
            kind = LimitKind(raw["rateLimitType"])
            length = _INTERVAL_MS[raw["interval"]] * int(raw["intervalNum"])
            window = self._windows.setdefault((kind, length), Window(kind, length, int(raw["limit"])))
            window.limit = int(raw["limit"])
        self.observe(self._last_counts)

    def observe(self, counts: Iterable[HeaderCount]) -> None:
        """The used weight and order counts an answer reported: they replace our own estimate."""
        now = self._clock()
        self._last_counts = list(counts)
        for count in self._last_counts:
            kind = LimitKind(count.rateLimitType)
            length = _INTERVAL_MS[count.interval] * int(count.intervalNum)
            window = self._windows.get((kind, length))
            if window is not None:
                window.roll(now)
                window.used = int(count.count)

    def refused(self, retry_after_s: int | None) -> None:
        """A 429: nothing is sent before Retry-After (a missing header counts as one minute, the weight window)."""
        self.retry_at_ms = self._clock() + 1000 * (retry_after_s if retry_after_s is not None else 60)

    def banned(self, retry_after_s: int | None) -> None:
        """A 418: the IP is banned; a missing Retry-After is taken as the shortest ban Binance gives (2 min)."""
        self.banned_until_ms = self._clock() + 1000 * (retry_after_s if retry_after_s is not None else 120)

    # ----- before each request -----------------------------------------------------------------------

    def is_banned(self) -> bool:
        return self._clock() < self.banned_until_ms

    def admit(self, cost: Cost) -> None:
        """Return once `cost` can be sent without passing a limit; raise if that means waiting too long."""
        now = self._clock()
        if now < self.banned_until_ms:
            raise RateLimitBanned(TOO_MANY_REQUESTS, "IP banned by Binance (418)", banned_until_ms=self.banned_until_ms)
        wait_until = max(self.retry_at_ms, self._throttle_until(cost, now))
        if wait_until <= now:
            self._charge(cost, now)
            return
        if wait_until - now > self._max_wait_ms:
            raise RateLimited(TOO_MANY_REQUESTS, "request held back to stay under Binance's rate limits",
                              retry_at_ms=wait_until)
        self._sleep((wait_until - now) / 1000)
        self.admit(cost)

    def _throttle_until(self, cost: Cost, now: int) -> int:
        until = 0
        for window in self._windows.values():
            window.roll(now)
            need = cost.weight if window.kind is not LimitKind.ORDERS else cost.orders
            if window.kind is LimitKind.RAW_REQUESTS:
                need = 1
            if need and window.used + need > window.limit * self._headroom:
                until = max(until, window.end_ms())
        return until

    def _charge(self, cost: Cost, now: int) -> None:
        """Our own estimate until the answer's headers correct it (a failed answer may carry none)."""
        for window in self._windows.values():
            window.roll(now)
            window.used += {LimitKind.ORDERS: cost.orders, LimitKind.RAW_REQUESTS: 1}.get(window.kind, cost.weight)

    def used(self, kind: LimitKind, length_ms: int) -> int:
        window = self._windows[(kind, length_ms)]
        window.roll(self._clock())
        return window.used
