"""What the journal hands back: frozen rows with `Decimal` money, built from SQLite rows."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from core.types import Fill, OrderRequest, OrderStatus, OrderType, Side, TimeInForce


@dataclass(frozen=True, slots=True)
class OrderRow:
    """One journaled order (an OCO is journaled as its two legs, each carrying `list_client_id`)."""

    client_order_id: str
    symbol: str
    side: Side
    type: OrderType
    status: OrderStatus
    quantity: Decimal | None
    quote_order_qty: Decimal | None
    price: Decimal | None
    stop_price: Decimal | None
    time_in_force: TimeInForce | None
    executed_qty: Decimal
    cum_quote: Decimal
    list_client_id: str | None
    strategy: str | None
    position_id: str | None
    reason: str
    last_reason: str | None
    created_ms: int
    updated_ms: int
    trailing_delta: int | None = None  # BIPS, a trailing stop's (an OCO's trailing stop leg's) delta

    @property
    def is_final(self) -> bool:
        return self.status.is_final

    @property
    def time_ms(self) -> int:
        """When the order was decided (its intent journaled); runtime.reconcile compares it to a checkpoint."""
        return self.created_ms

    def to_request(self) -> OrderRequest:
        """The order as it was (or will be) sent; for an OCO leg, that leg's shape on its own."""
        return OrderRequest(
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            side=self.side,
            type=self.type,
            quantity=self.quantity,
            quote_order_qty=self.quote_order_qty,
            price=self.price,
            stop_price=self.stop_price,
            time_in_force=self.time_in_force,
            trailing_delta=self.trailing_delta,
        )


@dataclass(frozen=True, slots=True)
class FillRow:
    symbol: str
    trade_id: int
    client_order_id: str
    side: Side
    price: Decimal
    quantity: Decimal
    commission: Decimal
    commission_asset: str
    is_maker: bool
    time_ms: int
    position_id: str | None

    def to_fill(self) -> Fill:
        return Fill(
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            side=self.side,
            price=self.price,
            quantity=self.quantity,
            commission=self.commission,
            commission_asset=self.commission_asset,
            trade_id=self.trade_id,
            time_ms=self.time_ms,
            is_maker=self.is_maker,
        )


class CommandStatus(StrEnum):
    """A command's life: queued by a tool, claimed by the engine, done with a result."""

    QUEUED = "queued"
    CLAIMED = "claimed"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class CommandRow:
    id: int
    kind: str
    payload: dict[str, Any] = field(hash=False)
    idempotency_key: str
    status: CommandStatus
    created_ms: int
    completed_ms: int | None
    result: dict[str, Any] | None = field(hash=False)


def order_row(row: sqlite3.Row) -> OrderRow:
    return OrderRow(
        client_order_id=row["client_order_id"],
        symbol=row["symbol"],
        side=Side(row["side"]),
        type=OrderType(row["type"]),
        status=OrderStatus(row["status"]),
        quantity=_decimal_or_none(row["quantity"]),
        quote_order_qty=_decimal_or_none(row["quote_order_qty"]),
        price=_decimal_or_none(row["price"]),
        stop_price=_decimal_or_none(row["stop_price"]),
        time_in_force=TimeInForce(row["time_in_force"]) if row["time_in_force"] else None,
        executed_qty=Decimal(row["executed_qty"]),
        cum_quote=Decimal(row["cum_quote"]),
        list_client_id=row["list_client_id"],
        strategy=row["strategy"],
        position_id=row["position_id"],
        reason=row["reason"],
        last_reason=row["last_reason"],
        created_ms=row["created_ms"],
        updated_ms=row["updated_ms"],
        trailing_delta=row["trailing_delta"],
    )


def fill_row(row: sqlite3.Row) -> FillRow:
    return FillRow(
        symbol=row["symbol"],
        trade_id=row["trade_id"],
        client_order_id=row["client_order_id"],
        side=Side(row["side"]),
        price=Decimal(row["price"]),
        quantity=Decimal(row["quantity"]),
        commission=Decimal(row["commission"]),
        commission_asset=row["commission_asset"],
        is_maker=bool(row["is_maker"]),
        time_ms=row["time_ms"],
        position_id=row["position_id"],
    )


def command_row(row: sqlite3.Row) -> CommandRow:
    return CommandRow(
        id=row["id"],
        kind=row["kind"],
        payload=json.loads(row["payload_json"]),
        idempotency_key=row["idempotency_key"],
        status=CommandStatus(row["status"]),
        created_ms=row["created_ms"],
        completed_ms=row["completed_ms"],
        result=json.loads(row["result_json"]) if row["result_json"] is not None else None,
    )


def _decimal_or_none(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)
