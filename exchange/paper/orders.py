"""The simulator's record of one order through its life, and of one order list (OCO)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.exchange_port import ExecutionReport, ExecutionType, OrderView
from core.types import Fill, OrderStatus, OrderType, Side, TimeInForce
from exchange.paper.trailing import Trail

ZERO = Decimal(0)


@dataclass(slots=True)
class PaperOrder:
    """Mutable on purpose: the simulator updates fills and status in place; views and reports are frozen.

    `orig_qty` is 0 for a MARKET order placed by quote amount (as Binance reports it); `quote_order_qty`
    then holds the amount. `lock_key` names the balance lock the order draws on (shared by OCO legs).
    `awaiting_open` marks an order placed while no book was known: it meets the market at the next bar's open.
    `triggered` marks a STOP_LOSS_LIMIT whose stop was reached: it now works as a limit order.
    `trail` is the trailing state of a trailing stop (`trailingDelta`), None for any other order.
    """

    order_id: int
    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce | None
    price: Decimal | None
    stop_price: Decimal | None
    orig_qty: Decimal
    quote_order_qty: Decimal | None
    time_ms: int
    status: OrderStatus = OrderStatus.NEW
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    list_id: int | None = None
    list_client_id: str | None = None
    lock_key: str | None = None
    awaiting_open: bool = False
    triggered: bool = False
    trail: Trail | None = None

    @property
    def is_open(self) -> bool:
        return not self.status.is_final

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed_qty

    @property
    def buying(self) -> bool:
        return self.side is Side.BUY

    @property
    def works_as_limit(self) -> bool:
        """A LIMIT, a LIMIT_MAKER, or a STOP_LOSS_LIMIT whose stop has triggered."""
        if self.order_type is OrderType.STOP_LOSS_LIMIT:
            return self.triggered
        return self.order_type is not OrderType.MARKET

    def report(self, time_ms: int, execution_type: ExecutionType, fill: Fill | None = None,
               reject_reason: str | None = None) -> ExecutionReport:
        return ExecutionReport(
            client_order_id=self.client_order_id, symbol=self.symbol, side=self.side, order_type=self.order_type,
            status=self.status, price=self.price, stop_price=self.stop_price, orig_qty=self.orig_qty,
            executed_qty=self.executed_qty, cum_quote=self.cum_quote, time_ms=time_ms,
            list_client_id=self.list_client_id, fill=fill, reject_reason=reject_reason, order_id=self.order_id,
            execution_type=execution_type, **self._trailing(),
        )

    def view(self) -> OrderView:
        return OrderView(
            client_order_id=self.client_order_id, symbol=self.symbol, side=self.side, order_type=self.order_type,
            status=self.status, price=self.price, stop_price=self.stop_price, orig_qty=self.orig_qty,
            executed_qty=self.executed_qty, cum_quote=self.cum_quote, list_client_id=self.list_client_id,
            time_ms=self.time_ms, order_id=self.order_id, **self._trailing(),
        )

    def _trailing(self) -> dict[str, int | None]:
        if self.trail is None:
            return {}
        return {"trailing_delta": self.trail.delta, "trailing_time_ms": self.trail.since_ms}

    def to_state(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id, "client_order_id": self.client_order_id, "symbol": self.symbol,
            "side": self.side.value, "order_type": self.order_type.value,
            "time_in_force": self.time_in_force.value if self.time_in_force else None,
            "price": _opt_str(self.price), "stop_price": _opt_str(self.stop_price), "orig_qty": str(self.orig_qty),
            "quote_order_qty": _opt_str(self.quote_order_qty), "time_ms": self.time_ms, "status": self.status.value,
            "executed_qty": str(self.executed_qty), "cum_quote": str(self.cum_quote), "list_id": self.list_id,
            "list_client_id": self.list_client_id, "lock_key": self.lock_key, "awaiting_open": self.awaiting_open,
            "triggered": self.triggered, "trail": None if self.trail is None else self.trail.to_state(),
        }

    @classmethod
    def from_state(cls, s: dict[str, Any]) -> PaperOrder:
        return cls(
            order_id=s["order_id"], client_order_id=s["client_order_id"], symbol=s["symbol"], side=Side(s["side"]),
            order_type=OrderType(s["order_type"]),
            time_in_force=TimeInForce(s["time_in_force"]) if s["time_in_force"] else None,
            price=_opt_decimal(s["price"]), stop_price=_opt_decimal(s["stop_price"]),
            orig_qty=Decimal(s["orig_qty"]), quote_order_qty=_opt_decimal(s["quote_order_qty"]),
            time_ms=s["time_ms"], status=OrderStatus(s["status"]), executed_qty=Decimal(s["executed_qty"]),
            cum_quote=Decimal(s["cum_quote"]), list_id=s["list_id"], list_client_id=s["list_client_id"],
            lock_key=s["lock_key"], awaiting_open=s["awaiting_open"], triggered=s["triggered"],
            trail=Trail.from_state(s["trail"]) if s.get("trail") else None,  # absent in checkpoints before trailing
        )


@dataclass(slots=True)
class OrderList:
    """An OCO: its legs' order ids, in the order Binance lists them (stop-loss leg, then take-profit)."""

    list_id: int
    list_client_id: str
    symbol: str
    order_ids: tuple[int, ...]

    def to_state(self) -> dict[str, Any]:
        return {"list_id": self.list_id, "list_client_id": self.list_client_id, "symbol": self.symbol,
                "order_ids": list(self.order_ids)}

    @classmethod
    def from_state(cls, s: dict[str, Any]) -> OrderList:
        return cls(list_id=s["list_id"], list_client_id=s["list_client_id"], symbol=s["symbol"],
                   order_ids=tuple(s["order_ids"]))


def _opt_str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _opt_decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)
