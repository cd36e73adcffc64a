"""One contract for every adapter of the Exchange port: the paper simulator and the Binance adapter (against
the loopback Binance) pass the same tests, driven through the same market driver."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.exchange_port import ExchangeRejected
from core.types import OcoRequest, OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from tests.exchange.contract.conftest import Venue
from tests.fakes.binance_support import SYMBOL

D = Decimal


def _limit(cid: str, side: Side, qty: str, price: str) -> OrderRequest:
    return OrderRequest(client_order_id=cid, symbol=SYMBOL, side=side, type=OrderType.LIMIT, quantity=D(qty),
                        price=D(price), time_in_force=TimeInForce.GTC)


def _oco(cid: str, qty: str, tp: str, stop: str | None, limit: str, delta: int | None = None) -> OcoRequest:
    return OcoRequest(list_client_id=cid, symbol=SYMBOL, quantity=D(qty), take_profit_price=D(tp),
                      stop_price=D(stop) if stop else None, stop_limit_price=D(limit), trailing_delta=delta)


def _balance(venue: Venue, asset: str) -> tuple[Decimal, Decimal]:
    """An asset with nothing may be absent (Binance's omitZeroBalances) or zero (the simulator)."""
    return venue.exchange.balances().get(asset, (D(0), D(0)))


def _status(venue: Venue, cid: str) -> OrderStatus:
    view = venue.exchange.get_order(SYMBOL, cid)
    assert view is not None, cid
    return view.status


def test_market_buy_by_quote_fills_from_the_book_with_the_fee_in_the_asset_received(venue: Venue) -> None:
    venue.market.book([("99", "1")], [("100", "0.05"), ("101", "1")])
    reports = venue.exchange.place_order(OrderRequest(client_order_id="cx-buy", symbol=SYMBOL, side=Side.BUY,
                                                      type=OrderType.MARKET, quote_order_qty=D("20.2")), 0)
    fills = [r.fill for r in reports if r.fill is not None]
    assert [(f.price, f.quantity, f.commission, f.commission_asset) for f in fills] == [
        (D("100"), D("0.05"), D("0.00005"), "BTC"), (D("101"), D("0.15049"), D("0.00015049"), "BTC")]
    assert reports[-1].status is OrderStatus.FILLED and _status(venue, "cx-buy") is OrderStatus.FILLED
    balances = venue.exchange.balances()
    assert balances["BTC"] == (D("0.70028951"), D("0")) and balances["USDT"] == (D("979.80051"), D("0"))


def test_market_order_on_a_thin_book_fills_in_part_and_the_rest_expires(venue: Venue) -> None:
    venue.market.book([("99", "1")], [("100", "0.05")])
    reports = venue.exchange.place_order(OrderRequest(client_order_id="cx-thin", symbol=SYMBOL, side=Side.BUY,
                                                      type=OrderType.MARKET, quantity=D("0.08")), 0)
    assert [r.fill.quantity for r in reports if r.fill is not None] == [D("0.05")]
    assert (reports[-1].status, reports[-1].executed_qty) == (OrderStatus.EXPIRED, D("0.05"))
    view = venue.exchange.get_order(SYMBOL, "cx-thin")
    assert view is not None and (view.status, view.executed_qty, view.orig_qty) == (
        OrderStatus.EXPIRED, D("0.05"), D("0.08"))


def test_limit_rests_fills_in_part_then_cancel_returns_the_rest(venue: Venue) -> None:
    venue.market.book([("99", "10")], [("101", "10")])
    placed = venue.exchange.place_order(_limit("cx-lim", Side.BUY, "0.3", "100"), 0)
    assert placed[-1].status is OrderStatus.NEW
    assert [o.client_order_id for o in venue.exchange.open_orders(SYMBOL)] == ["cx-lim"]
    assert _balance(venue, "USDT") == (D("970"), D("30"))
    venue.market.book([("98", "1")], [("100", "0.1")])
    view = venue.exchange.get_order(SYMBOL, "cx-lim")
    assert view is not None and (view.status, view.executed_qty) == (OrderStatus.PARTIALLY_FILLED, D("0.1"))
    cancelled = venue.exchange.cancel_order(SYMBOL, "cx-lim", 0)
    assert [(r.status, r.executed_qty) for r in cancelled] == [(OrderStatus.CANCELED, D("0.1"))]
    assert venue.exchange.open_orders(SYMBOL) == []
    assert _balance(venue, "USDT") == (D("990"), D("0"))


def test_oco_take_profit_fills_and_the_stop_ends(venue: Venue) -> None:
    venue.market.trade("100")
    reports = venue.exchange.place_oco(_oco("cx-o1", "0.5", "110", "95", "94"), 0)
    assert sorted((r.client_order_id, r.status, r.list_client_id) for r in reports) == [
        ("cx-o1-sl", OrderStatus.NEW, "cx-o1"), ("cx-o1-tp", OrderStatus.NEW, "cx-o1")]
    assert _balance(venue, "BTC") == (D("0"), D("0.5"))
    venue.market.trade("111")
    assert _status(venue, "cx-o1-tp") is OrderStatus.FILLED
    assert _status(venue, "cx-o1-sl") is OrderStatus.EXPIRED
    assert venue.exchange.open_orders() == []
    assert _balance(venue, "USDT") == (D("1054.945"), D("0"))  # 55 less the 0.1 % fee in USDT


def test_oco_stop_triggers_and_the_take_profit_ends(venue: Venue) -> None:
    venue.market.trade("100")
    venue.exchange.place_oco(_oco("cx-o2", "0.5", "110", "95", "94"), 0)
    venue.market.trade("95")
    assert _status(venue, "cx-o2-tp") is OrderStatus.EXPIRED
    venue.market.trade("93")
    assert _status(venue, "cx-o2-sl") is OrderStatus.FILLED
    assert _balance(venue, "BTC") == (D("0"), D("0"))


def test_cancelling_one_leg_cancels_the_whole_list(venue: Venue) -> None:
    venue.market.trade("100")
    venue.exchange.place_oco(_oco("cx-o3", "0.5", "110", "95", "94"), 0)
    reports = venue.exchange.cancel_order(SYMBOL, "cx-o3-tp", 0)
    assert sorted((r.client_order_id, r.status) for r in reports) == [
        ("cx-o3-sl", OrderStatus.CANCELED), ("cx-o3-tp", OrderStatus.CANCELED)]
    assert venue.exchange.open_orders() == [] and _balance(venue, "BTC") == (D("0.5"), D("0"))


def test_cancel_order_list_by_its_client_id(venue: Venue) -> None:
    venue.market.trade("100")
    venue.exchange.place_oco(_oco("cx-o4", "0.2", "110", "95", "94"), 0)
    reports = venue.exchange.cancel_order_list(SYMBOL, "cx-o4", 0)
    assert {r.status for r in reports} == {OrderStatus.CANCELED} and len(reports) == 2
    with pytest.raises(ExchangeRejected) as refused:
        venue.exchange.cancel_order_list(SYMBOL, "cx-o4", 0)
    assert refused.value.binance_code == -2011


def test_trailing_stop_leg_follows_the_high_and_triggers_on_the_delta(venue: Venue) -> None:
    venue.market.trade("100")
    venue.exchange.place_oco(_oco("cx-tr", "0.5", "150", None, "90", delta=500), 0)
    view = venue.exchange.get_order(SYMBOL, "cx-tr-sl")
    assert view is not None and view.trailing_delta == 500
    venue.market.trade("120")  # the high; a 5 % fall from it triggers at 114
    venue.market.trade("115")
    assert _status(venue, "cx-tr-sl") is OrderStatus.NEW
    venue.market.trade("114")
    assert _status(venue, "cx-tr-tp") is OrderStatus.EXPIRED
    assert _status(venue, "cx-tr-sl") is OrderStatus.FILLED


@pytest.mark.parametrize(("order", "code"), [
    (OrderRequest(client_order_id="cx-small", symbol=SYMBOL, side=Side.BUY, type=OrderType.LIMIT,
                  quantity=D("0.01"), price=D("100"), time_in_force=TimeInForce.GTC), -1013),  # notional < 5
    (OrderRequest(client_order_id="cx-poor", symbol=SYMBOL, side=Side.BUY, type=OrderType.LIMIT,
                  quantity=D("20"), price=D("100"), time_in_force=TimeInForce.GTC), -2010),  # balance
])
def test_filter_and_balance_rejections_carry_binance_codes(venue: Venue, order: OrderRequest, code: int) -> None:
    venue.market.trade("100")
    with pytest.raises(ExchangeRejected) as refused:
        venue.exchange.place_order(order, 0)
    assert refused.value.binance_code == code
    assert venue.exchange.get_order(SYMBOL, order.client_order_id) is None
    assert _balance(venue, "USDT") == (D("1000"), D("0"))


def test_unknown_order_is_none_and_its_cancel_is_refused(venue: Venue) -> None:
    assert venue.exchange.get_order(SYMBOL, "cx-none") is None
    with pytest.raises(ExchangeRejected) as refused:
        venue.exchange.cancel_order(SYMBOL, "cx-none", 0)
    assert refused.value.binance_code == -2011


def test_rules_are_the_symbols_rules(venue: Venue) -> None:
    rules = venue.exchange.exchange_rules()[SYMBOL]
    assert (rules.tick_size, rules.step_size, rules.min_notional, rules.allow_trailing_stop) == (
        D("0.01"), D("0.00001"), D("5"), True)
