"""Filter behaviour on a post-2023-style symbol, one named test per bug class, and the typed refusals.

The post-2023 document is built here from the shapes documented in binance-spot-api-docs (filters.md):
no recorded exchangeInfo with NOTIONAL / PERCENT_PRICE_BY_SIDE exists in the fixtures (PROVENANCE.md).
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest

from core.errors import FilterRejected, SymbolNotTrading, UnknownSymbol
from core.filters import (
    SymbolRules,
    check_order_count,
    conform_oco,
    conform_order,
    conform_price,
    conform_quantity,
    lookup,
    round_to_step,
    rules_from_exchange_info,
)
from core.types import OcoRequest, OrderRequest, OrderType, Side, TimeInForce
from tests.core.test_filters_properties import violations

D = Decimal


def post_2023_symbol(*, apply_min_to_market: bool = True, min_notional: str = "5.00000000") -> dict[str, Any]:
    return {
        "symbol": "BTCUSDT", "status": "TRADING", "baseAsset": "BTC", "baseAssetPrecision": 8,
        "quoteAsset": "USDT", "quotePrecision": 8, "quoteAssetPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT",
                       "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True, "ocoAllowed": True, "otoAllowed": True, "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True, "cancelReplaceAllowed": True, "isSpotTradingAllowed": True,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": "0.01000000", "maxPrice": "1000000.00000000",
             "tickSize": "0.01000000"},
            {"filterType": "LOT_SIZE", "minQty": "0.00001000", "maxQty": "9000.00000000", "stepSize": "0.00001000"},
            {"filterType": "ICEBERG_PARTS", "limit": 10},
            {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000", "maxQty": "83.19539374",
             "stepSize": "0.00000000"},
            {"filterType": "TRAILING_DELTA", "minTrailingAboveDelta": 10, "maxTrailingAboveDelta": 2000,
             "minTrailingBelowDelta": 10, "maxTrailingBelowDelta": 2000},
            {"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": "5", "bidMultiplierDown": "0.2",
             "askMultiplierUp": "5", "askMultiplierDown": "0.8", "avgPriceMins": 5},
            {"filterType": "NOTIONAL", "minNotional": min_notional, "applyMinToMarket": apply_min_to_market,
             "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
        ],
        "permissions": [], "permissionSets": [["SPOT", "MARGIN"]], "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def rules(**kwargs: Any) -> SymbolRules:
    return SymbolRules.from_symbol_info(post_2023_symbol(**kwargs))


def limit(side: Side, qty: str, price: str) -> OrderRequest:
    return OrderRequest(client_order_id="cx-t", symbol="BTCUSDT", side=side, type=OrderType.LIMIT, quantity=D(qty),
                        price=D(price), time_in_force=TimeInForce.GTC)


def market(side: Side, qty: str | None = None, quote: str | None = None) -> OrderRequest:
    return OrderRequest(client_order_id="cx-t", symbol="BTCUSDT", side=side, type=OrderType.MARKET,
                        quantity=None if qty is None else D(qty), quote_order_qty=None if quote is None else D(quote))


def test_post_2023_document_parses_every_filter() -> None:
    r = rules_from_exchange_info({"timezone": "UTC", "symbols": [post_2023_symbol()]})["BTCUSDT"]
    assert (r.tick_size, r.min_price, r.max_price) == (D("0.01"), D("0.01"), D("1000000"))
    assert (r.step_size, r.min_qty, r.max_qty) == (D("0.00001"), D("0.00001"), D("9000"))
    assert (r.market_step_size, r.market_min_qty, r.market_max_qty) == (D(0), D(0), D("83.19539374"))
    assert r.notional_filter == "NOTIONAL"
    assert (r.min_notional, r.apply_min_to_market, r.max_notional, r.apply_max_to_market) == (
        D(5), True, D(9_000_000), False)
    assert (r.bid_up, r.bid_down, r.ask_up, r.ask_down) == (D(5), D("0.2"), D(5), D("0.8"))
    assert (r.percent_up, r.percent_down) == (None, None)
    assert (r.max_num_orders, r.max_num_algo_orders) == (200, 5)
    assert r.oco_allowed and r.trading and "STOP_LOSS_LIMIT" in r.order_types


def test_market_lot_size_step_zero_means_no_market_step() -> None:
    result = conform_order(rules(), market(Side.SELL, qty="0.123456789"), reference_price=D("60000"))
    assert result.quantity == D("0.12345")  # LOT_SIZE's step still applies; MARKET_LOT_SIZE's 0 adds none


def test_market_quantity_is_capped_at_market_lot_size_max_without_ever_growing() -> None:
    result = conform_order(rules(), market(Side.SELL, qty="100"), reference_price=D("60000"))
    assert result.quantity == D("83.19539")
    assert violations(rules(), result, D("60000")) == []


def test_market_cap_rounds_to_the_market_step_too() -> None:
    """Bug found in core.filters: the MARKET_LOT_SIZE cap was rounded to LOT_SIZE's step only."""
    r = rules().model_copy(update={"step_size": D("0.001"), "market_step_size": D("0.01"),
                                   "market_max_qty": D("5.555")})
    result = conform_order(r, market(Side.SELL, qty="10"), reference_price=D("100"))
    assert result.quantity == D("5.55")
    assert violations(r, result, D("100")) == []


def test_percent_price_by_side_uses_the_bid_multipliers_for_buys_and_ask_for_sells() -> None:
    r = rules()
    avg = D("100")
    with pytest.raises(FilterRejected) as buy_low:
        conform_order(r, limit(Side.BUY, "1", "19.99"), reference_price=avg)
    assert buy_low.value.filter_name == "PERCENT_PRICE_BY_SIDE"
    assert conform_order(r, limit(Side.BUY, "1", "20.00"), reference_price=avg).price == D("20.00")
    with pytest.raises(FilterRejected) as sell_low:
        conform_order(r, limit(Side.SELL, "1", "79.99"), reference_price=avg)
    assert sell_low.value.filter_name == "PERCENT_PRICE_BY_SIDE"
    with pytest.raises(FilterRejected):
        conform_order(r, limit(Side.BUY, "0.01", "500.01"), reference_price=avg)


# ----- bug class: quantity rounding that raises the size -----

def test_quantity_rounding_never_raises_the_size() -> None:
    """A value just under a multiple of the step must round down to the multiple below, whatever its precision.

    `value / step` in Decimal's default 28-digit context rounded 0.999…9 (30 nines) to 1, and the "down"
    rounding then returned 1: more than asked.
    """
    just_under_one = D("0." + "9" * 30)
    assert round_to_step(just_under_one, D(1), "down") == 0
    assert round_to_step(just_under_one, D("0.00000001"), "down") == D("0.99999999")
    assert round_to_step(D("12345678901234567890.12345678999999999999"), D("0.00000001"), "down") == D(
        "12345678901234567890.12345678")
    r = rules()
    assert conform_quantity(r, D("0.00001999"), market=False) == D("0.00001")
    with pytest.raises(FilterRejected) as too_small:
        conform_quantity(r, D("0.00000999"), market=False)
    assert too_small.value.filter_name == "LOT_SIZE", "below minQty is refused, never rounded up to it"
    for asked in ("0.5", "0.123456789", "1.000009999999999999999999999999", "83.19539374"):
        result = conform_order(r, market(Side.BUY, qty=asked), reference_price=D("60000"))
        assert result.quantity is not None and result.quantity <= D(asked)


# ----- bug class: float step arithmetic -----

def test_float_step_arithmetic_does_not_drift() -> None:
    """0.1 + 0.2 is 0.30000000000000004 in floats and 0.3 / 0.1 is 2.9999999999999996: a float floor to a step
    of 0.1 turns a valid 0.3 into 0.2, and a float ceil turns a valid price of 0.07 into 0.08."""
    assert math.floor(0.3 / 0.1) == 2 and math.ceil(0.07 / 0.01) == 8  # the hazard, in floats
    r = rules().model_copy(update={"step_size": D("0.1"), "min_qty": D("0.1"), "tick_size": D("0.01"),
                                   "min_price": D("0.01")})
    assert conform_quantity(r, D("0.1") + D("0.2"), market=False) == D("0.3")
    assert conform_quantity(r, D("0.29999999"), market=False) == D("0.2"), "never rounded up to 0.3"
    assert conform_price(r, "price", D("0.07"), "up") == D("0.07")
    assert conform_price(r, "price", D("1.13"), "down") == D("1.13")
    for k in range(1, 2_000):
        assert round_to_step(D(k) * D("0.1"), D("0.1"), "down") == D(k) * D("0.1")
        assert round_to_step(D(k) * D("0.01"), D("0.01"), "up") == D(k) * D("0.01")


def test_a_float_converted_with_decimal_of_float_is_rounded_to_what_it_really_is() -> None:
    """Decimal(0.3) is 0.29999999999999998889…: it rounds down to 0.2. Callers must build Decimals from str."""
    assert round_to_step(D(0.3), D("0.1"), "down") == D("0.2")
    assert round_to_step(D(str(0.3)), D("0.1"), "down") == D("0.3")


# ----- bug class: no minimum-notional check -----

def test_an_order_below_min_notional_is_refused() -> None:
    r = rules(min_notional="10")
    with pytest.raises(FilterRejected) as below:
        conform_order(r, limit(Side.BUY, "0.0001", "99999.99"), reference_price=D("100000"))  # 9.999999
    assert below.value.filter_name == "NOTIONAL"
    assert below.value.details["limit"] == "10"
    assert conform_order(r, limit(Side.BUY, "0.0001", "100000"), reference_price=D("100000")).quantity == D("0.0001")


def test_rounding_that_drops_the_notional_below_the_minimum_is_refused() -> None:
    r = rules(min_notional="10")
    # 0.000109 BTC asked at 92000 is 10.03 USDT; rounded down to the step it is 0.0001 BTC = 9.2 USDT.
    with pytest.raises(FilterRejected) as below:
        conform_order(r, limit(Side.BUY, "0.000109", "92000"), reference_price=D("92000"))
    assert below.value.filter_name == "NOTIONAL"


def test_market_orders_below_min_notional_are_refused_only_when_apply_min_to_market() -> None:
    small = market(Side.BUY, qty="0.0001")
    with pytest.raises(FilterRejected) as applied:
        conform_order(rules(min_notional="10", apply_min_to_market=True), small, reference_price=D("60000"))
    assert applied.value.filter_name == "NOTIONAL"
    assert conform_order(rules(min_notional="10", apply_min_to_market=False), small,
                         reference_price=D("60000")).quantity == D("0.0001")
    with pytest.raises(FilterRejected):
        conform_order(rules(min_notional="10", apply_min_to_market=True), market(Side.BUY, quote="9.99"),
                      reference_price=D("60000"))
    assert conform_order(rules(min_notional="10", apply_min_to_market=False), market(Side.BUY, quote="9.99"),
                         reference_price=D("60000")).quote_order_qty == D("9.99")


def test_legacy_min_notional_apply_to_market() -> None:
    legacy = post_2023_symbol()
    legacy["filters"] = [f for f in legacy["filters"] if f["filterType"] != "NOTIONAL"] + [
        {"filterType": "MIN_NOTIONAL", "minNotional": "10.00000000", "applyToMarket": False, "avgPriceMins": 5}]
    r = SymbolRules.from_symbol_info(legacy)
    assert r.notional_filter == "MIN_NOTIONAL" and not r.apply_min_to_market
    assert conform_order(r, market(Side.SELL, qty="0.0001"), reference_price=D("60000")).quantity == D("0.0001")
    with pytest.raises(FilterRejected) as below:
        conform_order(r, limit(Side.SELL, "0.0001", "60000"), reference_price=D("60000"))
    assert below.value.filter_name == "MIN_NOTIONAL"


def test_max_notional_applies_to_limits_and_to_markets_only_when_asked() -> None:
    r = rules().model_copy(update={"max_notional": D("1000")})
    with pytest.raises(FilterRejected) as above:
        conform_order(r, limit(Side.BUY, "0.02", "60000"), reference_price=D("60000"))
    assert above.value.filter_name == "NOTIONAL"
    assert conform_order(r, market(Side.BUY, qty="0.02"), reference_price=D("60000")).quantity == D("0.02")
    with pytest.raises(FilterRejected):
        conform_order(r.model_copy(update={"apply_max_to_market": True}), market(Side.BUY, qty="0.02"),
                      reference_price=D("60000"))


# ----- prices, OCO, counts, lookups -----

def test_prices_round_in_the_direction_that_cannot_hurt() -> None:
    r = rules()
    assert conform_order(r, limit(Side.BUY, "1", "60000.019"), reference_price=D("60000")).price == D("60000.01")
    assert conform_order(r, limit(Side.SELL, "1", "60000.011"), reference_price=D("60000")).price == D("60000.02")
    stop = OrderRequest(client_order_id="cx-t", symbol="BTCUSDT", side=Side.SELL, type=OrderType.STOP_LOSS_LIMIT,
                        quantity=D("1"), price=D("58999.999"), stop_price=D("59000.001"),
                        time_in_force=TimeInForce.GTC)
    result = conform_order(r, stop, reference_price=D("60000"))
    assert (result.price, result.stop_price) == (D("59000.00"), D("59000.01"))


def oco(tp: str, stop: str, stop_limit: str, qty: str = "0.01") -> OcoRequest:
    return OcoRequest(list_client_id="cx-l", symbol="BTCUSDT", quantity=D(qty), take_profit_price=D(tp),
                      stop_price=D(stop), stop_limit_price=D(stop_limit))


def test_conform_oco_rounds_legs_and_enforces_tp_above_last_above_stop() -> None:
    result = conform_oco(rules(), oco("61000.001", "59000.001", "58900.009"), last_price=D("60000"))
    assert (result.take_profit_price, result.stop_price, result.stop_limit_price) == (
        D("61000.01"), D("59000.01"), D("58900.00"))
    with pytest.raises(FilterRejected) as stop_crosses:
        conform_oco(rules(), oco("61000", "59999.999", "59000"), last_price=D("60000"))  # rounds up to 60000.00
    assert stop_crosses.value.filter_name == "OCO"
    with pytest.raises(FilterRejected) as tp_below:
        conform_oco(rules(), oco("59999", "59000", "59000"), last_price=D("60000"))
    assert tp_below.value.filter_name == "OCO"


def test_conform_oco_refuses_rules_of_another_symbol() -> None:
    """Bug found in core.filters: conform_oco checked an OCO against whatever rules it was given."""
    eth = rules().model_copy(update={"symbol": "ETHUSDT"})
    with pytest.raises(ValueError):
        conform_oco(eth, oco("61000", "59000", "59000"), last_price=D("60000"))
    with pytest.raises(ValueError):
        conform_order(eth, limit(Side.BUY, "1", "60000"), reference_price=D("60000"))


def test_order_counts_including_oco_as_two_orders() -> None:
    r = rules()
    check_order_count(r, open_orders=199, open_algo_orders=0, new_orders=1, new_algo_orders=0)
    with pytest.raises(FilterRejected) as too_many:
        conform_oco(r, oco("61000", "59000", "59000"), last_price=D("60000"), open_orders=199)
    assert too_many.value.filter_name == "MAX_NUM_ORDERS"
    with pytest.raises(FilterRejected) as algo:
        conform_oco(r, oco("61000", "59000", "59000"), last_price=D("60000"), open_algo_orders=5)
    assert algo.value.filter_name == "MAX_NUM_ALGO_ORDERS"


def test_lookup_and_status() -> None:
    doc = {"symbols": [post_2023_symbol(), {**post_2023_symbol(), "symbol": "ETHUSDT", "baseAsset": "ETH",
                                             "status": "BREAK"}]}
    table = rules_from_exchange_info(doc)
    assert lookup(table, "BTCUSDT").symbol == "BTCUSDT"
    with pytest.raises(UnknownSymbol):
        lookup(table, "DOGEUSDT")
    with pytest.raises(SymbolNotTrading):
        lookup(table, "ETHUSDT")
    with pytest.raises(SymbolNotTrading):
        conform_order(table["ETHUSDT"], limit(Side.BUY, "1", "100").model_copy(update={"symbol": "ETHUSDT"}),
                      reference_price=D("100"))


def test_refusals_carry_symbol_filter_value_and_limit() -> None:
    with pytest.raises(FilterRejected) as exc:
        conform_quantity(rules(), D("0.000001"), market=False)
    assert exc.value.to_dict() == {
        "code": "FILTER_REJECTED",
        "message": exc.value.message,
        "details": {"symbol": "BTCUSDT", "filter": "LOT_SIZE", "field": "quantity", "value": "0E-8",
                    "limit": "0.00001000"},
    }


def test_oco_take_profit_leg_must_respect_max_notional() -> None:
    """Bug found in core.filters: conform_oco checked the notional of the stop leg only, so a take-profit leg
    above maxNotional went out and Binance refused the whole list."""
    r = rules().model_copy(update={"max_notional": D("1000")})
    with pytest.raises(FilterRejected) as above:
        conform_oco(r, oco("61000", "59000", "58990", qty="0.0165"), last_price=D("60000"))  # tp leg 1006.5
    assert above.value.filter_name == "NOTIONAL"
    assert conform_oco(r, oco("60500", "59000", "58990", qty="0.0165"), last_price=D("60000")).quantity == D("0.0165")
