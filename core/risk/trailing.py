"""The trailing of a long position's stop: the engine's ladder, or the exchange's own trailing stop.

Rung k (k = 0, 1, 2, …) is reached when the high since entry is at least `start + k × step` percent above
the entry price, and it locks the stop at `k × step` percent above entry: with start 1% and step 1%, +1%
moves the stop to breakeven, +2% to +1%, +3% to +2%. The stop therefore trails the high by `start`
percent, in whole steps. All arithmetic is `Decimal` (percentages are read from their shortest decimal
form, so 0.1 means exactly 0.1) and thresholds are compared by cross-multiplication, so a high exactly on
a rung reaches it: no float drift can leave a rung unreachable.

Where the symbol allows trailing stops, the ladder is not used: the protective OCO's stop leg carries
`belowTrailingDelta` (`native_trailing_delta`) and the exchange trails it itself, also while the executor is
down. Binance tracks such a leg (sent without a stop price) from the last price at placement and triggers it
once a trade falls `delta` BIPS below the highest price since (`trailing_trigger`); the trigger only rises.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal, localcontext

from core.filters import SymbolRules
from core.risk.errors import InvalidRiskInput
from core.types import BIPS_PER_UNIT

HUNDRED = Decimal(100)
BIPS_PER_PCT = Decimal(BIPS_PER_UNIT) / HUNDRED
# Enough digits that products of prices and percentages are exact (no rounding at a threshold).
_EXACT_DIGITS = 80


def pct_decimal(pct: float, field: str) -> Decimal:
    """A float percentage as the decimal its shortest repr names (1.1 → Decimal('1.1'), not 1.1000000000000000888)."""
    value = Decimal(repr(float(pct)))
    if not value.is_finite() or value <= 0:
        raise InvalidRiskInput(field, pct, "> 0", "a trailing percentage must be a positive finite number")
    return value


def trailing_stop(entry_price: Decimal, current_stop: Decimal, high_price: Decimal, start_pct: float,
                  step_pct: float) -> Decimal:
    """The stop after the high since entry reached `high_price`: the highest rung reached, never below `current_stop`.

    The rung price is not rounded to the tick; the caller rounds it (up, i.e. tighter) with `core.filters`.
    A rung is never above the high that reached it, since each rung sits `start_pct` below its threshold.
    """
    if not entry_price.is_finite() or entry_price <= 0:
        raise InvalidRiskInput("entry_price", entry_price, "> 0", "the entry price must be positive")
    if not high_price.is_finite() or not current_stop.is_finite():
        raise InvalidRiskInput("high_price", high_price, "finite", "prices must be finite")
    start = pct_decimal(start_pct, "trailing_start_pct")
    step = pct_decimal(step_pct, "trailing_step_pct")
    with localcontext(prec=_EXACT_DIGITS, rounding=ROUND_FLOOR):
        scaled_high = high_price * HUNDRED
        if scaled_high < entry_price * (HUNDRED + start):
            return current_stop
        # Estimate the rung by division, then correct it with exact comparisons in both directions.
        rung = int((scaled_high / entry_price - HUNDRED - start) / step)
        while rung > 0 and scaled_high < entry_price * (HUNDRED + start + rung * step):
            rung -= 1
        while scaled_high >= entry_price * (HUNDRED + start + (rung + 1) * step):
            rung += 1
        locked = entry_price * (HUNDRED + rung * step) / HUNDRED
    return locked if locked > current_stop else current_stop


def native_trailing_delta(rules: SymbolRules, stop_loss_pct: Decimal, start_pct: float) -> int | None:
    """The `belowTrailingDelta` (BIPS) of a protective OCO's stop leg, or None where the ladder must trail instead.

    The rule: the exchange trails the highest price by the tighter of the position's stop distance
    (`stop_loss_pct`) and the ladder's trailing distance (`trailing_start_pct`), rounded down to a whole BIPS
    (down is tighter). A delta above the symbol's TRAILING_DELTA maximum is lowered to it (tighter again); one
    below its minimum, a symbol without `allowTrailingStop`, or a delta under 1 BIPS gives None: the stop is
    then a fixed stop moved by the engine's ladder (`trailing_stop`), never both.
    """
    if not rules.allow_trailing_stop:
        return None
    if not stop_loss_pct.is_finite() or stop_loss_pct <= 0:
        raise InvalidRiskInput("stop_loss_pct", stop_loss_pct, "> 0", "a protective stop needs a positive distance")
    distance = min(stop_loss_pct, pct_decimal(start_pct, "trailing_start_pct"))
    delta = int((distance * BIPS_PER_PCT).to_integral_value(rounding=ROUND_FLOOR))
    if rules.trailing_delta is not None:
        delta = min(delta, rules.trailing_delta.max_below)
        if delta < rules.trailing_delta.min_below:
            return None
    return delta if 1 <= delta < BIPS_PER_UNIT else None


def trailing_trigger(reference: Decimal, delta: int) -> Decimal:
    """Where a SELL trailing stop of `delta` BIPS triggers once `reference` is the highest price it has tracked."""
    with localcontext(prec=_EXACT_DIGITS):
        return reference * (BIPS_PER_UNIT - delta) / BIPS_PER_UNIT
