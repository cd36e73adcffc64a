"""Binance's error codes and messages for the rejections the simulator reproduces.

Codes and messages follow Binance Spot's error documentation (errors.md): -1013 for a filter failure,
-1106 for a parameter the order type does not take, -1111 for too much precision, -1121 for an unknown
symbol, -2010 for a new order the matching engine refused, -2011 for a cancel it refused. The runtime
treats a paper rejection exactly like a live one.
"""

from __future__ import annotations

from core.exchange_port import ExchangeRejected

FILTER_FAILURE = -1013
PARAMETER_NOT_REQUIRED = -1106
BAD_PRECISION = -1111
INVALID_SYMBOL = -1121
NEW_ORDER_REJECTED = -2010
CANCEL_REJECTED = -2011

MSG_INSUFFICIENT_BALANCE = "Account has insufficient balance for requested action."
MSG_DUPLICATE_ORDER = "Duplicate order sent."
MSG_UNKNOWN_ORDER = "Unknown order sent."
MSG_UNKNOWN_ORDER_LIST = "Unknown order list sent."
MSG_WOULD_TAKE = "Order would immediately match and take."
MSG_WOULD_TRIGGER = "Order would trigger immediately."
MSG_OCO_PRICES = "The relationship of the prices for the orders is not correct."
MSG_OCO_NOT_SUPPORTED = "OCO orders are not supported for this symbol."
MSG_QUOTE_ORDER_QTY_NOT_SUPPORTED = "Quote order qty market orders are not support for this symbol."  # sic
MSG_TYPE_NOT_SUPPORTED = "Order type not supported for this symbol."
MSG_MARKET_CLOSED = "Market is closed."
MSG_TRAILING_NOT_SUPPORTED = "Trailing stop orders are not supported for this symbol."
MSG_INVALID_SYMBOL = "Invalid symbol."
MSG_PRECISION = "Precision is over the maximum defined for this asset."
MSG_TIF_NOT_REQUIRED = "Parameter 'timeInForce' sent when not required."
# Not a Binance message: a paper account that has seen no trade, bar or book for a symbol cannot price
# a market order or check the OCO price rule, and refuses rather than guessing (fail closed).
MSG_NO_MARKET_PRICE = "No market price is known yet for this symbol (paper)."


def filter_failure(filter_name: str, symbol: str, client_order_id: str | None) -> ExchangeRejected:
    return ExchangeRejected(FILTER_FAILURE, f"Filter failure: {filter_name}", symbol=symbol,
                            client_order_id=client_order_id)


def rejected(message: str, symbol: str, client_order_id: str | None) -> ExchangeRejected:
    return ExchangeRejected(NEW_ORDER_REJECTED, message, symbol=symbol, client_order_id=client_order_id)


def cancel_rejected(message: str, symbol: str, client_order_id: str | None) -> ExchangeRejected:
    return ExchangeRejected(CANCEL_REJECTED, message, symbol=symbol, client_order_id=client_order_id)


def invalid_symbol(symbol: str, client_order_id: str | None = None) -> ExchangeRejected:
    return ExchangeRejected(INVALID_SYMBOL, MSG_INVALID_SYMBOL, symbol=symbol, client_order_id=client_order_id)
