"""Oracle metrics on real recorded Binance data, checked against values computed independently here
(Decimal arithmetic and plain loops, not the oracle's own functions)."""

from __future__ import annotations

import bisect
import json
import math
from decimal import Decimal
from typing import Any

import pytest

from oracle.analysis import analyse
from oracle.model import OracleDocument
from oracle.snapshot import from_document
from tests.conftest import fixture_path
from tests.oracle.binance_public_server import cryptofeed_depth_snapshots

NOW_MS = 1_700_000_000_000
REL = 1e-9


def _doc(payload: dict[str, Any], symbol: str) -> OracleDocument:
    return analyse(from_document(payload, symbol, NOW_MS), "inline", NOW_MS)


def _dec(levels: list[list[str]]) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(p), Decimal(q)) for p, q in levels]


def _ratio(b: Decimal, a: Decimal) -> float:
    return float((b - a) / (b + a))


def _expected_imbalance(bids: list, asks: list, n: int) -> tuple[float, float]:
    bq = sum((q for _, q in bids[:n]), Decimal(0))
    aq = sum((q for _, q in asks[:n]), Decimal(0))
    bn = sum((p * q for p, q in bids[:n]), Decimal(0))
    an = sum((p * q for p, q in asks[:n]), Decimal(0))
    return _ratio(bq, aq), _ratio(bn, an)


def _expected_band(levels: list, mid: Decimal, bps: int, bid: bool) -> tuple[float, bool]:
    edge = mid * (1 - Decimal(bps) / 10_000) if bid else mid * (1 + Decimal(bps) / 10_000)
    total = Decimal(0)
    inside = [lv for lv in levels if (lv[0] >= edge if bid else lv[0] <= edge)]
    for p, q in inside:
        total += p * q
    return float(total), len(inside) < len(levels)


def _check_book(doc: OracleDocument, payload: dict[str, Any]) -> None:
    bids, asks = _dec(payload["bids"]), _dec(payload["asks"])
    (bid, bid_q), (ask, ask_q) = bids[0], asks[0]
    mid = (bid + ask) / 2
    assert doc.best_bid == float(bid) and doc.best_ask == float(ask)
    assert doc.mid == pytest.approx(float(mid), rel=REL)
    assert doc.spread_bps == pytest.approx(float((ask - bid) / mid * 10_000), rel=1e-6)
    assert doc.microprice == pytest.approx(float((bid * ask_q + ask * bid_q) / (bid_q + ask_q)), rel=REL)
    assert [i.levels for i in doc.imbalance] == [5, 10, 20]
    for imb in doc.imbalance:
        by_qty, by_notional = _expected_imbalance(bids, asks, imb.levels)
        assert imb.by_quantity == pytest.approx(by_qty, rel=REL, abs=1e-12)
        assert imb.by_notional == pytest.approx(by_notional, rel=REL, abs=1e-12)
        assert imb.bid_levels_used == min(imb.levels, len(bids))
    assert [b.bps for b in doc.depth] == [10.0, 50.0]
    for band in doc.depth:
        bid_total, bid_complete = _expected_band(bids, mid, int(band.bps), bid=True)
        ask_total, ask_complete = _expected_band(asks, mid, int(band.bps), bid=False)
        assert band.bid_notional == pytest.approx(bid_total, rel=REL)
        assert band.ask_notional == pytest.approx(ask_total, rel=REL)
        assert (band.bid_complete, band.ask_complete) == (bid_complete, ask_complete)


def test_nautilus_btcusdt_depth_snapshot() -> None:
    payload = json.loads(fixture_path("rest", "nautilus_btcusdt_2021-10", "http_spot_market_depth.json").read_text())
    doc = _doc(payload, "BTCUSDT")
    _check_book(doc, payload)
    # Hand-checked anchors from the recorded file: best 60650.00 / 60650.01, 10 levels a side.
    assert (doc.best_bid, doc.best_ask, doc.bid_levels, doc.last_update_id) == (60650.0, 60650.01, 10, 14527958487)
    # The 10-level snapshot ends within 2 bps of mid: no band is complete, the grade uses a lower bound.
    assert not any(b.bid_complete or b.ask_complete for b in doc.depth)
    assert doc.imbalance[2].bid_levels_used == 10
    assert doc.liquidity.basis == "spread+depth"


@pytest.mark.parametrize("symbol", ["NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR"])
def test_cryptofeed_depth_snapshots(symbol: str) -> None:
    fixture_path("ws_captures", "cryptofeed_2021-10-12", "BINANCE.http.0.0")
    payload = cryptofeed_depth_snapshots(fixture_path())[symbol]
    doc = _doc(payload, symbol)
    _check_book(doc, payload)
    assert doc.bid_levels == len(payload["bids"]) and doc.ask_levels == len(payload["asks"])
    # 1000-level snapshots reach well past 50 bps on both sides.
    assert all(b.bid_complete and b.ask_complete for b in doc.depth)
    assert doc.liquidity.basis == ("spread+depth" if symbol.endswith("USDT") else "spread_only")


def _parquet_rows(name: str) -> list[dict[str, Any]]:
    pq = pytest.importorskip("pyarrow.parquet")
    path = fixture_path("orderbook", "nautilus_btcusdt_spot_2021-01-08", f"btcusdt-{name}.parquet")
    return pq.read_table(path).to_pylist()


def test_btcusdt_quotes_top_of_book() -> None:
    quotes = _parquet_rows("quotes")
    assert len(quotes) == 451
    for q in quotes:
        bid, ask = Decimal(repr(q["bid"])), Decimal(repr(q["ask"]))
        bq, aq = Decimal(repr(q["bid_size"])), Decimal(repr(q["ask_size"]))
        payload = {"bids": [[str(bid), str(bq)]], "asks": [[str(ask), str(aq)]]}
        doc = _doc(payload, "BTCUSDT")
        mid = (bid + ask) / 2
        assert doc.mid == pytest.approx(float(mid), rel=REL)
        assert doc.spread_bps == pytest.approx(float((ask - bid) / mid * 10_000), rel=1e-6)
        assert doc.microprice == pytest.approx(float((bid * aq + ask * bq) / (bq + aq)), rel=REL)
        assert bid <= Decimal(repr(doc.microprice)) <= ask
        assert doc.imbalance[0].by_quantity == pytest.approx(_ratio(bq, aq), rel=REL, abs=1e-12)


def _trades_as_agg_trades() -> list[dict[str, Any]]:
    """The parquet trades in Binance's aggTrades shape (buyer_maker -> "m")."""
    return [
        {"a": t["trade_id"], "p": repr(t["price"]), "q": repr(t["quantity"]),
         "T": int(t["timestamp"].timestamp() * 1000), "m": t["buyer_maker"] == "True"}
        for t in _parquet_rows("trades")
    ]


def test_btcusdt_trades_flow_vwap_volatility() -> None:
    trades = _trades_as_agg_trades()
    assert len(trades) == 2001
    payload = {"bids": [["39432.00", "1.0"]], "asks": [["39433.00", "1.0"]], "trades": trades}
    doc = _doc(payload, "BTCUSDT")

    buy_q = sum((Decimal(t["q"]) for t in trades if not t["m"]), Decimal(0))
    sell_q = sum((Decimal(t["q"]) for t in trades if t["m"]), Decimal(0))
    buy_n = sum((Decimal(t["p"]) * Decimal(t["q"]) for t in trades if not t["m"]), Decimal(0))
    sell_n = sum((Decimal(t["p"]) * Decimal(t["q"]) for t in trades if t["m"]), Decimal(0))
    flow = doc.trade_flow
    assert flow is not None and flow.trades == 2001
    assert flow.buy_qty == pytest.approx(float(buy_q), rel=REL)
    assert flow.sell_qty == pytest.approx(float(sell_q), rel=REL)
    assert flow.imbalance_qty == pytest.approx(_ratio(buy_q, sell_q), rel=REL)
    assert flow.imbalance_notional == pytest.approx(_ratio(buy_n, sell_n), rel=REL)
    vwap = (buy_n + sell_n) / (buy_q + sell_q)
    assert doc.vwap.vwap_trades == pytest.approx(float(vwap), rel=REL)
    mid = Decimal("39432.5")
    assert doc.vwap.mid_vs_vwap_trades_bps == pytest.approx(float((mid - vwap) / vwap * 10_000), rel=1e-6)
    assert doc.as_of_source == "last_trade" and doc.as_of_ms == trades[-1]["T"]
    assert doc.age_ms == NOW_MS - trades[-1]["T"]

    # Realized volatility, recomputed by bisection on the grid (the oracle walks a pointer).
    times = [t["T"] for t in trades]
    prices = [float(t["p"]) for t in trades]
    n = (times[-1] - times[0]) // 1000
    grid_prices = [prices[bisect.bisect_right(times, times[0] + i * 1000) - 1] for i in range(n + 1)]
    sum_sq = 0.0
    for i in range(1, n + 1):
        sum_sq += math.log(grid_prices[i] / grid_prices[i - 1]) ** 2
    vol = doc.volatility
    assert vol is not None and vol.returns == n == 46
    assert vol.window_bps == pytest.approx(1e4 * math.sqrt(sum_sq), rel=1e-9)
    assert vol.per_minute_bps == pytest.approx(1e4 * math.sqrt(sum_sq * 60 / n), rel=1e-9)


def test_recorded_agg_trades_side_convention() -> None:
    """In the recorded aggTrades, ``m: true`` prints sit at the lower price (sells hit the bid)."""
    trades = json.loads(
        fixture_path("rest", "nautilus_btcusdt_2021-10", "http_spot_market_agg_trades.json").read_text()
    )
    payload = {"bids": [["60759.59", "1"]], "asks": [["60759.60", "1"]], "trades": trades}
    doc = _doc(payload, "BTCUSDT")
    sells = [Decimal(t["q"]) for t in trades if t["m"]]
    assert {t["p"] for t in trades if t["m"]} == {"60759.59000000"}
    assert doc.trade_flow is not None
    assert doc.trade_flow.sell_qty == pytest.approx(float(sum(sells, Decimal(0))), rel=REL)
    assert doc.volatility is None  # 10 trades spanning under 2 s: too short, reported as null


def test_ticker_vwap_and_as_of() -> None:
    payload = {
        "bids": [["100.0", "1"]], "asks": [["100.2", "1"]],
        "ticker": {"weightedAvgPrice": "99.5", "closeTime": NOW_MS - 1500},
    }
    doc = _doc(payload, "ABCUSDT")
    assert doc.vwap.vwap_24h == 99.5
    assert doc.vwap.mid_vs_vwap_24h_bps == pytest.approx((100.1 - 99.5) / 99.5 * 1e4)
    assert (doc.as_of_source, doc.age_ms) == ("ticker_close_time", 1500)
    zero = _doc({**payload, "ticker": {"weightedAvgPrice": "0.00000000"}}, "ABCUSDT")
    assert zero.vwap.vwap_24h is None and zero.vwap.mid_vs_vwap_24h_bps is None
    assert zero.as_of_source == "unknown" and zero.age_ms is None
