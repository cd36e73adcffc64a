"""The event pump: feed → exchange simulator → engine → journal (write-ahead) → exchange → engine.

For each market event the paper exchange sees it first (fills of resting orders happen at the market's
pace), then the engine decides, then every command is journaled *before* it is sent, and the reports
it produces go back to the engine until nothing is left to do. With candles, a bar is two phases: queued
market orders fill at the bar's open, protection is placed, and only then are resting orders matched
against the bar's high and low.

A request whose outcome the exchange could not tell (`ExecutionStatusUnknown`: a timeout, a 5xx, -1007) is
never resent: its order is looked up by client order id first. Found, it is adopted (its reports come as
any order's do); absent, it never reached the matching engine and is handled as refused. Until every such
lookup has answered, no entry is sent (each is refused to the engine with ENTRY_HELD_BACK): exits and
protection still go out, since they only reduce risk.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from core.engine import CancelOrder, CancelOrderList, Command, Engine, EquityPoint, Notice, PlaceOco, PlaceOrder, Record
from core.errors import ExecutorError
from core.events import Bar, Book, TradePrint
from core.exchange_port import (
    Exchange,
    ExchangeRejected,
    ExecutionReport,
    ExecutionStatusUnknown,
    SimulatedVenue,
)
from core.portfolio import ClosedTrade
from core.risk.breakers import BreakerEvent
from core.types import Decision, OrderStatus
from memory.journal import Journal, OrderNotJournaled

RecordSink = Callable[[Record], None]
CommandSink = Callable[[Command], None]
STATUS_UNKNOWN = "EXECUTION_STATUS_UNKNOWN"
ORDER_ADOPTED = "ORDER_ADOPTED"
NEVER_REACHED = "never reached the exchange (looked up by client order id after an unknown outcome)"


class EntryHeldBack(ExecutorError):
    """An entry not sent because an earlier order's outcome is still unknown (its lookup has not answered)."""

    code = "ENTRY_HELD_BACK"

    def __init__(self, symbol: str, unresolved: list[str]) -> None:
        super().__init__(f"{symbol}: entry held back until the outcome of {', '.join(unresolved)} is known "
                         "(looked up by client order id)", symbol=symbol, unresolved=unresolved)


class Pump:
    def __init__(self, engine: Engine, exchange: Exchange, journal: Journal,
                 on_record: RecordSink | None = None, on_placed: CommandSink | None = None,
                 before_send: Callable[[], None] | None = None) -> None:
        """`on_placed` is told of every order the exchange holds (accepted now, or found already there).
        `before_send` is called before each order intent for a remote exchange is journaled: the runner saves the
        engine's checkpoint there, so the durable intent commits together with the engine state that decided it
        and a crash right after the send restarts from an engine that knows the order."""
        self.before_send = before_send
        self.engine = engine
        self.exchange = exchange
        self.journal = journal
        self.on_record = on_record
        self.on_placed = on_placed
        self.bars = 0
        self.orders_sent = 0
        self.trades_closed = 0
        self.rejections = 0
        self.reports_seen = 0
        # Commands whose outcome the exchange could not tell, by the client id they are looked up by.
        self.unresolved: dict[str, Command] = {}
        # A simulated venue matches on the market data it is shown; a real exchange matches on its own.
        simulated = isinstance(exchange, SimulatedVenue)
        self._on_bar = exchange.on_bar if simulated else None
        self._on_book = exchange.on_book if simulated else None
        self._on_trade = exchange.on_trade if simulated else None
        # Bound once: handle() passes and calls these for every bar of a replay.
        self._deliver_bound = self._deliver
        self._engine_bar = engine.on_bar

    def handle(self, event: object) -> None:
        engine = self.engine
        kind = type(event)
        if kind is Bar:  # the hot path of a replay: the engine's bar handler directly, no dispatch
            self.bars += 1
            if self._on_bar is not None:
                self._on_bar(event, self._deliver_bound)
            self._engine_bar(event)  # type: ignore[arg-type]
        else:
            if kind is Book and self._on_book is not None:
                reports = self._on_book(event)
                if reports:
                    self._deliver(reports)
            elif kind is TradePrint and self._on_trade is not None:
                reports = self._on_trade(event)
                if reports:
                    self._deliver(reports)
            engine.on_market(event)
        if engine.commands or engine.records:
            self.flush()

    def deliver(self, reports: list[ExecutionReport]) -> None:
        """Reports that arrive on their own (a live user-data stream, reconciliation)."""
        self._deliver(reports)
        if self.unresolved:
            self.resolve_unknown()

    def _deliver(self, reports: list[ExecutionReport]) -> None:
        journal = self.journal
        self.reports_seen += len(reports)
        for report in reports:
            try:
                journal.update_order(report.client_order_id, status=report.status, executed_qty=report.executed_qty,
                                     cum_quote=report.cum_quote, time_ms=report.time_ms, reason=report.reject_reason)
            except OrderNotJournaled:
                # Not ours (placed by hand on the exchange, or by another tool): shown to a person, never
                # applied to the engine's books. Start-up reconciliation compares balances. A notice: journaled as
                # FOREIGN_ORDER and alerted as an error.
                self._journal_record(Notice(report.time_ms, "foreign_order", report.symbol,
                                            f"{report.symbol} order {report.client_order_id} is not in the journal: "
                                            f"{report.side} {report.order_type} {report.status}"))
                continue
            if report.fill is not None:
                journal.record_fill(report.fill, position_id=self._position_of(report))
            self.engine.on_report(report)
        self.flush()

    def _position_of(self, report: ExecutionReport) -> str | None:
        pending = self.engine.pending.get(report.symbol)
        if pending is not None and pending.client_order_id == report.client_order_id:
            return pending.position_id
        holding = self.engine.holdings.get(report.symbol)
        return holding.position_id if holding is not None else None

    def flush(self) -> None:
        """Journal the engine's records, then journal-and-send its commands, until both are empty."""
        engine = self.engine
        while engine.records or engine.commands:
            if engine.records:
                records, engine.records = engine.records, []
                for record in records:
                    self._journal_record(record)
            if engine.commands:
                commands, engine.commands = engine.commands, []
                for command in commands:
                    self._send(command)

    def _send(self, command: Command) -> None:
        journal, exchange, now = self.journal, self.exchange, command.time_ms
        if self.unresolved and isinstance(command, PlaceOrder) and command.purpose == "entry":
            self.resolve_unknown()
            if self.unresolved:
                self.engine.on_rejected(command, EntryHeldBack(command.order.symbol, sorted(self.unresolved)))
                self.flush()
                return
        try:
            if exchange.remote and self.before_send is not None and isinstance(command, (PlaceOrder, PlaceOco)):
                self.before_send()
            if isinstance(command, PlaceOrder):
                order = command.order
                fresh = journal.record_order_intent(order, time_ms=now, strategy=command.strategy,
                                                    position_id=command.position_id, reason=command.reason,
                                                    durable=exchange.remote)
                if not fresh and exchange.get_order(order.symbol, order.client_order_id) is not None:
                    self._placed(command)
                    return  # the exchange already has it: never send the same order twice
                reports = exchange.place_order(order, now)
                self.orders_sent += 1
            elif isinstance(command, PlaceOco):
                oco = command.oco
                fresh = journal.record_order_intent(oco, time_ms=now, strategy=None,
                                                    position_id=command.position_id, reason=command.reason,
                                                    durable=exchange.remote)
                if not fresh and exchange.get_order(oco.symbol, oco.stop_client_id) is not None:
                    self._placed(command)
                    return
                stop = command.stop_price if command.stop_price is not None else oco.stop_price
                if command.entry_client_order_id is not None and stop is not None:
                    journal.record_protection_prices(oco.symbol, command.entry_client_order_id,
                                                     oco.take_profit_price, stop)
                reports = exchange.place_oco(oco, now)
                self.orders_sent += 2
            else:
                reports = self._cancel(command)
        except ExchangeRejected as exc:
            self.rejections += 1
            self._mark_rejected(command, exc)
            # A refused cancel matters too: an exit waiting for it must not sell what the order may have sold.
            self.engine.on_rejected(command, exc)
            self.flush()
            return
        except ExecutionStatusUnknown as exc:
            self.journal.record_error(now, STATUS_UNKNOWN, exc.message, {"symbol": exc.symbol,
                                                                         "client_order_id": exc.client_order_id})
            self.unresolved[_lookup_id(command)] = command
            self.resolve_unknown()
            return
        if not isinstance(command, (CancelOrder, CancelOrderList)):
            self._placed(command)
        if reports:
            self._deliver(reports)

    def resolve_unknown(self) -> None:
        """Look up every order whose outcome is unknown, by client order id, before anything else is decided.

        Found: adopted, as if the exchange had answered (its reports follow as any order's). Absent: it never
        reached the matching engine, and the engine is told it was refused. A cancel whose outcome is unknown
        is handled as a refused cancel either way: an exit waiting for it waits for that order's reports. A
        lookup that fails leaves the order unresolved, to be looked up again before the next entry."""
        for client_id, command in list(self.unresolved.items()):
            symbol = _symbol_of(command)
            try:
                view = self.exchange.get_order(symbol, client_id)
            except ExecutionStatusUnknown:
                continue
            del self.unresolved[client_id]
            now = command.time_ms
            if isinstance(command, (CancelOrder, CancelOrderList)):
                self.engine.on_rejected(command, ExecutionStatusUnknown("cancel outcome unknown", symbol=symbol,
                                                                        client_order_id=client_id))
            elif view is not None:
                self.journal.record_error(now, ORDER_ADOPTED, f"{symbol} {client_id}: found on the exchange "
                                          f"({view.status}) after an unknown outcome; adopted, not resent",
                                          {"symbol": symbol, "client_order_id": client_id})
                self._placed(command)
            else:
                refused = ExecutionStatusUnknown(NEVER_REACHED, symbol=symbol, client_order_id=client_id)
                self._mark_rejected(command, refused)
                self.engine.on_rejected(command, refused)
        self.flush()

    def _placed(self, command: Command) -> None:
        if self.on_placed is not None:
            self.on_placed(command)

    def _cancel(self, command: CancelOrderList | CancelOrder) -> list[ExecutionReport]:
        if isinstance(command, CancelOrder):
            return self.exchange.cancel_order(command.symbol, command.client_order_id, command.time_ms)
        return self.exchange.cancel_order_list(command.symbol, command.list_client_id, command.time_ms)

    def _mark_rejected(self, command: Command, exc: ExchangeRejected) -> None:
        now = command.time_ms
        if isinstance(command, PlaceOrder):
            ids = [command.order.client_order_id]
        elif isinstance(command, PlaceOco):
            ids = [command.oco.take_profit_client_id, command.oco.stop_client_id]
        else:
            ids = []
        for client_id in ids:
            self.journal.update_order(client_id, status=OrderStatus.REJECTED, executed_qty=Decimal(0),
                                      cum_quote=Decimal(0), time_ms=now, reason=exc.message)

    def _journal_record(self, record: Record) -> None:
        journal = self.journal
        if isinstance(record, Decision):
            journal.record_decision(record)
        elif isinstance(record, BreakerEvent):
            journal.record_breaker_event(record.time_ms, record.breaker, record.transition, str(record.level),
                                         record.value_pct, record.limit_pct, record.message)
        elif isinstance(record, EquityPoint):
            journal.record_equity(record.time_ms, record.equity, record.cash, record.exposure)
        elif isinstance(record, ClosedTrade):
            self.trades_closed += 1
        elif isinstance(record, Notice):
            journal.record_error(record.time_ms, record.kind.upper(), record.message,
                                 {"symbol": record.symbol} if record.symbol else {})
        if self.on_record is not None:
            self.on_record(record)


def _symbol_of(command: Command) -> str:
    if isinstance(command, PlaceOrder):
        return command.order.symbol
    if isinstance(command, PlaceOco):
        return command.oco.symbol
    return command.symbol


def _lookup_id(command: Command) -> str:
    """The client id an order of `command` is looked up by (an OCO by its stop leg, as the pump's resend check)."""
    if isinstance(command, PlaceOrder):
        return command.order.client_order_id
    if isinstance(command, PlaceOco):
        return command.oco.stop_client_id
    if isinstance(command, CancelOrder):
        return command.client_order_id
    return command.list_client_id
