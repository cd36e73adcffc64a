"""Strategies: pure functions of a symbol's features (or a pair's spread) returning long-entry Signals.

Spot is long-only, so every Signal is a wish to buy; `core.risk` sizes it, clamps it or refuses it.
Each strategy checks its float thresholds before it builds anything, because `symbol_signals` runs for
every bar of a replay and almost never fires.
"""

from __future__ import annotations

from core.config import StrategyConfig
from core.features import SymbolFeatures
from core.strategies.momentum import momentum_signal
from core.strategies.scalping import scalping_signal
from core.strategies.stat_arb import pair_reverted, pair_signal
from core.types import Signal

__all__ = ["momentum_signal", "pair_reverted", "pair_signal", "scalping_signal", "symbol_signals"]


def symbol_signals(features: SymbolFeatures, config: StrategyConfig, now_ms: int) -> list[Signal]:
    """Scalping and momentum for one symbol: the signals that fire now, possibly none."""
    if features.imbalance is None:
        return []
    signals: list[Signal] = []
    scalp = scalping_signal(features, config.scalping, now_ms)
    if scalp is not None:
        signals.append(scalp)
    momentum = momentum_signal(features, config.momentum, now_ms)
    if momentum is not None:
        signals.append(momentum)
    return signals
