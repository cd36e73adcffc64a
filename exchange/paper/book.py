"""The simulator's copy of a symbol's order book, in exact `Decimal`s, and walking it.

Feeds deliver `core.events.Book` with float levels; the simulator converts one lazily, the first time an
order needs it, so that a replay pushing books for symbols with no orders pays nothing. Liquidity our own
orders take is removed from the copy until the next book replaces it, so two market orders on the same
book do not both fill against the same quantity.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.events import Book
from core.filters import round_to_step

ZERO = Decimal(0)


def to_decimal(value: float) -> Decimal:
    """A float price or size as the decimal it was printed from (repr is the shortest exact round-trip)."""
    return Decimal(repr(value))


def floor_to_steps(quantity: Decimal, steps: Iterable[Decimal]) -> Decimal:
    for step in steps:
        quantity = round_to_step(quantity, step, "down")
    return quantity


@dataclass(slots=True)
class DepthBook:
    """Best first on each side; each level is a mutable [price, quantity] pair."""

    bids: list[list[Decimal]]
    asks: list[list[Decimal]]

    @classmethod
    def from_book(cls, book: Book) -> DepthBook:
        return cls(bids=[[to_decimal(p), to_decimal(q)] for p, q in book.bids if q > 0],
                   asks=[[to_decimal(p), to_decimal(q)] for p, q in book.asks if q > 0])

    def best_bid(self) -> Decimal | None:
        return self.bids[0][0] if self.bids else None

    def best_ask(self) -> Decimal | None:
        return self.asks[0][0] if self.asks else None

    def mid(self) -> Decimal | None:
        bid, ask = self.best_bid(), self.best_ask()
        if bid is None or ask is None:
            return bid if ask is None else ask
        return (bid + ask) / 2

    def side_for_taker(self, buying: bool) -> list[list[Decimal]]:
        return self.asks if buying else self.bids

    def to_state(self) -> dict[str, Any]:
        return {"bids": [[str(p), str(q)] for p, q in self.bids], "asks": [[str(p), str(q)] for p, q in self.asks]}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> DepthBook:
        return cls(bids=[[Decimal(p), Decimal(q)] for p, q in state["bids"]],
                   asks=[[Decimal(p), Decimal(q)] for p, q in state["asks"]])


@dataclass(frozen=True, slots=True)
class Walk:
    """Planned executions against one side of the book: (level price, quantity) pairs, best first.

    `satisfied` is False when the levels ran out (or stopped crossing the limit) before the order's
    demand was met: the remainder of a MARKET or IOC order then expires.
    """

    fills: tuple[tuple[Decimal, Decimal], ...]
    satisfied: bool

    @property
    def quantity(self) -> Decimal:
        return sum((q for _, q in self.fills), ZERO)

    @property
    def quote(self) -> Decimal:
        return sum((p * q for p, q in self.fills), ZERO)


def walk(levels: Sequence[Sequence[Decimal]], *, buying: bool, steps: Sequence[Decimal],
         max_qty: Decimal | None = None, max_quote: Decimal | None = None,
         limit: Decimal | None = None) -> Walk:
    """Plan how an order that takes liquidity fills: level by level, each quantity floored to `steps`.

    Demand is either a base quantity (`max_qty`) or a quote amount (`max_quote`, Binance's
    quoteOrderQty). `limit` stops the walk at levels worse than the limit price.
    """
    fills: list[tuple[Decimal, Decimal]] = []
    qty_left = max_qty
    quote_left = max_quote
    for price, available in levels:
        if limit is not None and (price > limit if buying else price < limit):
            break
        want = qty_left if qty_left is not None else floor_to_steps(quote_left / price, steps)  # type: ignore[operator]
        take = floor_to_steps(min(available, want), steps)
        if take > ZERO:
            fills.append((price, take))
            if qty_left is not None:
                qty_left -= take
            else:
                quote_left -= price * take  # type: ignore[operator]
        if want <= available:
            return Walk(tuple(fills), satisfied=True)
    return Walk(tuple(fills), satisfied=False)


def consume(levels: list[list[Decimal]], price: Decimal, quantity: Decimal) -> None:
    """Remove liquidity our own order took at `price` (levels with nothing left disappear)."""
    for i, level in enumerate(levels):
        if level[0] == price:
            level[1] -= quantity
            if level[1] <= ZERO:
                del levels[i]
            return
