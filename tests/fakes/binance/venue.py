"""The account behind the fake Binance: the paper simulator plus what Binance adds around it.

`PaperExchange` decides every match, fill, fee and rejection (so the fake and paper trading share one set of
semantics). This layer keeps what the wire needs and the simulator does not: order ids and times for queries,
the client's own client order ids (the simulator accepts only `cx-` ids, so any other id is mapped to an
alias), the trade history for `myTrades`, OCO list states, and the user-data events of every change.

The simulator already words outcomes as Binance does (the leg of an OCO closed because its sibling executed or
triggered is EXPIRED; a leg cancelled by a cancel request is CANCELED), so reports go on the wire as they are.

Thread-safe: the server's event loop and a test's driver calls share one lock.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from core.events import Book, TradePrint
from core.exchange_port import ExchangeRejected, ExecutionReport, ExecutionType
from core.filters import SymbolRules
from core.types import OcoRequest, OrderRequest, OrderType, Side, TimeInForce
from exchange.paper import PaperExchange
from tests.fakes.binance.errors import BinanceError, Code, illegal_chars, mandatory, no_such_order, not_required
from tests.fakes.binance.params import Params
from tests.fakes.binance.render import num

Event = dict[str, Any]
Listener = Callable[[Event], None]

# Binance's rule for client order ids (newClientOrderId, listClientOrderId, ...).
_WIRE_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
# Ids the simulator takes as they are; `cx-::` is kept for aliases, so no client id can collide with one.
_SIM_ID = re.compile(r"^cx-[.A-Za-z0-9:/_-]{1,33}$")
_ALIAS_PREFIX = "cx-::"
_SIM_LIST_ID_MAX = 33  # a longer list id would truncate its legs' `-tp`/`-sl` ids into one
_NO_LIST = -1
DAY_MS = 86_400_000
_PARAM_NAMES = {"quantity": "quantity", "quote_order_qty": "quoteOrderQty", "price": "price",
                "stop_price": "stopPrice", "client_order_id": "newClientOrderId", "trailing_delta": "trailingDelta"}


def not_simulated(what: str) -> BinanceError:
    return BinanceError(Code.NEW_ORDER_REJECTED, f"{what} is not simulated by the fake Binance (tests.fakes.binance).")


@dataclass(slots=True)
class OrderRecord:
    order_id: int
    wire_id: str
    sim_id: str
    symbol: str
    time_in_force: TimeInForce | None
    quote_order_qty: Decimal | None
    created_ms: int
    list_id: int
    last: ExecutionReport
    updated_ms: int
    working_ms: int


@dataclass(slots=True)
class ListRecord:
    list_id: int
    wire_id: str
    sim_id: str
    symbol: str
    order_ids: tuple[int, ...]
    created_ms: int
    done: bool = False


@dataclass(frozen=True, slots=True)
class TradeRecord:
    trade_id: int
    order_id: int
    list_id: int
    symbol: str
    side: Side
    price: Decimal
    quantity: Decimal
    commission: Decimal
    commission_asset: str
    time_ms: int
    is_maker: bool


class Venue:
    def __init__(self, rules: Mapping[str, SymbolRules], balances: Mapping[str, Decimal], *,
                 fee_rate: Decimal = Decimal("0.001")) -> None:
        self.rules = dict(rules)
        self.fee_rate = fee_rate
        self.lock = threading.RLock()
        self._paper = PaperExchange(self.rules, balances, fee_rate=fee_rate)
        self._orders: dict[int, OrderRecord] = {}
        self._lists: dict[int, ListRecord] = {}
        self._latest: dict[tuple[str, str], int] = {}  # (symbol, wire client id) -> latest order id
        self._latest_list: dict[tuple[str, str], int] = {}
        self._trades: list[TradeRecord] = []
        self._aliases = itertools.count(1)
        self._generated = itertools.count(1)
        self._list_ids = itertools.count(1)
        self._listeners: list[Listener] = []
        self.update_ms = 0

    @property
    def orders_placed(self) -> int:
        """Every order the account ever took (OCO legs each count), open or not."""
        return len(self._orders)

    # ----- listeners (user data) --------------------------------------------------------------------

    def listen(self, listener: Listener) -> None:
        with self.lock:
            self._listeners.append(listener)

    def unlisten(self, listener: Listener) -> None:
        with self.lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _emit(self, events: Iterable[Event]) -> None:
        for event in events:
            for listener in list(self._listeners):
                listener(event)

    # ----- trading -----------------------------------------------------------------------------------

    def place_order(self, p: Params, now_ms: int) -> tuple[list[ExecutionReport], OrderRecord]:
        symbol = p.required("symbol")
        side = p.required_enum("side", Side)
        order_type = self._order_type(p.required("type"))
        tif = p.enum("timeInForce", TimeInForce)
        quantity, quote_qty = p.decimal("quantity"), p.decimal("quoteOrderQty")
        price, stop_price = p.decimal("price"), p.decimal("stopPrice")
        trailing_delta = p.integer("trailingDelta")
        if p.text("icebergQty") is not None:
            raise not_simulated("An iceberg order (icebergQty)")
        _check_shape(order_type, tif=tif, quantity=quantity, quote_qty=quote_qty, price=price, stop_price=stop_price,
                     trailing_delta=trailing_delta)
        with self.lock:
            wire = self._new_wire_id(p.text("newClientOrderId"), "newClientOrderId")
            self._refuse_duplicate(symbol, wire)
            sim = wire if _SIM_ID.match(wire) and not wire.startswith(_ALIAS_PREFIX) else self._alias()
            try:
                request = OrderRequest(client_order_id=sim, symbol=symbol, side=side, type=order_type,
                                       quantity=quantity, quote_order_qty=quote_qty, price=price,
                                       stop_price=stop_price, time_in_force=tif, trailing_delta=trailing_delta)
            except ValidationError as invalid:
                raise _malformed(invalid) from None
            before = self._paper.balances()
            reports = self._sim(lambda: self._paper.place_order(request, now_ms))
            first = reports[0]
            order = OrderRecord(order_id=first.order_id, wire_id=wire, sim_id=sim, symbol=symbol, time_in_force=tif,
                           quote_order_qty=quote_qty, created_ms=now_ms, list_id=_NO_LIST, last=first,
                           updated_ms=now_ms, working_ms=now_ms)
            self._orders[order.order_id] = order
            self._latest[(symbol, wire)] = order.order_id
            self._after(reports, before, now_ms)
            return reports, order

    def place_oco(self, p: Params, now_ms: int) -> tuple[list[ExecutionReport], ListRecord]:
        symbol = p.required("symbol")
        side = p.required_enum("side", Side)
        quantity = p.decimal("quantity")
        above, below = self._order_type(p.required("aboveType")), self._order_type(p.required("belowType"))
        if side is not Side.SELL:
            raise not_simulated("A BUY OCO")
        if (above, below) != (OrderType.LIMIT_MAKER, OrderType.STOP_LOSS_LIMIT):
            raise not_simulated(f"An OCO of aboveType {above} and belowType {below} (only LIMIT_MAKER over "
                                "STOP_LOSS_LIMIT)")
        for name in ("aboveTimeInForce", "aboveStopPrice", "aboveTrailingDelta"):  # a LIMIT_MAKER takes none
            if p.text(name) is not None:
                raise not_required(name)
        take_profit, stop, stop_limit = p.decimal("abovePrice"), p.decimal("belowStopPrice"), p.decimal("belowPrice")
        below_delta = p.integer("belowTrailingDelta")
        below_tif = p.enum("belowTimeInForce", TimeInForce)
        # Binance: "Either belowStopPrice or belowTrailingDelta or both, must be specified."
        for name, value in (("quantity", quantity), ("abovePrice", take_profit),
                            ("belowStopPrice", stop if below_delta is None else below_delta),
                            ("belowPrice", stop_limit), ("belowTimeInForce", below_tif)):
            if value is None:
                raise mandatory(name)
        if below_tif is not TimeInForce.GTC:
            raise not_simulated(f"An OCO stop leg with belowTimeInForce {below_tif}")
        assert quantity is not None and take_profit is not None and stop_limit is not None
        with self.lock:
            wire_list = self._new_wire_id(p.text("listClientOrderId"), "listClientOrderId")
            previous = self._latest_list.get((symbol, wire_list))
            if previous is not None and not self._lists[previous].done:
                raise BinanceError(Code.NEW_ORDER_REJECTED, "Duplicate order sent.")
            plain = _SIM_ID.match(wire_list) and not wire_list.startswith(_ALIAS_PREFIX) \
                and len(wire_list) <= _SIM_LIST_ID_MAX
            sim_list = wire_list if plain else self._alias()
            try:
                oco = OcoRequest(list_client_id=sim_list, symbol=symbol, quantity=quantity,
                                 take_profit_price=take_profit, stop_price=stop, stop_limit_price=stop_limit,
                                 trailing_delta=below_delta)
            except ValidationError:
                raise BinanceError(Code.NEW_ORDER_REJECTED,
                                   "The relationship of the prices for the orders is not correct.") from None
            wire_tp = self._leg_wire_id(p.text("aboveClientOrderId"), "aboveClientOrderId",
                                        oco.take_profit_client_id if plain else None)
            wire_sl = self._leg_wire_id(p.text("belowClientOrderId"), "belowClientOrderId",
                                        oco.stop_client_id if plain else None)
            if wire_tp == wire_sl:
                raise BinanceError(Code.NEW_ORDER_REJECTED, "Duplicate order sent.")
            for wire in (wire_tp, wire_sl):
                self._refuse_duplicate(symbol, wire)
            before = self._paper.balances()
            reports = self._sim(lambda: self._paper.place_oco(oco, now_ms))
            stop_report, tp_report = reports[0], reports[1]  # the simulator lists the stop leg first, as Binance
            list_id = next(self._list_ids)
            order_list = ListRecord(list_id=list_id, wire_id=wire_list, sim_id=sim_list, symbol=symbol,
                               order_ids=(stop_report.order_id, tp_report.order_id), created_ms=now_ms)
            self._lists[list_id] = order_list
            self._latest_list[(symbol, wire_list)] = list_id
            for report, wire, tif in ((stop_report, wire_sl, TimeInForce.GTC), (tp_report, wire_tp, None)):
                self._orders[report.order_id] = OrderRecord(
                    order_id=report.order_id, wire_id=wire, sim_id=report.client_order_id, symbol=symbol,
                    time_in_force=tif, quote_order_qty=None, created_ms=now_ms, list_id=list_id, last=report,
                    updated_ms=now_ms, working_ms=now_ms)
                self._latest[(symbol, wire)] = report.order_id
            self._emit([self.list_status(order_list, now_ms, started=True)])
            self._after(reports, before, now_ms)
            return reports, order_list

    def cancel_order(self, p: Params, now_ms: int) -> tuple[OrderRecord, list[ExecutionReport]]:
        symbol = p.required("symbol")
        with self.lock:
            order = self._find(symbol, p)
            latest = order is not None and self._latest.get((symbol, order.wire_id)) == order.order_id
            if order is None or not latest or order.last.status.is_final:
                raise BinanceError(Code.CANCEL_REJECTED, "Unknown order sent.")
            before = self._paper.balances()
            reports = self._sim(lambda: self._paper.cancel_order(symbol, order.sim_id, now_ms))
            self._after(reports, before, now_ms)
            return order, reports

    def cancel_order_list(self, p: Params, now_ms: int) -> tuple[ListRecord, list[ExecutionReport]]:
        symbol = p.required("symbol")
        list_id, wire = p.integer("orderListId"), p.text("listClientOrderId")
        with self.lock:
            if list_id is None and wire is None:
                raise mandatory("orderListId")
            if list_id is None:
                assert wire is not None
                list_id = self._latest_list.get((symbol, wire))
            order_list = self._lists.get(list_id) if list_id is not None else None
            if order_list is None or order_list.symbol != symbol or order_list.done or (
                    wire is not None and order_list.wire_id != wire):
                raise BinanceError(Code.CANCEL_REJECTED, "Unknown order list sent.")
            before = self._paper.balances()
            reports = self._sim(lambda: self._paper.cancel_order_list(symbol, order_list.sim_id, now_ms))
            self._after(reports, before, now_ms)
            return order_list, reports

    def query_order_list(self, p: Params) -> ListRecord:
        """`GET /api/v3/orderList`: by orderListId, or by origClientOrderId (the list's client id; any symbol)."""
        list_id, wire = p.integer("orderListId"), p.text("origClientOrderId")
        with self.lock:
            if list_id is None and wire is None:
                raise mandatory("orderListId")
            if list_id is None:
                found = [i for (_, w), i in self._latest_list.items() if w == wire]
                list_id = max(found) if found else None
            order_list = self._lists.get(list_id) if list_id is not None else None
            if order_list is None:
                raise BinanceError(Code.NO_SUCH_ORDER, "Order list does not exist.")
            return order_list

    def open_order_lists(self) -> list[ListRecord]:
        """`GET /api/v3/openOrderList`: every order list still executing."""
        with self.lock:
            return [self._lists[i] for i in sorted(self._lists) if not self._lists[i].done]

    def query_order(self, p: Params) -> OrderRecord:
        symbol = p.required("symbol")
        with self.lock:
            self._known(symbol)
            order = self._find(symbol, p)
            if order is None:
                raise no_such_order()
            return order

    def ledger(self) -> list[OrderRecord]:
        """Every order the venue ever accepted, in the order it accepted them (the test's ground truth)."""
        with self.lock:
            return [self._orders[i] for i in sorted(self._orders)]

    def open_orders(self, symbol: str | None) -> list[OrderRecord]:
        with self.lock:
            if symbol is not None:
                self._known(symbol)
            views = self._paper.open_orders(symbol)
            return [self._orders[v.order_id] for v in views]

    def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        with self.lock:
            return self._paper.balances()

    def my_trades(self, p: Params) -> list[TradeRecord]:
        symbol = p.required("symbol")
        order_id, from_id = p.integer("orderId"), p.integer("fromId")
        start, end, limit = p.integer("startTime"), p.integer("endTime"), p.integer("limit") or 500
        if not 1 <= limit <= 1000:
            raise BinanceError(Code.MANDATORY_PARAM, "Illegal value for parameter 'limit'; legal range is 1-1000.")
        with self.lock:
            self._known(symbol)
            trades = [t for t in self._trades if t.symbol == symbol
                      and (order_id is None or t.order_id == order_id)
                      and (from_id is None or t.trade_id >= from_id)
                      and (start is None or t.time_ms >= start) and (end is None or t.time_ms <= end)]
        return trades[:limit] if from_id is not None or start is not None else trades[-limit:]

    def all_orders(self, p: Params) -> list[OrderRecord]:
        """`GET /api/v3/allOrders`: the symbol's orders, open or not, by creation time (`startTime`/`endTime`, at
        most 24 hours apart) or from `orderId` on, oldest first; without either, the most recent `limit`."""
        symbol = p.required("symbol")
        order_id, start, end = p.integer("orderId"), p.integer("startTime"), p.integer("endTime")
        limit = p.integer("limit") or 500
        if not 1 <= limit <= 1000:
            raise BinanceError(Code.MANDATORY_PARAM, "Illegal value for parameter 'limit'; legal range is 1-1000.")
        if start is not None and end is not None and end - start > DAY_MS:
            raise BinanceError(Code.TIME_SPAN_TOO_LONG, "More than 24 hours between startTime and endTime.")
        with self.lock:
            self._known(symbol)
            orders = [self._orders[i] for i in sorted(self._orders) if self._orders[i].symbol == symbol
                      and (order_id is None or i >= order_id)
                      and (start is None or self._orders[i].created_ms >= start)
                      and (end is None or self._orders[i].created_ms <= end)]
        return orders[:limit] if order_id is not None or start is not None else orders[-limit:]

    def order(self, order_id: int) -> OrderRecord:
        with self.lock:
            return self._orders[order_id]

    def order_list(self, list_id: int) -> ListRecord:
        with self.lock:
            return self._lists[list_id]

    # ----- the market (driver) ------------------------------------------------------------------------

    def set_book(self, symbol: str, bids: Iterable[tuple[Decimal, Decimal]], asks: Iterable[tuple[Decimal, Decimal]],
                 now_ms: int) -> list[ExecutionReport]:
        """A new order book: pending market orders meet it, resting limits it crosses fill as makers."""
        book = Book(symbol=symbol, time_ms=now_ms, bids=tuple((float(p), float(q)) for p, q in bids),
                    asks=tuple((float(p), float(q)) for p, q in asks))
        with self.lock:
            self._known(symbol)
            before = self._paper.balances()
            reports = self._paper.on_book(book)
            self._after(reports, before, now_ms)
            return reports

    def trade(self, symbol: str, price: Decimal, quantity: Decimal, now_ms: int) -> list[ExecutionReport]:
        """A trade print: it sets the last price, triggers stops it reaches, fills limits it trades through."""
        print_ = TradePrint(symbol=symbol, time_ms=now_ms, price=float(price), quantity=float(quantity),
                            buyer_is_maker=False)
        with self.lock:
            self._known(symbol)
            before = self._paper.balances()
            reports = self._paper.on_trade(print_)
            self._after(reports, before, now_ms)
            self._sync_trailing()
            return reports

    def adjust_balance(self, asset: str, delta: Decimal, now_ms: int) -> None:
        """A deposit (delta > 0) or withdrawal: Binance's `balanceUpdate` event, then the new position.

        The simulator exposes no ledger call, so the change goes through its own saved state and back.
        """
        with self.lock:
            state = self._paper.to_state()
            free = Decimal(state["ledger"]["free"].get(asset, "0")) + delta
            if free < 0:
                raise ValueError(f"{asset}: withdrawing {-delta} leaves a negative free balance ({free})")
            state["ledger"]["free"][asset] = str(free)
            state["ledger"]["locked"].setdefault(asset, "0")
            before = self._paper.balances()
            self._paper = PaperExchange.from_state(state, self.rules)
            self._emit([{"e": "balanceUpdate", "E": now_ms, "a": asset, "d": num(delta), "T": now_ms}])
            self._after([], before, now_ms)

    # ----- events --------------------------------------------------------------------------------------

    def execution_report(self, report: ExecutionReport, order: OrderRecord, now_ms: int) -> Event:
        fill = report.fill
        order_list = self._lists.get(order.list_id)
        cancelled = report.execution_type is ExecutionType.CANCELED
        return {
            # A cancel's event names the cancel request in `c` and the order in `C` (user-data-stream.md).
            "e": "executionReport", "E": now_ms, "s": report.symbol,
            "c": f"cancel{order.order_id}" if cancelled else order.wire_id, "S": report.side.value,
            "o": report.order_type.value, "f": _tif(order), "q": num(report.orig_qty), "p": num(report.price),
            "P": num(report.stop_price), "F": num(None), "g": order.list_id, "C": order.wire_id if cancelled else "",
            "x": report.execution_type.value, "X": report.status.value, "r": "NONE", "i": report.order_id,
            "l": num(fill.quantity if fill else None), "z": num(report.executed_qty),
            "L": num(fill.price if fill else None), "n": num(fill.commission if fill else None),
            "N": fill.commission_asset if fill else None, "T": report.time_ms,
            "t": fill.trade_id if fill else -1, "I": 0, "w": _working(report), "m": bool(fill and fill.is_maker),
            "M": False, "O": order.created_ms, "Z": num(report.cum_quote),
            "Y": num(fill.notional if fill else None), "Q": num(order.quote_order_qty), "W": order.working_ms,
            "V": "NONE", **({"ListClientOrderId": order_list.wire_id} if order_list else {}),
            **({"d": report.trailing_delta} if report.trailing_delta is not None else {}),
            # trailingTime appears once the trailing stop tracks prices (user-data-stream.md: "D").
            **({"D": report.trailing_time_ms} if report.trailing_time_ms is not None else {}),
        }

    def list_status(self, order_list: ListRecord, now_ms: int, *, started: bool) -> Event:
        return {
            "e": "listStatus", "E": now_ms, "s": order_list.symbol, "g": order_list.list_id, "c": "OCO",
            "l": "EXEC_STARTED" if started else "ALL_DONE", "L": "EXECUTING" if started else "ALL_DONE",
            "r": "NONE", "C": order_list.wire_id, "T": now_ms,
            "O": [{"s": order_list.symbol, "i": i, "c": self._orders[i].wire_id} for i in order_list.order_ids],
        }

    # ----- internals -----------------------------------------------------------------------------------

    def _after(self, reports: list[ExecutionReport], before: Mapping[str, tuple[Decimal, Decimal]],
               now_ms: int) -> None:
        """Record the reports, then tell the user stream: orders, finished lists, changed balances."""
        events: list[Event] = []
        lists_touched: set[int] = set()
        for report in reports:
            order = self._orders[report.order_id]
            self._record(order, report, now_ms)
            events.append(self.execution_report(report, order, now_ms))
            if order.list_id != _NO_LIST:
                lists_touched.add(order.list_id)
        for list_id in sorted(lists_touched):
            order_list = self._lists[list_id]
            if not order_list.done and all(self._orders[i].last.status.is_final for i in order_list.order_ids):
                order_list.done = True
                events.append(self.list_status(order_list, now_ms, started=False))
        after = self._paper.balances()
        changed = [{"a": asset, "f": num(free), "l": num(locked)} for asset, (free, locked) in after.items()
                   if before.get(asset) != (free, locked)]
        if changed:
            self.update_ms = now_ms
            events.append({"e": "outboundAccountPosition", "E": now_ms, "u": now_ms, "B": changed})
        self._emit(events)

    def _sync_trailing(self) -> None:
        """A trailing stop starts tracking without any event (Binance sends none either), yet a query shows its
        trailingTime from then on: copy it from the simulator's view of each open order."""
        for view in self._paper.open_orders():
            order = self._orders[view.order_id]
            if view.trailing_time_ms != order.last.trailing_time_ms:
                order.last = replace(order.last, trailing_time_ms=view.trailing_time_ms)

    def _record(self, order: OrderRecord, report: ExecutionReport, now_ms: int) -> None:
        order.last = report
        order.updated_ms = now_ms
        fill = report.fill
        if fill is not None:
            self._trades.append(TradeRecord(
                trade_id=fill.trade_id, order_id=order.order_id, list_id=order.list_id, symbol=order.symbol,
                side=fill.side, price=fill.price, quantity=fill.quantity, commission=fill.commission,
                commission_asset=fill.commission_asset, time_ms=fill.time_ms, is_maker=fill.is_maker))

    def _sim(self, call: Callable[[], list[ExecutionReport]]) -> list[ExecutionReport]:
        try:
            return call()
        except ExchangeRejected as rejected:
            raise BinanceError.from_rejection(rejected) from None

    def _find(self, symbol: str, p: Params) -> OrderRecord | None:
        order_id, wire = p.integer("orderId"), p.text("origClientOrderId")
        if order_id is None and wire is None:
            raise mandatory("orderId")
        if order_id is None:
            assert wire is not None
            order_id = self._latest.get((symbol, wire))
        order = self._orders.get(order_id) if order_id is not None else None
        if order is None or order.symbol != symbol or (wire is not None and order.wire_id != wire):
            return None
        return order

    def _known(self, symbol: str) -> None:
        if symbol not in self.rules:
            raise BinanceError(Code.INVALID_SYMBOL, "Invalid symbol.")

    def _order_type(self, value: str) -> OrderType:
        try:
            return OrderType(value)
        except ValueError:
            if value in ("STOP_LOSS", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"):
                raise not_simulated(f"A {value} order") from None
            raise BinanceError(Code.INVALID_ORDER_TYPE, "Invalid orderType.") from None

    def _new_wire_id(self, sent: str | None, param: str) -> str:
        if sent is None:
            return f"fake{next(self._generated):018d}"
        if not _WIRE_ID.match(sent):
            raise illegal_chars(param)
        return sent

    def _leg_wire_id(self, sent: str | None, param: str, derived: str | None) -> str:
        if sent is not None:
            return self._new_wire_id(sent, param)
        return derived if derived is not None else self._new_wire_id(None, param)

    def _refuse_duplicate(self, symbol: str, wire: str) -> None:
        """A client order id is unique among open orders only (Binance: -2010 "Duplicate order sent.")."""
        order_id = self._latest.get((symbol, wire))
        if order_id is not None and not self._orders[order_id].last.status.is_final:
            raise BinanceError(Code.NEW_ORDER_REJECTED, "Duplicate order sent.")

    def _alias(self) -> str:
        return f"{_ALIAS_PREFIX}{next(self._aliases)}"


def _check_shape(order_type: OrderType, *, tif: TimeInForce | None, quantity: Decimal | None,
                 quote_qty: Decimal | None, price: Decimal | None, stop_price: Decimal | None,
                 trailing_delta: int | None) -> None:
    """Binance's mandatory and forbidden parameters per order type (-1102 / -1106).

    A STOP_LOSS_LIMIT takes `stopPrice`, `trailingDelta` or both (rest-api.md); no other simulated type trails.
    """
    if trailing_delta is not None and order_type is not OrderType.STOP_LOSS_LIMIT:
        raise not_required("trailingDelta")
    if order_type is OrderType.MARKET:
        if quantity is None and quote_qty is None:
            raise mandatory("quantity")
        if quantity is not None and quote_qty is not None:
            raise not_required("quoteOrderQty")
        for name, value in (("price", price), ("stopPrice", stop_price)):
            if value is not None:
                raise not_required(name)
        return
    if quote_qty is not None:
        raise not_required("quoteOrderQty")
    required = {"quantity": quantity, "price": price}
    if order_type in (OrderType.LIMIT, OrderType.STOP_LOSS_LIMIT):
        required["timeInForce"] = tif
    if order_type is OrderType.STOP_LOSS_LIMIT and trailing_delta is None:
        required["stopPrice"] = stop_price
    for name, value in required.items():
        if value is None:
            raise mandatory(name)
    if order_type is OrderType.LIMIT_MAKER and tif is not None:
        raise not_required("timeInForce")
    if order_type is not OrderType.STOP_LOSS_LIMIT and stop_price is not None:
        raise not_required("stopPrice")


def _malformed(invalid: ValidationError) -> BinanceError:
    """A value the domain model refuses (a zero quantity, say) is a malformed parameter on Binance."""
    for error in invalid.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        if field in _PARAM_NAMES:
            return mandatory(_PARAM_NAMES[field])
    return BinanceError(Code.MANDATORY_PARAM, "Malformed order parameters.")


def _tif(order: OrderRecord) -> str:
    """Binance reports GTC for LIMIT_MAKER orders and for MARKET orders."""
    return order.time_in_force.value if order.time_in_force is not None else "GTC"


def _working(report: ExecutionReport) -> bool:
    """Is the order on the book? Final orders never are; a stop is counted as working once it has filled in part
    (the simulator does not report the moment a stop triggers without a fill)."""
    if report.status.is_final:
        return False
    return report.order_type is not OrderType.STOP_LOSS_LIMIT or report.executed_qty > 0
