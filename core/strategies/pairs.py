"""A pair strategy's spread bookkeeping: the rolling z-score of log(A/B), updated once per bar time.

The spread is updated only when both legs have a bar of the same close time (a replay of several symbols
hands their bars over one after the other; the second leg's bar completes the pair's bar). It belongs to the
pair strategy that named the pair (`PairStrategy.pair`), is read by it (through `view`, a `ReadOnlyPair`, when
it comes from outside `core/`), and is checkpointed under that strategy's name.
"""

from __future__ import annotations

from typing import Any

from core.features import PairSpread
from core.strategies.base import ReadOnlyPair


class PairTrack:
    __slots__ = ("_bar_ms", "legs", "spread", "symbol_a", "symbol_b", "view")

    def __init__(self, spread: PairSpread, bar_ms: dict[str, int] | None = None) -> None:
        self.spread = spread
        self.symbol_a, self.symbol_b = spread.symbol_a, spread.symbol_b
        self.legs = (spread.symbol_a, spread.symbol_b)
        self.view = ReadOnlyPair(spread)
        self._bar_ms: dict[str, int] = dict(bar_ms or {})

    def on_bar(self, symbol: str, close_ms: int, price_a: float | None, price_b: float | None) -> bool:
        """A leg's bar closed at `close_ms`: True when the pair's bar is complete and the spread was given it (the
        strategy decides then), False while the other leg's bar of that time is still to come or a price is
        missing."""
        self._bar_ms[symbol] = close_ms
        if self._bar_ms.get(self.symbol_a) != self._bar_ms.get(self.symbol_b):
            return False
        if price_a is None or price_b is None:
            return False
        self.spread.update(price_a, price_b, close_ms)
        return True

    def to_dict(self) -> dict[str, Any]:
        return {"spread": self.spread.to_dict(), "bar_ms": dict(self._bar_ms)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PairTrack:
        return cls(PairSpread.from_dict(d["spread"]), {str(k): int(v) for k, v in d.get("bar_ms", {}).items()})
