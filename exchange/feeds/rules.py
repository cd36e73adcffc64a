"""Plausible Binance filters for symbols that have no exchangeInfo at hand (an APPROXIMATION).

Replaying candles needs tick sizes, lot steps and a minimum notional, but a candle file carries
none of them. These rules are derived from a price level so that they look like Binance's for a
pair at that price: about five significant digits of price (never finer than 1e-8, never coarser
than 0.01), a lot step worth roughly 1 unit of quote, a NOTIONAL minimum (5 USDT by default),
PERCENT_PRICE_BY_SIDE 0.2-5×, the usual order-count caps, and trailing stops allowed with the
TRAILING_DELTA range 10-2000 BIPS that filters.md shows. They are not the real rules of any
symbol: orders that pass them may be refused by the exchange. The accurate path is a real
exchangeInfo document (`--exchange-info FILE`, parsed by `core.filters.rules_from_exchange_info`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from core.filters import SymbolRules
from exchange.feeds.errors import UnsupportedSymbol

# Longest first, so that "FDUSD" wins over "USD"-like endings.
QUOTE_ASSETS = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "DAI", "EUR", "TRY", "BRL", "GBP", "JPY", "BTC", "ETH",
                "BNB")
# Binance's minimum notional for quotes that are not worth about one US dollar a unit.
MIN_NOTIONAL_BY_QUOTE: Mapping[str, Decimal] = {"BTC": Decimal("0.0001"), "ETH": Decimal("0.001"),
                                                "BNB": Decimal("0.01"), "TRY": Decimal("100"),
                                                "JPY": Decimal("500"), "BRL": Decimal("10")}
MAX_PRICE = Decimal("1000000")
MAX_QTY = Decimal("9000000")


def split_symbol(symbol: str) -> tuple[str, str]:
    """("BTCUSDT") → ("BTC", "USDT"), by the known quote assets."""
    for quote in sorted(QUOTE_ASSETS, key=len, reverse=True):
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol[: -len(quote)], quote
    raise UnsupportedSymbol(symbol, f"quote asset not one of {', '.join(QUOTE_ASSETS)}")


def _power_of_ten(exponent: int) -> Decimal:
    return Decimal(1).scaleb(exponent)


def tick_size_for(price: float) -> Decimal:
    """About five significant digits, clamped to [1e-8, 0.01]."""
    exponent = math.floor(math.log10(price)) - 4
    return _power_of_ten(min(-2, max(-8, exponent)))


def step_size_for(price: float) -> Decimal:
    """A lot step worth about one unit of quote (BTC at 60k → 0.00001), clamped to [1e-8, 1]."""
    exponent = math.floor(math.log10(1.0 / price))
    return _power_of_ten(min(0, max(-8, exponent)))


def _text(value: Decimal) -> str:
    return f"{value:.8f}"


def offline_symbol_info(symbol: str, price: float, quote_min_notional: Decimal = Decimal("5"),
                        min_notional_by_quote: Mapping[str, Decimal] = MIN_NOTIONAL_BY_QUOTE) -> dict[str, Any]:
    """One symbol entry of a Binance-shaped exchangeInfo document, with the filters described above."""
    if not (math.isfinite(price) and price > 0):
        raise ValueError(f"{symbol}: a price level must be positive and finite, got {price!r}")
    base, quote = split_symbol(symbol)
    tick, step = tick_size_for(price), step_size_for(price)
    min_notional = min_notional_by_quote.get(quote, quote_min_notional)
    return {
        "symbol": symbol,
        "status": "TRADING",
        "baseAsset": base,
        "baseAssetPrecision": 8,
        "quoteAsset": quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
        "ocoAllowed": True,
        "allowTrailingStop": True,
        "quoteOrderQtyMarketAllowed": True,
        "isSpotTradingAllowed": True,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": _text(tick), "maxPrice": _text(MAX_PRICE),
             "tickSize": _text(tick)},
            {"filterType": "LOT_SIZE", "minQty": _text(step), "maxQty": _text(MAX_QTY), "stepSize": _text(step)},
            {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000", "maxQty": _text(MAX_QTY / 10),
             "stepSize": "0.00000000"},
            {"filterType": "NOTIONAL", "minNotional": _text(min_notional), "applyMinToMarket": True,
             "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
            {"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": "5", "bidMultiplierDown": "0.2",
             "askMultiplierUp": "5", "askMultiplierDown": "0.2", "avgPriceMins": 5},
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
            {"filterType": "TRAILING_DELTA", "minTrailingAboveDelta": 10, "maxTrailingAboveDelta": 2000,
             "minTrailingBelowDelta": 10, "maxTrailingBelowDelta": 2000},
        ],
    }


def offline_exchange_info(prices: Mapping[str, float], quote_min_notional: Decimal = Decimal("5"),
                          server_time_ms: int = 0) -> dict[str, Any]:
    """A whole exchangeInfo document for `prices` (symbol → price level)."""
    return {
        "timezone": "UTC",
        "serverTime": server_time_ms,
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
        ],
        "exchangeFilters": [],
        "symbols": [offline_symbol_info(s, p, quote_min_notional) for s, p in sorted(prices.items())],
    }


def offline_rules(prices: Mapping[str, float], quote_min_notional: Decimal = Decimal("5")) -> dict[str, SymbolRules]:
    """Approximate rules per symbol from its price level (see the module docstring for what that means)."""
    return {s: SymbolRules.from_symbol_info(offline_symbol_info(s, p, quote_min_notional))
            for s, p in prices.items()}
