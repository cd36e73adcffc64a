"""Builders shared by the paper-exchange tests (no tests here): rules, orders and market events.

Rules are built in-test so that most tests run without the recorded fixtures: BTCUSDT with a 0.01 tick,
0.001 step and a 10 USDT minimum notional, like Binance's real filters in shape.
"""

from __future__ import annotations

from decimal import Decimal

from core.events import Bar, Book, TradePrint
from core.filters import SymbolRules
from core.types import OcoRequest, OrderRequest, OrderType, Side, TimeInForce
from exchange.paper import PaperExchange

D = Decimal
SYMBOL = "BTCUSDT"


def btc_rules(**overrides: object) -> SymbolRules:
    values: dict[str, object] = {
        "symbol": SYMBOL, "status": "TRADING", "base_asset": "BTC", "quote_asset": "USDT", "oco_allowed": True,
        "tick_size": D("0.01"), "min_price": D("0.01"), "max_price": D("1000000"),
        "step_size": D("0.001"), "min_qty": D("0.001"), "max_qty": D("9000"),
        "min_notional": D("10"), "max_num_orders": 200, "max_num_algo_orders": 5,
    }
    values.update(overrides)
    return SymbolRules(**values)  # type: ignore[arg-type]


def paper(usdt: str = "100000", btc: str = "0", *, slippage_bps: str = "0", **rule_overrides: object) -> PaperExchange:
    balances = {"USDT": D(usdt)}
    if D(btc) > 0:
        balances["BTC"] = D(btc)
    return PaperExchange({SYMBOL: btc_rules(**rule_overrides)}, balances, slippage_bps=D(slippage_bps))


def book(bids: list[tuple[float, float]], asks: list[tuple[float, float]], time_ms: int = 1_000) -> Book:
    return Book(SYMBOL, time_ms, bids=tuple(bids), asks=tuple(asks))


def trade(price: float, time_ms: int = 2_000, quantity: float = 1.0) -> TradePrint:
    return TradePrint(SYMBOL, time_ms, price, quantity, buyer_is_maker=False)


def bar(open_: float, high: float, low: float, close: float, open_time_ms: int = 300_000) -> Bar:
    return Bar(SYMBOL, open_time_ms, open_time_ms + 299_999, open_, high, low, close, volume=10.0)


def market(cid: str, side: Side, quantity: str | None = None, quote: str | None = None) -> OrderRequest:
    return OrderRequest(client_order_id=cid, symbol=SYMBOL, side=side, type=OrderType.MARKET,
                        quantity=None if quantity is None else D(quantity),
                        quote_order_qty=None if quote is None else D(quote))


def limit(cid: str, side: Side, quantity: str, price: str, tif: TimeInForce = TimeInForce.GTC) -> OrderRequest:
    return OrderRequest(client_order_id=cid, symbol=SYMBOL, side=side, type=OrderType.LIMIT, quantity=D(quantity),
                        price=D(price), time_in_force=tif)


def limit_maker(cid: str, side: Side, quantity: str, price: str) -> OrderRequest:
    return OrderRequest(client_order_id=cid, symbol=SYMBOL, side=side, type=OrderType.LIMIT_MAKER,
                        quantity=D(quantity), price=D(price))


def stop_limit(cid: str, side: Side, quantity: str, stop: str, price: str) -> OrderRequest:
    return OrderRequest(client_order_id=cid, symbol=SYMBOL, side=side, type=OrderType.STOP_LOSS_LIMIT,
                        quantity=D(quantity), stop_price=D(stop), price=D(price), time_in_force=TimeInForce.GTC)


def oco(lid: str, quantity: str, take_profit: str, stop: str, stop_limit_price: str) -> OcoRequest:
    return OcoRequest(list_client_id=lid, symbol=SYMBOL, quantity=D(quantity), take_profit_price=D(take_profit),
                      stop_price=D(stop), stop_limit_price=D(stop_limit_price))
