"""Binance's trailing stops as the paper simulator runs them (binance-spot-api-docs, faqs/trailing-stop-faq.md).

A trailing STOP_LOSS_LIMIT carries `trailingDelta` in BIPS (1 BIPS = 0.01 %). A SELL triggers once a trade
falls `delta` BIPS below the highest trade price since it started tracking; a BUY once a trade rises `delta`
BIPS above the lowest. "Equal to, or surpasses" triggers: 36,900 = 41,000 × 0.90 fires a 1000-BIPS sell.

* With a `stopPrice`, tracking starts (activation) only when a trade meets the stop condition (SELL: price <=
  stopPrice, BUY: price >= stopPrice); the first trade that meets it sets the highest (lowest) price.
* Without one, tracking starts at placement from the last price (CHANGELOG 2022-04-13: "starts tracking the
  price changes from the last price"); a venue that has seen no trade yet starts from the next trade.
* `trailingTime` (`D` in the executionReport) is when tracking started; Binance reports -1 before that.

Two ways to feed prices:

* `on_trade`: one trade price at a time (book/trade mode), exactly the FAQ's rules.
* `along`: a straight run of prices between two points of a candle's path (candle mode). Prices between the
  points are assumed to trade, so activation happens at the stop price itself and a trigger at the trigger
  price itself, as the FAQ's scenarios of "linear trades" do. Which path a bar takes is the caller's choice
  (the simulator takes the adverse extreme first: open, low, high, close for a SELL).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.types import BIPS_PER_UNIT

_BIPS = Decimal(BIPS_PER_UNIT)


@dataclass(slots=True)
class Trail:
    """The trailing state of one order. Mutable on purpose, like `PaperOrder`: the simulator updates it in place.

    `extreme` is the highest trade price since activation for a SELL, the lowest for a BUY; `since_ms` is
    Binance's trailingTime, None until tracking starts.
    """

    delta: int
    selling: bool
    stop_price: Decimal | None
    extreme: Decimal | None = None
    since_ms: int | None = None

    @property
    def active(self) -> bool:
        return self.since_ms is not None

    def trigger_price(self) -> Decimal | None:
        """The price a trade must reach (at or beyond) to trigger the order, once tracking has a reference."""
        if self.extreme is None:
            return None
        factor = (_BIPS - self.delta) / _BIPS if self.selling else (_BIPS + self.delta) / _BIPS
        return self.extreme * factor

    def start(self, last_price: Decimal | None, time_ms: int) -> None:
        """Placement without a stop price: track from the last price, or from the next trade if none is known."""
        if self.stop_price is None and last_price is not None:
            self._activate(last_price, time_ms)

    def on_trade(self, price: Decimal, time_ms: int) -> bool:
        """One trade print. True when it triggers the order."""
        if not self.active:
            if self.stop_price is None or self._meets_stop(price):
                self._activate(price, time_ms)
            return False
        assert self.extreme is not None
        if self._beyond_extreme(price):
            self.extreme = price
            return False
        trigger = self.trigger_price()
        assert trigger is not None
        return price <= trigger if self.selling else price >= trigger

    def along(self, start: Decimal, end: Decimal, time_ms: int) -> Decimal | None:
        """Prices run straight from `start` (already seen through `on_trade` or an earlier run) to `end`.

        Returns the price at which the order triggers on the way, or None.
        """
        if not self.active:
            assert self.stop_price is not None  # a trail without a stop price is active from its first price
            if not self._meets_stop(end):
                return None
            self._activate(self.stop_price, time_ms)  # the first price on the way that meets the stop
            start = self.stop_price
        assert self.extreme is not None
        if self._beyond_extreme(end):
            self.extreme = end
            return None
        moving_away = end < start if self.selling else end > start
        trigger = self.trigger_price()
        assert trigger is not None
        if moving_away and (end <= trigger if self.selling else end >= trigger):
            return trigger
        return None

    def _activate(self, price: Decimal, time_ms: int) -> None:
        self.extreme = price
        self.since_ms = time_ms

    def _meets_stop(self, price: Decimal) -> bool:
        assert self.stop_price is not None
        return price <= self.stop_price if self.selling else price >= self.stop_price

    def _beyond_extreme(self, price: Decimal) -> bool:
        assert self.extreme is not None
        return price > self.extreme if self.selling else price < self.extreme

    def to_state(self) -> dict[str, Any]:
        return {"delta": self.delta, "selling": self.selling,
                "stop_price": None if self.stop_price is None else str(self.stop_price),
                "extreme": None if self.extreme is None else str(self.extreme), "since_ms": self.since_ms}

    @classmethod
    def from_state(cls, s: dict[str, Any]) -> Trail:
        return cls(delta=s["delta"], selling=s["selling"],
                   stop_price=None if s["stop_price"] is None else Decimal(s["stop_price"]),
                   extreme=None if s["extreme"] is None else Decimal(s["extreme"]), since_ms=s["since_ms"])
