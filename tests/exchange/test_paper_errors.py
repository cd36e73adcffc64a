"""Every rejection carries Binance's code and message, changes nothing, and consumes no id."""

from __future__ import annotations

import pytest

from core.exchange_port import ExchangeRejected
from core.types import OrderRequest, OrderStatus, OrderType, Side
from exchange.paper import PaperExchange
from tests.exchange.test_paper_support import (
    SYMBOL,
    D,
    bar,
    book,
    btc_rules,
    limit,
    limit_maker,
    market,
    paper,
    stop_limit,
    trade,
)


def _refusal(ex: PaperExchange, order: OrderRequest) -> ExchangeRejected:
    before = ex.to_state()
    with pytest.raises(ExchangeRejected) as refused:
        ex.place_order(order, now_ms=10)
    assert ex.to_state() == before, "a rejected order changed the account"
    return refused.value


def _ready(**kwargs: object) -> PaperExchange:
    ex = paper(**kwargs)  # type: ignore[arg-type]
    ex.on_trade(trade(100.0, time_ms=1))
    return ex


@pytest.mark.parametrize(("order", "filter_name"), [
    (limit("cx-a", Side.BUY, "1.0005", "100"), "LOT_SIZE"),
    (limit("cx-a", Side.BUY, "0.0001", "100"), "LOT_SIZE"),
    (limit("cx-a", Side.BUY, "9001", "1"), "LOT_SIZE"),
    (limit("cx-a", Side.BUY, "1", "100.005"), "PRICE_FILTER"),
    (limit("cx-a", Side.BUY, "0.05", "100"), "NOTIONAL"),
    (market("cx-a", Side.BUY, quantity="0.05"), "NOTIONAL"),
])
def test_filter_failures_are_minus_1013_naming_the_filter(order: OrderRequest, filter_name: str) -> None:
    refused = _refusal(_ready(), order)
    assert (refused.binance_code, refused.binance_msg) == (-1013, f"Filter failure: {filter_name}")
    assert refused.code == "EXCHANGE_REJECTED" and refused.client_order_id == "cx-a"


def test_market_lot_size_applies_to_market_orders_only() -> None:
    ex = _ready(usdt="1000000", market_step_size=D("0.01"), market_max_qty=D("5"))
    assert _refusal(ex, market("cx-a", Side.BUY, quantity="1.005")).binance_msg == "Filter failure: MARKET_LOT_SIZE"
    assert _refusal(ex, market("cx-a", Side.BUY, quantity="6")).binance_msg == "Filter failure: MARKET_LOT_SIZE"
    assert ex.place_order(limit("cx-b", Side.BUY, "1.005", "99"), now_ms=11)[0].status is OrderStatus.NEW


def test_percent_price_refuses_a_limit_far_from_the_average_price() -> None:
    ex = _ready(percent_up=D("5"), percent_down=D("0.2"))
    assert _refusal(ex, limit("cx-a", Side.BUY, "1", "19")).binance_msg == "Filter failure: PERCENT_PRICE"


def test_quote_amount_with_too_many_decimals_is_minus_1111() -> None:
    refused = _refusal(_ready(quote_precision=2), market("cx-a", Side.BUY, quote="50.001"))
    assert refused.binance_code == -1111


def test_quote_amount_market_on_a_symbol_that_does_not_allow_it_is_minus_2010() -> None:
    ex = _ready(quote_order_qty_market_allowed=False)
    refused = _refusal(ex, market("cx-a", Side.BUY, quote="50"))
    assert (refused.binance_code, refused.binance_msg) == (
        -2010, "Quote order qty market orders are not support for this symbol.")
    assert ex.place_order(market("cx-b", Side.BUY, quantity="0.5"), now_ms=2)  # by quantity it is still fine


def test_max_num_orders_and_max_num_algo_orders() -> None:
    ex = _ready(btc="10", max_num_orders=2, max_num_algo_orders=1)
    ex.place_order(stop_limit("cx-s1", Side.SELL, "1", "95", "94"), now_ms=2)
    assert _refusal(ex, stop_limit("cx-s2", Side.SELL, "1", "95", "94")).binance_msg == (
        "Filter failure: MAX_NUM_ALGO_ORDERS")
    ex.place_order(limit("cx-l1", Side.SELL, "1", "110"), now_ms=3)
    assert _refusal(ex, limit("cx-l2", Side.SELL, "1", "110")).binance_msg == "Filter failure: MAX_NUM_ORDERS"


@pytest.mark.parametrize("order", [
    limit("cx-a", Side.BUY, "2", "100"),
    limit("cx-a", Side.SELL, "1", "100"),
    market("cx-a", Side.BUY, quote="150.5"),
    market("cx-a", Side.SELL, quantity="0.5"),
])
def test_insufficient_balance_is_minus_2010(order: OrderRequest) -> None:
    ex = _ready(usdt="150")
    ex.on_book(book([(99.0, 10.0)], [(100.0, 10.0)]))
    refused = _refusal(ex, order)
    assert (refused.binance_code, refused.binance_msg) == (
        -2010, "Account has insufficient balance for requested action.")


def test_market_buy_costing_more_than_free_quote_across_levels_is_refused() -> None:
    ex = _ready(usdt="150")
    ex.on_book(book([(99.0, 10.0)], [(100.0, 1.0), (200.0, 1.0)]))
    assert _refusal(ex, market("cx-a", Side.BUY, quantity="1.5")).binance_code == -2010


def test_duplicate_client_id_among_open_orders_is_refused_and_allowed_again_once_closed() -> None:
    ex = _ready()
    ex.place_order(limit("cx-dup", Side.BUY, "1", "90"), now_ms=2)
    refused = _refusal(ex, limit("cx-dup", Side.BUY, "1", "91"))
    assert (refused.binance_code, refused.binance_msg) == (-2010, "Duplicate order sent.")
    ex.cancel_order(SYMBOL, "cx-dup", now_ms=3)
    reports = ex.place_order(limit("cx-dup", Side.BUY, "1", "91"), now_ms=4)
    assert reports[0].status is OrderStatus.NEW and reports[0].price == D("91")
    view = ex.get_order(SYMBOL, "cx-dup")
    assert view is not None and view.price == D("91") and view.status is OrderStatus.NEW


def test_cancel_of_unknown_or_closed_order_is_minus_2011() -> None:
    ex = _ready()
    with pytest.raises(ExchangeRejected) as unknown:
        ex.cancel_order(SYMBOL, "cx-nope", now_ms=2)
    assert (unknown.value.binance_code, unknown.value.binance_msg) == (-2011, "Unknown order sent.")
    ex.place_order(limit("cx-l1", Side.BUY, "1", "90"), now_ms=3)
    assert [r.status for r in ex.cancel_order(SYMBOL, "cx-l1", now_ms=4)] == [OrderStatus.CANCELED]
    with pytest.raises(ExchangeRejected) as closed:
        ex.cancel_order(SYMBOL, "cx-l1", now_ms=5)
    assert closed.value.binance_code == -2011


def test_unknown_symbol_is_minus_1121_everywhere() -> None:
    ex = _ready()
    other = OrderRequest(client_order_id="cx-a", symbol="ETHUSDT", side=Side.BUY, type=OrderType.LIMIT,
                         quantity=D("1"), price=D("1"), time_in_force="GTC")
    for call in (lambda: ex.place_order(other, 1), lambda: ex.cancel_order("ETHUSDT", "cx-a", 1),
                 lambda: ex.get_order("ETHUSDT", "cx-a"), lambda: ex.open_orders("ETHUSDT")):
        with pytest.raises(ExchangeRejected) as refused:
            call()
        assert (refused.value.binance_code, refused.value.binance_msg) == (-1121, "Invalid symbol.")


def test_get_order_knows_closed_orders_and_answers_none_for_never_seen_ones() -> None:
    ex = _ready()
    ex.on_book(book([(99.0, 10.0)], [(100.0, 10.0)]))
    ex.place_order(market("cx-m1", Side.BUY, quantity="1"), now_ms=2)
    view = ex.get_order(SYMBOL, "cx-m1")
    assert view is not None and view.status is OrderStatus.FILLED and view.executed_qty == D("1")
    assert view.cum_quote == D("100") and view.time_ms == 2
    assert ex.get_order(SYMBOL, "cx-never") is None


def test_stop_that_would_trigger_immediately_is_refused() -> None:
    refused = _refusal(_ready(btc="1"), stop_limit("cx-a", Side.SELL, "1", "100", "99"))
    assert (refused.binance_code, refused.binance_msg) == (-2010, "Order would trigger immediately.")


def test_symbol_that_is_not_trading_refuses_orders_but_allows_cancels() -> None:
    trading = PaperExchange({SYMBOL: btc_rules()}, {"USDT": D("1000")})
    trading.place_order(limit("cx-open", Side.BUY, "1", "90"), now_ms=1)
    halted = PaperExchange.from_state(trading.to_state(), {SYMBOL: btc_rules(status="BREAK")})
    refused = _refusal(halted, limit("cx-a", Side.BUY, "1", "90"))
    assert (refused.binance_code, refused.binance_msg) == (-2010, "Market is closed.")
    assert [r.status for r in halted.cancel_order(SYMBOL, "cx-open", now_ms=2)] == [OrderStatus.CANCELED]
    assert halted.balances()["USDT"] == (D("1000"), D("0"))


def test_order_type_not_listed_for_the_symbol_is_refused() -> None:
    ex = _ready(order_types=frozenset({"LIMIT", "MARKET"}))
    refused = _refusal(ex, stop_limit("cx-a", Side.BUY, "1", "105", "106"))
    assert refused.binance_msg == "Order type not supported for this symbol."


def test_market_order_with_no_price_known_at_all_is_refused_rather_than_guessed() -> None:
    refused = _refusal(paper(), market("cx-a", Side.BUY, quantity="1"))
    assert refused.binance_code == -2010


def test_rejection_consumes_no_order_id() -> None:
    ex = _ready()
    ex.close_bar(bar(100, 101, 99, 100, open_time_ms=0))
    first = ex.place_order(limit("cx-a", Side.BUY, "1", "90"), now_ms=2)[0].order_id
    with pytest.raises(ExchangeRejected):
        ex.place_order(limit("cx-b", Side.BUY, "2000", "90"), now_ms=3)
    assert ex.place_order(limit("cx-c", Side.BUY, "1", "90"), now_ms=4)[0].order_id == first + 1


def test_market_with_time_in_force_is_minus_1106() -> None:
    order = OrderRequest(client_order_id="cx-a", symbol=SYMBOL, side=Side.BUY, type=OrderType.MARKET,
                         quantity=D("1"), time_in_force="GTC")
    refused = _refusal(_ready(), order)
    assert (refused.binance_code, refused.binance_msg) == (-1106, "Parameter 'timeInForce' sent when not required.")


def test_limit_maker_without_a_book_is_refused_when_it_would_cross_the_last_price() -> None:
    ex = paper(btc="1")
    ex.close_bar(bar(100, 101, 99, 100, open_time_ms=0))
    assert _refusal(ex, limit_maker("cx-a", Side.SELL, "1", "100")).binance_msg == (
        "Order would immediately match and take.")
    assert ex.place_order(limit_maker("cx-a", Side.SELL, "1", "100.01"), now_ms=11)[0].status is OrderStatus.NEW
