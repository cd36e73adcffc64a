"""Binance symbol filters with exact `Decimal` arithmetic.

Rules (binance-spot-api-docs, filters.md): PRICE_FILTER (minPrice, maxPrice, tickSize; each 0 means
disabled), LOT_SIZE and MARKET_LOT_SIZE (minQty, maxQty, stepSize; MARKET_LOT_SIZE applies to MARKET
orders on top of LOT_SIZE, and its stepSize 0 means no step), NOTIONAL (minNotional with
applyMinToMarket, maxNotional with applyMaxToMarket) and its legacy form MIN_NOTIONAL (minNotional,
applyToMarket), PERCENT_PRICE (multiplierUp/Down around the average price) and PERCENT_PRICE_BY_SIDE
(bid/ask multipliers), MAX_NUM_ORDERS and MAX_NUM_ALGO_ORDERS. Binance answers a violation with -1013.

Rounding is always in the direction that cannot hurt: a quantity is rounded down to the step and
never up to reach a minimum; a buy price down, a sell price up, a protective stop trigger up (tighter),
a stop's limit price down (more likely to fill). A value that cannot be made valid that way is refused
with `FilterRejected`, naming the filter and the numbers.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, field_serializer, model_validator

from core.errors import FilterRejected, SymbolNotTrading, TrailingStopNotAllowed, UnknownSymbol
from core.types import Frozen, OcoRequest, OrderRequest, OrderType, Side

ZERO = Decimal(0)
Direction = Literal["down", "up"]
ALGO_TYPES = frozenset({OrderType.STOP_LOSS_LIMIT})


def round_to_step(value: Decimal, step: Decimal, direction: Direction) -> Decimal:
    """Round `value` to a multiple of `step` (exactly), down or up. A step of 0 means no step.

    Integer arithmetic on the digits, not `value / step`: a Decimal division rounds to the context's
    precision (28 digits), so a value just below a multiple (0.999…9 with 30 nines, step 1) came back as
    the multiple above it, a "down" that raised the size. The result keeps the step's exponent.
    """
    if step == ZERO:
        return value
    if step < ZERO or not step.is_finite() or not value.is_finite():
        raise ValueError(f"cannot round {value} to step {step}")
    # Each Decimal is taken apart once (as_tuple builds a tuple of its digits): every quantity and price of every
    # order and protection is conformed here.
    value_sign, value_digits, value_exponent = value.as_tuple()
    _, step_digits, step_exponent = step.as_tuple()
    assert isinstance(value_exponent, int) and isinstance(step_exponent, int)  # finite values, checked above
    exponent = min(value_exponent, step_exponent)
    scaled_value = _integer(value_digits) * 10 ** (value_exponent - exponent)
    if value_sign:
        scaled_value = -scaled_value
    step_units = _integer(step_digits)
    scaled_step = step_units * 10 ** (step_exponent - exponent)
    units = scaled_value // scaled_step if direction == "down" else -(-scaled_value // scaled_step)
    return Decimal(f"{units * step_units}E{step_exponent}")


def _integer(digits: tuple[int, ...]) -> int:
    """The digits of a Decimal's `as_tuple()` as the integer they spell."""
    return int("".join(map(str, digits)))


class TrailingDeltaBounds(Frozen):
    """The TRAILING_DELTA filter: the `trailingDelta` range (BIPS) per kind of trailing stop (filters.md).

    "Below" bounds apply to STOP_LOSS(_LIMIT) SELL and TAKE_PROFIT(_LIMIT) BUY orders (the trigger lies below
    the market for a sell, so it follows the highest price down by the delta); "above" bounds to STOP_LOSS(_LIMIT)
    BUY and TAKE_PROFIT(_LIMIT) SELL. A below delta of 10,000 BIPS or more would put a sell's trigger at or
    under zero, so no such bound is accepted.
    """

    min_above: int = Field(ge=1)
    max_above: int = Field(ge=1)
    min_below: int = Field(ge=1)
    max_below: int = Field(ge=1, lt=10_000)

    @model_validator(mode="after")
    def _ordered(self) -> TrailingDeltaBounds:
        for kind, low, high in (("above", self.min_above, self.max_above), ("below", self.min_below, self.max_below)):
            if low > high:
                raise ValueError(f"TRAILING_DELTA minTrailing{kind.title()}Delta {low} exceeds "
                                 f"maxTrailing{kind.title()}Delta {high}")
        return self

    def for_order(self, side: Side, order_type: OrderType) -> tuple[int, int]:
        """(min, max) for a trailing order of this side and type; only STOP_LOSS_LIMIT exists in `OrderType`."""
        if order_type is not OrderType.STOP_LOSS_LIMIT:
            raise ValueError(f"{order_type} takes no trailingDelta")
        return (self.min_below, self.max_below) if side is Side.SELL else (self.min_above, self.max_above)


class SymbolRules(Frozen):
    """One symbol's trading rules, parsed once from an exchangeInfo document."""

    symbol: str
    status: str
    base_asset: str
    quote_asset: str
    quote_precision: int = 8
    order_types: frozenset[str] = frozenset()
    oco_allowed: bool = False
    # quoteOrderQtyMarketAllowed: a MARKET order may give the quote amount to spend instead of a quantity.
    # Binance lists it on every symbol; a document without it is read as allowed, and the exchange's -2010 for a
    # symbol that does not allow it drops the entry without risking anything.
    quote_order_qty_market_allowed: bool = True
    tick_size: Decimal = ZERO
    min_price: Decimal = ZERO
    max_price: Decimal = ZERO
    step_size: Decimal = ZERO
    min_qty: Decimal = ZERO
    max_qty: Decimal = ZERO
    market_step_size: Decimal = ZERO
    market_min_qty: Decimal = ZERO
    market_max_qty: Decimal = ZERO
    min_notional: Decimal = ZERO
    apply_min_to_market: bool = True
    max_notional: Decimal = ZERO
    apply_max_to_market: bool = False
    notional_filter: str = "NOTIONAL"
    percent_up: Decimal | None = None
    percent_down: Decimal | None = None
    bid_up: Decimal | None = None
    bid_down: Decimal | None = None
    ask_up: Decimal | None = None
    ask_down: Decimal | None = None
    max_num_orders: int | None = Field(default=None, ge=1)
    max_num_algo_orders: int | None = Field(default=None, ge=1)
    allow_trailing_stop: bool = False
    trailing_delta: TrailingDeltaBounds | None = None

    @field_serializer("order_types")
    def _sorted_order_types(self, order_types: frozenset[str]) -> list[str]:
        """Sorted: a set's order follows the hash seed, and a checkpoint must read the same in every process."""
        return sorted(order_types)

    @property
    def trading(self) -> bool:
        return self.status == "TRADING"

    @classmethod
    def from_symbol_info(cls, info: dict[str, Any]) -> SymbolRules:
        values: dict[str, Any] = {
            "symbol": info["symbol"],
            "status": info.get("status", "TRADING"),
            "base_asset": info["baseAsset"],
            "quote_asset": info["quoteAsset"],
            "quote_precision": int(info.get("quoteAssetPrecision", info.get("quotePrecision", 8))),
            "order_types": frozenset(info.get("orderTypes", ())),
            "oco_allowed": bool(info.get("ocoAllowed", False)),
            # Absent before Binance added it (2022-02-28): such a symbol takes no trailing stops.
            "allow_trailing_stop": bool(info.get("allowTrailingStop", False)),
            "quote_order_qty_market_allowed": bool(info.get("quoteOrderQtyMarketAllowed", True)),
        }
        for f in info.get("filters", ()):
            values.update(_parse_filter(f))
        return cls(**values)


def _d(raw: Any) -> Decimal:
    return Decimal(str(raw))


def _parse_filter(f: dict[str, Any]) -> dict[str, Any]:
    kind = f.get("filterType")
    if kind == "PRICE_FILTER":
        return {"tick_size": _d(f["tickSize"]), "min_price": _d(f["minPrice"]), "max_price": _d(f["maxPrice"])}
    if kind == "LOT_SIZE":
        return {"step_size": _d(f["stepSize"]), "min_qty": _d(f["minQty"]), "max_qty": _d(f["maxQty"])}
    if kind == "MARKET_LOT_SIZE":
        return {
            "market_step_size": _d(f["stepSize"]),
            "market_min_qty": _d(f["minQty"]),
            "market_max_qty": _d(f["maxQty"]),
        }
    if kind == "NOTIONAL":
        return {
            "notional_filter": "NOTIONAL",
            "min_notional": _d(f.get("minNotional", 0)),
            "apply_min_to_market": bool(f.get("applyMinToMarket", True)),
            "max_notional": _d(f.get("maxNotional", 0)),
            "apply_max_to_market": bool(f.get("applyMaxToMarket", False)),
        }
    if kind == "MIN_NOTIONAL":
        return {
            "notional_filter": "MIN_NOTIONAL",
            "min_notional": _d(f["minNotional"]),
            "apply_min_to_market": bool(f.get("applyToMarket", True)),
        }
    if kind == "PERCENT_PRICE":
        return {"percent_up": _d(f["multiplierUp"]), "percent_down": _d(f["multiplierDown"])}
    if kind == "PERCENT_PRICE_BY_SIDE":
        return {
            "bid_up": _d(f["bidMultiplierUp"]),
            "bid_down": _d(f["bidMultiplierDown"]),
            "ask_up": _d(f["askMultiplierUp"]),
            "ask_down": _d(f["askMultiplierDown"]),
        }
    if kind == "MAX_NUM_ORDERS":
        return {"max_num_orders": int(f.get("maxNumOrders", f.get("limit", 200)))}
    if kind == "MAX_NUM_ALGO_ORDERS":
        return {"max_num_algo_orders": int(f.get("maxNumAlgoOrders", f.get("limit", 5)))}
    if kind == "TRAILING_DELTA":
        return {"trailing_delta": TrailingDeltaBounds(
            min_above=int(f["minTrailingAboveDelta"]), max_above=int(f["maxTrailingAboveDelta"]),
            min_below=int(f["minTrailingBelowDelta"]), max_below=int(f["maxTrailingBelowDelta"]))}
    return {}


def rules_from_exchange_info(doc: dict[str, Any]) -> dict[str, SymbolRules]:
    """All symbols of a `GET /api/v3/exchangeInfo` document, keyed by symbol."""
    return {info["symbol"]: SymbolRules.from_symbol_info(info) for info in doc.get("symbols", ())}


def lookup(rules: dict[str, SymbolRules], symbol: str) -> SymbolRules:
    """The rules of a tradable symbol, or a typed error naming it."""
    found = rules.get(symbol)
    if found is None:
        raise UnknownSymbol(symbol)
    if not found.trading:
        raise SymbolNotTrading(symbol, found.status)
    return found


def conform_price(rules: SymbolRules, field: str, price: Decimal, direction: Direction) -> Decimal:
    """Round a price to the tick in `direction` and check PRICE_FILTER's bounds."""
    rounded = round_to_step(price, rules.tick_size, direction)
    if rounded <= ZERO:
        raise FilterRejected(rules.symbol, "PRICE_FILTER", field, price, rules.tick_size, "rounds to zero")
    if rules.min_price > ZERO and rounded < rules.min_price:
        raise FilterRejected(rules.symbol, "PRICE_FILTER", field, rounded, rules.min_price, "below minPrice")
    if rules.max_price > ZERO and rounded > rules.max_price:
        raise FilterRejected(rules.symbol, "PRICE_FILTER", field, rounded, rules.max_price, "above maxPrice")
    return rounded


def conform_quantity(rules: SymbolRules, quantity: Decimal, *, market: bool) -> Decimal:
    """Round a quantity down to LOT_SIZE (and MARKET_LOT_SIZE for market orders); cap at maxQty.

    Capping at maxQty only ever lowers the quantity, so the result never exceeds what was asked. A
    quantity that falls below minQty is refused: rounding up to reach a minimum would trade more than asked.
    """
    bounds = _lot_bounds(rules, market)
    qty = _round_lot(rules, quantity, market)
    for _name, _lo, hi in bounds:
        if hi > ZERO and qty > hi:
            qty = _round_lot(rules, hi, market)
    for name, lo, _hi in bounds:
        if qty < lo or qty <= ZERO:
            raise FilterRejected(rules.symbol, name, "quantity", qty, lo, "below minQty after rounding down")
    return qty


def _round_lot(rules: SymbolRules, quantity: Decimal, market: bool) -> Decimal:
    """Round down to LOT_SIZE's step and, for a market order, to MARKET_LOT_SIZE's step as well."""
    qty = round_to_step(quantity, rules.step_size, "down")
    return round_to_step(qty, rules.market_step_size, "down") if market else qty


def _lot_bounds(rules: SymbolRules, market: bool) -> list[tuple[str, Decimal, Decimal]]:
    bounds = [("LOT_SIZE", rules.min_qty, rules.max_qty)]
    if market:
        bounds.append(("MARKET_LOT_SIZE", rules.market_min_qty, rules.market_max_qty))
    return bounds


def check_notional(rules: SymbolRules, notional: Decimal, *, market: bool) -> None:
    name = rules.notional_filter
    if rules.min_notional > ZERO and (rules.apply_min_to_market or not market) and notional < rules.min_notional:
        raise FilterRejected(rules.symbol, name, "notional", notional, rules.min_notional, "below minNotional")
    if rules.max_notional > ZERO and (rules.apply_max_to_market or not market) and notional > rules.max_notional:
        raise FilterRejected(rules.symbol, name, "notional", notional, rules.max_notional, "above maxNotional")


def check_percent_price(rules: SymbolRules, side: Side, field: str, price: Decimal, avg_price: Decimal) -> None:
    """PERCENT_PRICE / PERCENT_PRICE_BY_SIDE: a price must stay within multipliers of the average price."""
    if rules.bid_up is not None and rules.bid_down is not None and rules.ask_up is not None \
            and rules.ask_down is not None:
        up, down = (rules.bid_up, rules.bid_down) if side is Side.BUY else (rules.ask_up, rules.ask_down)
        name = "PERCENT_PRICE_BY_SIDE"
    elif rules.percent_up is not None and rules.percent_down is not None:
        up, down, name = rules.percent_up, rules.percent_down, "PERCENT_PRICE"
    else:
        return
    if price > avg_price * up:
        raise FilterRejected(rules.symbol, name, field, price, avg_price * up, "above average price × multiplierUp")
    if price < avg_price * down:
        raise FilterRejected(rules.symbol, name, field, price, avg_price * down, "below average price × multiplierDown")


def check_order_count(rules: SymbolRules, *, open_orders: int, open_algo_orders: int, new_orders: int,
                      new_algo_orders: int) -> None:
    if rules.max_num_orders is not None and open_orders + new_orders > rules.max_num_orders:
        raise FilterRejected(rules.symbol, "MAX_NUM_ORDERS", "open orders", open_orders + new_orders,
                             rules.max_num_orders, "too many open orders")
    if rules.max_num_algo_orders is not None and open_algo_orders + new_algo_orders > rules.max_num_algo_orders:
        raise FilterRejected(rules.symbol, "MAX_NUM_ALGO_ORDERS", "open algo orders",
                             open_algo_orders + new_algo_orders, rules.max_num_algo_orders,
                             "too many open stop orders")


def check_trailing_delta(rules: SymbolRules, side: Side, order_type: OrderType, delta: int) -> None:
    """A trailing stop needs `allowTrailingStop` (else Binance -2010) and a delta within TRAILING_DELTA (-1013).

    A symbol that allows trailing stops but publishes no TRAILING_DELTA filter puts no bound on the delta.
    """
    if not rules.allow_trailing_stop:
        raise TrailingStopNotAllowed(rules.symbol, delta)
    if rules.trailing_delta is None:
        return
    low, high = rules.trailing_delta.for_order(side, order_type)
    if delta < low:
        raise FilterRejected(rules.symbol, "TRAILING_DELTA", "trailing_delta", delta, low, "below the minimum")
    if delta > high:
        raise FilterRejected(rules.symbol, "TRAILING_DELTA", "trailing_delta", delta, high, "above the maximum")


def _price_direction(order: OrderRequest) -> Direction:
    return "down" if order.side is Side.BUY else "up"


def conform_order(rules: SymbolRules, order: OrderRequest, *, reference_price: Decimal,
                  open_orders: int = 0, open_algo_orders: int = 0) -> OrderRequest:
    """Return `order` rounded to the symbol's filters, or raise `FilterRejected`.

    `reference_price` is the price a MARKET order is expected to fill at (and the average price for
    PERCENT_PRICE checks). The result never asks for more quantity or quote than the input did.
    """
    if order.symbol != rules.symbol:
        raise ValueError(f"order for {order.symbol} checked against rules of {rules.symbol}")
    if not rules.trading:
        raise SymbolNotTrading(rules.symbol, rules.status)
    market = order.type is OrderType.MARKET
    algo = 1 if order.type in ALGO_TYPES else 0
    check_order_count(rules, open_orders=open_orders, open_algo_orders=open_algo_orders, new_orders=1,
                      new_algo_orders=algo)
    if order.trailing_delta is not None:
        check_trailing_delta(rules, order.side, order.type, order.trailing_delta)
    if market and order.quote_order_qty is not None:
        quote = round_to_step(order.quote_order_qty, Decimal(1).scaleb(-rules.quote_precision), "down")
        check_notional(rules, quote, market=True)
        return order.model_copy(update={"quote_order_qty": quote})
    assert order.quantity is not None  # guaranteed by OrderRequest's shape rules
    quantity = conform_quantity(rules, order.quantity, market=market)
    updates: dict[str, Any] = {"quantity": quantity}
    fill_price = reference_price
    if order.price is not None:
        price = conform_price(rules, "price", order.price, _price_direction(order))
        check_percent_price(rules, order.side, "price", price, reference_price)
        updates["price"] = price
        fill_price = price
    if order.stop_price is not None:
        stop = conform_price(rules, "stop_price", order.stop_price, "up" if order.side is Side.SELL else "down")
        check_percent_price(rules, order.side, "stop_price", stop, reference_price)
        updates["stop_price"] = stop
    check_notional(rules, quantity * fill_price, market=market)
    return order.model_copy(update=updates)


def conform_oco(rules: SymbolRules, oco: OcoRequest, *, last_price: Decimal, open_orders: int = 0,
                open_algo_orders: int = 0) -> OcoRequest:
    """Round a protective SELL OCO to the filters and check Binance's leg rule tp > last > stop (-2010).

    A trailing stop leg without a stop price has no stop to order against the last price: only tp > last holds.
    """
    if oco.symbol != rules.symbol:
        raise ValueError(f"OCO for {oco.symbol} checked against rules of {rules.symbol}")
    if not rules.trading:
        raise SymbolNotTrading(rules.symbol, rules.status)
    check_order_count(rules, open_orders=open_orders, open_algo_orders=open_algo_orders, new_orders=2,
                      new_algo_orders=1)
    if oco.trailing_delta is not None:
        check_trailing_delta(rules, Side.SELL, OrderType.STOP_LOSS_LIMIT, oco.trailing_delta)
    quantity = conform_quantity(rules, oco.quantity, market=False)
    take_profit = conform_price(rules, "take_profit_price", oco.take_profit_price, "up")
    stop = None if oco.stop_price is None else conform_price(rules, "stop_price", oco.stop_price, "up")
    stop_limit = conform_price(rules, "stop_limit_price", oco.stop_limit_price, "down")
    if stop is not None and stop_limit > stop:
        stop_limit = stop
    if not take_profit > last_price:
        raise FilterRejected(rules.symbol, "OCO", "take_profit_price", take_profit, last_price,
                             "a SELL OCO needs take-profit above the last price")
    if stop is not None and not stop < last_price:
        raise FilterRejected(rules.symbol, "OCO", "stop_price", stop, last_price,
                             "a SELL OCO needs the stop below the last price")
    for field, price in (("take_profit_price", take_profit), ("stop_limit_price", stop_limit)):
        check_percent_price(rules, Side.SELL, field, price, last_price)
    for price in (stop_limit, take_profit):  # each leg is an order: minNotional binds the lower, maxNotional the higher
        check_notional(rules, quantity * price, market=False)
    return oco.model_copy(update={"quantity": quantity, "take_profit_price": take_profit, "stop_price": stop,
                                  "stop_limit_price": stop_limit})
