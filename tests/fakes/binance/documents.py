"""The JSON documents of Binance's REST and WebSocket API answers (the same shapes on both)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from core.exchange_port import ExecutionReport
from core.types import OrderType
from tests.fakes.binance.render import num
from tests.fakes.binance.venue import ListRecord, OrderRecord, TradeRecord, Venue

Doc = dict[str, Any]


class RespType(StrEnum):
    ACK = "ACK"
    RESULT = "RESULT"
    FULL = "FULL"


def _state(order: OrderRecord) -> Doc:
    report = order.last
    doc: Doc = {
        "price": num(report.price), "origQty": num(report.orig_qty), "executedQty": num(report.executed_qty),
        "origQuoteOrderQty": num(order.quote_order_qty), "cummulativeQuoteQty": num(report.cum_quote),
        "status": report.status.value, "timeInForce": order.time_in_force.value if order.time_in_force else "GTC",
        "type": report.order_type.value, "side": report.side.value,
    }
    if report.order_type is OrderType.STOP_LOSS_LIMIT:
        doc["stopPrice"] = num(report.stop_price)
    if report.trailing_delta is not None:  # rest-api.md: trailingTime is -1 until the order tracks prices
        doc["trailingDelta"] = report.trailing_delta
        doc["trailingTime"] = report.trailing_time_ms if report.trailing_time_ms is not None else -1
    return doc


def order_status(order: OrderRecord) -> Doc:
    """`GET /api/v3/order` and each element of `GET /api/v3/openOrders`."""
    return {
        "symbol": order.symbol, "orderId": order.order_id, "orderListId": order.list_id,
        "clientOrderId": order.wire_id, **_state(order), "stopPrice": num(order.last.stop_price),
        "icebergQty": num(None), "time": order.created_ms, "updateTime": order.updated_ms,
        "isWorking": not order.last.status.is_final, "workingTime": order.working_ms,
        "selfTradePreventionMode": "NONE",
    }


def new_order(order: OrderRecord, reports: list[ExecutionReport], resp_type: RespType, now_ms: int) -> Doc:
    doc: Doc = {"symbol": order.symbol, "orderId": order.order_id, "orderListId": order.list_id,
                "clientOrderId": order.wire_id, "transactTime": now_ms}
    if resp_type is RespType.ACK:
        return doc
    doc |= {**_state(order), "workingTime": order.working_ms, "selfTradePreventionMode": "NONE"}
    if resp_type is RespType.FULL:
        doc["fills"] = [{"price": num(r.fill.price), "qty": num(r.fill.quantity), "commission": num(r.fill.commission),
                         "commissionAsset": r.fill.commission_asset, "tradeId": r.fill.trade_id}
                        for r in reports if r.fill is not None and r.order_id == order.order_id]
    return doc


def cancelled_order(order: OrderRecord, now_ms: int) -> Doc:
    return {"symbol": order.symbol, "origClientOrderId": order.wire_id, "orderId": order.order_id,
            "orderListId": order.list_id, "clientOrderId": f"cancel{order.order_id}", "transactTime": now_ms,
            **_state(order), "selfTradePreventionMode": "NONE"}


def order_list(venue: Venue, the_list: ListRecord, now_ms: int, *, reports: list[Doc]) -> Doc:
    legs = [venue.order(i) for i in the_list.order_ids]
    return {
        "orderListId": the_list.list_id, "contingencyType": "OCO",
        "listStatusType": "ALL_DONE" if the_list.done else "EXEC_STARTED",
        "listOrderStatus": "ALL_DONE" if the_list.done else "EXECUTING",
        "listClientOrderId": the_list.wire_id, "transactionTime": now_ms, "symbol": the_list.symbol,
        "orders": [{"symbol": o.symbol, "orderId": o.order_id, "clientOrderId": o.wire_id} for o in legs],
        "orderReports": reports,
    }


def list_status(venue: Venue, the_list: ListRecord, now_ms: int) -> Doc:
    """`GET /api/v3/orderList` and each element of `GET /api/v3/openOrderList`: the list without order reports."""
    doc = order_list(venue, the_list, now_ms, reports=[])
    del doc["orderReports"]
    return doc


def new_oco(venue: Venue, the_list: ListRecord, now_ms: int) -> Doc:
    legs = [venue.order(i) for i in the_list.order_ids]
    reports = [{"symbol": o.symbol, "orderId": o.order_id, "orderListId": o.list_id, "clientOrderId": o.wire_id,
                "transactTime": now_ms, **_state(o), "workingTime": o.working_ms, "selfTradePreventionMode": "NONE"}
               for o in legs]
    return order_list(venue, the_list, now_ms, reports=reports)


def cancelled_list(venue: Venue, the_list: ListRecord, now_ms: int) -> Doc:
    reports = [cancelled_order(venue.order(i), now_ms) for i in the_list.order_ids]
    return order_list(venue, the_list, now_ms, reports=reports)


def trade(t: TradeRecord) -> Doc:
    return {"symbol": t.symbol, "id": t.trade_id, "orderId": t.order_id, "orderListId": t.list_id,
            "price": num(t.price), "qty": num(t.quantity), "quoteQty": num(t.price * t.quantity),
            "commission": num(t.commission), "commissionAsset": t.commission_asset, "time": t.time_ms,
            "isBuyer": t.side.value == "BUY", "isMaker": t.is_maker, "isBestMatch": True}


def account(venue: Venue, *, omit_zero: bool, now_ms: int) -> Doc:
    rate = num(venue.fee_rate)
    bps = int(venue.fee_rate * 10_000)
    balances = [{"asset": a, "free": num(f), "locked": num(lk)} for a, (f, lk) in venue.balances().items()
                if not (omit_zero and f == 0 and lk == 0)]
    return {
        "makerCommission": bps, "takerCommission": bps, "buyerCommission": 0, "sellerCommission": 0,
        "commissionRates": {"maker": rate, "taker": rate, "buyer": num(Decimal(0)), "seller": num(Decimal(0))},
        "canTrade": True, "canWithdraw": False, "canDeposit": True, "brokered": False,
        "requireSelfTradePrevention": False, "preventSor": False, "updateTime": venue.update_ms or now_ms,
        "accountType": "SPOT", "balances": balances, "permissions": ["SPOT"], "uid": 1,
    }


@dataclass(frozen=True, slots=True)
class ApiRestrictions:
    """The API key's permissions as `GET /sapi/v1/account/apiRestrictions` reports them (wallet rest-api docs).
    The default is the key a careful person makes: reading and spot trading, no withdrawals, IP-restricted."""

    enable_withdrawals: bool = False
    enable_spot_and_margin_trading: bool = True
    enable_reading: bool = True
    ip_restrict: bool = True

    def document(self, create_ms: int) -> Doc:
        return {"ipRestrict": self.ip_restrict, "createTime": create_ms, "enableReading": self.enable_reading,
                "enableWithdrawals": self.enable_withdrawals, "enableInternalTransfer": False,
                "enableMargin": False, "enableFutures": False, "permitsUniversalTransfer": False,
                "enableVanillaOptions": False, "enableFixApiTrade": False, "enableFixReadOnly": False,
                "enableSpotAndMarginTrading": self.enable_spot_and_margin_trading,
                "enablePortfolioMarginTrading": False}
