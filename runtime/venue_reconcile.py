"""Start-up against a real exchange (testnet/live): the journal, the engine and the Binance account agree before
anything trades (Invariant 5).

The checkpoint keeps no venue state for a real account: the account is the truth, and the engine's view is
brought to it here, in this order:

1. Our `cx-` orders open on the exchange that the journal does not know (a journal restored from a backup,
   another home on the same account) are adopted: journaled as found, so their reports are ours again.
2. The trades the journal has not seen (`myTrades` after the last journaled trade id, per symbol) are
   delivered as the user-data stream would have (fills are deduplicated by trade id).
3. Every order the journal does not know to be finished takes its state on the exchange; one the exchange never
   received (a crash between journaling and sending) is closed as refused, so the engine stops waiting for it.
   In bulk (1,000 orders in well under a second, where one query each took ~6.5 s): per symbol with six open
   journal orders or more, the order history since the oldest of them (`allOrders`, fetched with step 2's trades)
   decides orders by client id; absence counts only where that history proves it; the rest are looked up by
   client order id.
4. Balances: each asset the engine counts (the quote asset and the universe's base assets) is compared with
   the account's; a difference is reported (journaled and in the report), never silently adopted.
5. Every held position gets working protection (or is closed) before the first entry.

`settle` (steps 2 and 3) and `balance_differences` are also what the running link (`runtime.venue_link`)
does after a user-stream gap and on its periodic reconciliation.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import Protocol, runtime_checkable

from core.engine import Engine
from core.exchange_port import CatchUp, Exchange, ExecutionReport, ExecutionType, OrderHistory, OrderView
from core.types import OrderRequest, OrderStatus, OrderType, TimeInForce
from memory.journal import Journal
from memory.rows import OrderRow
from runtime.home import Home
from runtime.pump import Pump
from runtime.reconcile import CLIENT_ID_PREFIX, NEVER_SENT, ensure_protected
from runtime.state import engage_recorded_kill

ZERO = Decimal(0)
# How far a journaled decision time may be from when its order reached the exchange, beyond the clock offset the
# adapter measured (that offset's own error, a slow send): an absent order is conclusive only this far inside the
# span its history covers (`OrderHistory.proves_never_sent`).
CLOCK_SLACK_MS = 5_000
# allOrders weighs 20 and a lookup by client id 4 (rest-api.md): a symbol's open journal orders are listed in bulk
# from six on.
BULK_FROM_ORDERS = 6
ADOPTED = "adopted at start-up: open on the exchange, unknown to the journal"
_END_TYPES = {OrderStatus.CANCELED: ExecutionType.CANCELED, OrderStatus.REJECTED: ExecutionType.REJECTED,
              OrderStatus.EXPIRED: ExecutionType.EXPIRED, OrderStatus.EXPIRED_IN_MATCH: ExecutionType.EXPIRED}


class NoteKind(StrEnum):
    """The journal error kinds this reconciliation writes (what a person reads in `status` and alerts)."""

    ORDER_ADOPTED = "ORDER_ADOPTED"
    BALANCE_DIFFERENCE = "BALANCE_DIFFERENCE"


@runtime_checkable
class RemoteVenue(Exchange, Protocol):
    """A real exchange whose missed trades can be fetched (`BinanceExchange.catch_up`)."""

    def catch_up(self, symbol: str, after_trade_id: int | None, since_ms: int | None = None) -> CatchUp: ...

    def order_history(self, symbol: str, since_ms: int) -> OrderHistory: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ResolvedOrder:
    client_order_id: str
    symbol: str
    journal_status: OrderStatus
    exchange_status: OrderStatus | None  # None: the exchange never received it


@dataclass(frozen=True, slots=True)
class BalanceDifference:
    asset: str
    engine: Decimal
    exchange: Decimal


@dataclass(slots=True)
class Settlement:
    """What `settle` found: trades caught up and journal orders whose state moved."""

    fills: int = 0
    resolved: list[ResolvedOrder] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class VenueReconciliation:
    """The start-up reconciliation's findings, each kind on its own."""

    adopted: tuple[str, ...]
    fills_caught_up: int
    resolved: tuple[ResolvedOrder, ...]
    balance_differences: tuple[BalanceDifference, ...]
    reprotected: tuple[str, ...]

    def notes(self) -> list[str]:
        """One line per finding, for a person (the run's warnings)."""
        lines = [f"{client_id}: {ADOPTED}" for client_id in self.adopted]
        if self.fills_caught_up:
            lines.append(f"{self.fills_caught_up} trade(s) caught up from the exchange")
        lines += [f"{r.client_order_id} {r.symbol}: journal {r.journal_status} → "
                  f"{'never reached the exchange' if r.exchange_status is None else f'exchange {r.exchange_status}'}"
                  for r in self.resolved]
        lines += [describe_difference(d) for d in self.balance_differences]
        lines += [f"{symbol}: no working exit order, protection placed again" for symbol in self.reprotected]
        return lines


def reconcile_with_venue(home: Home, journal: Journal, pump: Pump, exchange: RemoteVenue,
                         now_ms: int) -> VenueReconciliation:
    """Steps 1 to 5 of the module docstring, then a recorded kill engaged; everything the engine decides is sent
    (protection first: no entry can be decided before the market's first event)."""
    engine = pump.engine
    adopted = adopt_unknown_orders(journal, exchange, now_ms)
    settlement = settle(journal, pump, exchange, engine.symbols, now_ms)
    differences = balance_differences(engine, exchange)
    for difference in differences:
        journal.record_error(now_ms, NoteKind.BALANCE_DIFFERENCE, describe_difference(difference),
                             {"asset": difference.asset, "engine": format(difference.engine, "f"),
                              "exchange": format(difference.exchange, "f")})
    reprotect_lines = ensure_protected(engine, exchange)
    engage_recorded_kill(home, journal, engine)
    pump.flush()
    return VenueReconciliation(adopted=tuple(adopted), fills_caught_up=settlement.fills,
                               resolved=tuple(settlement.resolved), balance_differences=tuple(differences),
                               reprotected=tuple(line.split(":", 1)[0] for line in reprotect_lines))


def adopt_unknown_orders(journal: Journal, exchange: Exchange, now_ms: int) -> list[str]:
    """Journal every open `cx-` order of the account the journal does not know; returns their client ids.
    Orders without our prefix belong to someone else (the Binance app, another tool) and are left alone."""
    adopted: list[str] = []
    for view in exchange.open_orders():
        if not view.client_order_id.startswith(CLIENT_ID_PREFIX) or journal.order(view.client_order_id) is not None:
            continue
        journal.record_order_intent(_request_of(view), time_ms=view.time_ms or now_ms, strategy=None,
                                    position_id=None, reason=ADOPTED)
        journal.update_order(view.client_order_id, status=view.status, executed_qty=view.executed_qty,
                             cum_quote=view.cum_quote, time_ms=now_ms, reason=ADOPTED)
        journal.record_error(now_ms, NoteKind.ORDER_ADOPTED, f"{view.symbol} {view.client_order_id}: {ADOPTED}",
                             {"symbol": view.symbol, "client_order_id": view.client_order_id})
        adopted.append(view.client_order_id)
    return adopted


def settle(journal: Journal, pump: Pump, exchange: RemoteVenue, symbols: list[str], now_ms: int) -> Settlement:
    """The trades the journal has not seen, then the exchange's state of every order the journal holds open,
    delivered to the engine through the pump.

    In bulk: per symbol with `BULK_FROM_ORDERS` open journal orders or more, one `myTrades` page and the order
    history since the oldest of them (`allOrders`, listed after the trades) decide most orders by client id at
    once. An order absent from the history is taken as never sent only where the history proves it
    (`OrderHistory.proves_never_sent`); the rest, and any order the history shows behind the journal, are looked
    up: by the symbol's open orders when several remain, then one by one."""
    settlement = Settlement()
    open_before = journal.open_orders()
    oldest = _oldest_open(open_before)
    histories: dict[str, OrderHistory] = {}
    open_symbols = {row.symbol for row in open_before}
    for symbol in symbols:
        last = journal.last_trade_id(symbol)
        if last is None and symbol not in open_symbols:
            continue  # no trade of ours yet and no order that could have traded: nothing of ours to catch up
        since = oldest.get(symbol)
        caught = exchange.catch_up(symbol, last, None if since is None else since - CLOCK_SLACK_MS)
        if caught.history is not None:
            histories[symbol] = caught.history
        reports = in_sequence(caught.reports)
        if reports:
            settlement.fills += len(reports)
            pump.deliver(reports)
    for symbol in sorted(set(oldest) - set(symbols)):  # open orders of a symbol the engine no longer trades
        histories[symbol] = exchange.order_history(symbol, oldest[symbol] - CLOCK_SLACK_MS)
    undecided: dict[str, list[OrderRow]] = defaultdict(list)
    for row in journal.open_orders():
        history = histories.get(row.symbol)
        view = None if history is None else history.views.get(row.client_order_id)
        if view is not None and view.executed_qty >= row.executed_qty:
            _settle_one(settlement, pump, row, view, now_ms)
        elif history is not None and history.proves_never_sent(row.client_order_id, row.time_ms, CLOCK_SLACK_MS):
            _settle_one(settlement, pump, row, None, now_ms)
        else:
            undecided[row.symbol].append(row)
    for symbol, rows in undecided.items():
        listed = {v.client_order_id: v for v in exchange.open_orders(symbol)} if len(rows) > 1 else {}
        for row in rows:
            view = listed.get(row.client_order_id) or exchange.get_order(row.symbol, row.client_order_id)
            _settle_one(settlement, pump, row, view, now_ms)
    return settlement


def _oldest_open(rows: list[OrderRow]) -> dict[str, int]:
    """Per symbol worth a bulk listing (more than `BULK_FROM_ORDERS` open journal orders), the decision time of
    its oldest open journal order. Fewer are cheaper looked up one by one: a listing weighs as much as five lookups
    (the running link's periodic settlement, with two OCO legs a position, stays at two lookups a symbol)."""
    oldest: dict[str, int] = {}
    count: dict[str, int] = defaultdict(int)
    for row in rows:
        oldest[row.symbol] = min(row.time_ms, oldest.get(row.symbol, row.time_ms))
        count[row.symbol] += 1
    return {symbol: ms for symbol, ms in oldest.items() if count[symbol] >= BULK_FROM_ORDERS}


def _settle_one(settlement: Settlement, pump: Pump, row: OrderRow, view: OrderView | None, now_ms: int) -> None:
    """One journal order against the exchange's view of it (None: the exchange never received it)."""
    if view is None:
        settlement.resolved.append(ResolvedOrder(row.client_order_id, row.symbol, row.status, None))
        pump.deliver([never_sent_report(row, now_ms)])
    elif view.status != row.status or view.executed_qty != row.executed_qty:
        if view.list_client_id is None and row.list_client_id is not None:
            view = replace(view, list_client_id=row.list_client_id)  # a list the adapter has not named: ours
        settlement.resolved.append(ResolvedOrder(row.client_order_id, row.symbol, row.status, view.status))
        pump.deliver([status_report(view, now_ms)])


def in_sequence(reports: list[ExecutionReport]) -> list[ExecutionReport]:
    """Caught-up trades carry their order's state as of the lookup: every trade of an order but its last is
    made a partial fill with the executed quantity so far, so an entry is protected once, for all it bought."""
    by_order: dict[str, list[int]] = defaultdict(list)
    for index, report in enumerate(reports):
        by_order[report.client_order_id].append(index)
    out = list(reports)
    for indexes in by_order.values():
        executed, quote = ZERO, ZERO
        for index in indexes:
            report = reports[index]
            if report.fill is not None:
                executed += report.fill.quantity
                quote += report.fill.quantity * report.fill.price
            if index != indexes[-1]:
                out[index] = replace(report, status=OrderStatus.PARTIALLY_FILLED, executed_qty=executed,
                                     cum_quote=quote)
    return out


def status_report(view: OrderView, now_ms: int) -> ExecutionReport:
    """An order's state found by a lookup, as a report without a fill (its fills come from `myTrades`)."""
    return ExecutionReport(
        client_order_id=view.client_order_id, symbol=view.symbol, side=view.side, order_type=view.order_type,
        status=view.status, price=view.price, stop_price=view.stop_price, orig_qty=view.orig_qty,
        executed_qty=view.executed_qty, cum_quote=view.cum_quote, time_ms=now_ms,
        list_client_id=view.list_client_id, order_id=view.order_id,
        execution_type=_END_TYPES.get(view.status, ExecutionType.NEW), trailing_delta=view.trailing_delta,
        trailing_time_ms=view.trailing_time_ms)


def never_sent_report(row: OrderRow, now_ms: int) -> ExecutionReport:
    """A journaled order the exchange does not know: it never reached the matching engine; it is closed as
    EXPIRED with that reason, and the engine stops waiting for it (an entry is dropped, a protection replaced)."""
    return ExecutionReport(
        client_order_id=row.client_order_id, symbol=row.symbol, side=row.side, order_type=row.type,
        status=OrderStatus.EXPIRED, price=row.price, stop_price=row.stop_price, orig_qty=row.quantity or ZERO,
        executed_qty=ZERO, cum_quote=ZERO, time_ms=now_ms, list_client_id=row.list_client_id,
        reject_reason=NEVER_SENT, execution_type=ExecutionType.EXPIRED)


def balance_differences(engine: Engine, exchange: Exchange) -> list[BalanceDifference]:
    """The assets the engine counts (its quote asset and its symbols' base assets) whose amount differs from the
    account's free + locked. Other assets of the account are not the engine's business."""
    held = engine.portfolio.balances()
    assets = {engine.portfolio.quote_asset} | {engine.rules[s].base_asset for s in engine.symbols}
    on_exchange = {asset: free + locked for asset, (free, locked) in exchange.balances().items()}
    return [BalanceDifference(asset, held.get(asset, ZERO), on_exchange.get(asset, ZERO)) for asset in sorted(assets)
            if held.get(asset, ZERO) != on_exchange.get(asset, ZERO)]


def describe_difference(difference: BalanceDifference) -> str:
    return (f"{difference.asset}: the engine counts {format(difference.engine, 'f')}, the account holds "
            f"{format(difference.exchange, 'f')} (reported, not adopted)")


def _request_of(view: OrderView) -> OrderRequest:
    """The order as it would have been sent, rebuilt from the exchange's view of it (for the journal)."""
    tif = TimeInForce.GTC if view.order_type in (OrderType.LIMIT, OrderType.STOP_LOSS_LIMIT) else None
    market = view.order_type is OrderType.MARKET
    return OrderRequest(client_order_id=view.client_order_id, symbol=view.symbol, side=view.side,
                        type=view.order_type, quantity=view.orig_qty, price=None if market else view.price,
                        stop_price=view.stop_price if view.order_type is OrderType.STOP_LOSS_LIMIT else None,
                        time_in_force=tif,
                        trailing_delta=view.trailing_delta if view.order_type is OrderType.STOP_LOSS_LIMIT else None)
