"""The risk gate: the only way a signal or a trade request becomes an entry.

An entry is refused while anything blocks it (`entry_blockers`), then sized and capped:

    fraction = kelly_fraction × (Kelly estimate, or the prior) × confidence × allocation × breaker multiplier
               × the signal's size multiplier (at most MAX_SIGNAL_SIZE_MULTIPLIER = 1.2; 1 unless it asks)
    quote    = fraction × equity                        (a manual request: the requested amount × breaker multiplier)
    capped by  max_position_size_pct × equity          (and the code ceiling, whatever the config says)
               max_total_exposure_pct × equity − exposure  (or less: CAPITAL_RULE, `core.risk.capital`)
               free quote balance / (1 + fee rate)      (the free balance, never the total equity)
               the symbol's maxNotional
    quote    → rounded DOWN to the quote asset's precision: the entry's quoteOrderQty
    quantity = quote / worst price, rounded DOWN to the lot step; below minQty or minNotional → SKIP
    worst price = reference price × (1 + entry_slippage_allowance_pct / 100)

The entry is a MARKET buy of `quote` (Binance's quoteOrderQty): the exchange spends at most that amount,
whatever the ask, the depth walked or a gap to the next bar's open, so every cap above holds at the price
actually paid (the fee is charged in the base asset). `quantity` is the least the entry buys if it fills
within the slippage allowance: the lot, notional and protection checks use it, so a worse fill cannot
leave a position too small to protect without the allowance being exceeded. A symbol that does not allow
quote-amount market orders is refused: its cost could not be capped by the exchange.

Every cap that binds is a `ClampEvent` (source "risk") with a reason. Arithmetic runs with rounding toward
minus infinity, so no rounding can lift a size above a cap. Advice is applied last, through the clamp, so it
can only tighten. Nothing here blocks an exit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, localcontext

from core.clock import utc_text
from core.config import CEILINGS, CapitalRule, ExecutorConfig
from core.errors import FilterRejected
from core.filters import SymbolRules, check_notional, conform_oco, conform_price, conform_quantity, round_to_step
from core.risk.breakers import DAILY_LOSS, DRAWDOWN_KILL, DRAWDOWN_PAUSE, MANUAL_KILL, BreakerState
from core.risk.capital import deploy_limit
from core.risk.clamp import ALL_SYMBOLS, clamp_advice
from core.risk.decision import ZERO, ClampLog, skipped
from core.risk.errors import InvalidRiskInput
from core.risk.sizing import KellyBasis, kelly_sizing
from core.types import (
    MAX_SIGNAL_SIZE_MULTIPLIER,
    Advice,
    Decision,
    DecisionAction,
    OcoRequest,
    Reason,
    ReasonKind,
    RuleId,
    Signal,
    StrategyName,
)

HUNDRED = Decimal(100)
# The client id of the OCO built only to check, before an entry, that its protection would be accepted.
CHECK_ID = "cx-protection-check"
# Sizing precision: ample for prices × quantities; with ROUND_FLOOR every rounding lowers a size.
_SIZING_DIGITS = 40
_BREAKER_RULES = {MANUAL_KILL: RuleId.BREAKER_MANUAL_KILL, DRAWDOWN_KILL: RuleId.BREAKER_DRAWDOWN_KILL,
                  DRAWDOWN_PAUSE: RuleId.BREAKER_DRAWDOWN_PAUSE, DAILY_LOSS: RuleId.BREAKER_DAILY_LOSS}


@dataclass(frozen=True, slots=True)
class RiskContext:
    """What the gate needs to know about the account at the moment of a decision."""

    equity: Decimal
    free_quote: Decimal  # free (unlocked) quote balance, NOT total equity
    exposure: Decimal  # open positions at mark, in quote
    open_symbols: frozenset[str]  # symbols with an open position
    pending_symbols: frozenset[str]  # symbols with an entry order in flight
    breakers: BreakerState
    strategy_stats: Mapping[StrategyName, KellyBasis]  # closed trades, Kelly estimate on returns, last close
    paused_symbols: Mapping[str, int]  # symbol -> paused until ms (advice or control); "*" pauses every symbol
    data_outages: Mapping[str, str]  # symbol -> reason
    all_paused_until: int = 0  # pause of everything (control)
    starting_capital: Decimal | None = None  # equity when the engine started trading (CAPITAL_RULE needs it)
    realized_pnl: Decimal = ZERO  # realized P&L since the start (CAPITAL_RULE)

    def __post_init__(self) -> None:
        for name in ("equity", "free_quote", "exposure"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite() or value < ZERO:
                raise InvalidRiskInput(name, value, ">= 0", "account values must be finite, non-negative Decimals")



def max_open_positions(config: ExecutorConfig) -> int:
    return min(config.risk.max_open_positions, int(CEILINGS["max_open_positions"]))


def max_positions_per_sector(config: ExecutorConfig) -> int:
    return min(config.risk.max_positions_per_sector, int(CEILINGS["max_positions_per_sector"]))


def _sector_blocker(symbol: str, ctx: RiskContext, config: ExecutorConfig) -> tuple[RuleId, str] | None:
    """MAX_POSITIONS_PER_SECTOR: the symbol's sector (config.sector_map) already holds the limit in open or
    pending positions. A symbol in no sector is not counted."""
    sector = config.sector_map.get(symbol)
    if sector is None:
        return None
    held = sorted(s for s in ctx.open_symbols | ctx.pending_symbols if config.sector_map.get(s) is sector)
    limit = max_positions_per_sector(config)
    if len(held) < limit:
        return None
    return (RuleId.MAX_POSITIONS_PER_SECTOR,
            f"max_positions_per_sector: sector {sector.value} of {symbol} holds {len(held)} open or pending "
            f"({', '.join(held)}) >= limit {limit}")


def entry_blockers(symbol: str, ctx: RiskContext, config: ExecutorConfig, now_ms: int) -> list[Reason]:
    """Every reason an entry on `symbol` is not allowed now, most severe first; [] means an entry would be allowed."""
    found: list[tuple[RuleId, str]] = []
    block = ctx.breakers.entry_block(now_ms)
    if block is not None:
        found.append((_BREAKER_RULES[block[0]], block[1]))
    if ctx.all_paused_until > now_ms:
        found.append((RuleId.PAUSE_ALL, f"paused: all entries paused until {utc_text(ctx.all_paused_until)}"))
    until = ctx.paused_symbols.get(ALL_SYMBOLS, 0)
    if until > now_ms:
        found.append((RuleId.PAUSE_EVERY_SYMBOL, f"paused: every symbol paused until {utc_text(until)}"))
    until = ctx.paused_symbols.get(symbol, 0)
    if until > now_ms:
        found.append((RuleId.PAUSE_SYMBOL, f"paused: {symbol} paused until {utc_text(until)}"))
    outage = ctx.data_outages.get(symbol)
    if outage is not None:
        found.append((RuleId.DATA_OUTAGE, f"DATA_OUTAGE: {symbol}: {outage}"))
    if symbol in ctx.open_symbols:
        found.append((RuleId.ONE_POSITION_PER_SYMBOL,
                      f"one position per symbol: {symbol} already has an open position"))
    elif symbol in ctx.pending_symbols:
        found.append((RuleId.ONE_POSITION_PER_SYMBOL,
                      f"one position per symbol: an entry on {symbol} is already in flight"))
    sector = _sector_blocker(symbol, ctx, config)
    if sector is not None:
        found.append(sector)
    count, limit = len(ctx.open_symbols | ctx.pending_symbols), max_open_positions(config)
    if count >= limit:
        found.append((RuleId.MAX_OPEN_POSITIONS, f"max_open_positions: {count} open or pending >= limit {limit}"))
    return [Reason(rule=rule, message=message, kind=ReasonKind.REFUSAL) for rule, message in found]


def evaluate_entry(signal: Signal, ctx: RiskContext, rules: SymbolRules, config: ExecutorConfig, now_ms: int,
                   advice: Sequence[Advice] = ()) -> Decision:
    """A strategy's signal → ENTER (sized, capped, conformed, clamped by advice) or SKIP with every reason."""
    symbol = signal.symbol
    _check_rules(symbol, rules)
    base = Decision(symbol=symbol, strategy=signal.strategy, action=DecisionAction.SKIP,
                    reference_price=signal.reference_price, time_ms=now_ms)
    log = ClampLog(symbol)
    blockers = entry_blockers(symbol, ctx, config, now_ms)
    if blockers:
        log.reasons.extend(blockers)
        return skipped(base, log)
    sizing = kelly_sizing(ctx.strategy_stats.get(signal.strategy, KellyBasis()), config.risk, now_ms)
    kelly = sizing.fraction
    allocation = min(max(config.strategies.allocation.get(signal.strategy, 0.0), 0.0), 1.0)
    multiplier = min(ctx.breakers.size_multiplier(now_ms), 1.0)
    strategy_multiplier = strategy_size_multiplier(signal.size_multiplier)
    fraction = kelly * signal.confidence * allocation * multiplier
    if not 0.0 <= fraction <= 1.0:  # also refuses NaN
        raise InvalidRiskInput("size_fraction", fraction, "[0, 1]", "sizing inputs are not numbers", symbol)
    log.note(RuleId.SIZING_KELLY, f"size: fractional Kelly {kelly:.4f} ({sizing.message}) "
             f"× confidence "
             f"{signal.confidence:.2f} × allocation {allocation:.2f} × breaker {multiplier:.2f} = "
             f"{fraction * 100:.4f}% of equity {ctx.equity:.2f}")
    factors = [kelly, signal.confidence, allocation, multiplier]
    if strategy_multiplier != 1.0:
        factors.append(strategy_multiplier)
        log.note(RuleId.SIZING_STRATEGY_MULTIPLIER, f"size: × {strategy_multiplier:g} asked by {signal.strategy} "
                 f"(at most ×{MAX_SIGNAL_SIZE_MULTIPLIER:g}; every cap below still applies)")
    with localcontext(prec=_SIZING_DIGITS, rounding=ROUND_FLOOR):
        # Each factor as the decimal it prints as, multiplied exactly: 10 000 × 0.05 × 0.7 is 350, not the
        # 349.99999999 that the float product 0.034999999999999996 would ask the exchange to spend.
        requested = ctx.equity
        for factor in factors:
            requested *= Decimal(repr(factor))
        requested = min(requested, ctx.equity)  # × 1.2 of a fraction near 1 is still at most the equity
    return _sized_entry(base, requested, signal.take_profit_pct, signal.stop_loss_pct, ctx, rules, config, now_ms,
                        advice, log)


def strategy_size_multiplier(asked: float) -> float:
    """A Signal's size multiplier as the gate applies it: within [0, MAX_SIGNAL_SIZE_MULTIPLIER] whatever was asked
    (a Signal validates the same bounds; this holds for any caller). NaN counts as 0: it can only shrink."""
    if not asked >= 0.0:
        return 0.0
    return min(asked, MAX_SIGNAL_SIZE_MULTIPLIER)


def evaluate_manual_entry(symbol: str, quote_amount: Decimal, take_profit_pct: Decimal, stop_loss_pct: Decimal,
                          reference_price: Decimal, ctx: RiskContext, rules: SymbolRules, config: ExecutorConfig,
                          now_ms: int, advice: Sequence[Advice] = ()) -> Decision:
    """A trade asked for by a person or an agent: the requested amount is an upper bound, every cap still applies.

    No Kelly; the weekly breaker's size multiplier does apply (as a cap, with a ClampEvent).
    """
    _check_rules(symbol, rules)
    valid_price = reference_price.is_finite() and reference_price > ZERO
    base = Decision(symbol=symbol, strategy=None, action=DecisionAction.SKIP,
                    reference_price=reference_price if valid_price else None, time_ms=now_ms)
    log = ClampLog(symbol)
    log.reasons.extend(entry_blockers(symbol, ctx, config, now_ms))
    if not valid_price:
        log.refuse(RuleId.INVALID_REQUEST, f"invalid request: reference price {reference_price} must be positive")
    if not quote_amount.is_finite() or quote_amount <= ZERO:
        log.refuse(RuleId.INVALID_REQUEST, f"invalid request: quote amount {quote_amount} must be positive")
    for name, pct in (("take_profit_pct", take_profit_pct), ("stop_loss_pct", stop_loss_pct)):
        if not pct.is_finite() or not ZERO < pct < HUNDRED:
            log.refuse(RuleId.INVALID_REQUEST, f"invalid request: {name} {pct} must be above 0 and below 100")
    if log.refused():
        return skipped(base, log)
    log.note(RuleId.SIZING_MANUAL, f"size: requested {quote_amount} (manual; upper bound)")
    multiplier = min(ctx.breakers.size_multiplier(now_ms), 1.0)
    amount = quote_amount
    if multiplier < 1.0:
        with localcontext(prec=_SIZING_DIGITS, rounding=ROUND_FLOOR):
            reduced = quote_amount * Decimal(repr(multiplier))
        amount = _cap(log, amount, reduced, RuleId.WEEKLY_SIZE_MULTIPLIER,
                      f"weekly loss breaker: sizes ×{multiplier} for the rest of the UTC week")
    return _sized_entry(base, amount, take_profit_pct, stop_loss_pct, ctx, rules, config, now_ms, advice, log)


def _check_rules(symbol: str, rules: SymbolRules) -> None:
    if rules.symbol != symbol:
        raise InvalidRiskInput("rules.symbol", rules.symbol, symbol, "symbol rules are for another symbol", symbol)


def _cap(log: ClampLog, amount: Decimal, limit: Decimal, rule: RuleId, why: str) -> Decimal:
    """min(amount, limit), recording a clamp when the limit binds."""
    if amount > limit:
        log.record(rule, "quote_amount", amount, limit, "risk", why)
        return limit
    return amount


def _pct_limit(config_value: float, setting: str) -> tuple[Decimal, RuleId]:
    """A percentage limit and the rule that names it: the config value, or the code ceiling when config exceeds it."""
    ceiling = CEILINGS[setting]
    if config_value > ceiling or math.isnan(config_value):
        return Decimal(repr(float(ceiling))), RuleId(f"risk.ceiling.{setting}")
    return Decimal(repr(float(config_value))), RuleId(f"risk.{setting}")


# What every entry needs: a market buy, and at least a lone STOP_LOSS_LIMIT to protect it (an OCO is preferred
# and falls back to the lone stop when refused). A symbol whose exchangeInfo lists no order types is not judged.
_ENTRY_ORDER_TYPES = ("MARKET", "STOP_LOSS_LIMIT")


def _missing_order_types(rules: SymbolRules) -> list[str]:
    if not rules.order_types:
        return []
    return [kind for kind in _ENTRY_ORDER_TYPES if kind not in rules.order_types]


def _sized_entry(base: Decision, requested: Decimal, take_profit_pct: Decimal, stop_loss_pct: Decimal,
                 ctx: RiskContext, rules: SymbolRules, config: ExecutorConfig, now_ms: int,
                 advice: Sequence[Advice], log: ClampLog) -> Decision:
    price = base.reference_price
    if price is None:
        log.refuse(RuleId.NO_REFERENCE_PRICE, "no reference price")
        return skipped(base, log)
    if not rules.trading:
        log.refuse(RuleId.SYMBOL_NOT_TRADING, f"{rules.symbol} is not trading (status {rules.status})")
        return skipped(base, log)
    if not _stop_within_limit(stop_loss_pct, config, log):
        return skipped(base, log)
    missing = _missing_order_types(rules)
    if missing:
        log.refuse(RuleId.ORDER_TYPES,
                   f"filters.order_types: {rules.symbol} does not allow {', '.join(missing)} orders, so the entry "
                   "could not be bought at market or could not be protected by a stop on the exchange")
        return skipped(base, log)
    if not rules.quote_order_qty_market_allowed:
        log.refuse(RuleId.QUOTE_ORDER_QTY,
                   f"filters.quote_order_qty: {rules.symbol} does not allow quote-amount market orders "
                   "(quoteOrderQtyMarketAllowed false), so the exchange could not cap the entry's cost")
        return skipped(base, log)
    with localcontext(prec=_SIZING_DIGITS, rounding=ROUND_FLOOR):
        amount = _capped_quote(requested, take_profit_pct, ctx, rules, config, log)
        if amount is None:
            return skipped(base, log)
        worst = price * (HUNDRED + max(config.risk.entry_slippage_allowance_pct, ZERO)) / HUNDRED
        sized = _conformed_size(_quote_step(amount, rules), price, worst, rules, log)
        if sized is None:
            return skipped(base, log)
        amount, quantity = sized
    exits = _exit_prices(price, take_profit_pct, stop_loss_pct, rules, log)
    if exits is None:
        return skipped(base, log)
    take_profit, stop = exits
    if not _protectable(quantity, price, take_profit, stop, rules, config, log):
        return skipped(base, log)
    decision = log.applied_to(base, action=DecisionAction.ENTER, quote_amount=amount, quantity=quantity,
                              take_profit_price=take_profit, stop_price=stop)
    return clamp_advice(decision, advice, now_ms, rules=rules)


def _capped_quote(requested: Decimal, take_profit_pct: Decimal, ctx: RiskContext, rules: SymbolRules,
                  config: ExecutorConfig, log: ClampLog) -> Decimal | None:
    """The quote amount after every account cap, or None (with a reason) when no room is left."""
    equity = ctx.equity
    if equity <= ZERO:
        log.refuse(RuleId.NO_EQUITY, f"no equity ({equity})")
        return None
    position_pct, position_rule = _pct_limit(config.risk.max_position_size_pct, "max_position_size_pct")
    amount = _cap(log, requested, equity * position_pct / HUNDRED, position_rule,
                  f"{position_pct}% of equity {equity}")
    exposure_pct, exposure_rule = _pct_limit(config.risk.max_total_exposure_pct, "max_total_exposure_pct")
    rule = config.risk.capital_rule
    starting = ctx.starting_capital
    if starting is None:
        if rule is not CapitalRule.OFF:
            raise InvalidRiskInput("starting_capital", None, "a Decimal", f"capital_rule={rule.value} needs the "
                                   "starting capital")
        starting = ZERO
    deploy = deploy_limit(rule, equity, exposure_pct, exposure_rule, starting, ctx.realized_pnl, config.risk)
    room = deploy.limit - ctx.exposure
    if room <= ZERO:
        log.refuse(deploy.rule, f"{deploy.rule}: exposure {ctx.exposure} already at or above {deploy.why}")
        return None
    amount = _cap(log, amount, room, deploy.rule, f"exposure {ctx.exposure} + entry <= {deploy.why}")
    fee_rate = max(config.risk.fee_rate, ZERO)
    if ctx.free_quote <= ZERO:
        log.refuse(RuleId.FREE_BALANCE, f"risk.free_balance: no free quote balance ({ctx.free_quote})")
        return None
    amount = _cap(log, amount, ctx.free_quote / (1 + fee_rate), RuleId.FREE_BALANCE,
                  f"free quote balance {ctx.free_quote} must pay the amount and the fee at {fee_rate}")
    if rules.max_notional > ZERO:  # the take-profit leg, worth more than the entry, must fit as well
        amount = _cap(log, amount, rules.max_notional * HUNDRED / (HUNDRED + max(take_profit_pct, ZERO)),
                      RuleId.MAX_NOTIONAL, f"{rules.notional_filter} maxNotional {rules.max_notional} "
                      f"(the take-profit leg at +{take_profit_pct}% included)")
    if amount <= ZERO:
        log.refuse(RuleId.SIZE_ZERO, f"size is zero (requested {requested})")
        return None
    return amount


def _quote_step(amount: Decimal, rules: SymbolRules) -> Decimal:
    """Down to the quote asset's precision, as a quoteOrderQty must be (Binance: -1111 otherwise)."""
    return round_to_step(amount, Decimal(1).scaleb(-rules.quote_precision), "down")


def _conformed_size(amount: Decimal, price: Decimal, worst: Decimal, rules: SymbolRules,
                    log: ClampLog) -> tuple[Decimal, Decimal] | None:
    """(quote amount, least quantity): amount / worst price rounded down to the lot step; None (with the filter's
    reason) below a minimum, since the quantity and its notional must pass even when the fill is that bad. When
    maxQty binds, the amount shrinks to what maxQty costs at the reference price, so that no fill at or above it
    buys more than maxQty."""
    raw = amount / worst
    try:
        quantity = conform_quantity(rules, raw, market=True)
        check_notional(rules, quantity * worst, market=False)
    except FilterRejected as exc:
        log.refuse(RuleId.MIN_SIZE, f"filters: {exc.message} (a size is never raised to reach a minimum)")
        return None
    max_qty = min((q for q in (rules.max_qty, rules.market_max_qty) if q > ZERO), default=ZERO)
    if max_qty > ZERO and raw > max_qty:
        log.record(RuleId.MAX_QTY, "quantity", raw, quantity, "risk", f"LOT_SIZE maxQty {max_qty}")
        amount = min(amount, _quote_step(quantity * price, rules))
    return amount, quantity


def _stop_within_limit(stop_loss_pct: Decimal, config: ExecutorConfig, log: ClampLog) -> bool:
    """MAX_STOP_LOSS_PCT: a stop farther than this below the entry is refused, never silently tightened (a person
    asking for 79 % should learn that it is not allowed). The code ceiling applies whatever the config says."""
    limit, rule = _pct_limit(config.risk.max_stop_loss_pct, "max_stop_loss_pct")
    if stop_loss_pct > limit:
        log.refuse(rule, f"{rule}: stop loss {stop_loss_pct}% is wider than MAX_STOP_LOSS_PCT={limit}%")
        return False
    return True


def _protectable(quantity: Decimal, price: Decimal, take_profit: Decimal, stop: Decimal, rules: SymbolRules,
                 config: ExecutorConfig, log: ClampLog) -> bool:
    """Never open what cannot be protected (Invariant 6): after the base-asset fee, the protective OCO the entry
    will need (take-profit, stop and the stop's limit price, at the reference price) must pass the symbol's
    filters: LOT_SIZE, the minimum notional at the limit price, PERCENT_PRICE(_BY_SIDE), tp > price > stop.
    Otherwise the position would be bought only to be sold again at once."""
    fee_rate = max(config.risk.fee_rate, ZERO)
    kept = round_to_step(quantity * (1 - fee_rate), rules.step_size, "down")
    stop_limit = stop * (HUNDRED - config.risk.stop_limit_buffer_pct) / HUNDRED
    if kept < rules.min_qty or kept <= ZERO or kept * stop_limit < rules.min_notional:
        log.refuse(RuleId.TOO_SMALL_TO_PROTECT,
                   f"too small to protect: {kept} after the fee at stop limit {stop_limit} is below "
                   f"minQty {rules.min_qty} or {rules.notional_filter} {rules.min_notional}")
        return False
    try:
        conform_oco(rules, OcoRequest(list_client_id=CHECK_ID, symbol=rules.symbol, quantity=kept,
                                      take_profit_price=take_profit, stop_price=stop, stop_limit_price=stop_limit),
                    last_price=price)
    except (FilterRejected, ValueError) as exc:
        log.refuse(RuleId.PROTECTION_REFUSED, f"protection would be refused: {exc}")
        return False
    return True


def _exit_prices(price: Decimal, take_profit_pct: Decimal, stop_loss_pct: Decimal, rules: SymbolRules,
                 log: ClampLog) -> tuple[Decimal, Decimal] | None:
    """(take-profit, stop) from the percentages, both rounded up to the tick (the stop tighter); None if invalid."""
    try:
        take_profit = conform_price(rules, "take_profit_price", price * (HUNDRED + take_profit_pct) / HUNDRED, "up")
        stop = conform_price(rules, "stop_price", price * (HUNDRED - stop_loss_pct) / HUNDRED, "up")
    except FilterRejected as exc:
        log.refuse(RuleId.EXIT_PRICE, f"filters: {exc.message}")
        return None
    if stop >= price:
        log.refuse(RuleId.STOP_NOT_BELOW_PRICE,
                   f"stop {stop} is not below the reference price {price} after rounding to the tick {rules.tick_size}")
        return None
    return take_profit, stop
