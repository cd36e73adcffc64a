"""Binance's JSON shapes: exchangeInfo built from `SymbolRules`, orders, fills, and user-data events.

Decimals go out as Binance writes them: plain strings with 8 decimals ("0.00100000"), never exponents.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from core.filters import SymbolRules

_EIGHT = Decimal("1E-8")
ZERO = Decimal(0)


def num(value: Decimal | None) -> str:
    return format((value if value is not None else ZERO).quantize(_EIGHT), "f")


def symbol_info(rules: SymbolRules) -> dict[str, Any]:
    """One symbol of exchangeInfo: `rules_from_exchange_info` reads back the same rules (trailing stops included:
    `allowTrailingStop` and the TRAILING_DELTA filter say what the simulator will accept)."""
    return {
        "symbol": rules.symbol, "status": rules.status,
        "baseAsset": rules.base_asset, "baseAssetPrecision": 8,
        "quoteAsset": rules.quote_asset, "quotePrecision": rules.quote_precision,
        "quoteAssetPrecision": rules.quote_precision,
        "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
        "orderTypes": sorted(rules.order_types),
        "icebergAllowed": False, "ocoAllowed": rules.oco_allowed, "otoAllowed": False,
        "quoteOrderQtyMarketAllowed": True, "allowTrailingStop": rules.allow_trailing_stop,
        "cancelReplaceAllowed": False,
        "amendAllowed": False, "isSpotTradingAllowed": True, "isMarginTradingAllowed": False,
        "filters": _filters(rules), "permissions": [], "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "NONE", "allowedSelfTradePreventionModes": ["NONE"],
    }


def _filters(rules: SymbolRules) -> list[dict[str, Any]]:
    filters: list[dict[str, Any]] = [
        {"filterType": "PRICE_FILTER", "minPrice": num(rules.min_price), "maxPrice": num(rules.max_price),
         "tickSize": num(rules.tick_size)},
        {"filterType": "LOT_SIZE", "minQty": num(rules.min_qty), "maxQty": num(rules.max_qty),
         "stepSize": num(rules.step_size)},
        {"filterType": "MARKET_LOT_SIZE", "minQty": num(rules.market_min_qty), "maxQty": num(rules.market_max_qty),
         "stepSize": num(rules.market_step_size)},
    ]
    if rules.notional_filter == "MIN_NOTIONAL":
        filters.append({"filterType": "MIN_NOTIONAL", "minNotional": num(rules.min_notional),
                        "applyToMarket": rules.apply_min_to_market, "avgPriceMins": 5})
    else:
        filters.append({"filterType": "NOTIONAL", "minNotional": num(rules.min_notional),
                        "applyMinToMarket": rules.apply_min_to_market, "maxNotional": num(rules.max_notional),
                        "applyMaxToMarket": rules.apply_max_to_market, "avgPriceMins": 5})
    if rules.percent_up is not None and rules.percent_down is not None:
        filters.append({"filterType": "PERCENT_PRICE", "multiplierUp": str(rules.percent_up),
                        "multiplierDown": str(rules.percent_down), "avgPriceMins": 5})
    if None not in (rules.bid_up, rules.bid_down, rules.ask_up, rules.ask_down):
        filters.append({"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": str(rules.bid_up),
                        "bidMultiplierDown": str(rules.bid_down), "askMultiplierUp": str(rules.ask_up),
                        "askMultiplierDown": str(rules.ask_down), "avgPriceMins": 5})
    if rules.max_num_orders is not None:
        filters.append({"filterType": "MAX_NUM_ORDERS", "maxNumOrders": rules.max_num_orders})
    if rules.max_num_algo_orders is not None:
        filters.append({"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": rules.max_num_algo_orders})
    if rules.trailing_delta is not None:
        bounds = rules.trailing_delta
        filters.append({"filterType": "TRAILING_DELTA", "minTrailingAboveDelta": bounds.min_above,
                        "maxTrailingAboveDelta": bounds.max_above, "minTrailingBelowDelta": bounds.min_below,
                        "maxTrailingBelowDelta": bounds.max_below})
    return filters


def exchange_info(rules: list[SymbolRules], rate_limits: list[dict[str, Any]], now_ms: int) -> dict[str, Any]:
    return {"timezone": "UTC", "serverTime": now_ms, "rateLimits": rate_limits, "exchangeFilters": [],
            "symbols": [symbol_info(r) for r in rules]}
