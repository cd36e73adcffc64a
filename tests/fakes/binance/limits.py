"""Request weight and order-count limits, and IP bans, as Binance counts and reports them.

Windows are fixed and aligned to the clock (a minute, ten seconds, a UTC day), as Binance's
`X-MBX-USED-WEIGHT-1M`, `X-MBX-ORDER-COUNT-10S` and `X-MBX-ORDER-COUNT-1D` headers count them. Going over
the weight limit is 429 with -1003, over an order limit 429 with -1015; both carry `Retry-After` (seconds
until the window rolls over). A ban answers every request with 418 until it ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tests.fakes.binance.errors import BinanceError, Code

MINUTE_MS = 60_000
TEN_S_MS = 10_000
DAY_MS = 86_400_000


class Op(StrEnum):
    """One kind of request, the same on REST and on the WebSocket API (faults and weights name these)."""

    TIME = "time"
    EXCHANGE_INFO = "exchangeInfo"
    ACCOUNT = "account.status"
    NEW_ORDER = "order.place"
    NEW_OCO = "orderList.place.oco"
    CANCEL_ORDER = "order.cancel"
    CANCEL_ORDER_LIST = "orderList.cancel"
    QUERY_ORDER = "order.status"
    OPEN_ORDERS = "openOrders.status"
    MY_TRADES = "myTrades"
    ALL_ORDERS = "allOrders"
    QUERY_ORDER_LIST = "orderList.status"
    OPEN_ORDER_LISTS = "openOrderLists.status"
    USER_STREAM_SUBSCRIBE = "userDataStream.subscribe.signature"
    USER_STREAM_SESSION_SUBSCRIBE = "userDataStream.subscribe"  # on a session logged on with an Ed25519 key
    USER_STREAM_UNSUBSCRIBE = "userDataStream.unsubscribe"
    SESSION_LOGON = "session.logon"
    SESSION_LOGOUT = "session.logout"
    API_RESTRICTIONS = "apiRestrictions"  # REST only: GET /sapi/v1/account/apiRestrictions


# Request weights from binance-spot-api-docs (rest-api.md / web-socket-api.md).
WEIGHTS: dict[Op, int] = {
    Op.TIME: 1, Op.EXCHANGE_INFO: 20, Op.ACCOUNT: 20, Op.NEW_ORDER: 1, Op.NEW_OCO: 1, Op.CANCEL_ORDER: 1,
    Op.CANCEL_ORDER_LIST: 1, Op.QUERY_ORDER: 4, Op.MY_TRADES: 20, Op.ALL_ORDERS: 20,
    Op.QUERY_ORDER_LIST: 4, Op.OPEN_ORDER_LISTS: 6, Op.USER_STREAM_SUBSCRIBE: 2, Op.USER_STREAM_SESSION_SUBSCRIBE: 2,
    Op.USER_STREAM_UNSUBSCRIBE: 2, Op.SESSION_LOGON: 2, Op.SESSION_LOGOUT: 2, Op.API_RESTRICTIONS: 1,
}
OPEN_ORDERS_WEIGHT_ONE_SYMBOL = 6
OPEN_ORDERS_WEIGHT_ALL = 80
MY_TRADES_WEIGHT_BY_ORDER = 5


@dataclass(frozen=True, slots=True)
class Limits:
    """The account's limits, published in exchangeInfo's `rateLimits` (Binance's production defaults)."""

    weight_per_minute: int = 6000
    orders_per_10s: int = 100
    orders_per_day: int = 200_000

    def exchange_info(self) -> list[dict[str, Any]]:
        return [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
             "limit": self.weight_per_minute},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": self.orders_per_10s},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": self.orders_per_day},
        ]


class _Window:
    def __init__(self, length_ms: int) -> None:
        self.length_ms = length_ms
        self.start_ms = 0
        self.count = 0

    def current(self, now_ms: int) -> int:
        start = now_ms - now_ms % self.length_ms
        if start != self.start_ms:
            self.start_ms, self.count = start, 0
        return self.count

    def retry_after_s(self, now_ms: int) -> int:
        return max(1, -(-(self.start_ms + self.length_ms - now_ms) // 1000))


class RateLimiter:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._weight = _Window(MINUTE_MS)
        self._orders_10s = _Window(TEN_S_MS)
        self._orders_day = _Window(DAY_MS)
        self.banned_until_ms = 0

    def ban(self, now_ms: int, seconds: int) -> None:
        self.banned_until_ms = now_ms + seconds * 1000

    def check_ban(self, now_ms: int) -> None:
        if now_ms < self.banned_until_ms:
            raise BinanceError(
                Code.TOO_MANY_REQUESTS,
                f"Way too much request weight used; IP banned until {self.banned_until_ms}. "
                "Please use WebSocket Streams for live updates to avoid bans.",
                http_status=418, retry_after_s=max(1, -(-(self.banned_until_ms - now_ms) // 1000)))

    def charge(self, weight: int, now_ms: int) -> None:
        used = self._weight.current(now_ms) + weight
        if used > self.limits.weight_per_minute:
            raise BinanceError(
                Code.TOO_MANY_REQUESTS,
                f"Too much request weight used; current limit is {self.limits.weight_per_minute} request weight "
                "per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.",
                http_status=429, retry_after_s=self._weight.retry_after_s(now_ms))
        self._weight.count = used

    def charge_failed(self, weight: int, now_ms: int) -> None:
        """The documented weight of a failed order or cancel request, charged after the fact (never refused)."""
        self._weight.count = self._weight.current(now_ms) + weight

    def count_orders(self, orders: int, now_ms: int) -> None:
        """Checked before an order is placed; Binance counts only orders it accepted (`add_orders`)."""
        for window, limit, label in ((self._orders_10s, self.limits.orders_per_10s, "10 SECOND"),
                                     (self._orders_day, self.limits.orders_per_day, "1 DAY")):
            if window.current(now_ms) + orders > limit:
                raise BinanceError(Code.TOO_MANY_ORDERS,
                                   f"Too many new orders; current limit is {limit} orders per {label}.",
                                   http_status=429, retry_after_s=window.retry_after_s(now_ms))

    def add_orders(self, orders: int, now_ms: int) -> None:
        for window in (self._orders_10s, self._orders_day):
            window.count = window.current(now_ms) + orders

    def headers(self, now_ms: int) -> dict[str, str]:
        return {"X-MBX-USED-WEIGHT-1M": str(self._weight.current(now_ms)),
                "X-MBX-ORDER-COUNT-10S": str(self._orders_10s.current(now_ms)),
                "X-MBX-ORDER-COUNT-1D": str(self._orders_day.current(now_ms))}

    def ws_rate_limits(self, now_ms: int) -> list[dict[str, Any]]:
        """The WebSocket API's `rateLimits` array: the same counters with their limits."""
        return [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
             "limit": self.limits.weight_per_minute, "count": self._weight.current(now_ms)},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10,
             "limit": self.limits.orders_per_10s, "count": self._orders_10s.current(now_ms)},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1,
             "limit": self.limits.orders_per_day, "count": self._orders_day.current(now_ms)},
        ]
