"""How a strategy turns "how far past the threshold" into a confidence in [0, 1], and into a Signal.

Every confidence here is a documented monotone function of the evidence: a linear ramp from 0 at the
entry threshold to 1 at a fixed distance past it, capped at 1. More evidence never lowers confidence.
"""

from __future__ import annotations

from decimal import Decimal

from core.stop_plan import StopPlan
from core.types import Signal, StrategyName


def ramp(value: float, start: float, full: float) -> float:
    """0 at `start`, 1 at `full` (> start), linear between, clamped to [0, 1]."""
    if value <= start:
        return 0.0
    if value >= full:
        return 1.0
    return (value - start) / (full - start)


def long_signal(
    symbol: str,
    strategy: StrategyName,
    confidence: float,
    price: float,
    take_profit_pct: Decimal,
    stop_loss_pct: Decimal,
    now_ms: int,
    reason: str,
    size_multiplier: float = 1.0,
    stop_plan: StopPlan | None = None,
) -> Signal:
    """Build the validated Signal; only called once every cheap float check has passed.

    The float price becomes a Decimal through its shortest repr, so 0.1 stays 0.1 rather than
    0.1000000000000000055511151231257827…; `core.filters` rounds it to the tick later.
    """
    return Signal(
        symbol=symbol,
        strategy=strategy,
        confidence=confidence,
        reference_price=Decimal(repr(price)),
        take_profit_pct=take_profit_pct,
        stop_loss_pct=stop_loss_pct,
        time_ms=now_ms,
        reason=reason,
        size_multiplier=size_multiplier,
        stop_plan=stop_plan,
    )
