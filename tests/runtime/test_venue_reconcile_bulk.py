"""Start-up reconciliation in bulk (`runtime.venue_reconcile.settle` over `BinanceExchange.order_history`), against
the loopback Binance through the real SDK: a symbol's `allOrders` listing decides most journal orders by client id
at once, an order absent from it is called never sent only where the listing proves it, and the fake counts every
request it received."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from core.config import ExecutorConfig
from core.engine import Engine
from core.events import Book
from core.portfolio import Portfolio
from core.types import OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from exchange.binance import BinanceExchange
from memory.journal import Journal
from runtime.commands import CommandKind, execute
from runtime.home import Home
from runtime.pump import Pump
from runtime.reconcile import NEVER_SENT
from runtime.venue_reconcile import BULK_FROM_ORDERS, VenueReconciliation, reconcile_with_venue
from tests.fakes.binance import FakeBinance, Op
from tests.fakes.binance.params import Params
from tests.fakes.binance_support import KEY, RULES, SECRET, SYMBOL
from tests.runtime.test_venue_reconcile import FUNDS, account, restart, sell_ocos, start

HOUR_MS = 3_600_000


class ShiftedClock:
    """The loopback Binance's clock, moved on by hand (an order placed "30 hours ago")."""

    def __init__(self) -> None:
        self.shift_ms = 0

    def __call__(self) -> int:
        return time.time_ns() // 1_000_000 + self.shift_ms


@pytest.fixture
def clock() -> ShiftedClock:
    return ShiftedClock()


@pytest.fixture
def fake(clock: ShiftedClock) -> Iterator[FakeBinance]:
    with FakeBinance({SYMBOL: RULES}, FUNDS, api_key=KEY, api_secret=SECRET, clock_ms=clock) as server:
        server.set_book(SYMBOL, [(Decimal("99.99"), Decimal(50))], [(Decimal("100.01"), Decimal(50))])
        server.trade(SYMBOL, Decimal("100"))
        yield server


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def limit_buy(client_id: str, price: str, quantity: str = "0.1") -> OrderRequest:
    return OrderRequest(client_order_id=client_id, symbol=SYMBOL, side=Side.BUY, type=OrderType.LIMIT,
                        quantity=Decimal(quantity), price=Decimal(price), time_in_force=TimeInForce.GTC)


def place_on_venue(fake: FakeBinance, order: OrderRequest) -> None:
    """Straight into the loopback venue (no REST request counted): what an earlier process had sent."""
    fake.venue.place_order(Params({"symbol": order.symbol, "side": order.side.value, "type": order.type.value,
                                   "timeInForce": "GTC", "quantity": str(order.quantity), "price": str(order.price),
                                   "newClientOrderId": order.client_order_id}), fake.now_ms())


def unsent(count: int, decided_ms: int) -> list[tuple[OrderRequest, int, OrderStatus]]:
    """Orders journaled and never sent: beside a test's own, they make the symbol worth a bulk listing."""
    return [(limit_buy(f"cx-u-{i}", "80"), decided_ms, OrderStatus.PENDING_SEND) for i in range(count)]


def journal_orders(home: Path, orders: list[tuple[OrderRequest, int, OrderStatus]]) -> None:
    """The journal a crashed process left: each order's intent at its decision time, with the status it knew."""
    with Journal(home / "journal.db") as journal, journal.batch():
        for order, decided_ms, status in orders:
            journal.record_order_intent(order, time_ms=decided_ms, strategy=None, position_id=None, reason="test",
                                        durable=False)
            if status is not OrderStatus.PENDING_SEND:
                journal.update_order(order.client_order_id, status=status, executed_qty=Decimal(0),
                                     cum_quote=Decimal(0), time_ms=decided_ms, reason=None)


def reconcile(home: Path, fake: FakeBinance) -> tuple[Journal, Engine, BinanceExchange, VenueReconciliation]:
    journal = Journal(home / "journal.db")
    engine = Engine(ExecutorConfig(), {SYMBOL: RULES}, Portfolio("USDT", dict(FUNDS)), [SYMBOL], wall_ms())
    exchange = BinanceExchange(account(fake))
    exchange.start()
    fake.requests.clear()
    with journal.batch():
        report = reconcile_with_venue(Home.resolve(str(home)), journal, Pump(engine, exchange, journal), exchange,
                                      wall_ms())
    return journal, engine, exchange, report


def test_a_thousand_journal_orders_are_settled_with_a_few_bulk_requests(fake: FakeBinance, tmp_path: Path) -> None:
    """100 resting on the exchange, 900 journaled in the ten minutes before a crash and never sent: every one is
    decided, and the fake receives a few dozen requests, not one per order."""
    decided = wall_ms() - 10 * 60_000
    orders = []
    for i in range(1000):
        order = limit_buy(f"cx-b-{i}", f"{60 + i % 40}")
        if i < 100:
            place_on_venue(fake, order)
        orders.append((order, decided + i, OrderStatus.NEW if i < 100 else OrderStatus.PENDING_SEND))
    journal_orders(tmp_path, orders)
    journal, _, exchange, report = reconcile(tmp_path, fake)
    try:
        assert len(report.resolved) == 900 and all(r.exchange_status is None for r in report.resolved)
        assert {r.client_order_id for r in journal.open_orders()} == {f"cx-b-{i}" for i in range(100)}
        assert all(journal.order(f"cx-b-{i}").last_reason == NEVER_SENT for i in range(100, 1000))  # type: ignore[union-attr]
        assert fake.requests[Op.QUERY_ORDER] == 0 and fake.requests[Op.ALL_ORDERS] == 1
        assert sum(fake.requests.values()) < 20, fake.requests
        assert len(fake.venue.ledger()) == 100  # nothing resent
    finally:
        exchange.close()
        journal.close()


def test_an_order_older_than_the_listing_is_looked_up_not_called_never_sent(
        fake: FakeBinance, clock: ShiftedClock, tmp_path: Path) -> None:
    """Sent and cancelled 30 hours ago (past what `allOrders` lists in one window), beside never-sent orders of the
    same age: all absent from the listing, which cannot tell them apart; each is looked up."""
    sent = limit_buy("cx-old-1", "90")
    place_on_venue(fake, sent)
    fake.venue.cancel_order(Params({"symbol": SYMBOL, "origClientOrderId": sent.client_order_id}), fake.now_ms())
    decided = wall_ms()
    journal_orders(tmp_path, [(sent, decided, OrderStatus.NEW), *unsent(BULK_FROM_ORDERS - 1, decided)])
    clock.shift_ms = 30 * HOUR_MS  # the restart comes 30 hours later
    journal, _, exchange, report = reconcile(tmp_path, fake)
    try:
        outcome = {r.client_order_id: r.exchange_status for r in report.resolved}
        assert outcome == {"cx-old-1": OrderStatus.CANCELED} | {f"cx-u-{i}": None for i in range(BULK_FROM_ORDERS - 1)}
        assert fake.requests[Op.ALL_ORDERS] == 1 and fake.requests[Op.QUERY_ORDER] == BULK_FROM_ORDERS
        assert journal.order("cx-old-1").status is OrderStatus.CANCELED  # type: ignore[union-attr]
    finally:
        exchange.close()
        journal.close()


def test_orders_journaled_in_the_last_recv_window_are_looked_up(fake: FakeBinance, tmp_path: Path) -> None:
    """Decided a moment ago: a request signed then could still be carried out, so absence proves nothing yet."""
    journal_orders(tmp_path, unsent(BULK_FROM_ORDERS, wall_ms()))
    journal, _, exchange, report = reconcile(tmp_path, fake)
    try:
        assert len(report.resolved) == BULK_FROM_ORDERS and all(r.exchange_status is None for r in report.resolved)
        assert fake.requests[Op.ALL_ORDERS] == 1 and fake.requests[Op.QUERY_ORDER] == BULK_FROM_ORDERS
    finally:
        exchange.close()
        journal.close()


def test_a_few_open_orders_are_looked_up_without_a_listing(fake: FakeBinance, tmp_path: Path) -> None:
    """Fewer than `BULK_FROM_ORDERS`: a listing (weight 20) would cost more than the lookups (4 each)."""
    journal_orders(tmp_path, unsent(BULK_FROM_ORDERS - 1, wall_ms() - 10 * 60_000))
    journal, _, exchange, report = reconcile(tmp_path, fake)
    try:
        assert len(report.resolved) == BULK_FROM_ORDERS - 1
        assert fake.requests[Op.ALL_ORDERS] == 0 and fake.requests[Op.QUERY_ORDER] == BULK_FROM_ORDERS - 1
    finally:
        exchange.close()
        journal.close()


def test_a_partially_filled_order_takes_its_fills_and_state_from_the_bulk_answers(fake: FakeBinance,
                                                                                 tmp_path: Path) -> None:
    order = limit_buy("cx-part-1", "100", quantity="0.5")
    place_on_venue(fake, order)
    decided = wall_ms() - 10 * 60_000
    journal_orders(tmp_path, [(order, decided, OrderStatus.NEW), *unsent(BULK_FROM_ORDERS - 1, decided)])
    fake.set_book(SYMBOL, [(Decimal("99"), Decimal(5))], [(Decimal("99.5"), Decimal("0.2"))])  # 0.2 of 0.5 fills
    assert fake.venue.ledger()[0].last.status is OrderStatus.PARTIALLY_FILLED
    journal, _, exchange, report = reconcile(tmp_path, fake)
    try:
        row = journal.order("cx-part-1")
        assert row is not None and row.status is OrderStatus.PARTIALLY_FILLED and row.executed_qty == Decimal("0.2")
        assert report.fills_caught_up >= 1 and fake.requests[Op.ALL_ORDERS] == 1
        assert fake.requests[Op.QUERY_ORDER] == 0
        assert sorted(r.client_order_id for r in report.resolved if r.exchange_status is None) == [
            f"cx-u-{i}" for i in range(BULK_FROM_ORDERS - 1)]
    finally:
        exchange.close()
        journal.close()


def test_an_oco_whose_take_profit_filled_while_down_is_settled_leg_by_leg(fake: FakeBinance, tmp_path: Path) -> None:
    """A position bought and protected ten minutes ago; while the executor was down the take-profit filled and the
    stop leg expired. The restarted adapter has never seen the list: the listing settles both legs under the
    journal's list id, and only the traded leg is looked up (to name its list for the trade)."""
    decided = wall_ms() - 10 * 60_000
    engine = Engine(ExecutorConfig(), {SYMBOL: RULES}, Portfolio("USDT", dict(FUNDS)), [SYMBOL], decided)
    engine.on_market(Book(symbol=SYMBOL, time_ms=decided, bids=((99.99, 50.0),), asks=((100.01, 50.0),)))
    process = start(tmp_path, BinanceExchange(account(fake)), engine)
    with process.journal.batch():
        execute(engine, process.pump, CommandKind.TRADE, {"symbol": SYMBOL, "side": "buy", "quote": "200"},
                decided + 1000)
        process.checkpoint()
    protection = engine.holdings[SYMBOL].protection_id
    process.close()
    journal_orders(tmp_path, unsent(BULK_FROM_ORDERS - 2, decided))
    legs = {o.last.order_type: o.wire_id for o in fake.venue.open_orders(SYMBOL) if o.list_id != -1}
    take_profit = max(o.last.price for o in fake.venue.open_orders(SYMBOL) if o.last.price is not None)
    fake.trade(SYMBOL, take_profit + 1)  # the take-profit fills, the stop leg expires with it
    fake.requests.clear()
    process, report = restart(tmp_path, fake)
    try:
        assert SYMBOL not in process.engine.holdings and sell_ocos(fake) == []
        journal = process.journal
        rows = {kind: journal.order(wire_id) for kind, wire_id in legs.items()}
        assert {kind: row.status for kind, row in rows.items() if row is not None} == {
            OrderType.LIMIT_MAKER: OrderStatus.FILLED, OrderType.STOP_LOSS_LIMIT: OrderStatus.EXPIRED}
        assert all(row is not None and row.list_client_id == protection for row in rows.values())
        outcome = {r.client_order_id: r.exchange_status for r in report.resolved}
        assert outcome[legs[OrderType.STOP_LOSS_LIMIT]] is OrderStatus.EXPIRED and report.fills_caught_up == 1
        assert fake.requests[Op.ALL_ORDERS] == 1 and fake.requests[Op.QUERY_ORDER] <= 1
    finally:
        process.close()


def test_a_listing_longer_than_a_page_is_paged_by_order_id_and_proves_only_what_follows_its_first_page(
        fake: FakeBinance, tmp_path: Path) -> None:
    started = fake.now_ms()
    for i in range(1100):  # placed and cancelled: more than one page (1,000), never more than 200 open at once
        place_on_venue(fake, limit_buy(f"cx-p-{i}", "90"))
        fake.venue.cancel_order(Params({"symbol": SYMBOL, "origClientOrderId": f"cx-p-{i}"}), fake.now_ms())
    exchange = BinanceExchange(account(fake))
    exchange.start()
    fake.requests.clear()
    try:
        history = exchange.order_history(SYMBOL, started - 60_000)
        assert set(history.views) == {f"cx-p-{i}" for i in range(1100)}
        assert all(v.status is OrderStatus.CANCELED for v in history.views.values())
        assert fake.requests[Op.ALL_ORDERS] == 2 and fake.requests[Op.QUERY_ORDER] == 0
        first_page_oldest = min(o.created_ms for o in fake.venue.ledger())
        assert history.complete_since_ms > first_page_oldest  # a full page proves nothing before its oldest order
        assert not history.proves_never_sent("cx-never", started - 30_000, 0)
    finally:
        exchange.close()


def test_catching_up_the_trades_of_many_orders_lists_them_and_of_a_few_looks_them_up(fake: FakeBinance) -> None:
    exchange = BinanceExchange(account(fake))
    exchange.start()
    try:
        for i in range(BULK_FROM_ORDERS):
            place_on_venue(fake, limit_buy(f"cx-t-{i}", "100.01"))  # each crosses the ask and fills
        fake.requests.clear()
        few = exchange.catch_up(SYMBOL, after_trade_id=BULK_FROM_ORDERS - 1)  # trade ids from 1: the last only
        assert [r.client_order_id for r in few.reports] == [f"cx-t-{BULK_FROM_ORDERS - 1}"] and few.history is None
        assert fake.requests[Op.QUERY_ORDER] == 1 and fake.requests[Op.ALL_ORDERS] == 0
        fake.requests.clear()
        many = exchange.catch_up(SYMBOL, after_trade_id=-1)
        assert [r.client_order_id for r in many.reports] == [f"cx-t-{i}" for i in range(BULK_FROM_ORDERS)]
        assert all(r.status is OrderStatus.FILLED for r in many.reports) and many.history is not None
        assert fake.requests[Op.QUERY_ORDER] == 0 and fake.requests[Op.ALL_ORDERS] == 1
    finally:
        exchange.close()


def foreign_trades(fake: FakeBinance, count: int) -> None:
    """The account's own history from before the executor: market buys of 0.2 and sells of 0.19 by another app (no
    `cx-` prefix), in turn, so the funds last."""
    fake.set_book(SYMBOL, [(Decimal("99.99"), Decimal(10_000))], [(Decimal("100.01"), Decimal(10_000))])
    for i in range(count):
        side, quantity = ("SELL", "0.19") if i % 2 else ("BUY", "0.2")
        fake.venue.place_order(Params({"symbol": SYMBOL, "side": side, "type": "MARKET", "quantity": quantity,
                                       "newClientOrderId": f"app-{i}"}), fake.now_ms())
    fake.set_book(SYMBOL, [(Decimal("99.99"), Decimal(50))], [(Decimal("100.01"), Decimal(50))])


def test_a_new_home_on_an_old_account_does_not_walk_the_accounts_history(fake: FakeBinance, tmp_path: Path) -> None:
    """1,200 trades of another app, then nothing journaled here: no catch-up at all (from trade id 0 it fetched
    the account's oldest page and looked up each of its orders)."""
    foreign_trades(fake, 1200)
    journal, _, exchange, report = reconcile(tmp_path, fake)
    try:
        assert report.fills_caught_up == 0
        assert fake.requests[Op.MY_TRADES] == 0 and fake.requests[Op.QUERY_ORDER] == 0, fake.requests
    finally:
        exchange.close()
        journal.close()


def test_a_first_fill_after_an_old_history_is_caught_up_from_the_recent_trades(fake: FakeBinance,
                                                                              tmp_path: Path) -> None:
    """The journal's first order filled while the executor was down, after 1,200 trades of another app: its trade
    is in the account's most recent page (the oldest page would not hold it), and no other app's order is looked
    up."""
    foreign_trades(fake, 1200)
    order = limit_buy("cx-first-1", "101")  # crosses the ask: fills at once
    journal_orders(tmp_path, [(order, wall_ms() - 60_000, OrderStatus.NEW)])
    place_on_venue(fake, order)
    journal, _, exchange, report = reconcile(tmp_path, fake)
    try:
        row = journal.order("cx-first-1")
        assert row is not None and row.status is OrderStatus.FILLED
        assert report.fills_caught_up == 1 and journal.last_trade_id(SYMBOL) is not None
        assert fake.requests[Op.MY_TRADES] == 1 and fake.requests[Op.QUERY_ORDER] <= 1, fake.requests
    finally:
        exchange.close()
        journal.close()
