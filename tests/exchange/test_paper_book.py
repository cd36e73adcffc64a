"""Book mode: MARKET walks the book, LIMITs take or rest, makers fill when crossed, stops trigger on trades."""

from __future__ import annotations

from core.exchange_port import ExecutionType
from core.types import OrderStatus, Side, TimeInForce
from tests.exchange.test_paper_support import (
    SYMBOL,
    D,
    book,
    limit,
    limit_maker,
    market,
    paper,
    stop_limit,
    trade,
)


def test_market_buy_walks_levels_then_expires_the_remainder_when_depth_runs_out() -> None:
    ex = paper()
    ex.on_book(book([(99.0, 1.0)], [(100.0, 0.5), (101.0, 0.25)]))
    reports = ex.place_order(market("cx-m1", Side.BUY, quantity="1"), now_ms=5)
    assert [r.execution_type for r in reports] == [ExecutionType.NEW, ExecutionType.TRADE, ExecutionType.TRADE,
                                                  ExecutionType.EXPIRED]
    fills = [r.fill for r in reports if r.fill]
    assert [(f.price, f.quantity) for f in fills] == [(D("100"), D("0.5")), (D("101"), D("0.25"))]
    assert reports[1].status is OrderStatus.PARTIALLY_FILLED
    last = reports[-1]
    assert last.status is OrderStatus.EXPIRED
    assert last.executed_qty == D("0.75") and last.cum_quote == D("75.25")
    assert ex.get_order(SYMBOL, "cx-m1").status is OrderStatus.EXPIRED  # type: ignore[union-attr]


def test_market_buy_that_the_book_covers_is_filled_and_consumes_the_depth_it_took() -> None:
    ex = paper()
    ex.on_book(book([(99.0, 1.0)], [(100.0, 0.5), (101.0, 1.0)]))
    first = ex.place_order(market("cx-m1", Side.BUY, quantity="0.7"), now_ms=5)
    assert first[-1].status is OrderStatus.FILLED
    assert [(r.fill.price, r.fill.quantity) for r in first if r.fill] == [(D("100"), D("0.5")), (D("101"), D("0.2"))]
    second = ex.place_order(market("cx-m2", Side.BUY, quantity="0.1"), now_ms=6)
    assert [(r.fill.price, r.fill.quantity) for r in second if r.fill] == [(D("101"), D("0.1"))]


def test_quote_amount_buy_spends_at_most_the_quote_and_rounds_quantity_down_to_the_step() -> None:
    ex = paper()
    ex.on_book(book([(99.0, 1.0)], [(100.0, 0.5), (200.0, 1.0)]))
    reports = ex.place_order(market("cx-q1", Side.BUY, quote="70"), now_ms=5)
    fills = [r.fill for r in reports if r.fill]
    # 50 USDT buys 0.5 at 100; the remaining 20 buys 0.1 at 200 (step 0.001).
    assert [(f.price, f.quantity) for f in fills] == [(D("100"), D("0.5")), (D("200"), D("0.1"))]
    assert reports[-1].status is OrderStatus.FILLED
    assert reports[-1].cum_quote == D("70")
    assert reports[-1].orig_qty == 0  # Binance reports origQty 0 for a quoteOrderQty order


def test_quote_amount_buy_leaves_dust_below_one_step_unspent_and_still_reports_filled() -> None:
    ex = paper()
    ex.on_book(book([(99.0, 1.0)], [(300.0, 1.0)]))
    reports = ex.place_order(market("cx-q1", Side.BUY, quote="100"), now_ms=5)
    assert reports[-1].status is OrderStatus.FILLED
    assert reports[-1].executed_qty == D("0.333")
    assert reports[-1].cum_quote == D("99.900")


def test_market_sell_walks_the_bids() -> None:
    ex = paper(btc="2")
    ex.on_book(book([(99.0, 1.0), (98.0, 1.0)], [(100.0, 1.0)]))
    reports = ex.place_order(market("cx-s1", Side.SELL, quantity="1.5"), now_ms=5)
    assert [(r.fill.price, r.fill.quantity) for r in reports if r.fill] == [(D("99"), D("1")), (D("98"), D("0.5"))]
    assert reports[-1].status is OrderStatus.FILLED


def test_marketable_limit_takes_on_arrival_up_to_its_price_and_rests_the_remainder() -> None:
    ex = paper()
    ex.on_book(book([(99.0, 1.0)], [(100.0, 0.3), (101.0, 1.0)]))
    reports = ex.place_order(limit("cx-l1", Side.BUY, "1", "100.5"), now_ms=5)
    assert [(r.fill.price, r.fill.quantity, r.fill.is_maker) for r in reports if r.fill] == [(D("100"), D("0.3"),
                                                                                              False)]
    assert reports[-1].status is OrderStatus.PARTIALLY_FILLED
    assert [o.client_order_id for o in ex.open_orders(SYMBOL)] == ["cx-l1"]


def test_limit_rests_then_fills_as_maker_at_its_own_price_when_a_book_crosses_it() -> None:
    ex = paper()
    ex.on_book(book([(99.0, 1.0)], [(100.0, 1.0)]))
    assert [r.status for r in ex.place_order(limit("cx-l1", Side.BUY, "1", "99.5"), now_ms=5)] == [OrderStatus.NEW]
    assert ex.on_book(book([(98.0, 1.0)], [(99.8, 1.0)], time_ms=6)) == []
    reports = ex.on_book(book([(98.0, 1.0)], [(99.0, 0.4), (99.5, 0.2), (99.6, 5.0)], time_ms=7))
    assert [(r.fill.price, r.fill.quantity, r.fill.is_maker) for r in reports if r.fill] == [
        (D("99.5"), D("0.4"), True), (D("99.5"), D("0.2"), True)]
    assert reports[-1].status is OrderStatus.PARTIALLY_FILLED and reports[-1].executed_qty == D("0.6")


def test_resting_limit_fills_only_when_a_trade_prints_strictly_through_it() -> None:
    ex = paper(btc="1")
    ex.on_book(book([(99.0, 1.0)], [(100.0, 1.0)]))
    ex.place_order(limit("cx-l1", Side.SELL, "1", "101"), now_ms=5)
    assert ex.on_trade(trade(101.0)) == []  # touching the level may leave us in the queue
    reports = ex.on_trade(trade(101.5, time_ms=3_000))
    assert [(r.fill.price, r.fill.quantity, r.fill.is_maker) for r in reports if r.fill] == [(D("101"), D("1"), True)]
    assert reports[-1].status is OrderStatus.FILLED


def test_ioc_expires_what_does_not_fill_and_fok_fills_all_or_nothing() -> None:
    ex = paper()
    ex.on_book(book([(99.0, 1.0)], [(100.0, 0.3), (102.0, 1.0)]))
    ioc = ex.place_order(limit("cx-i1", Side.BUY, "1", "101", TimeInForce.IOC), now_ms=5)
    assert [r.status for r in ioc] == [OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.EXPIRED]
    fok = ex.place_order(limit("cx-f1", Side.BUY, "1", "101", TimeInForce.FOK), now_ms=6)
    assert [r.status for r in fok] == [OrderStatus.NEW, OrderStatus.EXPIRED]
    assert ex.balances()["USDT"] == (D("100000") - D("30"), D("0"))


def test_limit_maker_that_would_cross_is_rejected_with_binance_code_and_message() -> None:
    from core.exchange_port import ExchangeRejected

    ex = paper()
    ex.on_book(book([(99.0, 1.0)], [(100.0, 1.0)]))
    try:
        ex.place_order(limit_maker("cx-lm", Side.BUY, "1", "100"), now_ms=5)
    except ExchangeRejected as refused:
        assert (refused.binance_code, refused.binance_msg) == (-2010, "Order would immediately match and take.")
        assert refused.symbol == SYMBOL and refused.client_order_id == "cx-lm"
    else:
        raise AssertionError("a crossing LIMIT_MAKER was accepted")
    assert ex.open_orders() == [] and ex.get_order(SYMBOL, "cx-lm") is None
    assert [r.status for r in ex.place_order(limit_maker("cx-lm", Side.BUY, "1", "99.99"), now_ms=6)] == [
        OrderStatus.NEW]


def test_stop_triggers_on_the_last_trade_price_not_on_bid_or_ask() -> None:
    ex = paper(btc="1")
    ex.on_trade(trade(100.0, time_ms=1))
    ex.on_book(book([(100.0, 5.0)], [(100.1, 5.0)]))
    ex.place_order(stop_limit("cx-st", Side.SELL, "1", "95", "94"), now_ms=5)
    # The book falls through the stop but nothing trades there: the stop must not trigger.
    assert ex.on_book(book([(94.5, 5.0)], [(94.6, 5.0)], time_ms=6)) == []
    assert ex.get_order(SYMBOL, "cx-st").status is OrderStatus.NEW  # type: ignore[union-attr]
    reports = ex.on_trade(trade(94.9, time_ms=7))
    assert [(r.fill.price, r.fill.quantity, r.fill.is_maker) for r in reports if r.fill] == [(D("94.5"), D("1"),
                                                                                              False)]
    assert reports[-1].status is OrderStatus.FILLED


def test_triggered_stop_without_book_fills_at_the_trade_price_but_never_below_its_limit() -> None:
    ex = paper(btc="2")
    ex.on_trade(trade(100.0, time_ms=1))
    ex.place_order(stop_limit("cx-s1", Side.SELL, "1", "95", "94"), now_ms=2)
    ex.place_order(stop_limit("cx-s2", Side.SELL, "1", "95", "94.8"), now_ms=3)
    reports = ex.on_trade(trade(94.5, time_ms=4))
    filled = {r.client_order_id: r.fill.price for r in reports if r.fill}
    assert filled == {"cx-s1": D("94.5")}  # cx-s2's limit 94.8 is above the market: it rests, unfilled
    assert ex.get_order(SYMBOL, "cx-s2").status is OrderStatus.NEW  # type: ignore[union-attr]
    later = ex.on_trade(trade(95.0, time_ms=5))
    assert [(r.client_order_id, r.fill.price) for r in later if r.fill] == [("cx-s2", D("94.8"))]


def test_buy_stop_triggers_when_the_last_trade_reaches_it_from_below() -> None:
    ex = paper()
    ex.on_trade(trade(100.0, time_ms=1))
    ex.place_order(stop_limit("cx-bs", Side.BUY, "1", "105", "106"), now_ms=2)
    assert ex.on_trade(trade(104.99, time_ms=3)) == []
    reports = ex.on_trade(trade(105.2, time_ms=4))
    assert [(r.fill.price, r.fill.quantity) for r in reports if r.fill] == [(D("105.2"), D("1"))]


def test_orders_placed_before_any_book_meet_the_first_trade_or_book_after_them() -> None:
    ex = paper(btc="1")
    ex.on_trade(trade(100.0, time_ms=1))
    ex.place_order(market("cx-m1", Side.BUY, quantity="0.5"), now_ms=2)
    ex.place_order(limit("cx-l1", Side.SELL, "0.5", "99"), now_ms=2)  # marketable against the last price
    by_trade = ex.on_trade(trade(100.5, time_ms=3))
    assert [(r.client_order_id, r.fill.price, r.fill.is_maker) for r in by_trade if r.fill] == [
        ("cx-m1", D("100.5"), False), ("cx-l1", D("100.5"), False)]
    ex.place_order(market("cx-m2", Side.SELL, quantity="0.5"), now_ms=4)
    by_book = ex.on_book(book([(100.2, 0.3), (100.1, 1.0)], [(100.3, 1.0)], time_ms=5))
    assert [(r.fill.price, r.fill.quantity) for r in by_book if r.fill] == [(D("100.2"), D("0.3")),
                                                                           (D("100.1"), D("0.2"))]
    assert by_book[-1].status is OrderStatus.FILLED


def test_market_sell_by_quote_amount_sells_what_the_quote_requires() -> None:
    ex = paper(btc="1")
    ex.on_book(book([(100.0, 0.5), (50.0, 1.0)], [(101.0, 1.0)]))
    reports = ex.place_order(market("cx-q1", Side.SELL, quote="75"), now_ms=5)
    assert [(r.fill.price, r.fill.quantity) for r in reports if r.fill] == [(D("100"), D("0.5")), (D("50"), D("0.5"))]
    assert reports[-1].status is OrderStatus.FILLED and reports[-1].cum_quote == D("75")
