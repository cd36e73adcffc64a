"""Position sizing by fractional Kelly.

Full Kelly for a win rate W and a payoff ratio R (average win / average loss) is W − (1 − W)/R: the
fraction of equity that maximises long-run growth when the estimates are exact. They never are, so the
engine sizes at a fraction of it (config.risk.kelly_fraction, ½ by default) and, until a strategy has
closed enough trades for its estimate to mean anything, uses a configured prior instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from core.clock import MS_PER_HOUR
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


class KellySource(StrEnum):
    PRIOR = "prior"  # fewer than min_trades_for_kelly closed trades
    ESTIMATE = "estimate"  # the estimate from the strategy's closed trades, aged toward the prior


@dataclass(frozen=True, slots=True)
class KellyBasis:
    """What a strategy's sizing rests on: its closed trades, its full-Kelly estimate on returns (None without
    trades), and when its last trade closed (the age of the evidence)."""

    closed_trades: int = 0
    estimate: float | None = None
    last_closed_ms: int | None = None


@dataclass(frozen=True, slots=True)
class KellySizing:
    fraction: float  # kelly_fraction × full; 0 when sized out
    full: float  # the full-Kelly value used (after ageing, before the fraction)
    source: KellySource
    basis: KellyBasis
    hours: float  # since the strategy's last closed trade (0 on the prior)
    config: RiskConfig = field(repr=False)  # the (frozen) limits it was worked out under

    @property
    def sized_out(self) -> bool:
        return self.fraction <= 0.0

    @property
    def message(self) -> str:
        """The basis, for the decision's SIZING_KELLY reason. Worded when read, from the frozen inputs: the engine
        asks for a sizing on every signal only to learn whether it is sized out, and formatting the floats cost
        more than working the sizing out."""
        config, basis = self.config, self.basis
        prior = min(max(config.kelly_prior, 0.0), 1.0)
        if self.source is KellySource.PRIOR or basis.estimate is None:
            return (f"prior {prior:.4f}, {basis.closed_trades}/{config.min_trades_for_kelly} closed trades "
                    "before an estimate")
        raw = min(max(basis.estimate, 0.0), 1.0)
        full = self.full
        return (f"estimate {raw:.4f} on returns after {basis.closed_trades} closed trades, aged {self.hours:.1f} h "
                f"toward the prior {prior:.4f} (half-life {config.kelly_recovery_half_life_hours:g} h) = {full:.4f}"
                + (f", below the minimum {config.kelly_min_full:g}: sized out until it recovers"
                   if full < config.kelly_min_full else ""))


def kelly_sizing(basis: KellyBasis, config: RiskConfig, now_ms: int) -> KellySizing:
    """The fraction of equity a strategy's next position starts from, before confidence, allocation and breakers.

    `kelly_fraction × full Kelly`, the fraction clipped to its code ceiling. Full Kelly is `kelly_prior` until the
    strategy has `min_trades_for_kelly` closed trades; after that it is the estimate on returns (clipped to
    [0, 1]) **aged toward the prior** with a half-life of `kelly_recovery_half_life_hours` since the strategy's
    last closed trade:

        full = prior + (estimate − prior) × 2^(−hours since the last close / half-life)

    This is the recovery rule. An estimate of 0 stops a strategy at once, but it is not for ever: the strategy
    stays sized out while `full` is below `kelly_min_full` (a size that small is noise), then trades again at a
    small size that grows toward the prior, and every trade that closes brings fresh evidence (and restarts the
    ageing). An estimate below the prior rises toward it and can never pass it; only an estimate above the prior,
    which is evidence, sizes above the prior, and it too ages back toward the prior while nothing closes.
    """
    if basis.closed_trades < 0:
        raise InvalidRiskInput("closed_trades", basis.closed_trades, ">= 0", "a count of closed trades")
    fraction = min(config.kelly_fraction, CEILINGS["kelly_fraction"])
    if not fraction >= 0.0:
        raise InvalidRiskInput("kelly_fraction", config.kelly_fraction, CEILINGS["kelly_fraction"], "not a number")
    prior = min(max(config.kelly_prior, 0.0), 1.0)
    estimate = basis.estimate
    if basis.closed_trades < config.min_trades_for_kelly or estimate is None:
        return KellySizing(fraction * prior, prior, KellySource.PRIOR, basis, 0.0, config)
    if math.isnan(estimate):
        raise InvalidRiskInput("kelly_estimate", estimate, "[0, 1]", "the strategy's Kelly estimate is NaN")
    raw = min(max(estimate, 0.0), 1.0)
    hours = max(now_ms - (basis.last_closed_ms if basis.last_closed_ms is not None else now_ms), 0) / MS_PER_HOUR
    weight = 2.0 ** (-hours / config.kelly_recovery_half_life_hours)
    full = prior + (raw - prior) * weight
    full = min(max(full, min(raw, prior)), max(raw, prior))  # float rounding never leaves the segment
    sized_out = full < config.kelly_min_full
    return KellySizing(0.0 if sized_out else fraction * full, full, KellySource.ESTIMATE, basis, hours, config)
