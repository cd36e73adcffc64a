"""Properties of the simulator's trailing stops (exchange/paper/trailing.py) over arbitrary markets.

* While a sell trails, its trigger price never moves down (a buy's never up): a stop only tightens.
* Trade mode: a SELL triggers at the first trade at or below the highest price since activation × (1 − δ),
  never before; it fills there when its limit allows (never above that trade), else rests at its limit.
* Candle mode: a fill never credits more than the trail of the highest price the bars have shown, never goes
  below the limit, and a bar whose low (after its open) is at or below the trigger always triggers.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from core.types import OrderStatus, Side
from exchange.paper.trailing import Trail
from tests.exchange.test_paper_support import SYMBOL, D, bar, paper, trade
from tests.exchange.test_paper_trailing import FAQ_RULES, trailing

BIPS = Decimal(10_000)
prices = st.integers(min_value=5_000, max_value=20_000).map(lambda cents: D(cents) / 100)
deltas = st.integers(min_value=10, max_value=2_000)


@given(st.booleans(), deltas, st.one_of(st.none(), prices), st.lists(prices, min_size=1, max_size=60))
def test_the_trigger_only_ever_tightens(selling: bool, delta: int, stop: Decimal | None,
                                        tape: list[Decimal]) -> None:
    trail = Trail(delta=delta, selling=selling, stop_price=stop)
    trail.start(D(100), 0)
    previous: Decimal | None = None
    for i, price in enumerate(tape, start=1):
        triggered = trail.on_trade(price, i)
        current = trail.trigger_price()
        if previous is not None:
            assert current is not None
            assert current >= previous if selling else current <= previous
        if triggered:
            assert current is not None and (price <= current if selling else price >= current)
            break
        previous = current


@settings(max_examples=200)
@given(deltas, st.one_of(st.none(), st.integers(min_value=1, max_value=3_000)),
       st.integers(min_value=0, max_value=4_000), st.lists(prices, min_size=1, max_size=60))
def test_trade_mode_sell_triggers_at_the_first_trade_the_faq_says_and_fills_within_its_limit(
        delta: int, stop_below: int | None, limit_below: int, tape: list[Decimal]) -> None:
    start = D(100)
    stop = None if stop_below is None else start - D(stop_below) / 100
    limit = start - D(limit_below) / 100
    ex = paper(btc="1", **FAQ_RULES)
    ex.on_trade(trade(float(start), time_ms=1))
    ex.place_order(trailing("cx-p", Side.SELL, delta, price=str(limit), stop=None if stop is None else str(stop),
                            quantity="1"), now_ms=1)
    highest: Decimal | None = start if stop is None else None
    triggered_at: Decimal | None = None
    for i, price in enumerate(tape, start=2):
        reports = ex.on_trade(trade(float(price), time_ms=i))
        fills = [r.fill for r in reports if r.fill is not None]
        if triggered_at is None:
            if highest is None:
                highest = price if price <= stop else None  # type: ignore[operator]
                assert fills == []
                continue
            trigger = highest * (BIPS - delta) / BIPS
            if price > trigger:
                highest = max(highest, price)
                assert fills == [], f"triggered early at {price} (trigger {trigger})"
                continue
            triggered_at = price
            if price >= limit:
                assert [f.price for f in fills] == [price]  # at the market, never above the trade
            else:
                assert fills == [] and ex.get_order(SYMBOL, "cx-p").status is OrderStatus.NEW
            continue
        for fill in fills:
            assert fill.price == limit and price > limit  # resting at its limit: a maker at its own price
    if triggered_at is None:
        assert ex.get_order(SYMBOL, "cx-p").executed_qty == 0


@st.composite
def candles(draw: st.DrawFn) -> tuple[float, float, float, float]:
    points = sorted(draw(st.lists(st.integers(min_value=5_000, max_value=20_000), min_size=4, max_size=4)))
    low, a, b, high = points
    open_, close = (a, b) if draw(st.booleans()) else (b, a)
    return open_ / 100, high / 100, low / 100, close / 100


@settings(max_examples=200)
@given(deltas, st.integers(min_value=0, max_value=6_000), st.lists(candles(), min_size=1, max_size=30))
def test_candle_mode_never_credits_more_than_the_highest_price_shown_and_never_misses_a_low(
        delta: int, limit_below: int, bars: list[tuple[float, float, float, float]]) -> None:
    ex = paper(btc="1", **FAQ_RULES)
    ex.close_bar(bar(100, 100, 100, 100, open_time_ms=0))
    limit = D(100) - D(limit_below) / 100
    ex.place_order(trailing("cx-p", Side.SELL, delta, price=str(limit), quantity="1"), now_ms=299_999)
    factor = (BIPS - delta) / BIPS
    reference = D(100)  # the highest price the trail can have seen before this bar
    for k, (open_, high, low, close) in enumerate(bars, start=1):
        o, h, lo = D(repr(open_)), D(repr(high)), D(repr(low))
        candle = bar(open_, high, low, close, open_time_ms=300_000 * k)
        reports = ex.open_bar(candle) + ex.close_bar(candle)
        before_high = max(reference, o) * factor  # the trigger the bar's low meets: the high comes after it
        for fill in (r.fill for r in reports if r.fill is not None):
            assert limit <= fill.price <= max(reference, h) * factor or fill.price == limit
            if lo <= before_high and fill.price != limit:
                assert fill.price <= before_high, "the bar's high raised the trigger before its low was tested"
        order = ex.get_order(SYMBOL, "cx-p")
        assert order is not None
        if order.executed_qty == 0 and order.status is OrderStatus.NEW and lo <= before_high:
            triggered = ex.to_state()["orders"][0]["triggered"]
            assert triggered, f"bar {k}: low {lo} at or below the trigger {before_high}"
        if ex.to_state()["orders"][0]["triggered"]:
            break
        reference = max(reference, h)
