"""Properties of `core.filters` over generated exchangeInfo symbols (legacy and post-2023 shapes).

`violations` below is an independent reading of Binance's filter rules (binance-spot-api-docs,
filters.md), written from the documented conditions, not from `core.filters`: every order that
`conform_order` returns must produce no violation.
"""

from __future__ import annotations

from decimal import Context, Decimal, localcontext
from typing import Any

from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from core.errors import FilterRejected
from core.filters import SymbolRules, conform_oco, conform_order, round_to_step
from core.types import OcoRequest, OrderRequest, OrderType, Side, TimeInForce

D = Decimal
KNOWN_FILTERS = {"PRICE_FILTER", "LOT_SIZE", "MARKET_LOT_SIZE", "NOTIONAL", "MIN_NOTIONAL", "PERCENT_PRICE",
                 "PERCENT_PRICE_BY_SIDE", "MAX_NUM_ORDERS", "MAX_NUM_ALGO_ORDERS", "OCO"}


def violations(rules: SymbolRules, order: OrderRequest, avg_price: Decimal) -> list[str]:
    """Every documented filter condition the order breaks (empty when Binance would accept it)."""
    with localcontext(Context(prec=100)):
        return _violations(rules, order, avg_price)


def _violations(rules: SymbolRules, order: OrderRequest, avg_price: Decimal) -> list[str]:
    found: list[str] = []
    market = order.type is OrderType.MARKET

    def check_price(name: str, price: Decimal) -> None:
        if rules.min_price and price < rules.min_price:
            found.append(f"PRICE_FILTER: {name} {price} < minPrice")
        if rules.max_price and price > rules.max_price:
            found.append(f"PRICE_FILTER: {name} {price} > maxPrice")
        if rules.tick_size and price % rules.tick_size != 0:
            found.append(f"PRICE_FILTER: {name} {price} not on tick {rules.tick_size}")

    def check_percent(price: Decimal) -> None:
        if rules.bid_up is not None:
            up, down = (rules.bid_up, rules.bid_down) if order.side is Side.BUY else (rules.ask_up, rules.ask_down)
            assert down is not None
        elif rules.percent_up is not None:
            up, down = rules.percent_up, rules.percent_down
            assert down is not None
        else:
            return
        if not avg_price * down <= price <= avg_price * up:
            found.append(f"PERCENT_PRICE: {price} outside {avg_price * down}..{avg_price * up}")

    if order.quote_order_qty is not None:
        quote = order.quote_order_qty
        if -quote.as_tuple().exponent > rules.quote_precision:  # type: ignore[operator]
            found.append(f"quoteOrderQty {quote} has more than {rules.quote_precision} decimals")
        notional = quote
    else:
        assert order.quantity is not None
        qty = order.quantity
        lots = [("LOT_SIZE", rules.min_qty, rules.max_qty, rules.step_size)]
        if market:
            lots.append(("MARKET_LOT_SIZE", rules.market_min_qty, rules.market_max_qty, rules.market_step_size))
        for name, lo, hi, step in lots:
            if qty < lo or qty <= 0:
                found.append(f"{name}: {qty} < minQty {lo}")
            if hi and qty > hi:
                found.append(f"{name}: {qty} > maxQty {hi}")
            if step and qty % step != 0:
                found.append(f"{name}: {qty} not on step {step}")
        notional = qty * (avg_price if order.price is None else order.price)
    if order.price is not None:
        check_price("price", order.price)
        check_percent(order.price)
    if order.stop_price is not None:
        check_price("stopPrice", order.stop_price)
    if rules.min_notional and (not market or rules.apply_min_to_market) and notional < rules.min_notional:
        found.append(f"{rules.notional_filter}: {notional} < minNotional {rules.min_notional}")
    if rules.max_notional and (not market or rules.apply_max_to_market) and notional > rules.max_notional:
        found.append(f"{rules.notional_filter}: {notional} > maxNotional {rules.max_notional}")
    return found


def power_of_ten(exponent: int) -> Decimal:
    return D(1).scaleb(exponent)


@st.composite
def symbol_infos(draw: st.DrawFn) -> dict[str, Any]:
    """An exchangeInfo symbol entry: legacy (MIN_NOTIONAL, PERCENT_PRICE) or post-2023 (NOTIONAL, BY_SIDE)."""
    tick = power_of_ten(-draw(st.integers(0, 8)))
    step = power_of_ten(-draw(st.integers(0, 8)))
    min_qty = step * draw(st.integers(1, 100))
    max_qty = power_of_ten(draw(st.integers(3, 7)))
    market_max = draw(st.sampled_from([max_qty, max(min_qty, power_of_ten(draw(st.integers(0, 4))))]))
    market_step = draw(st.sampled_from([D(0), step]))
    filters: list[dict[str, Any]] = [
        {"filterType": "PRICE_FILTER", "minPrice": str(tick * draw(st.integers(1, 10))),
         "maxPrice": str(power_of_ten(draw(st.integers(4, 7)))), "tickSize": str(tick)},
        {"filterType": "LOT_SIZE", "minQty": str(min_qty), "maxQty": str(max_qty), "stepSize": str(step)},
        {"filterType": "MARKET_LOT_SIZE", "minQty": str(draw(st.sampled_from([D(0), min_qty]))),
         "maxQty": str(market_max), "stepSize": str(market_step)},
        {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
        {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
    ]
    min_notional = str(draw(st.sampled_from([D(0), D(1), D(5), D(10), D(100)])))
    if draw(st.booleans()):
        filters.append({"filterType": "NOTIONAL", "minNotional": min_notional,
                        "applyMinToMarket": draw(st.booleans()),
                        "maxNotional": str(draw(st.sampled_from([D(0), D(50_000), D(9_000_000)]))),
                        "applyMaxToMarket": draw(st.booleans()), "avgPriceMins": 5})
        filters.append({"filterType": "PERCENT_PRICE_BY_SIDE",
                        "bidMultiplierUp": draw(st.sampled_from(["1.2", "5"])),
                        "bidMultiplierDown": draw(st.sampled_from(["0.2", "0.9"])),
                        "askMultiplierUp": draw(st.sampled_from(["1.1", "5"])),
                        "askMultiplierDown": draw(st.sampled_from(["0.2", "0.8"])), "avgPriceMins": 1})
    else:
        filters.append({"filterType": "MIN_NOTIONAL", "minNotional": min_notional,
                        "applyToMarket": draw(st.booleans()), "avgPriceMins": 5})
        if draw(st.booleans()):
            filters.append({"filterType": "PERCENT_PRICE", "multiplierUp": "5", "multiplierDown": "0.2",
                            "avgPriceMins": 5})
    return {"symbol": "TESTUSDT", "status": "TRADING", "baseAsset": "TEST", "quoteAsset": "USDT",
            "quoteAssetPrecision": 8, "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT"],
            "ocoAllowed": True, "filters": draw(st.permutations(filters))}


def decimals(low_exp: int, high_exp: int, places: int) -> st.SearchStrategy[Decimal]:
    """Positive decimals from 10**(low_exp-1) to 10**high_exp with `places` significant digits."""
    return st.integers(10 ** (places - 1), 10**places - 1).flatmap(
        lambda mantissa: st.integers(low_exp, high_exp).map(lambda e: D(mantissa).scaleb(e - places)))


prices = decimals(-4, 5, 9)
quantities = decimals(-6, 4, 12)


@st.composite
def orders(draw: st.DrawFn, reference: Decimal) -> OrderRequest:
    kind = draw(st.sampled_from(["market_qty", "market_quote", "limit", "limit_maker", "stop_loss_limit"]))
    side = draw(st.sampled_from([Side.BUY, Side.SELL]))
    base: dict[str, Any] = {"client_order_id": "cx-prop", "symbol": "TESTUSDT", "side": side}
    if kind == "market_qty":
        return OrderRequest(**base, type=OrderType.MARKET, quantity=draw(quantities))
    if kind == "market_quote":
        return OrderRequest(**base, type=OrderType.MARKET, quote_order_qty=draw(decimals(-2, 6, 12)))
    factor = D(draw(st.integers(5_000, 15_000))) / 10_000
    price = (reference * factor).quantize(D("1E-12"))
    assume(price > 0)
    if kind == "limit":
        return OrderRequest(**base, type=OrderType.LIMIT, quantity=draw(quantities), price=price,
                            time_in_force=TimeInForce.GTC)
    if kind == "limit_maker":
        return OrderRequest(**base, type=OrderType.LIMIT_MAKER, quantity=draw(quantities), price=price)
    stop = (price * D("1.001")).quantize(D("1E-12"))
    return OrderRequest(**base, type=OrderType.STOP_LOSS_LIMIT, quantity=draw(quantities), price=price,
                        stop_price=stop, time_in_force=TimeInForce.GTC)


@settings(max_examples=400)
@given(info=symbol_infos(), reference=prices, data=st.data())
def test_conform_order_passes_every_filter_or_names_the_one_it_fails(info: dict[str, Any], reference: Decimal,
                                                                     data: st.DataObject) -> None:
    rules = SymbolRules.from_symbol_info(info)
    order = data.draw(orders(reference))
    try:
        result = conform_order(rules, order, reference_price=reference)
    except FilterRejected as exc:
        assert exc.filter_name in KNOWN_FILTERS
        assert exc.details["symbol"] == "TESTUSDT" and "limit" in exc.details and "value" in exc.details
        event(f"refused by {exc.filter_name}")
        return
    event("conformed")
    assert violations(rules, result, reference) == []
    # Never more than asked: quantity, quote amount, and for a buy the price.
    if order.quantity is not None:
        assert result.quantity is not None and result.quantity <= order.quantity
    if order.quote_order_qty is not None:
        assert result.quote_order_qty is not None and result.quote_order_qty <= order.quote_order_qty
    if order.price is not None:
        assert result.price is not None
        assert result.price <= order.price if order.side is Side.BUY else result.price >= order.price
    assert (result.type, result.side, result.client_order_id) == (order.type, order.side, order.client_order_id)
    assert conform_order(rules, result, reference_price=reference) == result, "conforming is idempotent"


@settings(max_examples=300)
@given(info=symbol_infos(), last=prices, quantity=quantities, up=st.integers(1, 5_000), down=st.integers(1, 5_000),
       slip=st.integers(0, 500))
def test_conform_oco_keeps_take_profit_above_last_above_stop(info: dict[str, Any], last: Decimal, quantity: Decimal,
                                                           up: int, down: int, slip: int) -> None:
    """`up`/`down` in 1/10,000ths put the legs from 0.01% (inside one tick, so rounding may cross the last
    price) to 50% away."""
    rules = SymbolRules.from_symbol_info(info)
    take_profit = (last * (1 + D(up) / 10_000)).quantize(D("1E-12"))
    stop = (last * (1 - D(down) / 10_000)).quantize(D("1E-12"))
    stop_limit = (stop * (1 - D(slip) / 10_000)).quantize(D("1E-12"))
    assume(take_profit > last > stop >= stop_limit > 0)
    oco = OcoRequest(list_client_id="cx-oco", symbol="TESTUSDT", quantity=quantity, take_profit_price=take_profit,
                     stop_price=stop, stop_limit_price=stop_limit)
    try:
        result = conform_oco(rules, oco, last_price=last)
    except FilterRejected as exc:
        assert exc.filter_name in KNOWN_FILTERS
        event(f"refused by {exc.filter_name}")
        return
    event("conformed")
    assert result.take_profit_price > last > result.stop_price
    assert result.stop_limit_price <= result.stop_price
    assert result.quantity <= quantity
    assert result.take_profit_price >= take_profit, "a take-profit is only ever rounded up"
    assert result.stop_price >= stop, "a stop trigger is only ever rounded up (tighter)"
    assert result.stop_limit_price <= stop_limit
    for leg in (
        OrderRequest(client_order_id="cx-tp", symbol="TESTUSDT", side=Side.SELL, type=OrderType.LIMIT_MAKER,
                     quantity=result.quantity, price=result.take_profit_price),
        OrderRequest(client_order_id="cx-sl", symbol="TESTUSDT", side=Side.SELL, type=OrderType.STOP_LOSS_LIMIT,
                     quantity=result.quantity, price=result.stop_limit_price, stop_price=result.stop_price,
                     time_in_force=TimeInForce.GTC),
    ):
        assert violations(rules, leg, last) == []


@given(value=decimals(-20, 20, 40), step_exp=st.integers(-12, 4), direction=st.sampled_from(["down", "up"]))
def test_round_to_step_is_exact_at_any_precision(value: Decimal, step_exp: int, direction: str) -> None:
    """Values with up to 40 significant digits: more than the 28 of Decimal's default context."""
    step = power_of_ten(step_exp)
    rounded = round_to_step(value, step, direction)  # type: ignore[arg-type]
    with localcontext(Context(prec=100)):
        if direction == "down":
            assert rounded <= value < rounded + step
        else:
            assert rounded - step < value <= rounded
        assert rounded % step == 0
    assert rounded.as_tuple().exponent == step.as_tuple().exponent
