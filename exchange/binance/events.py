"""Binance's user-data events (executionReport, listStatus, outboundAccountPosition, balanceUpdate,
eventStreamTerminated) as typed values; `ExecutionReport` is the port's own.

A cancel's executionReport carries the cancel request's id in `c` and the order's own client id in `C`
(user-data-stream.md): the order is named by `C` there. A TRADE event's `t` is the trade id by which fills
are deduplicated, whether they arrive here, in an order's answer, or from `myTrades` after a gap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.errors import ExecutorError
from core.exchange_port import ExecutionReport, ExecutionType
from core.types import Fill, OrderStatus, OrderType, Side, is_client_id
from exchange.binance.wire import dec

Doc = dict[str, Any]
NO_LIST = -1

# Binance's `x` values we receive. REPLACED (order amend) is never asked for by this executor; TRADE_PREVENTION
# (self-trade prevention expired the order) ends the order as EXPIRED_IN_MATCH.
_EXECUTION_TYPES = {
    "NEW": ExecutionType.NEW, "CANCELED": ExecutionType.CANCELED, "REJECTED": ExecutionType.REJECTED,
    "TRADE": ExecutionType.TRADE, "EXPIRED": ExecutionType.EXPIRED, "TRADE_PREVENTION": ExecutionType.EXPIRED,
}


class UnknownUserEvent(ExecutorError):
    """A user-data event this adapter does not understand: refused loudly rather than dropped."""

    code = "UNKNOWN_USER_EVENT"

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"user-data event {kind!r}: {detail}", event=kind, detail=detail)


@dataclass(frozen=True, slots=True)
class ListStatus:
    symbol: str
    order_list_id: int
    list_client_id: str
    list_status_type: str  # RESPONSE, EXEC_STARTED, ALL_DONE (Binance's `l`)
    list_order_status: str  # EXECUTING, ALL_DONE, REJECT (Binance's `L`)
    order_client_ids: tuple[str, ...]
    time_ms: int


@dataclass(frozen=True, slots=True)
class AccountPosition:
    """outboundAccountPosition: the new free and locked amounts of the assets that changed."""

    balances: Mapping[str, tuple[Decimal, Decimal]]
    time_ms: int


@dataclass(frozen=True, slots=True)
class BalanceUpdate:
    """A deposit, withdrawal or transfer: `delta` of `asset`."""

    asset: str
    delta: Decimal
    time_ms: int


@dataclass(frozen=True, slots=True)
class StreamTerminated:
    """eventStreamTerminated: the subscription ended (e.g. the session logged out); it must be renewed."""

    time_ms: int


@dataclass(frozen=True, slots=True)
class StreamGap:
    """Not a Binance event: the stream was down from `since_ms` and is back. Events in between are lost, so the
    consumer catches up (`BinanceExchange.catch_up`) before trusting the stream again."""

    since_ms: int
    reason: str


@dataclass(frozen=True, slots=True)
class ForeignOrder:
    """An executionReport of an order this executor did not place (its client id is not ours, e.g. a manual
    order in the Binance app): never adopted; its balance effects arrive as `AccountPosition` all the same."""

    client_order_id: str
    symbol: str
    status: OrderStatus
    time_ms: int


UserEvent = ExecutionReport | ForeignOrder | ListStatus | AccountPosition | BalanceUpdate | StreamTerminated


def unwrap(message: Doc) -> Doc:
    """The event inside its envelope: the WebSocket API's `{"subscriptionId", "event"}`, a combined stream's
    `{"stream", "data"}`, or the bare event."""
    if "event" in message and isinstance(message["event"], dict):
        return message["event"]
    if "data" in message and isinstance(message["data"], dict):
        return message["data"]
    return message


def parse_user_event(message: Doc, list_ids: Mapping[int, str]) -> UserEvent:
    """One event; `list_ids` maps orderListId to listClientOrderId for the reports of OCO legs."""
    doc = unwrap(message)
    kind = doc.get("e")
    if kind == "executionReport":
        return _execution_report(doc, list_ids)
    if kind == "listStatus":
        return ListStatus(symbol=doc["s"], order_list_id=int(doc["g"]), list_client_id=doc["C"],
                          list_status_type=doc["l"], list_order_status=doc["L"],
                          order_client_ids=tuple(o["c"] for o in doc.get("O", [])), time_ms=int(doc["T"]))
    if kind == "outboundAccountPosition":
        return AccountPosition({b["a"]: (dec(b["f"]), dec(b["l"])) for b in doc["B"]}, int(doc["E"]))
    if kind == "balanceUpdate":
        return BalanceUpdate(doc["a"], dec(doc["d"]), int(doc.get("T", doc["E"])))
    if kind == "eventStreamTerminated":
        return StreamTerminated(int(doc["E"]))
    raise UnknownUserEvent(str(kind), "not a user-data event this adapter handles")


def _execution_report(doc: Doc, list_ids: Mapping[int, str]) -> ExecutionReport | ForeignOrder:
    x = doc["x"]
    execution_type = _EXECUTION_TYPES.get(x)
    if execution_type is None:
        raise UnknownUserEvent("executionReport", f"execution type {x!r}")
    client_id = doc["C"] if x == "CANCELED" and doc.get("C") else doc["c"]
    if not is_client_id(client_id):
        return ForeignOrder(client_id, doc["s"], OrderStatus(doc["X"]), int(doc["T"]))
    side = Side(doc["S"])
    fill = None
    if x == "TRADE":
        fill = Fill(client_order_id=client_id, symbol=doc["s"], side=side, price=dec(doc["L"]), quantity=dec(doc["l"]),
                    commission=dec(doc["n"]), commission_asset=doc["N"], trade_id=int(doc["t"]),
                    time_ms=int(doc["T"]), is_maker=bool(doc["m"]))
    list_id = int(doc.get("g", NO_LIST))
    price, stop = dec(doc["p"]), dec(doc["P"])
    delta, trailing_time = doc.get("d"), doc.get("D")
    reason = doc.get("r")
    return ExecutionReport(
        client_order_id=client_id, symbol=doc["s"], side=side, order_type=OrderType(doc["o"]),
        status=OrderStatus(doc["X"]), price=price if price > 0 else None, stop_price=stop if stop > 0 else None,
        orig_qty=dec(doc["q"]), executed_qty=dec(doc["z"]), cum_quote=dec(doc["Z"]), time_ms=int(doc["T"]),
        list_client_id=list_ids.get(list_id) if list_id != NO_LIST else None, fill=fill,
        reject_reason=reason if reason and reason != "NONE" else None, order_id=int(doc["i"]),
        execution_type=execution_type, trailing_delta=int(delta) if delta is not None else None,
        trailing_time_ms=int(trailing_time) if trailing_time is not None and int(trailing_time) >= 0 else None,
    )
