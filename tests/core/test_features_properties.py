"""Properties of the features: bounded imbalance, finite z-scores, restarts that change nothing."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from core.config import StrategyConfig
from core.events import Bar, Book, BookTop, TradePrint
from core.features import PairSpread, SymbolFeatures, bar_imbalance, quantity_imbalance, spread_bps
from core.strategies.momentum import MomentumConfig
from core.strategies.scalping import ScalpingConfig
from core.strategies.stat_arb import StatArbConfig, pair_reverted, pair_signal
from tests.core.symbol_signals import symbol_signals

FIVE_MIN = 300_000
any_float = st.floats(allow_nan=True, allow_infinity=True)
finite_non_negative = st.floats(min_value=0.0, max_value=1.7e308, allow_nan=False)
positive = st.floats(min_value=1e-300, max_value=1.7e308, allow_nan=False, allow_infinity=False)


@given(high=any_float, low=any_float, close=any_float, volume=any_float, taker=st.none() | any_float)
def test_bar_imbalance_is_none_or_within_minus_one_and_one(high: float, low: float, close: float, volume: float,
                                                          taker: float | None) -> None:
    value, source = bar_imbalance(Bar("BTCUSDT", 0, FIVE_MIN - 1, close, high, low, close, volume, taker))
    if value is None:
        assert source is None
    else:
        assert -1.0 <= value <= 1.0
        assert source == ("trade_flow" if taker is not None else "candle_close_location")


@given(bids=st.lists(st.tuples(positive, finite_non_negative), max_size=15),
       asks=st.lists(st.tuples(positive, finite_non_negative), max_size=15),
       depth=st.integers(1, 20))
def test_book_imbalance_is_none_or_within_minus_one_and_one(bids: list[tuple[float, float]],
                                                            asks: list[tuple[float, float]], depth: int) -> None:
    f = SymbolFeatures("BTCUSDT", 3)
    f.on_book(Book("BTCUSDT", 1, tuple(bids), tuple(asks)), depth=depth)
    assert f.imbalance is None or -1.0 <= f.imbalance <= 1.0
    assert f.spread_bps is None or f.spread_bps >= 0.0
    assert (f.imbalance_source == "book") == (f.imbalance is not None)


@given(bid_qty=any_float, ask_qty=any_float, bid=any_float, ask=any_float)
def test_level_one_helpers_never_give_an_impossible_value(bid_qty: float, ask_qty: float, bid: float,
                                                          ask: float) -> None:
    imbalance = quantity_imbalance(bid_qty, ask_qty)
    assert imbalance is None or -1.0 <= imbalance <= 1.0
    spread = spread_bps(bid, ask)
    assert spread is None or 0.0 <= spread <= 20_000.0


prices = st.floats(min_value=1e-8, max_value=1e9, allow_nan=False, allow_infinity=False)


@given(steps=st.lists(st.tuples(positive, positive), min_size=1, max_size=60), window=st.integers(2, 12))
def test_z_is_none_or_finite(steps: list[tuple[float, float]], window: int) -> None:
    pair = PairSpread("BTCUSDT", "ETHUSDT", window)
    for t, (a, b) in enumerate(steps):
        z = pair.update(a, b, t)
        assert z is None or math.isfinite(z)
        assert z == pair.z


# --- restarts ---------------------------------------------------------------------------------------------

price = st.floats(min_value=1.0, max_value=1e5, allow_nan=False)
qty = st.floats(min_value=0.0, max_value=1e3, allow_nan=False)


@st.composite
def market_events(draw: st.DrawFn) -> list[Bar | Book | BookTop | TradePrint]:
    """A plausible interleaving of bars (with gaps and repeats), books, book tops and trades."""
    events: list[Bar | Book | BookTop | TradePrint] = []
    bar_index, now = 0, 0
    for _ in range(draw(st.integers(1, 40))):
        kind = draw(st.sampled_from(["bar", "bar", "bar", "book", "top", "trade", "repeat"]))
        now += draw(st.integers(1, 200_000))
        if kind in ("bar", "repeat"):
            if kind == "bar":
                bar_index += draw(st.sampled_from([1, 1, 1, 3]))
            lo, hi = sorted((draw(price), draw(price)))
            close = draw(st.floats(min_value=lo, max_value=hi))
            volume = draw(qty)
            taker = draw(st.none() | st.floats(min_value=0.0, max_value=volume))
            start = bar_index * FIVE_MIN
            events.append(Bar("BTCUSDT", start, start + FIVE_MIN - 1, draw(price), hi, lo, close, volume, taker))
            now = max(now, start + FIVE_MIN)
        elif kind == "book":
            mid = draw(price)
            bids = tuple((mid * (1 - 0.0001 * (i + 1)), draw(qty)) for i in range(draw(st.integers(0, 12))))
            asks = tuple((mid * (1 + 0.0001 * (i + 1)), draw(qty)) for i in range(draw(st.integers(0, 12))))
            events.append(Book("BTCUSDT", now, bids, asks))
        elif kind == "top":
            bid = draw(price)
            imbalance = draw(st.none() | st.floats(min_value=-1.0, max_value=1.0))
            events.append(BookTop("BTCUSDT", now, bid, draw(qty), bid * 1.0003, draw(qty), imbalance))
        else:
            events.append(TradePrint("BTCUSDT", now, draw(price), draw(qty), draw(st.booleans())))
    return events


def apply(f: SymbolFeatures, event: Bar | Book | BookTop | TradePrint) -> None:
    if isinstance(event, Bar):
        f.on_bar(event)
    elif isinstance(event, Book):
        f.on_book(event)
    elif isinstance(event, BookTop):
        f.on_book_top(event)
    else:
        f.on_trade(event)


def observe(f: SymbolFeatures, config: StrategyConfig, now_ms: int) -> tuple[Any, ...]:
    return (f.to_dict(), symbol_signals(f, config, now_ms), f.snapshot(now_ms) if f.last_price is not None else None)


# Loose thresholds so that the signals fire often enough for the comparison to mean something.
LOOSE = StrategyConfig(
    scalping=ScalpingConfig(min_imbalance=0.0, max_spread_bps=50.0),
    momentum=MomentumConfig(min_imbalance=0.0, min_rise_pct=0.01, window_bars=3),
)


@given(events=market_events(), data=st.data())
def test_restored_features_continue_exactly_like_the_original(events: list[Any], data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(events)))
    original = SymbolFeatures("BTCUSDT", 3)
    for e in events[:cut]:
        apply(original, e)
    restored = SymbolFeatures.from_dict(json.loads(json.dumps(original.to_dict())))
    assert restored.to_dict() == original.to_dict()
    for e in events[cut:]:
        apply(original, e)
        apply(restored, e)
        now = original.time_ms + 1
        assert observe(restored, LOOSE, now) == observe(original, LOOSE, now)


@given(steps=st.lists(st.tuples(prices, prices), min_size=1, max_size=80), window=st.integers(2, 16),
       data=st.data())
def test_restored_pair_spread_continues_bit_for_bit(steps: list[tuple[float, float]], window: int,
                                                    data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(steps)))
    config = StatArbConfig(window_bars=max(window, 10), z_entry=0.5, z_exit=0.4)
    original = PairSpread("BTCUSDT", "ETHUSDT", window)
    for t, (a, b) in enumerate(steps[:cut]):
        original.update(a, b, t)
    restored = PairSpread.from_dict(json.loads(json.dumps(original.to_dict())))
    btc, eth = SymbolFeatures("BTCUSDT", 3), SymbolFeatures("ETHUSDT", 3)
    for t, (a, b) in enumerate(steps[cut:], start=cut):
        z = original.update(a, b, t)
        assert restored.update(a, b, t) == z
        assert restored.to_dict() == original.to_dict()
        if window == config.window_bars:
            btc.on_trade(TradePrint("BTCUSDT", t, a, 1.0, False))
            eth.on_trade(TradePrint("ETHUSDT", t, b, 1.0, False))
            assert pair_signal(restored, btc, eth, config, t) == pair_signal(original, btc, eth, config, t)
            assert pair_reverted(restored, config) == pair_reverted(original, config)


@given(events=market_events(), data=st.data())
def test_when_the_candle_imbalance_is_read_changes_nothing(events: list[Any], data: st.DataObject) -> None:
    """A bar's imbalance proxy is worked out when first read. Reading it after every event (as eager code would
    have computed it) and reading it only now and then must give the same features and signals throughout."""
    eager, lazy = SymbolFeatures("BTCUSDT", 3), SymbolFeatures("BTCUSDT", 3)
    for event in events:
        apply(eager, event)
        apply(lazy, event)
        _ = eager.imbalance
        if data.draw(st.booleans()):
            now = event.close_time_ms if isinstance(event, Bar) else event.time_ms
            assert observe(lazy, LOOSE, now) == observe(eager, LOOSE, now)
    assert lazy.to_dict() == eager.to_dict()
    assert (lazy.imbalance, lazy.imbalance_source) == (eager.imbalance, eager.imbalance_source)
