"""`BinanceExchange`: the Exchange port on Binance Spot's REST API.

Every order carries our deterministic client id (journaled by the runtime before the call: `remote` is
True). A placement or cancel whose outcome cannot be known raises `ExecutionStatusUnknown` and is never
resent here; the caller looks the order up with `get_order` first. Every answer's reports have the shapes
the user-data stream would send, so the runtime deduplicates them by trade id whichever arrives first.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from binance_common.errors import Error

from core.exchange_port import CatchUp, Exchange, ExchangeRejected, ExecutionReport, OrderHistory, OrderView
from core.filters import SymbolRules, lookup, rules_from_exchange_info
from core.types import Fill, OcoRequest, OrderRequest, OrderType, is_client_id
from exchange.binance import wire
from exchange.binance.config import BinanceConfig
from exchange.binance.errors import NO_SUCH_ORDER, binance_code, message, translate_write
from exchange.binance.limits import Cost
from exchange.binance.rest import Method, RestClient
from exchange.binance.user_stream import UserStream
from exchange.feeds.live import wall_clock_ms

# Documented request weights (rest-api.md). Order placement and cancels cost 0 when they succeed since
# 2026-04-02 (see limits.py); the throttle reserves their weight on failure (1).
_ORDER = Cost(weight=1, orders=1)
_OCO = Cost(weight=1, orders=2)  # an OCO counts as two orders
_CANCEL = Cost(weight=1)
_QUERY = Cost(weight=4)
_OPEN_ONE, _OPEN_ALL = Cost(weight=6), Cost(weight=80)
_ACCOUNT = Cost(weight=20)
_EXCHANGE_INFO = Cost(weight=20)
_MY_TRADES = Cost(weight=20)
_QUERY_LIST = Cost(weight=4)
_OPEN_LISTS = Cost(weight=6)
_ALL_ORDERS = Cost(weight=20)  # GET /api/v3/allOrders, whatever the page size (rest-api.md)
NO_LIST = -1
PAGE = 1000  # allOrders' and myTrades' largest `limit`
# allOrders: "The time between startTime and endTime can't be longer than 24 hours" (rest-api.md); an hour less, so
# that the clock's measured offset can never push a window past it.
HISTORY_SPAN_MS = 23 * 3_600_000
_END_SLACK_MS = 1_000  # the window ends a second after the synced server time: its estimate may lag by RTT/2


class BinanceExchange(Exchange):
    remote = True  # orders leave the process: each intent is journaled before it is sent

    def __init__(self, config: BinanceConfig, *, clock_ms: Callable[[], int] = wall_clock_ms,
                 sleep_s: Callable[[float], None] = time.sleep) -> None:
        self._config = config
        self.rest = RestClient(config, clock_ms=clock_ms, sleep_s=sleep_s)
        self._rules: dict[str, SymbolRules] = {}
        self._list_ids: dict[int, str] = {}  # orderListId -> listClientOrderId, learnt from answers
        self._unnamed_lists: set[int] = set()  # orderIds of the last listing whose order list's name was not known

    def start(self) -> None:
        """Sync the clock and load the rules and rate limits (before any order)."""
        self.rest.sync_time()
        self.exchange_rules()

    def close(self) -> None:
        self.rest.close()

    # ----- reads ------------------------------------------------------------------------------------

    def exchange_rules(self) -> dict[str, SymbolRules]:
        doc = self.rest.read("exchangeInfo", "/api/v3/exchangeInfo", {}, _EXCHANGE_INFO, signed=False)
        self.rest.limits.configure(doc.get("rateLimits", []))
        self._rules = rules_from_exchange_info(doc)
        return dict(self._rules)

    def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        doc = self._read("account", "/api/v3/account", {"omitZeroBalances": "true"}, _ACCOUNT)
        return {b["asset"]: (wire.dec(b["free"]), wire.dec(b["locked"])) for b in doc["balances"]}

    def get_order(self, symbol: str, client_order_id: str) -> OrderView | None:
        doc = self._order_doc(symbol, client_order_id)
        return None if doc is None else wire.order_view(doc, self._list_client_id(doc))

    def _order_doc(self, symbol: str, client_order_id: str) -> dict[str, Any] | None:
        """The latest order with this client id; None where Binance answers -2013."""
        try:
            return self.rest.read("order", "/api/v3/order", {"symbol": symbol, "origClientOrderId": client_order_id},
                                  _QUERY)
        except Error as error:
            if binance_code(error) == NO_SUCH_ORDER:
                return None
            raise ExchangeRejected(binance_code(error), message(error), symbol=symbol,
                                   client_order_id=client_order_id) from error

    def open_orders(self, symbol: str | None = None) -> list[OrderView]:
        params = {"symbol": symbol} if symbol else {}
        docs = self._read("openOrders", "/api/v3/openOrders", params, _OPEN_ONE if symbol else _OPEN_ALL)
        if any(int(d.get("orderListId", NO_LIST)) not in (NO_LIST, *self._list_ids) for d in docs):
            self._learn_open_lists()
        views = [wire.order_view(d, self._list_client_id(d)) for d in docs]
        return sorted(views, key=lambda v: (v.time_ms, v.order_id))

    def my_trades(self, symbol: str, *, from_id: int | None = None) -> list[Fill]:
        """Own trades of one symbol (from `from_id` on, for catching up), each with its order's client id."""
        params: dict[str, Any] = {"symbol": symbol, "limit": 1000}
        if from_id is not None:
            params["fromId"] = from_id
        rows = self._read("myTrades", "/api/v3/myTrades", params, _MY_TRADES)
        client_ids: dict[int, str] = {}
        fills = []
        for row in rows:
            order_id = int(row["orderId"])
            if order_id not in client_ids:
                client_ids[order_id] = str(self._order_by_id(symbol, order_id)["clientOrderId"])
            fills.append(wire.trade_fill(row, client_ids[order_id]))
        return fills

    def _list_client_id(self, doc: dict[str, Any]) -> str | None:
        """The listClientOrderId of an order's list (None for a lone order). A process that did not place the list
        (a restart) learns it from `GET /api/v3/orderList`: an OCO placed before a crash is known as ours."""
        list_id = int(doc.get("orderListId", NO_LIST))
        if list_id == NO_LIST:
            return None
        if list_id not in self._list_ids:
            found = self._read("orderList", "/api/v3/orderList", {"orderListId": list_id}, _QUERY_LIST)
            self._list_ids[list_id] = str(found["listClientOrderId"])
        return self._list_ids[list_id]

    def _learn_open_lists(self) -> None:
        """Every open order list's client id at once (`GET /api/v3/openOrderList`), for a listing of open orders."""
        for found in self._read("openOrderList", "/api/v3/openOrderList", {}, _OPEN_LISTS):
            self._list_ids[int(found["orderListId"])] = str(found["listClientOrderId"])

    def _order_by_id(self, symbol: str, order_id: int) -> dict[str, Any]:
        return dict(self._read("order", "/api/v3/order", {"symbol": symbol, "orderId": order_id}, _QUERY))

    def catch_up(self, symbol: str, after_trade_id: int | None, since_ms: int | None = None) -> CatchUp:
        """What the user-data stream may have missed for `symbol` while it was down: one TRADE report per own
        trade after `after_trade_id` with its order's state as of now, oldest first, and, when `since_ms` is
        given or the trades' orders are more than a listing's weight in lookups, the symbol's order history since
        then (`order_history`, listed after the trades, so every order's state there is at least as new as its
        trades). The caller deduplicates fills by trade id. Orders of trades outside the history are looked up one
        by one.

        `after_trade_id` None (a journal that has seen no trade of the symbol yet): the account's most recent
        trades. From trade id 0, an account with a long history would get its oldest page, none of it ours, and a
        lookup of each order in it. Trades of orders that are not ours (another app's, by client id) are skipped."""
        page: dict[str, Any] = {"symbol": symbol, "limit": PAGE}
        if after_trade_id is not None:
            page["fromId"] = after_trade_id + 1  # without it Binance answers the most recent trades
        rows = self._read("myTrades", "/api/v3/myTrades", page, _MY_TRADES)
        traded_orders = {int(row["orderId"]) for row in rows}
        if rows and (since_ms is not None or len(traded_orders) * _QUERY.weight > _ALL_ORDERS.weight):
            first_trade_ms = min(int(row["time"]) for row in rows)  # an order is placed before its first trade
            since_ms = first_trade_ms if since_ms is None else min(since_ms, first_trade_ms)
        history = None if since_ms is None else self.order_history(symbol, since_ms)
        by_order_id = {} if history is None else {view.order_id: view for view in history.views.values()}
        reports = []
        for row in rows:
            order_id = int(row["orderId"])
            view = by_order_id.get(order_id)
            if view is None or (view.list_client_id is None and order_id in self._unnamed_lists):
                order = self._order_by_id(symbol, order_id)
                view = by_order_id[order_id] = wire.order_view(order, self._list_client_id(order))
            if is_client_id(view.client_order_id):  # another app's trade on the account is not ours to report
                reports.append(wire.trade_report(view, wire.trade_fill(row, view.client_order_id)))
        return CatchUp(reports, history)

    def order_history(self, symbol: str, since_ms: int) -> OrderHistory:
        """Every order of `symbol` placed since `since_ms` (at most the last 23 hours), from `GET /api/v3/allOrders`:
        one request of weight 20 per 1,000 orders, where looking each order up costs 4 apiece.

        The window starts at `since_ms` read on whichever clock is earlier (local or the exchange's, whose offset
        the last sync measured). A full first page may have been cut at either end (Binance does not document
        which), so the rest is paged by `orderId` (ids grow with time on a symbol), and the listing then proves
        completeness only after its oldest order. List client ids the adapter has not learnt are left None (the
        caller knows its own orders' lists; a trade's order is looked up)."""
        offset = self.rest.offset_ms
        now = self.rest.server_time_ms()
        end = now + _END_SLACK_MS
        start = min(now, max(min(since_ms, since_ms + offset), end - HISTORY_SPAN_MS))
        docs = self._read("allOrders", "/api/v3/allOrders",
                          {"symbol": symbol, "startTime": start, "endTime": end, "limit": PAGE}, _ALL_ORDERS)
        complete_since = start
        page = docs
        if len(page) >= PAGE:
            complete_since = min(int(d["time"]) for d in page) + 1  # an older order may share its millisecond
        while len(page) >= PAGE:
            page = self._read("allOrders", "/api/v3/allOrders", {"symbol": symbol, "limit": PAGE,
                                                                 "orderId": max(int(d["orderId"]) for d in page) + 1},
                              _ALL_ORDERS)
            docs = [*docs, *page]
        views: dict[str, OrderView] = {}
        self._unnamed_lists.clear()  # only the latest listing's: `catch_up` uses the history it has just fetched
        for doc in sorted(docs, key=lambda d: int(d["orderId"])):  # the latest order under a client id wins
            list_id = int(doc.get("orderListId", NO_LIST))
            if list_id != NO_LIST and list_id not in self._list_ids:
                self._unnamed_lists.add(int(doc["orderId"]))
            views[str(doc["clientOrderId"])] = wire.order_view(doc, self._list_ids.get(list_id))
        # Settled: a request signed before `now - recvWindow` that the exchange has not carried out by `now` is
        # refused when it arrives ("serverTime - timestamp > recvWindow"), so it can no longer appear.
        settled = now - self._config.recv_window_ms
        return OrderHistory(symbol=symbol, views=views, complete_since_ms=max(complete_since, complete_since - offset),
                            settled_until_ms=min(settled, settled - offset))

    def user_stream(self) -> UserStream:
        """The user-data stream of this account, sharing what the adapter learnt of order-list ids."""
        return UserStream(self._config, self._list_ids, server_time_ms=self.rest.server_time_ms)

    def _read(self, what: str, path: str, params: dict[str, Any], cost: Cost) -> Any:
        try:
            return self.rest.read(what, path, params, cost)
        except Error as error:
            raise ExchangeRejected(binance_code(error), message(error), symbol=params.get("symbol")) from error

    # ----- writes -----------------------------------------------------------------------------------

    def place_order(self, order: OrderRequest, now_ms: int) -> list[ExecutionReport]:
        rules = self._rules_for(order.symbol)
        params = _order_params(rules, order)
        doc = self._write(Method.POST, "/api/v3/order", params, _ORDER, order.symbol, order.client_order_id)
        return wire.placement_reports(doc)

    def place_oco(self, oco: OcoRequest, now_ms: int) -> list[ExecutionReport]:
        rules = self._rules_for(oco.symbol)
        params: dict[str, Any] = {
            "symbol": oco.symbol, "side": oco.side.value, "quantity": wire.quantity_text(rules, oco.quantity),
            "listClientOrderId": oco.list_client_id,
            "aboveType": OrderType.LIMIT_MAKER.value, "abovePrice": wire.price_text(rules, oco.take_profit_price),
            "aboveClientOrderId": oco.take_profit_client_id,
            "belowType": OrderType.STOP_LOSS_LIMIT.value, "belowPrice": wire.price_text(rules, oco.stop_limit_price),
            "belowTimeInForce": "GTC", "belowClientOrderId": oco.stop_client_id, "newOrderRespType": "FULL",
        }
        if oco.stop_price is not None:
            params["belowStopPrice"] = wire.price_text(rules, oco.stop_price)
        if oco.trailing_delta is not None:
            params["belowTrailingDelta"] = oco.trailing_delta
        doc = self._write(Method.POST, "/api/v3/orderList/oco", params, _OCO, oco.symbol, oco.list_client_id)
        return self._list_reports(doc, wire.placement_reports)

    def cancel_order(self, symbol: str, client_order_id: str, now_ms: int) -> list[ExecutionReport]:
        """A leg of an order list is cancelled with its list (Binance cancels the whole list anyway, and the
        list's answer reports every leg)."""
        doc = self._order_doc(symbol, client_order_id)
        list_id = NO_LIST if doc is None else int(doc.get("orderListId", NO_LIST))
        if list_id != NO_LIST:
            return self._cancel_list({"symbol": symbol, "orderListId": list_id}, symbol, client_order_id)
        doc = self._write(Method.DELETE, "/api/v3/order", {"symbol": symbol, "origClientOrderId": client_order_id},
                          _CANCEL, symbol, client_order_id)
        return [wire.cancel_report(doc, None)]

    def cancel_order_list(self, symbol: str, list_client_id: str, now_ms: int) -> list[ExecutionReport]:
        return self._cancel_list({"symbol": symbol, "listClientOrderId": list_client_id}, symbol, list_client_id)

    def _cancel_list(self, params: dict[str, Any], symbol: str, client_id: str) -> list[ExecutionReport]:
        doc = self._write(Method.DELETE, "/api/v3/orderList", params, _CANCEL, symbol, client_id)
        return self._list_reports(doc, lambda report, list_id: [wire.cancel_report(report, list_id)])

    def _list_reports(self, doc: dict[str, Any],
                      one: Callable[[dict[str, Any], str | None], list[ExecutionReport]]) -> list[ExecutionReport]:
        list_client_id = str(doc["listClientOrderId"])
        self._list_ids[int(doc["orderListId"])] = list_client_id
        return [report for leg in doc["orderReports"] for report in one(leg, list_client_id)]

    def _write(self, method: Method, path: str, params: dict[str, Any], cost: Cost, symbol: str,
               client_id: str) -> Any:
        try:
            return self.rest.send(method, path, params, cost)
        except Error as error:
            raise translate_write(error, symbol=symbol, client_order_id=client_id) from error

    def _rules_for(self, symbol: str) -> SymbolRules:
        if not self._rules:
            self.exchange_rules()
        return lookup(self._rules, symbol)


def _order_params(rules: SymbolRules, order: OrderRequest) -> dict[str, Any]:
    """POST /api/v3/order's parameters, every number a plain decimal string at the symbol's tick and step.
    A MARKET buy by quote amount lets the exchange cap the cost (`quoteOrderQty`)."""
    params: dict[str, Any] = {"symbol": order.symbol, "side": order.side.value, "type": order.type.value,
                              "newClientOrderId": order.client_order_id, "newOrderRespType": "FULL"}
    market = order.type is OrderType.MARKET
    if order.quantity is not None:
        params["quantity"] = wire.quantity_text(rules, order.quantity, market=market)
    if order.quote_order_qty is not None:
        params["quoteOrderQty"] = wire.quote_text(rules, order.quote_order_qty)
    if order.price is not None:
        params["price"] = wire.price_text(rules, order.price)
    if order.stop_price is not None:
        params["stopPrice"] = wire.price_text(rules, order.stop_price)
    if order.time_in_force is not None:
        params["timeInForce"] = order.time_in_force.value
    if order.trailing_delta is not None:
        params["trailingDelta"] = order.trailing_delta
    return params
