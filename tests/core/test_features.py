"""SymbolFeatures: where each number comes from, and what happens when there is no honest number."""

from __future__ import annotations

import json
import math
from decimal import Decimal

import pytest

from core.events import Bar, Book, BookTop, TradePrint
from core.features import FeatureError, MissingMarketData, PairSpread, SymbolFeatures, bar_imbalance
from tests.conftest import fixture_path

FIVE_MIN = 300_000


def bar(i: int, o: float, h: float, lo: float, c: float, v: float, taker_buy: float | None = None,
        symbol: str = "BTCUSDT") -> Bar:
    start = i * FIVE_MIN
    return Bar(symbol, start, start + FIVE_MIN - 1, o, h, lo, c, v, taker_buy)


def book(time_ms: int, bids: list[tuple[float, float]], asks: list[tuple[float, float]]) -> Book:
    return Book("BTCUSDT", time_ms, tuple(bids), tuple(asks))


# --- imbalance sources -------------------------------------------------------------------------------


def test_candle_close_location_is_where_the_close_sits_in_the_range() -> None:
    f = SymbolFeatures("BTCUSDT", 3)
    f.on_bar(bar(0, 100.0, 110.0, 100.0, 107.5, 5.0))
    assert f.imbalance == pytest.approx((7.5 - 2.5) / 10.0)
    assert f.imbalance_source == "candle_close_location"
    f.on_bar(bar(1, 100.0, 110.0, 100.0, 100.0, 5.0))
    assert f.imbalance == -1.0
    f.on_bar(bar(2, 100.0, 110.0, 100.0, 110.0, 5.0))
    assert f.imbalance == 1.0


def test_trade_flow_wins_over_close_location_when_the_bar_has_taker_volume() -> None:
    f = SymbolFeatures("BTCUSDT", 3)
    # Close at the low (close location would say −1) but 75% of volume was taker buys.
    f.on_bar(bar(0, 105.0, 110.0, 100.0, 100.0, 8.0, taker_buy=6.0))
    assert f.imbalance == pytest.approx((2 * 6.0 - 8.0) / 8.0)
    assert f.imbalance_source == "trade_flow"


@pytest.mark.parametrize(
    "candle",
    [
        bar(0, 100.0, 100.0, 100.0, 100.0, 5.0),  # no range
        bar(0, 100.0, 101.0, 99.0, 100.5, 0.0),  # no volume
        bar(0, 100.0, 101.0, 99.0, 100.5, 0.0, taker_buy=0.0),  # no volume, with taker field
        bar(0, 100.0, 101.0, 99.0, 100.5, 5.0, taker_buy=6.0),  # more taker buys than volume
        bar(0, 100.0, 101.0, 99.0, 102.0, 5.0),  # close outside the range
    ],
    ids=["flat", "zero-volume", "zero-volume-taker", "taker-above-volume", "close-outside-range"],
)
def test_a_bar_without_an_honest_imbalance_gives_none_not_zero(candle: Bar) -> None:
    f = SymbolFeatures("BTCUSDT", 3)
    f.on_bar(bar(-1, 100.0, 101.0, 99.0, 100.8, 5.0))
    assert f.imbalance is not None
    f.on_bar(candle)
    assert f.imbalance is None
    assert f.imbalance_source is None
    assert f.last_price == candle.close  # the price is still real


def test_trade_flow_on_real_binance_klines() -> None:
    """Binance's 12-column klines carry taker-buy base volume in column 9."""
    rows = json.loads(fixture_path("rest", "nautilus_btcusdt_2021-10", "http_spot_market_klines.json").read_text())
    f = SymbolFeatures("BTCUSDT", 3)
    for r in rows:
        k = Bar("BTCUSDT", r[0], r[6], float(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[5]), float(r[9]))
        f.on_bar(k)
        volume, taker = float(r[5]), float(r[9])
        assert f.imbalance_source == "trade_flow"
        assert f.imbalance == pytest.approx((taker - (volume - taker)) / volume)
    assert f.time_ms == rows[-1][6]
    assert f.last_price == float(rows[-1][4])
    assert f.spread_bps is None


def test_book_imbalance_over_the_top_levels_of_a_real_depth_snapshot() -> None:
    doc = json.loads(fixture_path("rest", "nautilus_btcusdt_2021-10", "http_spot_market_depth.json").read_text())
    bids = [(float(p), float(q)) for p, q in doc["bids"]]
    asks = [(float(p), float(q)) for p, q in doc["asks"]]
    f = SymbolFeatures("BTCUSDT", 3)
    f.on_book(book(1_000, bids, asks))
    b, a = sum(q for _, q in bids[:10]), sum(q for _, q in asks[:10])
    assert f.imbalance == pytest.approx((b - a) / (b + a))
    assert f.imbalance_source == "book"
    mid = (bids[0][0] + asks[0][0]) / 2
    assert f.spread_bps == pytest.approx((asks[0][0] - bids[0][0]) / mid * 1e4)
    assert f.last_price == pytest.approx(mid)
    f.on_book(book(2_000, bids, asks), depth=3)
    b3, a3 = sum(q for _, q in bids[:3]), sum(q for _, q in asks[:3])
    assert f.imbalance == pytest.approx((b3 - a3) / (b3 + a3))


def test_real_book_ticker_gives_spread_and_level_one_imbalance() -> None:
    doc = json.loads(fixture_path("rest", "nautilus_btcusdt_2021-10", "http_spot_market_book_ticker.json").read_text())
    bid, bid_qty, ask, ask_qty = (float(doc[k]) for k in ("bidPrice", "bidQty", "askPrice", "askQty"))
    f = SymbolFeatures("BTCUSDT", 3)
    f.on_book_top(BookTop("BTCUSDT", 5, bid, bid_qty, ask, ask_qty))
    assert f.imbalance == pytest.approx((bid_qty - ask_qty) / (bid_qty + ask_qty))
    assert f.imbalance_source == "book"
    assert f.spread_bps == pytest.approx(0.01 / ((bid + ask) / 2) * 1e4)
    assert f.spread_bps < 0.01


def test_book_top_prefers_its_own_summary_and_refuses_an_impossible_one() -> None:
    f = SymbolFeatures("BTCUSDT", 3)
    f.on_book_top(BookTop("BTCUSDT", 5, 100.0, 1.0, 100.1, 3.0, imbalance=0.4))
    assert f.imbalance == 0.4
    f.on_book_top(BookTop("BTCUSDT", 6, 100.0, 1.0, 100.1, 3.0, imbalance=1.7))
    assert f.imbalance is None
    assert f.imbalance_source is None


def test_empty_book_gives_no_imbalance_and_one_sided_book_no_spread() -> None:
    f = SymbolFeatures("BTCUSDT", 3)
    f.on_book(book(1, [], []))
    assert (f.imbalance, f.spread_bps, f.last_price) == (None, None, None)
    f.on_book(book(2, [(100.0, 2.0)], []))
    assert f.imbalance == 1.0
    assert f.spread_bps is None
    assert f.last_price is None


def test_crossed_book_has_no_spread() -> None:
    f = SymbolFeatures("BTCUSDT", 3)
    f.on_book(book(1, [(101.0, 1.0)], [(100.0, 1.0)]))
    assert f.spread_bps is None


# --- which source wins --------------------------------------------------------------------------------


def test_a_current_book_keeps_its_imbalance_and_spread_when_a_bar_closes() -> None:
    f = SymbolFeatures("BTCUSDT", 3)
    f.on_book(book(FIVE_MIN + 10, [(100.0, 3.0)], [(100.02, 1.0)]))
    f.on_bar(bar(1, 100.0, 101.0, 99.0, 99.0, 5.0))  # close location −1
    assert f.imbalance == 0.5
    assert f.imbalance_source == "book"
    assert f.spread_bps == pytest.approx(0.02 / 100.01 * 1e4)


def test_a_stale_book_gives_way_to_the_bar_proxy_and_loses_its_spread() -> None:
    f = SymbolFeatures("BTCUSDT", 3)
    f.on_book(book(10, [(100.0, 3.0)], [(100.02, 1.0)]))
    f.on_bar(bar(5, 100.0, 101.0, 99.0, 99.0, 5.0))
    assert f.imbalance == -1.0
    assert f.imbalance_source == "candle_close_location"
    assert f.spread_bps is None


def test_last_price_is_the_mid_until_trades_give_a_last() -> None:
    f = SymbolFeatures("BTCUSDT", 3)
    f.on_book(book(1, [(100.0, 1.0)], [(100.2, 1.0)]))
    assert f.last_price == pytest.approx(100.1)
    f.on_trade(TradePrint("BTCUSDT", 2, 100.2, 0.5, buyer_is_maker=False))
    assert f.last_price == 100.2
    f.on_book(book(3, [(99.0, 1.0)], [(99.2, 1.0)]))
    assert f.last_price == 100.2
    assert f.time_ms == 3


def test_a_bar_older_than_the_last_trade_does_not_move_the_price() -> None:
    f = SymbolFeatures("BTCUSDT", 3)
    f.on_trade(TradePrint("BTCUSDT", 10 * FIVE_MIN, 105.0, 1.0, buyer_is_maker=True))
    f.on_bar(bar(1, 100.0, 101.0, 99.0, 100.5, 5.0))
    assert f.last_price == 105.0


# --- momentum window ------------------------------------------------------------------------------------


def test_momentum_is_none_until_the_window_is_full_then_the_rise_over_it() -> None:
    f = SymbolFeatures("BTCUSDT", 3)
    closes = [100.0, 101.0, 99.0, 102.0, 103.0, 90.0]
    seen = []
    for i, c in enumerate(closes):
        f.on_bar(bar(i, c, c + 1, c - 1, c, 1.0))
        seen.append(f.momentum_pct)
    assert seen[:3] == [None, None, None]
    assert seen[3] == pytest.approx(2.0)
    assert seen[4] == pytest.approx((103 / 101 - 1) * 100)
    assert seen[5] == pytest.approx((90 / 99 - 1) * 100)


def test_a_gap_in_the_bars_restarts_the_momentum_window() -> None:
    f = SymbolFeatures("BTCUSDT", 2)
    for i in range(3):
        f.on_bar(bar(i, 100.0, 101.0, 99.0, 100.0 + i, 1.0))
    assert f.momentum_pct is not None
    f.on_bar(bar(10, 120.0, 121.0, 119.0, 120.0, 1.0))  # seven bars missing (maintenance)
    assert f.momentum_pct is None
    f.on_bar(bar(11, 120.0, 121.0, 119.0, 121.0, 1.0))
    assert f.momentum_pct is None
    f.on_bar(bar(12, 120.0, 123.0, 119.0, 122.4, 1.0))
    assert f.momentum_pct == pytest.approx(2.0)


def test_a_replayed_or_older_bar_changes_nothing() -> None:
    f = SymbolFeatures("BTCUSDT", 2)
    for i in range(3):
        f.on_bar(bar(i, 100.0, 101.0, 99.0, 100.0 + i, 1.0))
    before = f.to_dict()
    f.on_bar(bar(2, 100.0, 101.0, 99.0, 500.0, 1.0))
    f.on_bar(bar(1, 100.0, 101.0, 99.0, 500.0, 1.0))
    assert f.to_dict() == before


# --- refusals ---------------------------------------------------------------------------------------------


def test_an_event_for_another_symbol_is_refused() -> None:
    f = SymbolFeatures("BTCUSDT", 2)
    with pytest.raises(FeatureError) as err:
        f.on_bar(bar(0, 1.0, 1.0, 1.0, 1.0, 1.0, symbol="ETHUSDT"))
    assert err.value.details["symbol"] == "BTCUSDT"
    assert err.value.details["value"] == "ETHUSDT"
    with pytest.raises(FeatureError):
        f.on_trade(TradePrint("ETHUSDT", 1, 1.0, 1.0, buyer_is_maker=False))
    with pytest.raises(FeatureError, match="price"):
        f.on_trade(TradePrint("BTCUSDT", 1, math.inf, 1.0, buyer_is_maker=False))


@pytest.mark.parametrize("close", [0.0, -1.0, math.nan, math.inf])
def test_a_bar_without_a_positive_close_is_refused(close: float) -> None:
    f = SymbolFeatures("BTCUSDT", 2)
    with pytest.raises(FeatureError, match="close"):
        f.on_bar(bar(0, 1.0, 1.0, 1.0, close, 1.0))
    assert f.last_price is None


def test_zero_momentum_window_is_refused() -> None:
    with pytest.raises(FeatureError, match="momentum_window"):
        SymbolFeatures("BTCUSDT", 0)


def test_bar_imbalance_helper_matches_the_features() -> None:
    b = bar(0, 100.0, 110.0, 100.0, 104.0, 5.0)
    assert bar_imbalance(b) == (pytest.approx(-0.2), "candle_close_location")


# --- snapshot and state ------------------------------------------------------------------------------------


def test_snapshot_before_any_price_is_a_data_outage() -> None:
    with pytest.raises(MissingMarketData) as err:
        SymbolFeatures("BTCUSDT", 2).snapshot(0)
    assert err.value.code == "DATA_OUTAGE"


def test_snapshot_shows_book_trades_and_age() -> None:
    f = SymbolFeatures("BTCUSDT", 2)
    f.on_book(book(1_000, [(100.0, 3.0), (99.9, 1.0)], [(100.1, 1.0), (100.2, 0.0)]))
    f.on_trade(TradePrint("BTCUSDT", 1_500, 100.1, 0.25, buyer_is_maker=False))
    snap = f.snapshot(now_ms=4_500)
    assert snap.age_ms == 3_000
    assert snap.last_price == Decimal("100.1")
    assert [lv.price for lv in snap.bids] == [Decimal("100.0"), Decimal("99.9")]
    assert [lv.price for lv in snap.asks] == [Decimal("100.1")]  # a zero-quantity level is not shown
    assert snap.trades[0].quantity == Decimal("0.25")
    assert snap.imbalance_source == "book"
    assert snap.imbalance == pytest.approx(3 / 5)


def test_restored_features_refuse_a_bad_state() -> None:
    f = SymbolFeatures("BTCUSDT", 2)
    f.on_bar(bar(0, 100.0, 101.0, 99.0, 100.5, 1.0))
    state = f.to_dict()
    with pytest.raises(FeatureError, match="imbalance"):
        SymbolFeatures.from_dict({**state, "imbalance": 3.0})
    with pytest.raises(FeatureError, match="closes"):
        SymbolFeatures.from_dict({**state, "closes": [1.0, 2.0, 3.0]})
    with pytest.raises(FeatureError, match="version"):
        SymbolFeatures.from_dict({**state, "version": 99})


def test_restored_pair_refuses_a_bad_state() -> None:
    p = PairSpread("BTCUSDT", "ETHUSDT", 3)
    p.update(100.0, 10.0, 1)
    state = p.to_dict()
    with pytest.raises(FeatureError, match="values"):
        PairSpread.from_dict({**state, "values": [1.0] * 4})
    with pytest.raises(FeatureError, match="sum"):
        PairSpread.from_dict({**state, "sum": "lots"})


# --- pair spread basics -------------------------------------------------------------------------------------


def test_pair_spread_is_none_until_full_and_with_zero_variance() -> None:
    p = PairSpread("BTCUSDT", "ETHUSDT", 3)
    assert p.update(100.0, 10.0, 1) is None
    assert p.update(200.0, 20.0, 2) is None
    assert p.update(300.0, 30.0, 3) is None  # full, but the ratio never moved
    assert p.z is None
    z = p.update(330.0, 30.0, 4)
    assert z is not None
    assert z > 0


def test_pair_spread_ignores_a_replayed_update_and_refuses_bad_prices() -> None:
    p = PairSpread("BTCUSDT", "ETHUSDT", 2)
    p.update(100.0, 10.0, 1)
    z = p.update(110.0, 10.0, 2)
    assert p.update(500.0, 10.0, 2) == z
    with pytest.raises(FeatureError, match="BTCUSDT"):
        p.update(0.0, 10.0, 3)
    with pytest.raises(FeatureError, match="ETHUSDT"):
        p.update(1.0, math.inf, 3)
