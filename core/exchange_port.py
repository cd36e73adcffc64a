"""The Exchange port: what every adapter (paper simulator, Binance live/testnet) offers the runtime.

It lives in `core` so the engine can name what it is handed (`Engine.on_report(ExecutionReport)`); the
adapters (`exchange/paper`, a Binance adapter) implement it, and nothing here does I/O.

Synchronous on purpose: the runtime drives one account from one thread, journals before it sends, and
needs each call's outcome before the next decision. The shapes mirror Binance Spot so that an adapter
translates rather than interprets: `ExecutionReport` is Binance's user-data `executionReport` event,
`OrderView` its `GET /api/v3/order` answer, and rejections carry Binance's own error code and message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Protocol, runtime_checkable

from core.errors import ExecutorError
from core.events import Bar, Book, TradePrint
from core.filters import SymbolRules
from core.types import Fill, OcoRequest, OrderRequest, OrderStatus, OrderType, Side


class ExchangeRejected(ExecutorError):
    """The exchange refused a request and said why (Binance error code and message). Nothing was done."""

    code = "EXCHANGE_REJECTED"

    def __init__(self, binance_code: int, binance_msg: str, *, symbol: str | None,
                 client_order_id: str | None = None) -> None:
        super().__init__(
            f"{symbol or '-'} {client_order_id or '-'}: Binance {binance_code} {binance_msg}",
            binance_code=binance_code,
            binance_msg=binance_msg,
            symbol=symbol,
            client_order_id=client_order_id,
        )
        self.binance_code = binance_code
        self.binance_msg = binance_msg
        self.symbol = symbol
        self.client_order_id = client_order_id


class ExecutionStatusUnknown(ExecutorError):
    """The request may or may not have reached the matching engine (Binance -1007 or any 5xx).

    The order must be looked up by its client order id before anything else is decided; resending it
    blindly could double a position.
    """

    code = "EXECUTION_STATUS_UNKNOWN"

    def __init__(self, reason: str, *, symbol: str, client_order_id: str) -> None:
        super().__init__(
            f"{symbol} {client_order_id}: execution status unknown ({reason}); query by client order id",
            reason=reason,
            symbol=symbol,
            client_order_id=client_order_id,
        )
        self.reason = reason
        self.symbol = symbol
        self.client_order_id = client_order_id


class ExecutionType(StrEnum):
    """Binance's `x` field of an executionReport: what happened in this event."""

    NEW = "NEW"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    TRADE = "TRADE"
    EXPIRED = "EXPIRED"


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    """One change of one order, as Binance's executionReport reports it.

    `executed_qty` and `cum_quote` are cumulative over the order's life; `fill` is the single trade of
    this event (None for NEW, CANCELED and EXPIRED events). A trailing stop carries its `trailing_delta`
    (BIPS, Binance's `d`) and, once it tracks prices, `trailing_time_ms` (Binance's `D`, trailingTime).
    """

    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    status: OrderStatus
    price: Decimal | None
    stop_price: Decimal | None
    orig_qty: Decimal
    executed_qty: Decimal
    cum_quote: Decimal
    time_ms: int
    list_client_id: str | None = None
    fill: Fill | None = None
    reject_reason: str | None = None
    order_id: int = 0
    execution_type: ExecutionType = ExecutionType.NEW
    trailing_delta: int | None = None
    trailing_time_ms: int | None = None


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order as the exchange knows it now (open or closed). `time_ms` is when it was placed."""

    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    status: OrderStatus
    price: Decimal | None
    stop_price: Decimal | None
    orig_qty: Decimal
    executed_qty: Decimal
    cum_quote: Decimal
    list_client_id: str | None
    time_ms: int
    order_id: int = 0
    trailing_delta: int | None = None
    trailing_time_ms: int | None = None


@dataclass(frozen=True, slots=True)
class OrderHistory:
    """One symbol's orders as the exchange listed them in bulk (Binance's `allOrders`), and what the listing proves.

    `views`: the latest order under each client order id. `complete_since_ms` to `settled_until_ms` is the span of
    decision times (when an intent was journaled) for which an absent order is conclusive: journaled in that span
    and not listed, it never reached the exchange and never will (a request signed then is past recvWindow by
    now). Outside the span an absent order proves nothing and is looked up by its client id. Both bounds hold
    whether a decision time was read from the local clock or the exchange's.
    """

    symbol: str
    views: dict[str, OrderView]
    complete_since_ms: int
    settled_until_ms: int

    def proves_never_sent(self, client_order_id: str, decided_ms: int, slack_ms: int) -> bool:
        """Not listed, and decided well inside the span the listing covers completely."""
        return (client_order_id not in self.views
                and self.complete_since_ms + slack_ms <= decided_ms <= self.settled_until_ms - slack_ms)


@dataclass(frozen=True, slots=True)
class CatchUp:
    """What a remote exchange's catch-up found for one symbol: a TRADE report per own trade the caller had not
    seen (oldest first), and the symbol's order history listed after those trades (None if none was asked for
    and no trade needed it)."""

    reports: list[ExecutionReport]
    history: OrderHistory | None


@runtime_checkable
class Exchange(Protocol):
    """What the runtime needs of an exchange. Every method either does all it says or raises.

    Rejections raise `ExchangeRejected`; an outcome that cannot be known raises `ExecutionStatusUnknown`.

    `remote` says whether an order leaves this process. True (Binance): the order's intent must be on disk
    before it is sent (write-ahead). False (the paper simulator): the venue's whole state is saved in the
    checkpoint, in the journal, so an intent commits with the transaction that holds its effects and the
    checkpoint, and a crash undoes all of them together.
    """

    remote: bool

    def exchange_rules(self) -> dict[str, SymbolRules]:
        """The trading rules of every listed symbol, keyed by symbol."""
        ...

    def place_order(self, order: OrderRequest, now_ms: int) -> list[ExecutionReport]:
        """The acknowledgement (status NEW) followed by any immediate fills or expiry."""
        ...

    def place_oco(self, oco: OcoRequest, now_ms: int) -> list[ExecutionReport]:
        """Reports for both legs (take-profit LIMIT_MAKER and STOP_LOSS_LIMIT), `list_client_id` set."""
        ...

    def cancel_order(self, symbol: str, client_order_id: str, now_ms: int) -> list[ExecutionReport]:
        """Cancel one open order; a leg of an order list cancels the whole list (as Binance does)."""
        ...

    def cancel_order_list(self, symbol: str, list_client_id: str, now_ms: int) -> list[ExecutionReport]:
        """Cancel every open leg of an order list."""
        ...

    def get_order(self, symbol: str, client_order_id: str) -> OrderView | None:
        """The latest order with this client id in any state; None where Binance answers -2013."""
        ...

    def open_orders(self, symbol: str | None = None) -> list[OrderView]:
        """Open orders of one symbol, or of every symbol, oldest first."""
        ...

    def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        """asset -> (free, locked)."""
        ...


ReportSink = Callable[[list[ExecutionReport]], None]


@runtime_checkable
class SimulatedVenue(Exchange, Protocol):
    """An exchange that matches its resting orders against the market data it is shown (the paper simulator).

    A real venue matches on its own; only a simulated one needs the pump to hand it every market event,
    before the engine sees it, so fills happen at the market's pace.
    """

    def on_bar(self, bar: Bar, deliver: ReportSink) -> None:
        """Match a candle in two phases, handing each phase's reports to `deliver` (see `runtime.pump`)."""
        ...

    def on_book(self, book: Book) -> list[ExecutionReport]:
        """Match resting orders against a new top of book."""
        ...

    def on_trade(self, trade: TradePrint) -> list[ExecutionReport]:
        """Match resting orders against one public trade."""
        ...
