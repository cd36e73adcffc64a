"""Position sizing by fractional Kelly.

Full Kelly for a win rate W and a payoff ratio R (average win / average loss) is W − (1 − W)/R: the
fraction of equity that maximises long-run growth when the estimates are exact. They never are, so the
engine sizes at a fraction of it (config.risk.kelly_fraction, ½ by default) and, until a strategy has
closed enough trades for its estimate to mean anything, uses a configured prior instead.
"""

from __future__ import annotations

import math

from core.config import CEILINGS, RiskConfig
from core.risk.errors import InvalidRiskInput


def full_kelly(win_rate: float, payoff_ratio: float) -> float:
    """W − (1 − W)/R, clipped to [0, 1]. R = 0 (wins pay nothing) has no edge: 0. R = inf (no losses): W."""
    if not 0.0 <= win_rate <= 1.0:
        raise InvalidRiskInput("win_rate", win_rate, "[0, 1]", "a win rate is a probability")
    if not payoff_ratio >= 0.0:  # also refuses NaN
        raise InvalidRiskInput("payoff_ratio", payoff_ratio, ">= 0", "a payoff ratio is average win / average loss")
    if payoff_ratio == 0.0:
        return 0.0
    kelly = win_rate - (1.0 - win_rate) / payoff_ratio
    return min(max(kelly, 0.0), 1.0)


def kelly_for_strategy(closed_trades: int, kelly_estimate: float | None, config: RiskConfig) -> float:
    """The fraction of equity a strategy's next position starts from, before confidence, allocation and breakers.

    `kelly_fraction × full Kelly`, where full Kelly is the strategy's estimate once it has
    `min_trades_for_kelly` closed trades (and an estimate), else `kelly_prior`. The estimate is clipped to
    [0, 1] and the fraction to its code ceiling, so a config built around validation cannot enlarge it.
    """
    if closed_trades < 0:
        raise InvalidRiskInput("closed_trades", closed_trades, ">= 0", "a count of closed trades")
    fraction = min(config.kelly_fraction, CEILINGS["kelly_fraction"])
    if not fraction >= 0.0:
        raise InvalidRiskInput("kelly_fraction", config.kelly_fraction, CEILINGS["kelly_fraction"], "not a number")
    if closed_trades >= config.min_trades_for_kelly and kelly_estimate is not None:
        if math.isnan(kelly_estimate):
            raise InvalidRiskInput("kelly_estimate", kelly_estimate, "[0, 1]", "the strategy's Kelly estimate is NaN")
        full = min(max(kelly_estimate, 0.0), 1.0)
    else:
        full = min(max(config.kelly_prior, 0.0), 1.0)
    return fraction * full
