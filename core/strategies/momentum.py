"""Momentum: enter a long when buyers lead and the price has risen over the window.

Fires when imbalance > `min_imbalance` (0.12) and the rise over `window_bars` bars,
100 · (close_t / close_{t−window} − 1), is > `min_rise_pct` (0.8%); exits are the config's take-profit
(+1.5%) and stop (−0.8%). On candle data the imbalance is the documented proxy the features name in
`imbalance_source` (trade flow or close location), and the reason says which.

Confidence = 0.5 · ramp(imbalance, min_imbalance → min_imbalance + 0.30)
           + 0.5 · ramp(rise, min_rise_pct → 2 · min_rise_pct),
increasing in both, in [0, 1].
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from pydantic import Field

from core.features import FeatureError
from core.strategies.base import Protection, StrategySettings, SymbolStrategy, SymbolView
from core.strategies.scoring import long_signal, ramp
from core.types import Signal, StrategyName

MOMENTUM = StrategyName("momentum")
IMBALANCE_FULL_CONFIDENCE_SPAN = 0.30


class MomentumConfig(StrategySettings):
    min_imbalance: float = Field(default=0.12, ge=0, lt=1)
    min_rise_pct: float = Field(default=0.8, gt=0)
    window_bars: int = Field(default=12, ge=2, le=10_000)
    take_profit_pct: Decimal = Field(default=Decimal("1.5"), gt=0)
    stop_loss_pct: Decimal = Field(default=Decimal("0.8"), gt=0)


def momentum_fires(features: SymbolView, cfg: MomentumConfig) -> bool:
    """The entry rule alone, float comparisons only: run on every bar and book, it must cost next to nothing."""
    rise = features.momentum_pct  # first: it rarely holds, and the imbalance may cost a computation
    if rise is None or not rise > cfg.min_rise_pct:
        return False
    imbalance = features.imbalance
    if imbalance is None or not imbalance > cfg.min_imbalance:
        return False
    if features.momentum_window != cfg.window_bars:
        raise FeatureError(features.symbol, "momentum_window", features.momentum_window,
                           f"features measure a different window than momentum.window_bars={cfg.window_bars}")
    return features.last_price is not None


def momentum_signal(features: SymbolView, cfg: MomentumConfig, now_ms: int) -> Signal | None:
    if not momentum_fires(features, cfg):
        return None
    imbalance, rise, price = features.imbalance, features.momentum_pct, features.last_price
    assert imbalance is not None and rise is not None and price is not None
    confidence = 0.5 * ramp(imbalance, cfg.min_imbalance, cfg.min_imbalance + IMBALANCE_FULL_CONFIDENCE_SPAN) + (
        0.5 * ramp(rise, cfg.min_rise_pct, 2.0 * cfg.min_rise_pct)
    )
    reason = (
        f"imbalance {imbalance:.3f} > {cfg.min_imbalance:g} ({features.imbalance_source}), "
        f"rise {rise:.2f}% > {cfg.min_rise_pct:g}% over {cfg.window_bars} bars"
    )
    return long_signal(features.symbol, MOMENTUM, confidence, price, cfg.take_profit_pct,
                       cfg.stop_loss_pct, now_ms, reason)


class Momentum(SymbolStrategy[MomentumConfig]):
    """The built-in momentum strategy as a plugin."""

    name: ClassVar[StrategyName] = MOMENTUM
    config_model = MomentumConfig
    summary: ClassVar[str] = "buyers lead and the price rose over the window: buy"

    # The module's functions themselves, not methods calling them: the rule runs on every bar, and a call saved
    # there is measurable in a replay.
    fires = staticmethod(momentum_fires)  # type: ignore[assignment]
    signal = staticmethod(momentum_signal)  # type: ignore[assignment]

    def protection(self, config: MomentumConfig) -> Protection:
        return Protection(take_profit_pct=config.take_profit_pct, stop_loss_pct=config.stop_loss_pct)

    def momentum_window(self, config: MomentumConfig) -> int:
        return config.window_bars
