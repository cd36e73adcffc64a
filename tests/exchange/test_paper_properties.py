"""Properties over arbitrary sequences of orders and market events.

* No balance ever goes negative.
* Accounting identity: each asset's free + locked changes exactly by the fills reported (a BUY moves
  quote out at the fill price and base in less the commission; a SELL the reverse), so value changes
  only by fees and prices. Nothing appears, vanishes or rounds away.
* Locked balances equal what the open orders hold (an OCO holds its quantity once).
* to_state/from_state is exact: a restarted account behaves identically, report for report.

Trailing stops (alone and as an OCO's stop leg) are among the operations: they obey the same identities.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from core.exchange_port import ExchangeRejected, ExecutionReport
from core.types import OcoRequest, OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from exchange.paper import PaperExchange
from tests.exchange.test_paper_support import SYMBOL, D, bar, book, btc_rules, trade

START = {"USDT": D("5000"), "BTC": D("20")}

prices = st.integers(min_value=9_000, max_value=11_000).map(lambda ticks: D(ticks) / 100)
offsets = st.integers(min_value=-400, max_value=400).map(lambda ticks: D(ticks) / 100)
distances = st.integers(min_value=1, max_value=600).map(lambda ticks: D(ticks) / 100)
limit_gaps = st.integers(min_value=0, max_value=300).map(lambda ticks: D(ticks) / 100)
quantities = st.integers(min_value=1, max_value=3_000).map(lambda steps: D(steps) / 1000)
sides = st.sampled_from([Side.BUY, Side.SELL])
client_ids = st.integers(min_value=0, max_value=5).map(lambda n: f"cx-{n}")

Op = tuple[Any, ...]


@st.composite
def books(draw: st.DrawFn) -> Op:
    mid = draw(st.integers(min_value=9_100, max_value=10_900))
    spread = draw(st.integers(min_value=1, max_value=50))
    sizes = draw(st.lists(st.integers(min_value=1, max_value=2_000), min_size=2, max_size=6))
    half = len(sizes) // 2
    bids = tuple(((mid - spread - 7 * i) / 100, s / 1000) for i, s in enumerate(sizes[:half]))
    asks = tuple(((mid + spread + 7 * i) / 100, s / 1000) for i, s in enumerate(sizes[half:]))
    return ("book", bids, asks)


@st.composite
def bars(draw: st.DrawFn) -> Op:
    points = sorted(draw(st.lists(st.integers(min_value=9_000, max_value=11_000), min_size=4, max_size=4)))
    low, a, b, high = points
    open_, close = (a, b) if draw(st.booleans()) else (b, a)
    return ("bar", open_ / 100, high / 100, low / 100, close / 100)


operations = st.one_of(
    books(),
    st.tuples(st.just("trade"), prices),
    bars(),
    st.tuples(st.just("market"), client_ids, sides, quantities),
    st.tuples(st.just("quote_market"), client_ids, sides, st.integers(10, 3_000).map(D)),
    st.tuples(st.just("limit"), client_ids, sides, quantities, offsets, st.sampled_from(list(TimeInForce))),
    st.tuples(st.just("maker"), client_ids, sides, quantities, offsets),
    st.tuples(st.just("stop"), client_ids, sides, quantities, distances, limit_gaps),
    st.tuples(st.just("oco"), client_ids, quantities, distances, distances, limit_gaps),
    st.tuples(st.just("trail"), client_ids, sides, quantities, st.one_of(st.none(), distances), limit_gaps,
              st.integers(min_value=10, max_value=2_000)),
    st.tuples(st.just("trail_oco"), client_ids, quantities, distances, st.one_of(st.none(), distances), limit_gaps,
              st.integers(min_value=10, max_value=2_000)),
    st.tuples(st.just("cancel"), st.integers(min_value=0, max_value=10)),
)


class Market:
    """The test's own idea of the last price, so that generated prices sit around the market."""

    def __init__(self) -> None:
        self.last = D(100)

    def see(self, op: Op) -> None:
        if op[0] == "trade":
            self.last = op[1]
        elif op[0] == "bar":
            self.last = D(repr(op[4]))


def apply(ex: PaperExchange, op: Op, time_ms: int, market: Market) -> list[ExecutionReport] | tuple[str, int]:
    """Run one operation; a rejection is a result too (its Binance code)."""
    kind = op[0]
    market.see(op)
    try:
        if kind == "book":
            return ex.on_book(book(list(op[1]), list(op[2]), time_ms=time_ms))
        if kind == "trade":
            return ex.on_trade(trade(float(op[1]), time_ms=time_ms))
        if kind == "bar":
            candle = bar(*op[1:], open_time_ms=time_ms)
            return ex.open_bar(candle) + ex.close_bar(candle)
        if kind == "cancel":
            open_now = ex.open_orders(SYMBOL)
            if not open_now:
                return []
            return ex.cancel_order(SYMBOL, open_now[op[1] % len(open_now)].client_order_id, time_ms)
        if kind == "oco":
            _, lid, qty, above, below, limit_gap = op
            stop = market.last - below
            return ex.place_oco(OcoRequest(list_client_id=lid, symbol=SYMBOL, quantity=qty,
                                           take_profit_price=market.last + above, stop_price=stop,
                                           stop_limit_price=stop - limit_gap), time_ms)
        if kind == "trail_oco":
            _, lid, qty, above, below, limit_gap, delta = op
            stop = None if below is None else market.last - below
            return ex.place_oco(OcoRequest(list_client_id=lid, symbol=SYMBOL, quantity=qty,
                                           take_profit_price=market.last + above, stop_price=stop,
                                           stop_limit_price=(stop or market.last) - limit_gap - D("0.01"),
                                           trailing_delta=delta), time_ms)
        return ex.place_order(_order(op, market.last), time_ms)
    except ExchangeRejected as refused:
        return ("rejected", refused.binance_code)


def _order(op: Op, last: Decimal) -> OrderRequest:
    kind, cid, side = op[0], op[1], op[2]
    common: dict[str, Any] = {"client_order_id": cid, "symbol": SYMBOL, "side": side}
    away = 1 if side is Side.BUY else -1
    builders: dict[str, Callable[[], OrderRequest]] = {
        "market": lambda: OrderRequest(type=OrderType.MARKET, quantity=op[3], **common),
        "quote_market": lambda: OrderRequest(type=OrderType.MARKET, quote_order_qty=op[3], **common),
        "limit": lambda: OrderRequest(type=OrderType.LIMIT, quantity=op[3], price=last + op[4], time_in_force=op[5],
                                      **common),
        "maker": lambda: OrderRequest(type=OrderType.LIMIT_MAKER, quantity=op[3], price=last + op[4], **common),
        "stop": lambda: OrderRequest(type=OrderType.STOP_LOSS_LIMIT, quantity=op[3], stop_price=last + away * op[4],
                                     price=last + away * (op[4] + op[5]), time_in_force=TimeInForce.GTC,
                                     **common),
        "trail": lambda: OrderRequest(type=OrderType.STOP_LOSS_LIMIT, quantity=op[3],
                                      stop_price=None if op[4] is None else last + away * op[4],
                                      price=last + away * ((op[4] or 0) + op[5]), time_in_force=TimeInForce.GTC,
                                      trailing_delta=op[6], **common),
    }
    return builders[kind]()


def _fresh() -> PaperExchange:
    return PaperExchange({SYMBOL: btc_rules(max_num_orders=8, allow_trailing_stop=True)}, START, slippage_bps=D("5"))


def _totals(ex: PaperExchange) -> dict[str, Decimal]:
    return {asset: free + locked for asset, (free, locked) in ex.balances().items()}


def _expected_locks(ex: PaperExchange) -> dict[str, Decimal] | None:
    """What open orders hold; None while a MARKET waits for a price (it holds an estimate)."""
    held = {"USDT": D(0), "BTC": D(0)}
    lists_seen: set[str] = set()
    for order in ex.open_orders():
        if order.order_type is OrderType.MARKET:
            return None
        remaining = order.orig_qty - order.executed_qty
        if order.side is Side.SELL:
            if order.list_client_id is not None:
                if order.list_client_id in lists_seen:
                    continue
                lists_seen.add(order.list_client_id)
            held["BTC"] += remaining
        else:
            assert order.price is not None
            held["USDT"] += remaining * order.price
    return held


@settings(max_examples=150)
@given(st.lists(operations, min_size=1, max_size=40))
def test_balances_never_negative_and_change_exactly_by_the_fills_reported(ops: list[Op]) -> None:
    ex = _fresh()
    market = Market()
    expected = dict(START)
    trade_ids: list[int] = []
    for i, op in enumerate(ops):
        result = apply(ex, op, 1_000 * (i + 1), market)
        for report in result if isinstance(result, list) else []:
            fill = report.fill
            if fill is None:
                continue
            trade_ids.append(fill.trade_id)
            received = "BTC" if fill.side is Side.BUY else "USDT"
            assert fill.commission_asset == received
            if fill.side is Side.BUY:
                expected["USDT"] -= fill.price * fill.quantity
                expected["BTC"] += fill.quantity - fill.commission
            else:
                expected["BTC"] -= fill.quantity
                expected["USDT"] += fill.price * fill.quantity - fill.commission
            assert report.status in (OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED)
            assert report.orig_qty == 0 or report.executed_qty <= report.orig_qty
        for asset, (free, locked) in ex.balances().items():
            assert free >= 0 and locked >= 0, f"{asset} went negative after {op}"
        assert _totals(ex) == expected
        locks = _expected_locks(ex)
        if locks is not None:
            assert {a: ex.balances()[a][1] for a in locks} == locks
    assert trade_ids == list(range(1, len(trade_ids) + 1))


@settings(max_examples=100)
@given(st.lists(operations, min_size=2, max_size=40), st.data())
def test_state_round_trip_then_identical_behaviour(ops: list[Op], data: st.DataObject) -> None:
    split = data.draw(st.integers(min_value=0, max_value=len(ops)))
    straight, restarted = _fresh(), _fresh()
    market_a, market_b = Market(), Market()
    for i, op in enumerate(ops[:split]):
        assert apply(straight, op, 1_000 * (i + 1), market_a) == apply(restarted, op, 1_000 * (i + 1), market_b)
    state = json.loads(json.dumps(restarted.to_state()))
    restarted = PaperExchange.from_state(state, {SYMBOL: btc_rules(max_num_orders=8, allow_trailing_stop=True)})
    assert restarted.to_state() == straight.to_state()
    for i, op in enumerate(ops[split:], start=split):
        assert apply(restarted, op, 1_000 * (i + 1), market_b) == apply(straight, op, 1_000 * (i + 1), market_a)
    assert restarted.to_state() == straight.to_state()
    assert restarted.balances() == straight.balances()
    assert restarted.open_orders() == straight.open_orders()
