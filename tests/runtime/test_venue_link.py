"""The running link to a Binance account (`runtime.venue_link`) against the loopback Binance: user-data reports
reach the engine, a dropped stream is caught up from the exchange (fills deduplicated by trade id), and the
periodic reconciliation reports a balance difference once."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from core.config import ExecutorConfig
from core.engine import Engine
from core.events import Book
from core.portfolio import Portfolio
from core.types import OrderStatus
from exchange.binance import BinanceConfig, BinanceExchange
from memory.journal import Journal
from runtime.commands import CommandKind, execute
from runtime.pump import Pump
from runtime.venue_link import STREAM_GAP, VenueLink
from runtime.venue_reconcile import NoteKind
from tests.fakes.binance import FakeBinance
from tests.fakes.binance_support import KEY, RULES, SECRET, SYMBOL
from tests.runtime.helpers import query

START_MS = 1_800_000_000_000
WAIT_S = 20.0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance({SYMBOL: RULES}, {"USDT": Decimal(1000)}, api_key=KEY, api_secret=SECRET) as server:
        server.set_book(SYMBOL, [(Decimal("99.99"), Decimal(50))], [(Decimal("100.01"), Decimal(50))])
        server.trade(SYMBOL, Decimal("100"))
        yield server


@pytest.fixture
def linked(fake: FakeBinance, tmp_path: Path) -> Iterator[tuple[VenueLink, Clock]]:
    exchange = BinanceExchange(BinanceConfig(api_key=KEY, api_secret=SECRET, rest_url=fake.rest_url,
                                             ws_api_url=fake.ws_api_url))
    exchange.start()
    engine = Engine(ExecutorConfig(), {SYMBOL: RULES}, Portfolio("USDT", {"USDT": Decimal(1000)}), [SYMBOL],
                    START_MS)
    engine.on_market(Book(symbol=SYMBOL, time_ms=START_MS, bids=((99.99, 50.0),), asks=((100.01, 50.0),)))
    journal = Journal(tmp_path / "journal.db")
    clock = Clock()
    link = VenueLink(exchange, exchange.user_stream(), journal, Pump(engine, exchange, journal),
                     lambda: int(time.time() * 1000), reconcile_every_s=60.0, monotonic=clock)
    link.start()
    try:
        yield link, clock
    finally:
        link.stop()
        exchange.close()
        journal.close()


def poll_until(link: VenueLink, done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not done():
        assert time.monotonic() < deadline, "timed out"
        link.poll()
        time.sleep(0.05)


def buy(link: VenueLink) -> str:
    engine = link.pump.engine
    execute(engine, link.pump, CommandKind.TRADE, {"symbol": SYMBOL, "side": "buy", "quote": "200"}, START_MS + 1)
    protection = engine.holdings[SYMBOL].protection_id
    assert protection is not None
    return protection


def test_a_fill_reported_on_the_stream_closes_the_position(fake: FakeBinance,
                                                           linked: tuple[VenueLink, Clock]) -> None:
    link, _ = linked
    buy(link)
    take_profit = link.pump.engine.holdings[SYMBOL].take_profit_price
    fake.set_book(SYMBOL, [(take_profit + 1, Decimal(50))], [(take_profit + 2, Decimal(50))])  # the TP fills
    poll_until(link, lambda: SYMBOL not in link.pump.engine.holdings)
    assert link.gaps == 0 and link.pump.engine.portfolio.position(SYMBOL) is None


def test_fills_missed_while_the_stream_was_down_are_caught_up_once(fake: FakeBinance, tmp_path: Path,
                                                                   linked: tuple[VenueLink, Clock]) -> None:
    link, _ = linked
    list_id = buy(link)
    take_profit = link.pump.engine.holdings[SYMBOL].take_profit_price
    fake.drop_connections()
    fake.set_book(SYMBOL, [(take_profit + 1, Decimal(50))], [(take_profit + 2, Decimal(50))])  # fills unseen
    poll_until(link, lambda: link.gaps == 1)
    engine = link.pump.engine
    assert SYMBOL not in engine.holdings and engine.portfolio.position(SYMBOL) is None
    legs = {row.client_order_id: row.status for row in link.journal.orders() if row.list_client_id == list_id}
    assert sorted(legs.values()) == [OrderStatus.EXPIRED, OrderStatus.FILLED]
    sells = query(tmp_path / "journal.db", "SELECT COUNT(*) FROM fills WHERE side = 'SELL'")[0][0]
    poll_until(link, lambda: True)
    link.reconcile(balances=False)  # the same trades again: applied once
    assert query(tmp_path / "journal.db", "SELECT COUNT(*) FROM fills WHERE side = 'SELL'")[0][0] == sells
    assert [c for (c,) in query(tmp_path / "journal.db", "SELECT code FROM errors")].count(STREAM_GAP) == 1


def test_the_periodic_reconciliation_reports_a_balance_difference_once(fake: FakeBinance, tmp_path: Path,
                                                                       linked: tuple[VenueLink, Clock]) -> None:
    link, clock = linked
    fake.adjust_balance("USDT", Decimal(5))  # a deposit
    link.poll()
    assert link.reconciliations == 0  # not due yet
    for _ in range(2):
        clock.now += 60.0
        link.poll()
    assert link.reconciliations == 2
    codes = [c for (c,) in query(tmp_path / "journal.db", "SELECT code FROM errors")]
    assert codes == [NoteKind.BALANCE_DIFFERENCE.value]
