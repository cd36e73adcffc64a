"""Start-up against the exchange (`runtime.venue_reconcile`), each case against the loopback Binance through the
real SDK: our orders unknown to the journal are adopted, journal orders the exchange never got or moved on are
resolved by query, trades missed during a crash are caught up and the position protected before anything else,
balance differences are reported, and a position whose protection is gone is protected again."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from core.config import ExecutorConfig
from core.engine import Engine
from core.events import Book
from core.exchange_port import ExecutionReport
from core.portfolio import Portfolio
from core.types import OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from exchange.binance import BinanceConfig, BinanceExchange
from memory.journal import Journal
from runtime.commands import CommandKind, execute
from runtime.home import Home
from runtime.pump import Pump
from runtime.reconcile import NEVER_SENT
from runtime.venue_reconcile import NoteKind, VenueReconciliation, reconcile_with_venue
from tests.fakes.binance import FakeBinance
from tests.fakes.binance.params import Params
from tests.fakes.binance_support import KEY, RULES, SECRET, SYMBOL
from tests.runtime.helpers import query

START_MS = 1_800_000_000_000
FUNDS = {"USDT": Decimal("1000")}


class Crash(BaseException):
    """The process dies here (kill -9): nothing after it runs, an open journal batch is never committed."""


class CrashingExchange(BinanceExchange):
    """The adapter of a process that dies right before (`before=True`) or right after its next order is sent."""

    def __init__(self, config: BinanceConfig, *, before: bool) -> None:
        super().__init__(config)
        self.before = before

    def place_order(self, order: OrderRequest, now_ms: int) -> list[ExecutionReport]:
        if self.before:
            raise Crash
        super().place_order(order, now_ms)
        raise Crash


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance({SYMBOL: RULES}, FUNDS, api_key=KEY, api_secret=SECRET) as server:
        server.set_book(SYMBOL, [(Decimal("99.99"), Decimal(50))], [(Decimal("100.01"), Decimal(50))])
        server.trade(SYMBOL, Decimal("100"))
        yield server


def account(fake: FakeBinance) -> BinanceConfig:
    return BinanceConfig(api_key=KEY, api_secret=SECRET, rest_url=fake.rest_url, ws_api_url=fake.ws_api_url)


def new_engine() -> Engine:
    engine = Engine(ExecutorConfig(), {SYMBOL: RULES}, Portfolio("USDT", dict(FUNDS)), [SYMBOL], START_MS)
    engine.on_market(Book(symbol=SYMBOL, time_ms=START_MS, bids=((99.99, 50.0),), asks=((100.01, 50.0),)))
    return engine


@dataclass
class Process:
    """One executor process on a home: its journal, engine, adapter and pump (the checkpoint saved before each
    order intent, as the runner does)."""

    journal: Journal
    engine: Engine
    exchange: BinanceExchange
    pump: Pump

    def checkpoint(self) -> None:
        self.journal.save_checkpoint({"engine": self.engine.to_state()}, written_ms=0)

    def close(self) -> None:
        self.exchange.close()
        self.journal.close()


def start(home: Path, exchange: BinanceExchange, engine: Engine | None = None) -> Process:
    journal = Journal(home / "journal.db")
    if engine is None:
        stored = journal.checkpoint()
        engine = new_engine() if stored is None else Engine.from_state(stored.document["engine"], ExecutorConfig(),
                                                                        {SYMBOL: RULES})
    process = Process(journal, engine, exchange, Pump(engine, exchange, journal))
    process.pump.before_send = process.checkpoint
    exchange.start()
    return process


def restart(home: Path, fake: FakeBinance) -> tuple[Process, VenueReconciliation]:
    process = start(home, BinanceExchange(account(fake)))
    with process.journal.batch():
        report = reconcile_with_venue(Home.resolve(str(home)), process.journal, process.pump, process.exchange,
                                      START_MS + 60_000)
    return process, report


def buy_then_crash(home: Path, fake: FakeBinance, *, before: bool) -> None:
    process = start(home, CrashingExchange(account(fake), before=before), new_engine())
    with pytest.raises(Crash), process.journal.batch():
        execute(process.engine, process.pump, CommandKind.TRADE, {"symbol": SYMBOL, "side": "buy", "quote": "200"},
                START_MS + 1000)
    process.close()


def sell_ocos(fake: FakeBinance) -> list[str]:
    return sorted(o.wire_id for o in fake.venue.open_orders(SYMBOL) if o.list_id != -1)


def test_a_fill_lost_in_a_crash_is_caught_up_and_the_position_protected_before_anything_else(
        fake: FakeBinance, tmp_path: Path) -> None:
    buy_then_crash(tmp_path, fake, before=False)
    (entry,) = fake.venue.ledger()
    assert entry.last.status is OrderStatus.FILLED and sell_ocos(fake) == []  # sent, filled, never heard of
    process, report = restart(tmp_path, fake)
    try:
        assert report.fills_caught_up >= 1 and report.adopted == ()
        assert process.journal.order(entry.wire_id).status is OrderStatus.FILLED  # type: ignore[union-attr]
        holding = process.engine.holdings[SYMBOL]
        assert holding.protection_id is not None
        assert len(sell_ocos(fake)) == 2  # both legs of the OCO, on the exchange before the first market event
        free, locked = fake.venue.balances()["BTC"]
        legs = [o for o in fake.venue.open_orders(SYMBOL) if o.list_id != -1]
        assert free < RULES.step_size and all(leg.last.orig_qty == locked for leg in legs)  # all of it, but dust
        assert report.balance_differences == ()  # the engine counts what the account holds
    finally:
        process.close()


def test_an_order_journaled_but_never_sent_is_resolved_by_query_and_dropped(fake: FakeBinance,
                                                                            tmp_path: Path) -> None:
    buy_then_crash(tmp_path, fake, before=True)
    assert fake.venue.ledger() == []
    process, report = restart(tmp_path, fake)
    try:
        (resolved,) = report.resolved
        assert resolved.exchange_status is None and resolved.journal_status is OrderStatus.PENDING_SEND
        row = process.journal.order(resolved.client_order_id)
        assert row is not None and row.status is OrderStatus.EXPIRED and row.last_reason == NEVER_SENT
        assert SYMBOL not in process.engine.pending and SYMBOL not in process.engine.holdings
        assert fake.venue.ledger() == []  # looked up, never resent
    finally:
        process.close()


def test_an_order_that_moved_on_while_down_takes_the_exchanges_state(fake: FakeBinance, tmp_path: Path) -> None:
    order = OrderRequest(client_order_id="cx-l-1-1", symbol=SYMBOL, side=Side.BUY, type=OrderType.LIMIT,
                         quantity=Decimal("0.5"), price=Decimal("90"), time_in_force=TimeInForce.GTC)
    process = start(tmp_path, BinanceExchange(account(fake)))
    process.journal.record_order_intent(order, time_ms=START_MS, strategy=None, position_id=None, reason="test")
    process.exchange.place_order(order, START_MS)  # sent; its answer and its cancel never reached the journal
    process.exchange.cancel_order(SYMBOL, order.client_order_id, START_MS)
    process.close()
    process, report = restart(tmp_path, fake)
    try:
        (resolved,) = report.resolved
        assert (resolved.client_order_id, resolved.exchange_status) == (order.client_order_id, OrderStatus.CANCELED)
        assert process.journal.order(order.client_order_id).status is OrderStatus.CANCELED  # type: ignore[union-attr]
    finally:
        process.close()


def test_our_orders_the_journal_does_not_know_are_adopted_and_others_left_alone(fake: FakeBinance,
                                                                               tmp_path: Path) -> None:
    other_home = BinanceExchange(account(fake))  # another home on the same account (or a journal from a backup)
    other_home.place_order(OrderRequest(client_order_id="cx-l-2-1", symbol=SYMBOL, side=Side.BUY,
                                        type=OrderType.LIMIT, quantity=Decimal("0.5"), price=Decimal("90"),
                                        time_in_force=TimeInForce.GTC), START_MS)
    other_home.close()
    fake.venue.place_order(Params({"symbol": SYMBOL, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                   "quantity": "0.1", "price": "80.00", "newClientOrderId": "web_manual_1"}),
                           fake.now_ms())  # the Binance app's own order
    process, report = restart(tmp_path, fake)
    try:
        assert report.adopted == ("cx-l-2-1",)
        row = process.journal.order("cx-l-2-1")
        assert row is not None and row.status is OrderStatus.NEW
        assert process.journal.order("web_manual_1") is None
        kinds = [k for (k,) in query(tmp_path / "journal.db", "SELECT code FROM errors")]
        assert kinds.count(NoteKind.ORDER_ADOPTED.value) == 1
        assert len(fake.venue.open_orders(SYMBOL)) == 2  # nothing cancelled, nothing resent
    finally:
        process.close()


def test_balance_differences_are_reported_not_adopted(fake: FakeBinance, tmp_path: Path) -> None:
    start(tmp_path, BinanceExchange(account(fake))).close()
    fake.adjust_balance("BTC", Decimal("0.25"))  # a deposit the engine did not make
    fake.adjust_balance("ETH", Decimal("3"))  # an asset the engine does not trade: not its business
    process, report = restart(tmp_path, fake)
    try:
        (difference,) = report.balance_differences
        assert (difference.asset, difference.engine, difference.exchange) == ("BTC", Decimal(0), Decimal("0.25"))
        assert process.engine.portfolio.balances().get("BTC", Decimal(0)) == 0
        assert any("BTC" in note and "not adopted" in note for note in report.notes())
        kinds = [k for (k,) in query(tmp_path / "journal.db", "SELECT code FROM errors")]
        assert kinds == [NoteKind.BALANCE_DIFFERENCE.value]
    finally:
        process.close()


def test_a_position_whose_protection_is_gone_is_protected_again(fake: FakeBinance, tmp_path: Path) -> None:
    buy_then_crash(tmp_path, fake, before=False)
    process, _ = restart(tmp_path, fake)
    first = process.engine.holdings[SYMBOL].protection_id
    assert first is not None
    process.exchange.cancel_order_list(SYMBOL, first, START_MS)  # cancelled by hand in the Binance app
    process.close()
    process, report = restart(tmp_path, fake)
    try:
        assert report.reprotected == (SYMBOL,)
        again = process.engine.holdings[SYMBOL].protection_id
        assert again is not None and again != first
        assert len(sell_ocos(fake)) == 2
    finally:
        process.close()


def test_a_restart_with_its_oco_working_places_nothing(fake: FakeBinance, tmp_path: Path) -> None:
    """The OCO placed before a restart is recognised as ours (its list id is learnt from the exchange)."""
    buy_then_crash(tmp_path, fake, before=False)
    restart(tmp_path, fake)[0].close()
    orders = len(fake.venue.ledger())
    process, report = restart(tmp_path, fake)
    try:
        assert report.reprotected == () and report.resolved == () and len(fake.venue.ledger()) == orders
    finally:
        process.close()
