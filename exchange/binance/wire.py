"""What crosses the wire: our decimals out as plain strings at the symbol's tick and step, Binance's order,
trade and fill documents in as the port's `OrderView`, `ExecutionReport` and `Fill`.

The SDK serialises numbers with `str()`: `0.00001` would go out as `1e-05` and `Decimal("1E-7")` as `1E-7`,
both refused by Binance with -1100. Every number is therefore formatted here, never handed to the SDK raw.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from core.exchange_port import ExecutionReport, ExecutionType, OrderView
from core.filters import SymbolRules, round_to_step
from core.types import Fill, OrderStatus, OrderType, Side

Doc = dict[str, Any]
ZERO = Decimal(0)


def plain(value: Decimal, step: Decimal) -> str:
    """`value` on the grid of `step` (toward zero), written with exactly the step's decimals and no exponent."""
    on_grid = round_to_step(value, step, "down") if step > 0 else value
    exponent = step.normalize().as_tuple().exponent if step > 0 else on_grid.as_tuple().exponent
    places = max(0, -int(exponent))
    return format(on_grid.quantize(Decimal(1).scaleb(-places)), "f")


def price_text(rules: SymbolRules, price: Decimal) -> str:
    return plain(price, rules.tick_size)


def quantity_text(rules: SymbolRules, quantity: Decimal, *, market: bool = False) -> str:
    step = rules.market_step_size if market and rules.market_step_size > 0 else rules.step_size
    return plain(quantity, step)


def quote_text(rules: SymbolRules, amount: Decimal) -> str:
    return plain(amount, Decimal(1).scaleb(-rules.quote_precision))


def dec(raw: Any) -> Decimal:
    return Decimal(str(raw))


def _optional_price(raw: Any) -> Decimal | None:
    """Binance writes an absent price as "0.00000000"."""
    if raw is None:
        return None
    value = dec(raw)
    return value if value > 0 else None


def _trailing(doc: Doc) -> tuple[int | None, int | None]:
    delta = doc.get("trailingDelta")
    time_ms = doc.get("trailingTime")
    return (int(delta) if delta is not None else None,
            int(time_ms) if time_ms is not None and int(time_ms) >= 0 else None)


def order_view(doc: Doc, list_client_id: str | None) -> OrderView:
    """`GET /api/v3/order` and each element of `GET /api/v3/openOrders`."""
    delta, trailing_time = _trailing(doc)
    return OrderView(
        client_order_id=doc["clientOrderId"], symbol=doc["symbol"], side=Side(doc["side"]),
        order_type=OrderType(doc["type"]), status=OrderStatus(doc["status"]),
        price=_optional_price(doc.get("price")), stop_price=_optional_price(doc.get("stopPrice")),
        orig_qty=dec(doc["origQty"]), executed_qty=dec(doc["executedQty"]),
        cum_quote=dec(doc["cummulativeQuoteQty"]), list_client_id=list_client_id,
        time_ms=int(doc.get("time", doc.get("transactTime", 0))), order_id=int(doc["orderId"]),
        trailing_delta=delta, trailing_time_ms=trailing_time,
    )


def placement_reports(doc: Doc, list_client_id: str | None = None) -> list[ExecutionReport]:
    """A FULL `POST /api/v3/order` answer (or one OCO `orderReports` entry with its `fills`) as the events
    the user-data stream would send: NEW, one TRADE per fill, then EXPIRED if the rest expired at once."""
    side, symbol, client_id = Side(doc["side"]), doc["symbol"], doc["clientOrderId"]
    delta, trailing_time = _trailing(doc)
    time_ms = int(doc.get("transactTime", 0))
    base = {
        "client_order_id": client_id, "symbol": symbol, "side": side, "order_type": OrderType(doc["type"]),
        "price": _optional_price(doc.get("price")), "stop_price": _optional_price(doc.get("stopPrice")),
        "orig_qty": dec(doc["origQty"]), "time_ms": time_ms, "list_client_id": list_client_id,
        "order_id": int(doc["orderId"]), "trailing_delta": delta, "trailing_time_ms": trailing_time,
    }
    reports = [ExecutionReport(status=OrderStatus.NEW, executed_qty=ZERO, cum_quote=ZERO, **base)]
    executed, quote = ZERO, ZERO
    final = OrderStatus(doc["status"])
    fills = doc.get("fills") or []
    for i, raw in enumerate(fills):
        price, qty = dec(raw["price"]), dec(raw["qty"])
        executed, quote = executed + qty, quote + price * qty
        last = i == len(fills) - 1
        status = OrderStatus.FILLED if last and final is OrderStatus.FILLED else OrderStatus.PARTIALLY_FILLED
        fill = Fill(client_order_id=client_id, symbol=symbol, side=side, price=price, quantity=qty,
                    commission=dec(raw["commission"]), commission_asset=raw["commissionAsset"],
                    trade_id=int(raw["tradeId"]), time_ms=time_ms, is_maker=False)
        reports.append(ExecutionReport(status=status, executed_qty=executed, cum_quote=quote, fill=fill,
                                       execution_type=ExecutionType.TRADE, **base))
    if final in (OrderStatus.EXPIRED, OrderStatus.EXPIRED_IN_MATCH, OrderStatus.CANCELED, OrderStatus.REJECTED):
        reports.append(ExecutionReport(status=final, executed_qty=dec(doc["executedQty"]),
                                       cum_quote=dec(doc["cummulativeQuoteQty"]),
                                       execution_type=_END[final], **base))
    return reports


_END = {OrderStatus.EXPIRED: ExecutionType.EXPIRED, OrderStatus.EXPIRED_IN_MATCH: ExecutionType.EXPIRED,
        OrderStatus.CANCELED: ExecutionType.CANCELED, OrderStatus.REJECTED: ExecutionType.REJECTED}


def cancel_report(doc: Doc, list_client_id: str | None) -> ExecutionReport:
    """A `DELETE /api/v3/order` answer (or one leg of `DELETE /api/v3/orderList`): the order's final state."""
    delta, trailing_time = _trailing(doc)
    status = OrderStatus(doc["status"])
    return ExecutionReport(
        client_order_id=doc["origClientOrderId"], symbol=doc["symbol"], side=Side(doc["side"]),
        order_type=OrderType(doc["type"]), status=status, price=_optional_price(doc.get("price")),
        stop_price=_optional_price(doc.get("stopPrice")), orig_qty=dec(doc["origQty"]),
        executed_qty=dec(doc["executedQty"]), cum_quote=dec(doc["cummulativeQuoteQty"]),
        time_ms=int(doc.get("transactTime", 0)), list_client_id=list_client_id, order_id=int(doc["orderId"]),
        execution_type=_END.get(status, ExecutionType.CANCELED), trailing_delta=delta,
        trailing_time_ms=trailing_time,
    )


def trade_fill(doc: Doc, client_order_id: str) -> Fill:
    """One `GET /api/v3/myTrades` row: the commission and its asset as charged (BNB discounts included)."""
    return Fill(client_order_id=client_order_id, symbol=doc["symbol"],
                side=Side.BUY if doc["isBuyer"] else Side.SELL, price=dec(doc["price"]), quantity=dec(doc["qty"]),
                commission=dec(doc["commission"]), commission_asset=doc["commissionAsset"],
                trade_id=int(doc["id"]), time_ms=int(doc["time"]), is_maker=bool(doc["isMaker"]))


def trade_report(view: OrderView, fill: Fill) -> ExecutionReport:
    """A trade found after the fact (catch-up), reported with its order's state as of the lookup."""
    return ExecutionReport(
        client_order_id=view.client_order_id, symbol=view.symbol, side=view.side, order_type=view.order_type,
        status=view.status, price=view.price, stop_price=view.stop_price, orig_qty=view.orig_qty,
        executed_qty=view.executed_qty, cum_quote=view.cum_quote, time_ms=fill.time_ms,
        list_client_id=view.list_client_id, fill=fill, order_id=view.order_id, execution_type=ExecutionType.TRADE,
        trailing_delta=view.trailing_delta, trailing_time_ms=view.trailing_time_ms,
    )
