"""Faults injected on demand: each one fires on the next matching request(s), then is gone.

`FaultKind` names what happens; `accepted` says whether the request is carried out before the fault
answers (a 5XX or -1007 after the order reached the matching engine, a WebSocket API request that is
executed but never answered). Drops and user-stream terminations act at once and are not queued here.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from enum import StrEnum

from tests.fakes.binance.limits import Op


class FaultKind(StrEnum):
    RATE_LIMITED = "rate_limited"  # 429 -1003 with Retry-After; nothing done
    BANNED = "banned"  # 418 with Retry-After, and every request after it until the ban ends
    SERVER_ERROR = "server_error"  # an HTTP 5XX with no Binance code (execution status unknown)
    STATUS_UNKNOWN = "status_unknown"  # -1007 with HTTP 503 (execution status unknown)
    REJECT = "reject"  # a Binance error of the caller's choosing (e.g. -2010 insufficient balance)
    NO_ANSWER = "no_answer"  # WebSocket API only: the request gets no answer at all


class Transport(StrEnum):
    REST = "rest"
    WS_API = "ws_api"


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind
    op: Op | None = None  # None: any request
    transport: Transport | None = None  # None: either
    accepted: bool = False
    retry_after_s: int = 1
    http_status: int = 500
    code: int = 0
    msg: str = ""
    times: int = 1

    def __post_init__(self) -> None:
        if self.times < 1:
            raise ValueError(f"a fault fires at least once, got times={self.times}")
        if self.kind is FaultKind.NO_ANSWER and self.transport is Transport.REST:
            raise ValueError("NO_ANSWER is a WebSocket API fault: a REST client times out on its own")
        if self.kind is FaultKind.SERVER_ERROR and not 500 <= self.http_status < 600:
            raise ValueError(f"SERVER_ERROR needs a 5XX status, got {self.http_status}")
        if self.kind is FaultKind.REJECT and (self.code >= 0 or not self.msg):
            raise ValueError("REJECT needs a negative Binance code and its message")
        if self.accepted and self.kind in (FaultKind.RATE_LIMITED, FaultKind.BANNED, FaultKind.REJECT):
            raise ValueError(f"{self.kind} refuses the request: it cannot be accepted as well")


@dataclass(slots=True)
class _Armed:
    fault: Fault
    left: int


class FaultQueue:
    """Thread-safe: tests arm faults from their own thread while the server's loop consumes them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[_Armed] = []

    def arm(self, fault: Fault) -> None:
        if fault.kind is FaultKind.NO_ANSWER and fault.transport is None:
            fault = replace(fault, transport=Transport.WS_API)
        with self._lock:
            self._armed.append(_Armed(fault, fault.times))

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def take(self, op: Op, transport: Transport) -> Fault | None:
        with self._lock:
            for entry in self._armed:
                fault = entry.fault
                if fault.op in (None, op) and fault.transport in (None, transport):
                    entry.left -= 1
                    if entry.left == 0:
                        self._armed.remove(entry)
                    return fault
        return None
