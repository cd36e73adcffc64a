"""OCO: two legs, one lock, list reports; one leg executing (even partly) cancels the other."""

from __future__ import annotations

import pytest

from core.exchange_port import ExchangeRejected, ExecutionType
from core.types import OrderStatus, OrderType, Side
from tests.exchange.test_paper_support import SYMBOL, D, bar, book, oco, paper, trade


def test_oco_reports_both_legs_with_the_list_id_and_locks_the_quantity_once() -> None:
    ex = paper(btc="1")
    ex.on_trade(trade(100.0, time_ms=1))
    reports = ex.place_oco(oco("cx-o1", "1", "110", "95", "94"), now_ms=2)
    assert [(r.client_order_id, r.order_type, r.status, r.list_client_id) for r in reports] == [
        ("cx-o1-sl", OrderType.STOP_LOSS_LIMIT, OrderStatus.NEW, "cx-o1"),
        ("cx-o1-tp", OrderType.LIMIT_MAKER, OrderStatus.NEW, "cx-o1"),
    ]
    assert reports[0].stop_price == D("95") and reports[0].price == D("94") and reports[1].price == D("110")
    assert ex.balances()["BTC"] == (D("0"), D("1"))
    assert [o.list_client_id for o in ex.open_orders(SYMBOL)] == ["cx-o1", "cx-o1"]


def test_take_profit_partial_fill_expires_the_stop_and_keeps_the_rest_locked() -> None:
    ex = paper(btc="1")
    ex.on_trade(trade(100.0, time_ms=1))
    ex.on_book(book([(99.9, 1.0)], [(100.1, 1.0)]))
    ex.place_oco(oco("cx-o1", "1", "110", "95", "94"), now_ms=2)
    reports = ex.on_book(book([(110.5, 0.4)], [(111.0, 1.0)], time_ms=3))
    assert [(r.client_order_id, r.status) for r in reports] == [
        ("cx-o1-tp", OrderStatus.PARTIALLY_FILLED), ("cx-o1-sl", OrderStatus.EXPIRED)]
    assert ex.balances()["BTC"] == (D("0"), D("0.6"))
    rest = ex.on_trade(trade(111.0, time_ms=4))
    assert rest[-1].status is OrderStatus.FILLED and rest[-1].list_client_id == "cx-o1"
    assert ex.balances()["BTC"] == (D("0"), D("0"))
    assert ex.open_orders() == []


def test_stop_leg_triggering_expires_the_take_profit_then_fills() -> None:
    ex = paper(btc="1")
    ex.on_trade(trade(100.0, time_ms=1))
    ex.place_oco(oco("cx-o1", "1", "110", "95", "94"), now_ms=2)
    reports = ex.on_trade(trade(94.8, time_ms=3))
    assert [(r.client_order_id, r.status, r.execution_type) for r in reports] == [
        ("cx-o1-tp", OrderStatus.EXPIRED, ExecutionType.EXPIRED), ("cx-o1-sl", OrderStatus.FILLED, ExecutionType.TRADE)]


def test_a_stop_leg_that_triggers_but_cannot_fill_still_ends_the_take_profit() -> None:
    """Binance: activation of one leg cancels the other. A gap below the stop's limit leaves the stop resting at its
    limit, and the take-profit is gone: a later rally fills the stop at its limit, never the take-profit."""
    ex = paper(btc="1")
    ex.on_trade(trade(100.0, time_ms=1))
    ex.place_oco(oco("cx-o1", "1", "110", "95", "94"), now_ms=2)
    reports = ex.on_trade(trade(93.0, time_ms=3))
    assert [(r.client_order_id, r.status) for r in reports] == [("cx-o1-tp", OrderStatus.EXPIRED)]
    assert [o.client_order_id for o in ex.open_orders(SYMBOL)] == ["cx-o1-sl"]
    assert ex.balances()["BTC"] == (D("0"), D("1"))
    later = ex.on_trade(trade(111.0, time_ms=4))
    assert [(r.client_order_id, r.fill.price) for r in later if r.fill] == [("cx-o1-sl", D("94"))]


def test_canceling_one_leg_cancels_the_whole_list_and_unlocks_once() -> None:
    ex = paper(btc="1")
    ex.on_trade(trade(100.0, time_ms=1))
    ex.place_oco(oco("cx-o1", "1", "110", "95", "94"), now_ms=2)
    reports = ex.cancel_order(SYMBOL, "cx-o1-tp", now_ms=3)
    assert sorted((r.client_order_id, r.status) for r in reports) == [
        ("cx-o1-sl", OrderStatus.CANCELED), ("cx-o1-tp", OrderStatus.CANCELED)]
    assert ex.balances()["BTC"] == (D("1"), D("0"))


def test_cancel_order_list_by_list_client_id_then_unknown_list_is_minus_2011() -> None:
    ex = paper(btc="1")
    ex.on_trade(trade(100.0, time_ms=1))
    ex.place_oco(oco("cx-o1", "1", "110", "95", "94"), now_ms=2)
    assert len(ex.cancel_order_list(SYMBOL, "cx-o1", now_ms=3)) == 2
    with pytest.raises(ExchangeRejected) as refused:
        ex.cancel_order_list(SYMBOL, "cx-o1", now_ms=4)
    assert refused.value.binance_code == -2011


@pytest.mark.parametrize(("take_profit", "stop", "stop_limit"), [("99", "95", "94"), ("110", "100", "99"),
                                                                 ("110", "101", "100")])
def test_oco_prices_must_satisfy_take_profit_above_last_above_stop(take_profit: str, stop: str,
                                                                    stop_limit: str) -> None:
    ex = paper(btc="1")
    ex.on_trade(trade(100.0, time_ms=1))
    with pytest.raises(ExchangeRejected) as refused:
        ex.place_oco(oco("cx-o1", "1", take_profit, stop, stop_limit), now_ms=2)
    assert (refused.value.binance_code, refused.value.binance_msg) == (
        -2010, "The relationship of the prices for the orders is not correct.")
    assert ex.balances()["BTC"] == (D("1"), D("0")) and ex.open_orders() == []


def test_oco_counts_as_two_orders_and_one_algo_order() -> None:
    ex = paper(btc="3", max_num_orders=3, max_num_algo_orders=5)
    ex.on_trade(trade(100.0, time_ms=1))
    ex.place_oco(oco("cx-o1", "1", "110", "95", "94"), now_ms=2)
    with pytest.raises(ExchangeRejected) as refused:
        ex.place_oco(oco("cx-o2", "1", "110", "95", "94"), now_ms=3)
    assert refused.value.binance_msg == "Filter failure: MAX_NUM_ORDERS"
    algo = paper(btc="3", max_num_algo_orders=1)
    algo.on_trade(trade(100.0, time_ms=1))
    algo.place_oco(oco("cx-o1", "1", "110", "95", "94"), now_ms=2)
    with pytest.raises(ExchangeRejected) as refused_algo:
        algo.place_oco(oco("cx-o2", "1", "110", "95", "94"), now_ms=3)
    assert refused_algo.value.binance_msg == "Filter failure: MAX_NUM_ALGO_ORDERS"


def test_oco_needs_the_base_quantity_free_and_is_refused_where_not_allowed() -> None:
    ex = paper(btc="0.5")
    ex.on_trade(trade(100.0, time_ms=1))
    with pytest.raises(ExchangeRejected) as poor:
        ex.place_oco(oco("cx-o1", "1", "110", "95", "94"), now_ms=2)
    assert (poor.value.binance_code, poor.value.binance_msg) == (
        -2010, "Account has insufficient balance for requested action.")
    closed = paper(btc="1", oco_allowed=False)
    closed.on_trade(trade(100.0, time_ms=1))
    with pytest.raises(ExchangeRejected) as refused:
        closed.place_oco(oco("cx-o1", "1", "110", "95", "94"), now_ms=2)
    assert refused.value.binance_msg == "OCO orders are not supported for this symbol."


def test_duplicate_open_list_id_is_refused() -> None:
    ex = paper(btc="2")
    ex.close_bar(bar(100, 101, 99, 100, open_time_ms=0))
    ex.place_oco(oco("cx-o1", "1", "110", "95", "94"), now_ms=2)
    with pytest.raises(ExchangeRejected) as refused:
        ex.place_oco(oco("cx-o1", "1", "110", "95", "94"), now_ms=3)
    assert (refused.value.binance_code, refused.value.binance_msg) == (-2010, "Duplicate order sent.")


def test_oco_is_placed_in_candle_mode_against_the_last_close() -> None:
    ex = paper(btc="1")
    ex.close_bar(bar(100, 101, 99, 100, open_time_ms=0))
    assert len(ex.place_oco(oco("cx-o1", "1", "100.01", "99.99", "99"), now_ms=2)) == 2
    assert ex.open_orders(SYMBOL)[0].side is Side.SELL
