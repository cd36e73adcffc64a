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

from core.config import MomentumConfig
from core.features import FeatureError, SymbolFeatures
from core.strategies.scoring import long_signal, ramp
from core.types import Signal, StrategyName

IMBALANCE_FULL_CONFIDENCE_SPAN = 0.30


def momentum_fires(features: SymbolFeatures, cfg: MomentumConfig) -> bool:
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


def momentum_signal(features: SymbolFeatures, cfg: MomentumConfig, now_ms: int) -> Signal | None:
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
    return long_signal(features.symbol, StrategyName.MOMENTUM, confidence, price, cfg.take_profit_pct,
                       cfg.stop_loss_pct, now_ms, reason)
