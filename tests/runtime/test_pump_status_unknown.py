"""`ExecutionStatusUnknown` in the pump: look the order up by client id, adopt or drop it, never resend it.

`UncertainVenue` is the paper simulator behind a network that can lose answers: the request raises
ExecutionStatusUnknown either before the simulator saw it (the order is absent) or after it accepted it
(the order exists; its reports arrive later, as Binance's user-data stream would bring them). Its lookups
can fail too, which keeps the outcome unknown.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

from core.config import ExecutorConfig
from core.engine import Engine
from core.events import Bar, Book, TradePrint
from core.exchange_port import ExecutionReport, ExecutionStatusUnknown, OrderView, ReportSink, SimulatedVenue
from core.filters import SymbolRules
from core.portfolio import Portfolio
from core.types import OcoRequest, OrderRequest, OrderStatus
from exchange.feeds.rules import offline_rules
from exchange.paper import PaperExchange
from memory.journal import Journal
from runtime.pump import Pump

SYMBOL = "AAAUSDT"
OTHER = "BBBUSDT"
THIRD = "CCCUSDT"
FIVE_MIN = 300_000
START = 1_609_459_200_000


class Lost(StrEnum):
    BEFORE = "before"  # the request never reached the matching engine
    AFTER = "after"  # accepted, and the answer was lost


class UncertainVenue(SimulatedVenue):
    """The simulator, with the next order request's answer lost, and lookups that fail on demand."""

    def __init__(self, inner: PaperExchange) -> None:
        self.inner = inner
        self.remote = inner.remote
        self.lose_next: Lost | None = None
        self.failing_lookups = 0
        self.lookups: list[str] = []
        self.sent: Counter[str] = Counter()  # client ids the simulator accepted, with how many times
        self.late: list[ExecutionReport] = []  # reports of accepted requests whose answer was lost

    def _maybe_lose(self, symbol: str, client_id: str, send: object) -> list[ExecutionReport]:
        lost, self.lose_next = self.lose_next, None
        if lost is Lost.BEFORE:
            raise ExecutionStatusUnknown("timeout", symbol=symbol, client_order_id=client_id)
        reports: list[ExecutionReport] = send()  # type: ignore[operator]
        if lost is Lost.AFTER:
            self.late.extend(reports)
            raise ExecutionStatusUnknown("HTTP 503", symbol=symbol, client_order_id=client_id)
        return reports

    def place_order(self, order: OrderRequest, now_ms: int) -> list[ExecutionReport]:
        def send() -> list[ExecutionReport]:
            reports = self.inner.place_order(order, now_ms)
            self.sent[order.client_order_id] += 1
            return reports
        return self._maybe_lose(order.symbol, order.client_order_id, send)

    def place_oco(self, oco: OcoRequest, now_ms: int) -> list[ExecutionReport]:
        def send() -> list[ExecutionReport]:
            reports = self.inner.place_oco(oco, now_ms)
            self.sent[oco.stop_client_id] += 1
            return reports
        return self._maybe_lose(oco.symbol, oco.stop_client_id, send)

    def get_order(self, symbol: str, client_order_id: str) -> OrderView | None:
        self.lookups.append(client_order_id)
        if self.failing_lookups:
            self.failing_lookups -= 1
            raise ExecutionStatusUnknown("lookup timed out", symbol=symbol, client_order_id=client_order_id)
        return self.inner.get_order(symbol, client_order_id)

    def exchange_rules(self) -> dict[str, SymbolRules]:
        return self.inner.exchange_rules()

    def cancel_order(self, symbol: str, client_order_id: str, now_ms: int) -> list[ExecutionReport]:
        return self.inner.cancel_order(symbol, client_order_id, now_ms)

    def cancel_order_list(self, symbol: str, list_client_id: str, now_ms: int) -> list[ExecutionReport]:
        return self.inner.cancel_order_list(symbol, list_client_id, now_ms)

    def open_orders(self, symbol: str | None = None) -> list[OrderView]:
        return self.inner.open_orders(symbol)

    def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        return self.inner.balances()

    def on_bar(self, bar: Bar, deliver: ReportSink) -> None:
        self.inner.on_bar(bar, deliver)

    def on_book(self, book: Book) -> list[ExecutionReport]:
        return self.inner.on_book(book)

    def on_trade(self, trade: TradePrint) -> list[ExecutionReport]:
        return self.inner.on_trade(trade)


class Rig:
    def __init__(self, tmp: Path) -> None:
        rules = offline_rules({SYMBOL: 100.0, OTHER: 100.0, THIRD: 100.0})
        balances = {"USDT": Decimal(10_000)}
        self.engine = Engine(ExecutorConfig(), rules, Portfolio("USDT", balances), [SYMBOL, OTHER, THIRD], START)
        self.venue = UncertainVenue(PaperExchange(rules, balances))
        self.journal = Journal(tmp / "journal.db", durable=False)
        self.pump = Pump(self.engine, self.venue, self.journal)
        self.t = START
        self.price = {SYMBOL: 100.0, OTHER: 100.0, THIRD: 100.0}

    def bar(self, symbol: str = SYMBOL, change_pct: float = 0.12) -> None:
        open_ = self.price[symbol]
        close = open_ * (1 + change_pct / 100)
        self.pump.handle(Bar(symbol, self.t, self.t + FIVE_MIN - 1, open_, max(open_, close) * 1.0005,
                             min(open_, close) * 0.999, close, 1000.0))
        self.price[symbol] = close

    def step(self, *symbols: str) -> None:
        for symbol in symbols or (SYMBOL,):
            self.bar(symbol)
        self.t += FIVE_MIN

    def entries(self, symbol: str = SYMBOL) -> list[str]:
        return [o.client_order_id for o in self.journal.orders()
                if o.client_order_id.startswith("cx-e-") and o.symbol == symbol]

    def error_codes(self) -> list[str]:
        return [e["code"] for e in self.journal.errors()]

    def rise_until_entry_is_sent(self, lose: Lost, symbol: str = SYMBOL) -> str:
        self.venue.lose_next = lose
        for _ in range(40):
            self.step(symbol)
            if self.entries(symbol):
                return self.entries(symbol)[0]
        raise AssertionError("a steady rise with closes at the highs should trigger an entry")


def no_duplicates(rig: Rig) -> None:
    assert all(count == 1 for count in rig.venue.sent.values()), rig.venue.sent


def test_an_order_accepted_before_its_answer_was_lost_is_adopted_not_resent(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    entry = rig.rise_until_entry_is_sent(Lost.AFTER)
    assert rig.venue.lookups[0] == entry  # looked up by client id before anything else
    assert rig.error_codes()[-2:] == ["EXECUTION_STATUS_UNKNOWN", "ORDER_ADOPTED"]
    assert rig.pump.unresolved == {} and rig.venue.sent[entry] == 1
    rig.pump.deliver(rig.venue.late)  # the user-data stream brings the lost acknowledgement
    for _ in range(3):
        rig.step()
    position = rig.engine.portfolio.position(SYMBOL)
    assert position is not None and position.quantity > 0  # the adopted entry filled and is held
    holding = rig.engine.holdings[SYMBOL]
    open_ids = {o.list_client_id for o in rig.venue.open_orders(SYMBOL)}
    assert holding.protection_id in open_ids  # and protected
    assert rig.entries() == [entry]
    no_duplicates(rig)


def test_an_order_that_never_reached_the_exchange_is_dropped_and_never_resent(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    entry = rig.rise_until_entry_is_sent(Lost.BEFORE)
    assert rig.venue.lookups[0] == entry and rig.venue.sent[entry] == 0
    assert rig.journal.order(entry).status is OrderStatus.REJECTED  # type: ignore[union-attr]
    assert SYMBOL not in rig.engine.pending and rig.pump.unresolved == {}
    for _ in range(30):  # the signal goes on: the lost order is never sent (a new entry would be a new order)
        rig.step()
    assert rig.venue.sent[entry] == 0
    no_duplicates(rig)


def test_no_entry_goes_out_while_an_outcome_is_unknown(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.venue.failing_lookups = 1_000
    entry = rig.rise_until_entry_is_sent(Lost.AFTER)
    assert rig.pump.unresolved.keys() == {entry}
    for _ in range(40):  # the other symbol rises too: its entries are held back, not sent
        rig.step(OTHER)
    messages = " ".join(e["message"] for e in rig.journal.errors())
    assert rig.entries(OTHER) == [] and f"{OTHER}: entry held back until the outcome of {entry} is known" in messages
    assert rig.venue.sent[entry] == 1
    rig.venue.failing_lookups = 0
    rig.pump.deliver(rig.venue.late)  # a report arrives: the lookup answers, the order is adopted
    assert rig.pump.unresolved == {} and rig.error_codes().count("ORDER_ADOPTED") == 1
    for _ in range(40):
        rig.step(THIRD)
    assert len(rig.entries(THIRD)) == 1  # entries resume once the outcome is known
    no_duplicates(rig)


def test_an_oco_whose_answer_was_lost_is_adopted_and_a_missing_one_replaced_by_a_stop(tmp_path: Path) -> None:
    for lose in Lost:
        (tmp_path / lose.value).mkdir()
        rig = Rig(tmp_path / lose.value)
        rig.rise_until_entry_is_sent(Lost.AFTER)
        rig.pump.deliver(rig.venue.late)
        rig.venue.lose_next = lose  # the protection placed when the entry fills
        rig.step()
        holding = rig.engine.holdings[SYMBOL]
        open_orders = rig.venue.open_orders(SYMBOL)
        assert open_orders, "the position must be protected on the exchange"
        if lose is Lost.AFTER:
            assert holding.protection_id in {o.list_client_id for o in open_orders}
        else:
            assert [o.order_type for o in open_orders] == ["STOP_LOSS_LIMIT"]
        no_duplicates(rig)
