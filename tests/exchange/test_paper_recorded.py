"""The simulator under Binance's real rules and a real order book (October 2021 BTCUSDT captures)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from core.events import Book
from core.exchange_port import ExchangeRejected
from core.filters import SymbolRules, rules_from_exchange_info
from core.types import OrderStatus, Side
from exchange.paper import PaperExchange
from tests.conftest import fixture_path
from tests.exchange.test_paper_support import D, limit_maker, market, oco

REST = ("rest", "nautilus_btcusdt_2021-10")


@pytest.fixture
def real_rules() -> dict[str, SymbolRules]:
    doc = json.loads(fixture_path(*REST, "http_spot_market_exchange_info.json").read_text())
    return rules_from_exchange_info(doc)


@pytest.fixture
def real_book() -> Book:
    doc = json.loads(fixture_path(*REST, "http_spot_market_depth.json").read_text())
    return Book("BTCUSDT", 1_634_000_000_000, bids=tuple((float(p), float(q)) for p, q in doc["bids"]),
                asks=tuple((float(p), float(q)) for p, q in doc["asks"]))


def test_market_buy_walks_the_recorded_asks_under_the_recorded_filters(real_rules: dict[str, SymbolRules],
                                                                      real_book: Book) -> None:
    ex = PaperExchange(real_rules, {"USDT": D("100000")})
    ex.on_book(real_book)
    reports = ex.place_order(market("cx-real", Side.BUY, quantity="0.7"), now_ms=1)
    assert [(r.fill.price, r.fill.quantity) for r in reports if r.fill] == [
        (D("60650.01"), D("0.61982")), (D("60653.68"), D("0.00696")), (D("60653.69"), D("0.00026")),
        (D("60656.89"), D("0.01")), (D("60657.87"), D("0.02")), (D("60657.99"), D("0.04296")),
    ]
    assert reports[-1].status is OrderStatus.FILLED
    total = sum((r.fill.price * r.fill.quantity for r in reports if r.fill), Decimal(0))
    assert reports[-1].cum_quote == total
    assert ex.balances()["USDT"] == (D("100000") - total, D("0"))


def test_recorded_filters_refuse_what_binance_refused(real_rules: dict[str, SymbolRules], real_book: Book) -> None:
    ex = PaperExchange(real_rules, {"USDT": D("100000"), "BTC": D("1")})
    ex.on_book(real_book)
    with pytest.raises(ExchangeRejected) as tiny:
        ex.place_order(market("cx-a", Side.BUY, quantity="0.0001"), now_ms=1)  # about 6 USDT < minNotional 10
    assert tiny.value.binance_msg == "Filter failure: MIN_NOTIONAL"
    with pytest.raises(ExchangeRejected) as off_step:
        ex.place_order(market("cx-a", Side.BUY, quantity="0.100005"), now_ms=1)
    assert off_step.value.binance_msg == "Filter failure: LOT_SIZE"
    with pytest.raises(ExchangeRejected) as crossing:
        ex.place_order(limit_maker("cx-a", Side.SELL, "0.01", "60650.00"), now_ms=1)
    assert crossing.value.binance_msg == "Order would immediately match and take."


def test_oco_under_the_recorded_rules_is_accepted_around_the_book(real_rules: dict[str, SymbolRules],
                                                                  real_book: Book) -> None:
    ex = PaperExchange(real_rules, {"BTC": D("0.5")})
    ex.on_book(real_book)
    reports = ex.place_oco(oco("cx-protect", "0.5", "63000.00", "58000.00", "57900.00"), now_ms=1)
    assert [r.status for r in reports] == [OrderStatus.NEW, OrderStatus.NEW]
    assert ex.balances()["BTC"] == (D("0"), D("0.5"))
