"""Domain types at the boundaries: orders, fills, positions, snapshots, signals, advice, decisions.

These are pydantic models that refuse to exist in a bad state (a LIMIT order without a price, a
negative quantity, a client order id without the `cx-` prefix). Money values are `Decimal`.
Per-bar market events on the hot path are slotted dataclasses in `core.events` instead, because
building a validated model per bar costs more than the whole decision it feeds.
"""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from core.stop_plan import StopPlan

PositiveDecimal = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
NonNegativeDecimal = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
Symbol = Annotated[str, Field(pattern=r"^[A-Z0-9]{2,20}$")]
Fraction = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
# Binance's trailingDelta: a whole number of basis points (1 BIPS = 0.01 %), at least 1.
BipsDelta = Annotated[int, Field(ge=1, strict=True)]
BIPS_PER_UNIT = 10_000

CLIENT_ID_PREFIX = "cx-"
# Binance accepts newClientOrderId matching ^[\.A-Z\:/a-z0-9_-]{1,36}$ (36 characters at most).
_CLIENT_ID = re.compile(r"^cx-[.A-Za-z0-9:/_-]{1,33}$")


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class OrderType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    LIMIT_MAKER = "LIMIT_MAKER"
    STOP_LOSS_LIMIT = "STOP_LOSS_LIMIT"


class TimeInForce(StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


class OrderStatus(StrEnum):
    """Binance's order states, plus PENDING_SEND for an order journaled but not yet acknowledged."""

    PENDING_SEND = "PENDING_SEND"
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    PENDING_CANCEL = "PENDING_CANCEL"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    EXPIRED_IN_MATCH = "EXPIRED_IN_MATCH"

    @property
    def is_final(self) -> bool:
        return self in _FINAL_STATUSES


_FINAL_STATUSES = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED,
     OrderStatus.EXPIRED_IN_MATCH}
)


ClientId = Annotated[str, Field(pattern=_CLIENT_ID.pattern)]


def is_client_id(text: str) -> bool:
    """Whether `text` is one of our client order ids (`cx-…`), as opposed to an order placed by someone else."""
    return _CLIENT_ID.fullmatch(text) is not None


class OrderRequest(Frozen):
    """One order as it will leave the process. Shape rules follow Binance's required parameters."""

    client_order_id: ClientId
    symbol: Symbol
    side: Side
    type: OrderType
    quantity: PositiveDecimal | None = None
    quote_order_qty: PositiveDecimal | None = None
    price: PositiveDecimal | None = None
    stop_price: PositiveDecimal | None = None
    time_in_force: TimeInForce | None = None
    trailing_delta: BipsDelta | None = None

    @model_validator(mode="after")
    def _shape(self) -> OrderRequest:
        t = self.type
        if self.trailing_delta is not None:
            if t is not OrderType.STOP_LOSS_LIMIT:
                raise ValueError(f"{t} takes no trailing_delta (only STOP_LOSS_LIMIT trails)")
            if self.side is Side.SELL:
                _check_sell_delta(self.trailing_delta)
        if t is OrderType.MARKET:
            if (self.quantity is None) == (self.quote_order_qty is None):
                raise ValueError("MARKET needs exactly one of quantity or quote_order_qty")
            if self.price is not None or self.stop_price is not None:
                raise ValueError("MARKET takes no price or stop_price")
            return self
        if self.quantity is None or self.price is None:
            raise ValueError(f"{t} needs quantity and price")
        if self.quote_order_qty is not None:
            raise ValueError(f"{t} takes no quote_order_qty")
        if t is OrderType.LIMIT_MAKER and self.time_in_force is not None:
            raise ValueError("LIMIT_MAKER takes no time_in_force")
        if t in (OrderType.LIMIT, OrderType.STOP_LOSS_LIMIT) and self.time_in_force is None:
            raise ValueError(f"{t} needs time_in_force")
        if t is OrderType.STOP_LOSS_LIMIT:
            if self.stop_price is None and self.trailing_delta is None:
                raise ValueError("STOP_LOSS_LIMIT needs stop_price, trailing_delta or both")
        elif self.stop_price is not None:
            raise ValueError(f"{t} takes no stop_price")
        return self


class OcoRequest(Frozen):
    """A protective OCO for a long position: SELL take-profit LIMIT_MAKER above, STOP_LOSS_LIMIT below.

    Binance (POST /api/v3/orderList/oco) requires, for a SELL, take-profit price > last price > stop
    price, else -2010; the last-price half is checked against the market by the risk engine, the
    ordering of the legs here. An OCO counts as two orders toward MAX_NUM_ORDERS.

    `trailing_delta` is Binance's `belowTrailingDelta` (BIPS): the stop leg trails the highest price
    (see exchange/paper/trailing.py). Binance takes `belowStopPrice`, `belowTrailingDelta` or both; with
    both, trailing starts only once the market has fallen to the stop price.
    """

    list_client_id: ClientId
    symbol: Symbol
    side: Literal[Side.SELL] = Side.SELL
    quantity: PositiveDecimal
    take_profit_price: PositiveDecimal
    stop_price: PositiveDecimal | None = None
    stop_limit_price: PositiveDecimal
    trailing_delta: BipsDelta | None = None

    @model_validator(mode="after")
    def _legs(self) -> OcoRequest:
        if self.trailing_delta is not None:
            _check_sell_delta(self.trailing_delta)
        if self.stop_price is None:
            if self.trailing_delta is None:
                raise ValueError("a SELL OCO's stop leg needs stop_price, trailing_delta or both")
        elif not self.take_profit_price > self.stop_price:
            raise ValueError("take_profit_price must be above stop_price for a SELL OCO")
        elif self.stop_limit_price > self.stop_price:
            raise ValueError("stop_limit_price must not be above stop_price for a SELL stop")
        if self.take_profit_client_id == self.stop_client_id:
            raise ValueError("list_client_id is too long: its legs' client ids (-tp/-sl, 36 characters at most) "
                             "would be the same")
        return self

    @property
    def take_profit_client_id(self) -> str:
        return f"{self.list_client_id}-tp"[:36]

    @property
    def stop_client_id(self) -> str:
        return f"{self.list_client_id}-sl"[:36]

    def legs(self) -> tuple[OrderRequest, OrderRequest]:
        """The two orders Binance creates for this SELL OCO: (take-profit LIMIT_MAKER, STOP_LOSS_LIMIT)."""
        take_profit = OrderRequest(client_order_id=self.take_profit_client_id, symbol=self.symbol, side=Side.SELL,
                                   type=OrderType.LIMIT_MAKER, quantity=self.quantity, price=self.take_profit_price)
        stop = OrderRequest(client_order_id=self.stop_client_id, symbol=self.symbol, side=Side.SELL,
                            type=OrderType.STOP_LOSS_LIMIT, quantity=self.quantity, price=self.stop_limit_price,
                            stop_price=self.stop_price, time_in_force=TimeInForce.GTC,
                            trailing_delta=self.trailing_delta)
        return take_profit, stop


def _check_sell_delta(delta: int) -> None:
    """A SELL trailing stop triggers at the highest price × (1 − delta / 10,000): 10,000 BIPS or more is no stop."""
    if delta >= BIPS_PER_UNIT:
        raise ValueError(f"a SELL trailing_delta must be below {BIPS_PER_UNIT} BIPS, got {delta}")


class Fill(Frozen):
    """One execution. A buy's commission may be charged in the base asset (Binance does so unless BNB pays)."""

    client_order_id: ClientId
    symbol: Symbol
    side: Side
    price: PositiveDecimal
    quantity: PositiveDecimal
    commission: NonNegativeDecimal
    commission_asset: str
    trade_id: int
    time_ms: int
    is_maker: bool = False

    @property
    def notional(self) -> Decimal:
        return self.price * self.quantity


class BookLevel(Frozen):
    price: PositiveDecimal
    quantity: PositiveDecimal


class TradeTick(Frozen):
    price: PositiveDecimal
    quantity: PositiveDecimal
    time_ms: int
    buyer_is_maker: bool


class Stats24h(Frozen):
    open: PositiveDecimal
    high: PositiveDecimal
    low: PositiveDecimal
    last: PositiveDecimal
    volume: NonNegativeDecimal
    quote_volume: NonNegativeDecimal
    weighted_avg_price: PositiveDecimal | None = None


class MarketSnapshot(Frozen):
    """What a strategy may see of one symbol at one moment, and how old it is.

    `imbalance` is order-book imbalance by quantity over the top levels when a book exists. Recorded
    candles carry no book: then `imbalance_source` says which documented proxy stands in (aggressor
    trade flow from Binance's taker-buy volume, or the candle's close location), never a made-up value.
    """

    symbol: Symbol
    time_ms: int
    age_ms: int = Field(ge=0)
    last_price: PositiveDecimal
    bids: tuple[BookLevel, ...] = ()
    asks: tuple[BookLevel, ...] = ()
    trades: tuple[TradeTick, ...] = ()
    stats_24h: Stats24h | None = None
    imbalance: float | None = Field(default=None, ge=-1.0, le=1.0)
    imbalance_source: Literal["book", "trade_flow", "candle_close_location"] | None = None
    spread_bps: float | None = Field(default=None, ge=0.0)


# A strategy's name: lower-case ASCII letters, digits and underscores, starting with a letter, 2 to 40 characters.
# It keys allocations, per-strategy settings, journal rows and reports. "manual" is reserved: it is how reports
# name the trades a person or an agent asked for, which belong to no strategy.
STRATEGY_NAME_PATTERN = r"^[a-z][a-z0-9_]{1,39}$"
_STRATEGY_NAME = re.compile(STRATEGY_NAME_PATTERN)
RESERVED_STRATEGY_NAMES = frozenset({"manual"})


class InvalidStrategyName(ValueError):
    """A strategy name that does not match STRATEGY_NAME_PATTERN, or a reserved one."""

    def __init__(self, value: object) -> None:
        reserved = isinstance(value, str) and value in RESERVED_STRATEGY_NAMES
        why = "is reserved" if reserved else f"does not match {STRATEGY_NAME_PATTERN}"
        super().__init__(f"strategy name {value!r} {why}")
        self.value = value


class StrategyName(str):
    """A validated strategy name: a value object that is its own string (it hashes and compares as one, so maps
    keyed by name answer plain strings too, and it serialises as plain text in JSON, the journal and reports).

    Strategies are plugins (`core.strategies.base`), so the set of names is open: a name is checked against its
    pattern, not looked up in a closed list."""

    __slots__ = ()

    def __new__(cls, value: str) -> StrategyName:
        if type(value) is cls:
            return value
        if not isinstance(value, str) or not _STRATEGY_NAME.match(value) or value in RESERVED_STRATEGY_NAMES:
            raise InvalidStrategyName(value)
        return super().__new__(cls, value)

    @property
    def value(self) -> str:
        """The plain text (what an enum member's `.value` was)."""
        return str.__str__(self)

    def __repr__(self) -> str:
        return f"StrategyName({str.__str__(self)!r})"

    def __reduce__(self) -> tuple[type[StrategyName], tuple[str]]:
        return (StrategyName, (str.__str__(self),))

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(
            cls, core_schema.str_schema(), serialization=core_schema.plain_serializer_function_ser_schema(str))

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"type": "string", "pattern": STRATEGY_NAME_PATTERN}


# A strategy's size multiplier can lift its Kelly × confidence × allocation size by at most this factor.
MAX_SIGNAL_SIZE_MULTIPLIER = 1.2


class Signal(Frozen):
    """A strategy's wish to enter a long. Only `core.risk` turns it into an order (or refuses it)."""

    symbol: Symbol
    strategy: StrategyName
    confidence: Fraction
    reference_price: PositiveDecimal
    take_profit_pct: Annotated[Decimal, Field(gt=0, lt=100)]
    stop_loss_pct: Annotated[Decimal, Field(gt=0, lt=100)]
    time_ms: int
    reason: str
    # Scales the Kelly × confidence × allocation size (a regime's 1.2 or 0.5). Bounded here and clamped again by the
    # risk gate to MAX_SIGNAL_SIZE_MULTIPLIER; every hard cap still applies after it.
    size_multiplier: float = Field(default=1.0, ge=0.0, le=MAX_SIGNAL_SIZE_MULTIPLIER, allow_inf_nan=False)
    # How the position's stop moves after entry (breakeven, trailing); None: the trailing ladder.
    stop_plan: StopPlan | None = None


MAX_ADVICE_LIFETIME_MS = 24 * 3_600_000  # advice lives 24 h at most
MAX_ADVICE_PAUSE_MINUTES = 24 * 60  # a pause advice asks for 24 h at most
MAX_ADVICE_REASON_CHARS = 2_000


class AdviceAction(StrEnum):
    APPROVE = "approve"
    SKIP = "skip"
    SHRINK = "shrink"
    PAUSE = "pause"
    VETO = "veto"


class Advice(Frozen):
    """What an LLM (scout or analyzer) says about a symbol or a proposed trade.

    Deliberately permissive: a model may ask for anything here (a multiplier of 3, a wider stop), and the
    risk engine's clamp is what guarantees that advice can only tighten. Validation here is of shape.
    """

    source: str
    symbol: Symbol | None = None
    action: AdviceAction
    size_multiplier: float = Field(default=1.0, allow_inf_nan=False)
    stop_loss_pct: Decimal | None = None
    take_profit_pct: Decimal | None = None
    pause_minutes: int | None = Field(default=None, ge=0, le=MAX_ADVICE_PAUSE_MINUTES)
    reason: str = Field(default="", max_length=MAX_ADVICE_REASON_CHARS)
    # Epoch ms. Advice lives from `issued_ms` until `expires_ms` (exclusive) of engine time, at most
    # MAX_ADVICE_LIFETIME_MS: stale advice must not steer entries for ever, and an engine drops it by its own clock.
    issued_ms: int = Field(ge=0)
    expires_ms: int

    @model_validator(mode="after")
    def _bounded_life(self) -> Advice:
        life = self.expires_ms - self.issued_ms
        if life <= 0:
            raise ValueError(f"advice must expire after it is issued (issued {self.issued_ms}, "
                             f"expires {self.expires_ms})")
        if life > MAX_ADVICE_LIFETIME_MS:
            raise ValueError(f"advice may live at most {MAX_ADVICE_LIFETIME_MS // 3_600_000} h "
                             f"(asked {life} ms)")
        return self

    def live_at(self, now_ms: int) -> bool:
        """Whether the advice still applies at engine time `now_ms` (it never applies at or after its expiry)."""
        return now_ms < self.expires_ms


class RuleId(StrEnum):
    """Every rule that can refuse, shrink or annotate an entry decision: what a report counts and what an analyzer
    names when it asks for a rule to be tightened. `UNSPECIFIED` is only what a reason journaled as plain text by
    an older version reads as."""

    UNSPECIFIED = "unspecified"
    # controls, breakers, data
    KILL_SWITCH = "control.kill_switch"
    PAUSE_ALL = "control.pause_all"
    PAUSE_EVERY_SYMBOL = "pause.every_symbol"
    PAUSE_SYMBOL = "pause.symbol"
    BREAKER_MANUAL_KILL = "breaker.manual_kill"
    BREAKER_DRAWDOWN_KILL = "breaker.drawdown_kill"
    BREAKER_DRAWDOWN_PAUSE = "breaker.drawdown_pause"
    BREAKER_DAILY_LOSS = "breaker.daily_loss"
    WEEKLY_SIZE_MULTIPLIER = "risk.weekly_size_multiplier"
    DATA_OUTAGE = "data.outage"
    NO_REFERENCE_PRICE = "data.no_reference_price"
    ENGINE_UNAVAILABLE = "engine.unavailable"
    SYMBOL_NOT_TRADED = "engine.symbol_not_traded"
    # the account and its caps
    ONE_POSITION_PER_SYMBOL = "risk.one_position_per_symbol"
    MAX_OPEN_POSITIONS = "risk.max_open_positions"
    MAX_POSITIONS_PER_SECTOR = "risk.max_positions_per_sector"
    CAPITAL_BASE_PLUS_PROFITS = "risk.capital_rule.base_plus_profits"
    NO_EQUITY = "risk.no_equity"
    MAX_POSITION_SIZE = "risk.max_position_size_pct"
    MAX_POSITION_SIZE_CEILING = "risk.ceiling.max_position_size_pct"
    MAX_TOTAL_EXPOSURE = "risk.max_total_exposure_pct"
    MAX_TOTAL_EXPOSURE_CEILING = "risk.ceiling.max_total_exposure_pct"
    FREE_BALANCE = "risk.free_balance"
    SIZE_ZERO = "risk.size_zero"
    MAX_STOP_LOSS = "risk.max_stop_loss_pct"
    MAX_STOP_LOSS_CEILING = "risk.ceiling.max_stop_loss_pct"
    INVALID_REQUEST = "request.invalid"
    # sizing (informational)
    SIZING_KELLY = "sizing.kelly"
    SIZING_MANUAL = "sizing.manual"
    SIZING_STRATEGY_MULTIPLIER = "sizing.strategy_multiplier"
    # the symbol's exchange rules
    SYMBOL_NOT_TRADING = "filters.symbol_not_trading"
    QUOTE_ORDER_QTY = "filters.quote_order_qty"
    ORDER_TYPES = "filters.order_types"
    MAX_NOTIONAL = "filters.max_notional"
    MIN_SIZE = "filters.min_size"
    MAX_QTY = "filters.max_qty"
    EXIT_PRICE = "filters.exit_price"
    STOP_NOT_BELOW_PRICE = "filters.stop_not_below_price"
    # protection (Invariant 6)
    TOO_SMALL_TO_PROTECT = "protection.too_small"
    PROTECTION_REFUSED = "protection.refused"
    # advice (Invariant 1: it can only tighten)
    ADVICE_VETO = "advice.veto"
    ADVICE_SKIP = "advice.skip"
    ADVICE_PAUSE = "advice.pause"
    ADVICE_SIZE_NEGATIVE = "advice.size_multiplier_negative"
    ADVICE_SIZE_ZERO = "advice.size_multiplier_zero"
    ADVICE_SIZE_MAX_1 = "advice.size_multiplier_max_1"
    ADVICE_SIZE = "advice.size_multiplier"
    ADVICE_STOP_INVALID = "advice.stop_price_invalid"
    ADVICE_TAKE_PROFIT_INVALID = "advice.take_profit_price_invalid"
    ADVICE_STOP_NO_WIDER = "advice.stop_no_wider"
    ADVICE_STOP_BELOW_PRICE = "advice.stop_below_price"
    ADVICE_STOP_TIGHTENED = "advice.stop_tightened"
    ADVICE_TAKE_PROFIT_NO_HIGHER = "advice.take_profit_no_higher"
    ADVICE_TAKE_PROFIT_LOWERED = "advice.take_profit_lowered"


class ReasonKind(StrEnum):
    """What a reason did to its decision: refused the entry, changed a value (a clamp), or only explains."""

    REFUSAL = "refusal"
    CLAMP = "clamp"
    NOTE = "note"


class Reason(Frozen):
    """One reason of a decision: the rule that fired and a whole human message (never a template to parse)."""

    rule: RuleId = Field(description="The rule that fired: the id to name when asking for it to be tightened.")
    message: str = Field(description="What it found, whole, for a person.")
    kind: ReasonKind = Field(description="refusal: it refused the entry; clamp: it changed a value; note: it only "
                             "explains (e.g. how the entry was sized).")


class ClampEvent(Frozen):
    """A rule that tightened (or refused to loosen) a decision. Every clamp is journaled."""

    rule: str  # a RuleId's value; kept as text so clamp rows of older journals still read
    field: str
    requested: str
    applied: str
    source: str
    symbol: str | None = None


class DecisionAction(StrEnum):
    ENTER = "enter"
    SKIP = "skip"
    EXIT = "exit"


class Decision(Frozen):
    """The risk engine's answer to a signal or a trade request, with every reason and clamp."""

    symbol: Symbol
    strategy: StrategyName | None
    action: DecisionAction
    quote_amount: NonNegativeDecimal = Decimal(0)
    quantity: NonNegativeDecimal = Decimal(0)
    reference_price: PositiveDecimal | None = None
    take_profit_price: PositiveDecimal | None = None
    stop_price: PositiveDecimal | None = None
    reasons: tuple[Reason, ...] = ()
    clamps: tuple[ClampEvent, ...] = ()
    time_ms: int
    # ENTER: the entry order it placed. Its take-profit and stop are planned at the reference price; once the
    # entry filled, the journal's row holds the prices of the protection actually sent (from the fill).
    entry_client_order_id: ClientId | None = None

    @field_validator("reasons", mode="before")
    @classmethod
    def _legacy_reasons(cls, value: object, info: ValidationInfo) -> object:
        """A reason journaled as plain text by an older version reads as `RuleId.UNSPECIFIED` with its text whole:
        a refusal in a SKIP decision (one of them refused it), a note otherwise."""
        if not isinstance(value, (list, tuple)):
            return value
        kind = ReasonKind.REFUSAL if info.data.get("action") is DecisionAction.SKIP else ReasonKind.NOTE
        return tuple(Reason(rule=RuleId.UNSPECIFIED, message=r, kind=kind) if isinstance(r, str) else r for r in value)


class Position(Frozen):
    """An open long. `avg_entry` includes buy fees, so break-even is avg_entry grossed up by the sell fee."""

    position_id: str
    symbol: Symbol
    strategy: StrategyName | None
    quantity: PositiveDecimal
    avg_entry: PositiveDecimal
    opened_ms: int
    stop_price: PositiveDecimal | None = None
    take_profit_price: PositiveDecimal | None = None
    protection_list_id: str | None = None
