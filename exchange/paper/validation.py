"""Order checks against a symbol's filters, answered the way Binance answers them.

`core.filters` rounds values in the safe direction; an exchange does not round, it refuses. So an order is
accepted only when conforming it would change nothing: a quantity off the step is -1013 LOT_SIZE, a price
off the tick -1013 PRICE_FILTER, a quote amount with too many decimals -1111, and anything
`core.filters` refuses is -1013 with the filter it names (the OCO price rule is -2010, as on Binance, and so is
a trailing stop on a symbol that does not allow them).
"""

from __future__ import annotations

from decimal import Decimal

from core.errors import FilterRejected, SymbolNotTrading, TrailingStopNotAllowed
from core.exchange_port import ExchangeRejected
from core.filters import SymbolRules, conform_oco, conform_order, round_to_step
from core.types import OcoRequest, OrderRequest, OrderType
from exchange.paper import rejects


def check_order(rules: SymbolRules, order: OrderRequest, *, reference_price: Decimal, open_orders: int,
                open_algo_orders: int) -> None:
    cid = order.client_order_id
    if order.type is OrderType.MARKET and order.time_in_force is not None:
        raise ExchangeRejected(rejects.PARAMETER_NOT_REQUIRED, rejects.MSG_TIF_NOT_REQUIRED, symbol=rules.symbol,
                               client_order_id=cid)
    if rules.order_types and order.type.value not in rules.order_types:
        raise rejects.rejected(rejects.MSG_TYPE_NOT_SUPPORTED, rules.symbol, cid)
    if order.quote_order_qty is not None and not rules.quote_order_qty_market_allowed:
        raise rejects.rejected(rejects.MSG_QUOTE_ORDER_QTY_NOT_SUPPORTED, rules.symbol, cid)
    try:
        conformed = conform_order(rules, order, reference_price=reference_price, open_orders=open_orders,
                                  open_algo_orders=open_algo_orders)
    except FilterRejected as refused:
        raise rejects.filter_failure(refused.filter_name, rules.symbol, cid) from refused
    except SymbolNotTrading as closed:
        raise rejects.rejected(rejects.MSG_MARKET_CLOSED, rules.symbol, cid) from closed
    except TrailingStopNotAllowed as refused:
        raise rejects.rejected(rejects.MSG_TRAILING_NOT_SUPPORTED, rules.symbol, cid) from refused
    if conformed.quote_order_qty != order.quote_order_qty:
        raise ExchangeRejected(rejects.BAD_PRECISION, rejects.MSG_PRECISION, symbol=rules.symbol, client_order_id=cid)
    if conformed.quantity != order.quantity:
        assert order.quantity is not None  # conform_order only changes a quantity that was given
        raise rejects.filter_failure(_quantity_filter(rules, order.quantity, market=order.type is OrderType.MARKET),
                                     rules.symbol, cid)
    if conformed.price != order.price or conformed.stop_price != order.stop_price:
        raise rejects.filter_failure("PRICE_FILTER", rules.symbol, cid)


def check_oco(rules: SymbolRules, oco: OcoRequest, *, last_price: Decimal, open_orders: int,
              open_algo_orders: int) -> None:
    lid = oco.list_client_id
    if not rules.oco_allowed:
        raise rejects.rejected(rejects.MSG_OCO_NOT_SUPPORTED, rules.symbol, lid)
    try:
        conformed = conform_oco(rules, oco, last_price=last_price, open_orders=open_orders,
                                open_algo_orders=open_algo_orders)
    except FilterRejected as refused:
        if refused.filter_name == "OCO":
            raise rejects.rejected(rejects.MSG_OCO_PRICES, rules.symbol, lid) from refused
        raise rejects.filter_failure(refused.filter_name, rules.symbol, lid) from refused
    except SymbolNotTrading as closed:
        raise rejects.rejected(rejects.MSG_MARKET_CLOSED, rules.symbol, lid) from closed
    except TrailingStopNotAllowed as refused:
        raise rejects.rejected(rejects.MSG_TRAILING_NOT_SUPPORTED, rules.symbol, lid) from refused
    if conformed.quantity != oco.quantity:
        raise rejects.filter_failure(_quantity_filter(rules, oco.quantity, market=False), rules.symbol, lid)
    if (conformed.take_profit_price, conformed.stop_price, conformed.stop_limit_price) != (
            oco.take_profit_price, oco.stop_price, oco.stop_limit_price):
        raise rejects.filter_failure("PRICE_FILTER", rules.symbol, lid)


def _quantity_filter(rules: SymbolRules, quantity: Decimal, *, market: bool) -> str:
    """Which lot filter a quantity that conform_quantity had to change violates."""
    if rules.max_qty > 0 and quantity > rules.max_qty:
        return "LOT_SIZE"
    if round_to_step(quantity, rules.step_size, "down") != quantity:
        return "LOT_SIZE"
    if market:
        return "MARKET_LOT_SIZE"
    return "LOT_SIZE"
