"""Fees in the asset received, free/locked balances held by open orders and given back when they end."""

from __future__ import annotations

import pytest

from core.types import Side
from exchange.paper import PaperExchange
from tests.exchange.test_paper_support import SYMBOL, D, book, btc_rules, limit, market, paper, stop_limit, trade


def test_buy_pays_commission_in_base_and_sell_in_quote() -> None:
    ex = paper(usdt="1000")
    ex.on_book(book([(100.0, 10.0)], [(100.0, 10.0)]))
    buy = ex.place_order(market("cx-b", Side.BUY, quantity="2"), now_ms=1)[-1].fill
    assert buy is not None and (buy.commission, buy.commission_asset) == (D("0.002"), "BTC")
    assert ex.balances() == {"BTC": (D("1.998"), D("0")), "USDT": (D("800"), D("0"))}
    sell = ex.place_order(market("cx-s", Side.SELL, quantity="1.998"), now_ms=2)[-1].fill
    assert sell is not None and (sell.commission, sell.commission_asset) == (D("0.1998"), "USDT")
    assert ex.balances() == {"BTC": (D("0"), D("0")), "USDT": (D("999.6002"), D("0"))}


def test_commission_is_rounded_up_to_eight_decimals() -> None:
    ex = paper(usdt="1000")
    ex.on_book(book([(100.0, 10.0)], [(123.45, 10.0)]))
    fill = ex.place_order(market("cx-b", Side.BUY, quantity="0.123"), now_ms=1)[-1].fill
    assert fill is not None and fill.commission == D("0.00012300")
    ex2 = PaperExchange({SYMBOL: btc_rules()}, {"BTC": D("1")}, fee_rate=D("0.00075"))
    ex2.on_book(book([(123.47, 10.0)], [(124.0, 10.0)]))
    sale = ex2.place_order(market("cx-s", Side.SELL, quantity="0.123"), now_ms=1)[-1].fill
    assert sale is not None and sale.commission == D("0.01139011")  # 0.0113901075 rounded up


def test_fee_rate_is_configurable() -> None:
    ex = PaperExchange({SYMBOL: btc_rules()}, {"USDT": D("1000")}, fee_rate=D("0.00075"))
    ex.on_book(book([(100.0, 10.0)], [(100.0, 10.0)]))
    fill = ex.place_order(market("cx-b", Side.BUY, quantity="1"), now_ms=1)[-1].fill
    assert fill is not None and fill.commission == D("0.00075")


def test_buy_limit_locks_quote_at_its_price_and_cancel_unlocks_it() -> None:
    ex = paper(usdt="1000")
    ex.on_trade(trade(100.0, time_ms=1))
    ex.place_order(limit("cx-l", Side.BUY, "2", "95"), now_ms=2)
    assert ex.balances()["USDT"] == (D("810"), D("190"))
    ex.cancel_order(SYMBOL, "cx-l", now_ms=3)
    assert ex.balances()["USDT"] == (D("1000"), D("0"))


def test_sell_limit_locks_base_and_a_fill_moves_it_out_of_locked() -> None:
    ex = paper(btc="1")
    ex.on_trade(trade(100.0, time_ms=1))
    ex.place_order(limit("cx-l", Side.SELL, "1", "105"), now_ms=2)
    assert ex.balances()["BTC"] == (D("0"), D("1"))
    ex.on_trade(trade(106.0, time_ms=3))
    assert ex.balances() == {"BTC": (D("0"), D("0")), "USDT": (D("100104.895"), D("0"))}


def test_taker_buy_limit_filling_below_its_price_returns_the_difference() -> None:
    ex = paper(usdt="1000")
    ex.on_book(book([(99.0, 10.0)], [(100.0, 1.0)]))
    ex.place_order(limit("cx-l", Side.BUY, "2", "101"), now_ms=1)
    # 1 filled at 100 (1 USDT better than the limit); 1 rests, still locked at 101.
    assert ex.balances()["USDT"] == (D("799"), D("101"))


def test_stop_buy_locks_quote_at_its_limit_price() -> None:
    ex = paper(usdt="1000")
    ex.on_trade(trade(100.0, time_ms=1))
    ex.place_order(stop_limit("cx-s", Side.BUY, "1", "105", "106"), now_ms=2)
    assert ex.balances()["USDT"] == (D("894"), D("106"))


def test_locked_base_cannot_be_sold_twice() -> None:
    from core.exchange_port import ExchangeRejected

    ex = paper(btc="1")
    ex.on_trade(trade(100.0, time_ms=1))
    ex.place_order(limit("cx-l", Side.SELL, "1", "105"), now_ms=2)
    with pytest.raises(ExchangeRejected):
        ex.place_order(limit("cx-l2", Side.SELL, "0.5", "106"), now_ms=3)


def test_invalid_construction_is_refused() -> None:
    with pytest.raises(ValueError):
        PaperExchange({SYMBOL: btc_rules()}, {"USDT": D("-1")})
    with pytest.raises(ValueError):
        PaperExchange({SYMBOL: btc_rules()}, {"USDT": D("1")}, fee_rate=D("1"))
    with pytest.raises(ValueError):
        PaperExchange({SYMBOL: btc_rules()}, {"USDT": D("1")}, slippage_bps=D("-1"))
