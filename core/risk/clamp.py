"""The advice clamp (Invariant 1): LLM advice can skip, shrink or pause, never enlarge or loosen.

Advice with no symbol applies to every symbol. A size multiplier above 1 is clamped to 1, a negative or
zero one means skip; several multipliers do not compound, the smallest wins. A stop wider than the
decision's or a take-profit higher than the decision's is refused; a tighter stop (still below the
reference price) and a lower take-profit (still above it) are accepted. VETO, SKIP and PAUSE skip the
entry; PAUSE also pauses the symbol (see `advice_pauses`). Every clamp is a `ClampEvent` naming its rule,
with the advice's source. Exits are never touched: only ENTER decisions are clamped.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_FLOOR, Decimal, localcontext

from core.clock import MS_PER_MINUTE, utc_text
from core.errors import FilterRejected
from core.filters import SymbolRules, check_notional, conform_price, conform_quantity, round_to_step
from core.risk.decision import ZERO, ClampLog, skipped
from core.types import Advice, AdviceAction, Decision, DecisionAction, RuleId

ALL_SYMBOLS = "*"  # key of a pause that advice without a symbol asks for
DEFAULT_ADVICE_PAUSE_MINUTES = 60
HUNDRED = Decimal(100)
_REFUSING = {AdviceAction.VETO: RuleId.ADVICE_VETO, AdviceAction.SKIP: RuleId.ADVICE_SKIP,
             AdviceAction.PAUSE: RuleId.ADVICE_PAUSE}


def advice_for(symbol: str, advice: Sequence[Advice]) -> list[Advice]:
    """The advice that concerns `symbol`: addressed to it, or to every symbol."""
    return [a for a in advice if a.symbol is None or a.symbol == symbol]


def pause_until(advice: Advice, now_ms: int) -> int:
    """When the pause `advice` asks for ends: its minutes (60 when unsaid; `Advice` refuses more than
    `core.types.MAX_ADVICE_PAUSE_MINUTES`, so a model answering 10**30 minutes never reaches the controls)."""
    minutes = DEFAULT_ADVICE_PAUSE_MINUTES if advice.pause_minutes is None else advice.pause_minutes
    return now_ms + minutes * MS_PER_MINUTE


def advice_pauses(advice: Sequence[Advice], now_ms: int) -> dict[str, int]:
    """Symbol → paused-until ms for every PAUSE advice (the longest wins); symbol-less advice under `ALL_SYMBOLS`."""
    pauses: dict[str, int] = {}
    for a in advice:
        if a.action is AdviceAction.PAUSE:
            key = a.symbol or ALL_SYMBOLS
            pauses[key] = max(pauses.get(key, 0), pause_until(a, now_ms))
    return pauses


def clamp_advice(decision: Decision, advice: Sequence[Advice], now_ms: int, *,
                 rules: SymbolRules | None = None) -> Decision:
    """`decision` with the advice applied as far as it tightens, and a ClampEvent for every refusal or change.

    With `rules`, a shrunk quantity and a tightened stop or lowered take-profit are conformed to the symbol's
    filters here (a quantity that falls below a minimum turns the decision into a SKIP). Without them, prices
    and quantities only ever move in the safe direction, and the order must still pass `core.filters`.
    """
    if decision.action is not DecisionAction.ENTER:
        return decision
    relevant = advice_for(decision.symbol, advice)
    if not relevant:
        return decision
    log = ClampLog(decision.symbol)
    if _refusals(relevant, now_ms, log):
        return skipped(decision, log)
    quantity, quote = _shrunk_size(decision, relevant, rules, log)
    if quantity is None or quote is None:
        return skipped(decision, log)
    stop = _tightened_stop(decision, relevant, rules, log)
    take_profit = _lowered_take_profit(decision, relevant, rules, log)
    if not log.clamps and not log.reasons:
        return decision
    return log.applied_to(decision, quantity=quantity, quote_amount=quote, stop_price=stop,
                          take_profit_price=take_profit)


def _refusals(relevant: list[Advice], now_ms: int, log: ClampLog) -> bool:
    refused = False
    for a in relevant:
        rule = _REFUSING.get(a.action)
        if rule is not None:
            why = a.reason or "no reason given"
            if a.action is AdviceAction.PAUSE:
                until = utc_text(pause_until(a, now_ms))
                why = f"{a.symbol or 'all symbols'} paused until {until}: {why}"
            log.record(rule, "action", "enter", "skip", a.source, why, refusal=True)
            refused = True
        if a.size_multiplier <= 0.0:
            rule = RuleId.ADVICE_SIZE_NEGATIVE if a.size_multiplier < 0.0 else RuleId.ADVICE_SIZE_ZERO
            log.record(rule, "size_multiplier", a.size_multiplier, "skip", a.source,
                       "a multiplier at or below zero means no position", refusal=True)
            refused = True
    return refused


def _shrunk_size(decision: Decision, relevant: list[Advice], rules: SymbolRules | None,
                 log: ClampLog) -> tuple[Decimal | None, Decimal | None]:
    """(quantity, quote) after the smallest multiplier; (None, None) when the result is not a valid order."""
    multiplier, source = 1.0, ""
    for a in relevant:
        if a.size_multiplier > 1.0:
            log.record(RuleId.ADVICE_SIZE_MAX_1, "size_multiplier", a.size_multiplier, 1.0, a.source,
                       "advice may shrink a position, never enlarge it")
        elif a.size_multiplier < multiplier:
            multiplier, source = a.size_multiplier, a.source
    quantity, quote, price = decision.quantity, decision.quote_amount, decision.reference_price
    if multiplier >= 1.0:
        return quantity, quote
    factor = Decimal(repr(multiplier))
    with localcontext(rounding=ROUND_FLOOR):
        raw = quantity * factor
        try:
            if rules is not None:
                new_quantity = conform_quantity(rules, raw, market=True)
                if price is not None:
                    check_notional(rules, new_quantity * price, market=False)
            else:
                new_quantity = raw.quantize(Decimal(1).scaleb(int(quantity.as_tuple().exponent)))
                if new_quantity <= ZERO:
                    raise FilterRejected(decision.symbol, "LOT_SIZE", "quantity", new_quantity, ZERO, "rounds to zero")
        except FilterRejected as exc:
            log.record(RuleId.ADVICE_SIZE, "quantity", quantity, "skip", source,
                       f"×{multiplier} leaves no valid order: {exc.message}", refusal=True)
            return None, None
        # The entry spends a quote amount (quoteOrderQty) and `quantity` is the least it buys: both shrink alike.
        new_quote = quote * factor
        if rules is not None:
            new_quote = round_to_step(new_quote, Decimal(1).scaleb(-rules.quote_precision), "down")
    log.record(RuleId.ADVICE_SIZE, "quantity", quantity, new_quantity, source,
               f"advice shrinks size ×{multiplier}")
    return new_quantity, min(new_quote, quote)


def _advised_price(decision: Decision, a: Advice, pct: Decimal, sign: int, field: str, rules: SymbolRules | None,
                   log: ClampLog) -> Decimal | None:
    """The price an advised percentage names, rounded up to the tick, or None (with a clamp) when unusable."""
    price = decision.reference_price
    rule = RuleId(f"advice.{field}_invalid")
    if price is None:
        log.record(rule, field, pct, "unchanged", a.source, "the decision has no reference price")
        return None
    if not pct.is_finite() or pct <= ZERO or pct >= HUNDRED:
        log.record(rule, field, pct, "unchanged", a.source, "a percentage must be above 0 and below 100")
        return None
    raw = price * (HUNDRED + sign * pct) / HUNDRED
    if rules is None:
        return raw
    try:
        return conform_price(rules, field, raw, "up")
    except FilterRejected as exc:
        log.record(rule, field, pct, "unchanged", a.source, exc.message)
        return None


def _tightened_stop(decision: Decision, relevant: list[Advice], rules: SymbolRules | None,
                    log: ClampLog) -> Decimal | None:
    stop, price = decision.stop_price, decision.reference_price
    for a in relevant:
        if a.stop_loss_pct is None:
            continue
        advised = _advised_price(decision, a, a.stop_loss_pct, -1, "stop_price", rules, log)
        if advised is None or price is None:
            continue
        if stop is not None and advised < stop:
            log.record(RuleId.ADVICE_STOP_NO_WIDER, "stop_price", advised, stop, a.source,
                       f"advice asked a wider stop ({a.stop_loss_pct}% below the price); refused")
        elif advised >= price:
            log.record(RuleId.ADVICE_STOP_BELOW_PRICE, "stop_price", advised, stop, a.source,
                       "a stop must stay below the reference price")
        elif stop is None or advised > stop:
            log.record(RuleId.ADVICE_STOP_TIGHTENED, "stop_price", stop, advised, a.source, a.reason or "tighter stop")
            stop = advised
    return stop


def _lowered_take_profit(decision: Decision, relevant: list[Advice], rules: SymbolRules | None,
                         log: ClampLog) -> Decimal | None:
    take_profit, price = decision.take_profit_price, decision.reference_price
    for a in relevant:
        if a.take_profit_pct is None:
            continue
        advised = _advised_price(decision, a, a.take_profit_pct, 1, "take_profit_price", rules, log)
        if advised is None or price is None:
            continue
        if take_profit is not None and advised > take_profit:
            log.record(RuleId.ADVICE_TAKE_PROFIT_NO_HIGHER, "take_profit_price", advised, take_profit, a.source,
                       f"advice asked a higher take-profit ({a.take_profit_pct}% above the price); refused")
        elif take_profit is None or advised < take_profit:
            log.record(RuleId.ADVICE_TAKE_PROFIT_LOWERED, "take_profit_price", take_profit, advised, a.source,
                       a.reason or "lower take-profit")
            take_profit = advised
    return take_profit
