"""Candle mode: orders meet the next open, resting orders meet the bar's range, stops first, gaps at the open."""

from __future__ import annotations

from core.types import OrderStatus, Side, TimeInForce
from tests.exchange.test_paper_support import (
    SYMBOL,
    D,
    bar,
    limit,
    limit_maker,
    market,
    oco,
    paper,
    stop_limit,
)


def test_market_without_a_book_is_accepted_new_and_fills_at_the_next_open_with_slippage_against_it() -> None:
    ex = paper(slippage_bps="10")
    ex.close_bar(bar(100, 101, 99, 100, open_time_ms=0))
    reports = ex.place_order(market("cx-m1", Side.BUY, quantity="1"), now_ms=300_000)
    assert [r.status for r in reports] == [OrderStatus.NEW]
    filled = ex.open_bar(bar(200, 210, 190, 205))
    assert [(r.fill.price, r.fill.quantity) for r in filled if r.fill] == [(D("200.2"), D("1"))]  # 200 + 10 bps
    assert filled[-1].status is OrderStatus.FILLED
    assert ex.close_bar(bar(200, 210, 190, 205)) == []


def test_market_sell_at_the_open_is_worsened_downwards() -> None:
    ex = paper(btc="1", slippage_bps="10")
    ex.close_bar(bar(100, 101, 99, 100, open_time_ms=0))
    ex.place_order(market("cx-m1", Side.SELL, quantity="1"), now_ms=300_000)
    filled = ex.open_bar(bar(200, 210, 190, 205))
    assert [r.fill.price for r in filled if r.fill] == [D("199.8")]


def test_quote_market_at_the_open_buys_what_the_quote_pays_for() -> None:
    ex = paper(usdt="1000")
    ex.close_bar(bar(100, 101, 99, 100, open_time_ms=0))
    ex.place_order(market("cx-q1", Side.BUY, quote="500"), now_ms=300_000)
    filled = ex.open_bar(bar(300, 310, 290, 305))
    assert filled[-1].status is OrderStatus.FILLED
    assert filled[-1].executed_qty == D("1.666") and filled[-1].cum_quote == D("499.800")
    assert ex.balances()["USDT"] == (D("500.200"), D("0"))


def test_pending_market_buy_by_quantity_fills_only_what_the_account_can_pay_at_the_open() -> None:
    ex = paper(usdt="1000")
    ex.close_bar(bar(100, 101, 99, 100, open_time_ms=0))
    ex.place_order(market("cx-m1", Side.BUY, quantity="8"), now_ms=300_000)  # 800 USDT at the last price
    filled = ex.open_bar(bar(200, 210, 190, 205))  # the open doubled: 1000 USDT buys 5
    assert [r.status for r in filled] == [OrderStatus.PARTIALLY_FILLED, OrderStatus.EXPIRED]
    assert filled[-1].executed_qty == D("5")
    assert ex.balances()["USDT"] == (D("0"), D("0"))


def test_limit_placed_between_bars_fills_at_the_open_when_marketable_there() -> None:
    ex = paper()
    ex.close_bar(bar(100, 101, 99, 100, open_time_ms=0))
    ex.place_order(limit("cx-l1", Side.BUY, "1", "105"), now_ms=300_000)
    ex.place_order(limit("cx-l2", Side.BUY, "1", "101", TimeInForce.IOC), now_ms=300_000)
    ioc_below = ex.place_order(limit("cx-l3", Side.BUY, "1", "90", TimeInForce.IOC), now_ms=300_000)
    assert [r.status for r in ioc_below] == [OrderStatus.NEW, OrderStatus.EXPIRED]  # not marketable vs the last price
    reports = ex.open_bar(bar(102, 103, 95, 100))
    assert [(r.client_order_id, r.status, r.fill.price if r.fill else None) for r in reports] == [
        ("cx-l1", OrderStatus.FILLED, D("102")), ("cx-l2", OrderStatus.EXPIRED, None)]


def test_limit_below_the_last_price_rests_and_fills_at_its_level_when_the_bar_opens_through_it() -> None:
    ex = paper()
    ex.close_bar(bar(100, 101, 99, 100, open_time_ms=0))
    ex.place_order(limit("cx-l1", Side.BUY, "1", "95"), now_ms=300_000)
    assert ex.open_bar(bar(90, 91, 89, 90)) == []
    reports = ex.close_bar(bar(90, 91, 89, 90))
    assert [(r.fill.price, r.fill.is_maker) for r in reports if r.fill] == [(D("95"), True)]


def test_resting_limit_fills_at_its_own_price_when_the_bar_trades_through_it() -> None:
    ex = paper(btc="1")
    ex.close_bar(bar(100, 101, 99, 100, open_time_ms=0))
    ex.place_order(limit_maker("cx-tp", Side.SELL, "1", "105"), now_ms=300_000)
    assert ex.open_bar(bar(100, 105, 99, 104)) == []
    assert ex.close_bar(bar(100, 105, 99, 104)) == []  # a touch is not a fill
    reports = ex.close_bar(bar(104, 107, 103, 106, open_time_ms=600_000))
    assert [(r.fill.price, r.fill.is_maker) for r in reports if r.fill] == [(D("105"), True)]


def test_stop_fills_first_when_stop_and_take_profit_are_both_inside_the_bar() -> None:
    ex = paper(btc="1")
    ex.close_bar(bar(100, 101, 99, 100, open_time_ms=0))
    ex.place_oco(oco("cx-o1", "1", "110", "95", "94"), now_ms=300_000)
    reports = ex.close_bar(bar(100, 112, 93, 100))
    assert [(r.client_order_id, r.status) for r in reports] == [  # Binance expires the other leg at the trigger
        ("cx-o1-tp", OrderStatus.EXPIRED), ("cx-o1-sl", OrderStatus.FILLED)]
    assert reports[1].fill is not None and reports[1].fill.price == D("95")


def test_gap_through_a_stop_fills_at_the_open_not_at_the_stop() -> None:
    ex = paper(btc="1")
    ex.close_bar(bar(100, 101, 99, 100, open_time_ms=0))
    ex.place_order(stop_limit("cx-st", Side.SELL, "1", "95", "90"), now_ms=300_000)
    reports = ex.close_bar(bar(92, 93, 91, 92))
    assert [(r.fill.price, r.fill.is_maker) for r in reports if r.fill] == [(D("92"), False)]


def test_gap_below_a_stops_limit_leaves_it_resting_unfilled_as_binance_would() -> None:
    ex = paper(btc="1")
    ex.close_bar(bar(100, 101, 99, 100, open_time_ms=0))
    ex.place_order(stop_limit("cx-st", Side.SELL, "1", "95", "94"), now_ms=300_000)
    assert ex.close_bar(bar(90, 93, 89, 92)) == []
    view = ex.get_order(SYMBOL, "cx-st")
    assert view is not None and view.status is OrderStatus.NEW
    assert ex.balances()["BTC"] == (D("0"), D("1"))
    reports = ex.close_bar(bar(92, 96, 91, 95, open_time_ms=600_000))  # trades back through its limit
    assert [(r.fill.price, r.fill.is_maker) for r in reports if r.fill] == [(D("94"), True)]


def test_stop_inside_the_bar_fills_at_the_stop_worsened_by_slippage_but_not_below_its_limit() -> None:
    ex = paper(btc="2", slippage_bps="100")
    ex.close_bar(bar(100, 101, 99, 100, open_time_ms=0))
    ex.place_order(stop_limit("cx-s1", Side.SELL, "1", "95", "90"), now_ms=300_000)
    ex.place_order(stop_limit("cx-s2", Side.SELL, "1", "95", "94.5"), now_ms=300_000)
    reports = ex.close_bar(bar(100, 101, 93, 99))
    assert {r.client_order_id: r.fill.price for r in reports if r.fill} == {"cx-s1": D("94.05"), "cx-s2": D("94.5")}


def test_gap_through_a_take_profit_fills_at_its_level_and_the_stop_expires() -> None:
    ex = paper(btc="1")
    ex.close_bar(bar(100, 101, 99, 100, open_time_ms=0))
    ex.place_oco(oco("cx-o1", "1", "110", "95", "94"), now_ms=300_000)
    reports = ex.close_bar(bar(115, 116, 90, 100))
    assert [(r.client_order_id, r.status) for r in reports] == [
        ("cx-o1-tp", OrderStatus.FILLED), ("cx-o1-sl", OrderStatus.EXPIRED)]
    assert reports[0].fill is not None and reports[0].fill.price == D("110")


def test_bars_for_symbols_without_orders_change_nothing_but_the_last_price() -> None:
    ex = paper()
    before = ex.to_state()
    assert ex.open_bar(bar(100, 101, 99, 100)) == []
    assert ex.close_bar(bar(100, 101, 99, 100.5)) == []
    after = ex.to_state()
    assert after["last_prices"] == {SYMBOL: 100.5}
    assert {k: v for k, v in after.items() if k != "last_prices"} == {
        k: v for k, v in before.items() if k != "last_prices"}


def test_on_bar_lets_protection_placed_after_the_open_fill_work_against_the_same_bar() -> None:
    """An entry fills at the open; the stop placed in reaction (between the phases) meets this bar's low."""
    ex = paper(slippage_bps="0")
    ex.close_bar(bar(100, 101, 99, 100, open_time_ms=0))
    ex.place_order(market("cx-m1", Side.BUY, quantity="1"), now_ms=300_000)
    phases: list[list[OrderStatus]] = []

    def react(reports: list) -> None:
        phases.append([r.status for r in reports])
        if reports[-1].client_order_id == "cx-m1" and reports[-1].status is OrderStatus.FILLED:
            ex.place_order(stop_limit("cx-s1", Side.SELL, "0.99", "95", "94"), now_ms=300_001)

    ex.on_bar(bar(100, 102, 90, 96), react)
    assert phases[0][-1] is OrderStatus.FILLED  # the entry, at the open
    assert ex.get_order(SYMBOL, "cx-s1").status is OrderStatus.FILLED  # its stop, by this bar's low
    assert ex.to_state()["last_prices"] == {SYMBOL: 96.0}
