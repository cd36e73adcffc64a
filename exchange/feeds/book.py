"""A local copy of one symbol's order book, kept by Binance's "manage a local order book" rule.

Binance spot (web-socket-streams.md, "How to manage a local order book correctly"): buffer the
`<symbol>@depth` diffs, fetch `GET /api/v3/depth`, drop every diff whose final update id `u` is
<= the snapshot's `lastUpdateId`; the first diff applied must satisfy `U <= lastUpdateId + 1 <= u`;
each later diff must start at the previous `u + 1`. A quantity of 0 removes the level. Any other
sequence is a gap: the book raises `BookOutOfSync` and stays unusable until a new snapshot is loaded.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from typing import Any

from core.events import Book
from exchange.feeds.errors import BookOutOfSync


def _levels(raw: Iterable[Any]) -> dict[float, float]:
    return {float(price): float(qty) for price, qty in raw}


def _update(side: dict[float, float], raw: Iterable[Any]) -> None:
    for price_text, qty_text in raw:
        price, qty = float(price_text), float(qty_text)
        if qty == 0.0:
            side.pop(price, None)
        else:
            side[price] = qty


class LocalBook:
    """Price → quantity on each side, plus the update id the book stands at."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.synced = False
        self.last_update_id: int | None = None
        self._bids: dict[float, float] = {}
        self._asks: dict[float, float] = {}
        self._first_pending = True

    def load_snapshot(self, snapshot: Mapping[str, Any]) -> None:
        """Replace the book with a REST depth snapshot (`{"lastUpdateId", "bids", "asks"}`)."""
        self._bids = _levels(snapshot["bids"])
        self._asks = _levels(snapshot["asks"])
        self.last_update_id = int(snapshot["lastUpdateId"])
        self._first_pending = True
        self.synced = True

    def apply(self, event: Mapping[str, Any]) -> bool:
        """Apply one depthUpdate (`data` of the stream message). False: dropped as older than the book."""
        first, final = int(event["U"]), int(event["u"])
        if event.get("s", self.symbol) != self.symbol:
            raise BookOutOfSync(self.symbol, f"diff for {event.get('s')} applied to this book")
        if not self.synced or self.last_update_id is None:
            raise BookOutOfSync(self.symbol, "no snapshot loaded since the last gap", self.last_update_id,
                                first, final)
        last = self.last_update_id
        if final <= last:
            return False
        in_sequence = (first <= last + 1 <= final) if self._first_pending else first == last + 1
        if not in_sequence:
            self.synced = False
            reason = "first diff does not straddle the snapshot" if self._first_pending else "gap in update ids"
            raise BookOutOfSync(self.symbol, reason, last, first, final)
        _update(self._bids, event.get("b", ()))
        _update(self._asks, event.get("a", ()))
        self.last_update_id = final
        self._first_pending = False
        return True

    def book(self, time_ms: int, depth: int = 10) -> Book:
        """The best `depth` levels a side. A crossed book means the copy is wrong: it is refused."""
        if not self.synced:
            raise BookOutOfSync(self.symbol, "book requested while out of sync", self.last_update_id)
        bids = tuple(heapq.nlargest(depth, self._bids.items()))
        asks = tuple(heapq.nsmallest(depth, self._asks.items()))
        if bids and asks and bids[0][0] >= asks[0][0]:
            self.synced = False
            raise BookOutOfSync(self.symbol, f"crossed: best bid {bids[0][0]} >= best ask {asks[0][0]}",
                                self.last_update_id)
        return Book(self.symbol, time_ms, bids, asks)

    def to_snapshot(self, limit: int | None = None) -> dict[str, Any]:
        """The book in REST depth shape (best first), e.g. to compare two copies or seed another book."""
        bids = sorted(self._bids.items(), reverse=True)[:limit]
        asks = sorted(self._asks.items())[:limit]
        return {
            "lastUpdateId": self.last_update_id,
            "bids": [[repr(p), repr(q)] for p, q in bids],
            "asks": [[repr(p), repr(q)] for p, q in asks],
        }
