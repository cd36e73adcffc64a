"""A stop plan: how a position's stop moves after entry, as a strategy asks for it on its Signal.

Three stages, measured from the entry's average fill price `fill` (the price a "+1.5 %" is measured from) and the
highest price seen since entry `high`:

1. the initial stop, the Signal's own `stop_loss_pct` below the fill;
2. **breakeven plus fees** once `high ≥ fill × (1 + breakeven_at_pct / 100)`: the stop moves to the price at which
   selling gives back what the entry cost, both fees included: `fill × (1 + f) / (1 − f)` for a fee rate `f`
   (the buy paid `fill × (1 + f)` per unit, a sell at `p` keeps `p × (1 − f)`), rounded up;
3. **trailing** once `high ≥ fill × (1 + trail_at_pct / 100)`: the stop sits `trail_distance_pct` below the high
   (never below breakeven), and moves again each time the high has risen another `trail_step_pct`.

The stop only ever moves up (`planned_stop` never returns less than the current stop). Every stop distance the
plan can produce, initial or trailing, lies within [`MIN_STOP_DISTANCE_PCT`, `MAX_STOP_DISTANCE_PCT`] = [0.5 %, 5 %]
(`capped_distance_pct`): a plan with a trailing distance outside it is refused when it is built.

All arithmetic is Decimal; the percents are read from their shortest decimal form, as the trailing ladder's are.
The engine moves a planned stop itself (a fixed stop replaced when the plan moves it, as its ladder does), never
with the exchange's native trailing stop: Binance's trailing delta starts from the last price at placement and
cannot express "fixed, then breakeven, then trailing" in one order (see `core.engine`).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal, localcontext

from pydantic import BaseModel, ConfigDict, Field, model_validator

MIN_STOP_DISTANCE_PCT = Decimal("0.5")
MAX_STOP_DISTANCE_PCT = Decimal("5")
HUNDRED = Decimal(100)
_EXACT_DIGITS = 80


def capped_distance_pct(distance_pct: float | Decimal) -> Decimal:
    """A stop distance in percent, within [0.5 %, 5 %], as the shortest decimal of its value."""
    value = Decimal(repr(float(distance_pct))) if isinstance(distance_pct, float) else Decimal(distance_pct)
    if not value.is_finite():
        raise ValueError(f"stop distance {distance_pct!r} is not a finite number")
    return min(max(value, MIN_STOP_DISTANCE_PCT), MAX_STOP_DISTANCE_PCT)


class StopPlan(BaseModel):
    """Breakeven and trailing of one position (the module docstring). Frozen; all in percent of the fill price."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    breakeven_at_pct: Decimal = Field(default=Decimal("1.5"), gt=0, lt=100)
    trail_at_pct: Decimal = Field(default=Decimal("2.5"), gt=0, lt=100)
    trail_distance_pct: Decimal = Field(ge=MIN_STOP_DISTANCE_PCT, le=MAX_STOP_DISTANCE_PCT)
    trail_step_pct: Decimal = Field(default=Decimal("0.25"), gt=0, lt=100)

    @model_validator(mode="after")
    def _ordered(self) -> StopPlan:
        if self.trail_at_pct < self.breakeven_at_pct:
            raise ValueError(f"trail_at_pct {self.trail_at_pct} is below breakeven_at_pct {self.breakeven_at_pct}: "
                             "a plan trails only after it reached breakeven")
        return self

    def to_strings(self) -> dict[str, str]:
        """JSON-able, exact (the checkpoint's form)."""
        return {k: str(v) for k, v in self.model_dump().items()}


def breakeven_price(fill: Decimal, fee_rate: Decimal) -> Decimal:
    """The lowest sell price that gives back the entry's cost, both fees included: fill × (1 + f) / (1 − f), up."""
    if not fill.is_finite() or fill <= 0:
        raise ValueError(f"fill price {fill} must be positive")
    if not fee_rate.is_finite() or not 0 <= fee_rate < 1:
        raise ValueError(f"fee rate {fee_rate} must be in [0, 1)")
    with localcontext(prec=_EXACT_DIGITS, rounding=ROUND_CEILING):
        return fill * (1 + fee_rate) / (1 - fee_rate)


def planned_stop(plan: StopPlan, fill: Decimal, fee_rate: Decimal, high: Decimal, current_stop: Decimal) -> Decimal:
    """The stop once the high since entry is `high`: the plan's stage for it, never below `current_stop`."""
    with localcontext(prec=_EXACT_DIGITS, rounding=ROUND_CEILING):
        stop = current_stop
        if high * HUNDRED >= fill * (HUNDRED + plan.breakeven_at_pct):
            stop = max(stop, breakeven_price(fill, fee_rate))
        if high * HUNDRED >= fill * (HUNDRED + plan.trail_at_pct):
            stop = max(stop, high * (HUNDRED - plan.trail_distance_pct) / HUNDRED)
        return stop


def next_move_price(plan: StopPlan, fill: Decimal, high: Decimal) -> Decimal:
    """The high at which the plan's stop may move next: breakeven's trigger, the trail's, or one trail step above
    `high` once trailing (the engine re-places a trailing stop in steps, not on every tick)."""
    with localcontext(prec=_EXACT_DIGITS, rounding=ROUND_CEILING):
        breakeven_at = fill * (HUNDRED + plan.breakeven_at_pct) / HUNDRED
        if high < breakeven_at:
            return breakeven_at
        trail_at = fill * (HUNDRED + plan.trail_at_pct) / HUNDRED
        if high < trail_at:
            return trail_at
        return high * (HUNDRED + plan.trail_step_pct) / HUNDRED
