"""Strategies: pure functions of a symbol's features (or a pair's spread) returning long-entry Signals.

Spot is long-only, so every Signal is a wish to buy; `core.risk` sizes it, clamps it or refuses it.
Each strategy comes as two functions: `*_fires`, its entry rule as float comparisons, and `*_signal`,
which builds the validated Signal when the rule holds. The engine runs the rule on every bar and book
and builds a Signal only when an episode starts, because a replay pushes hundreds of thousands of bars
a second through it and a lasting signal would otherwise be built on every one of them.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any, NamedTuple

from core.config import StrategyConfig
from core.features import SymbolFeatures
from core.strategies.momentum import momentum_fires, momentum_signal
from core.strategies.scalping import scalping_fires, scalping_signal
from core.strategies.stat_arb import pair_laggard, pair_reverted, pair_signal
from core.types import Signal, StrategyName

__all__ = ["SYMBOL_STRATEGIES", "SymbolStrategy", "momentum_fires", "momentum_signal", "pair_laggard",
           "pair_reverted", "pair_signal", "scalping_fires", "scalping_signal", "symbol_signals"]


class SymbolStrategy(NamedTuple):
    """A strategy that reads one symbol's features: its rule, its Signal builder, and where its config lives."""

    name: StrategyName
    fires: Callable[[SymbolFeatures, Any], bool]
    signal: Callable[[SymbolFeatures, Any, int], Signal | None]
    config_of: Callable[[StrategyConfig], Any]


SYMBOL_STRATEGIES = (
    SymbolStrategy(StrategyName.SCALPING, scalping_fires, scalping_signal, attrgetter("scalping")),
    SymbolStrategy(StrategyName.MOMENTUM, momentum_fires, momentum_signal, attrgetter("momentum")),
)


def symbol_signals(features: SymbolFeatures, config: StrategyConfig, now_ms: int) -> list[Signal]:
    """Scalping and momentum for one symbol: the signals that fire now, possibly none."""
    signals: list[Signal] = []
    for strategy in SYMBOL_STRATEGIES:
        signal = strategy.signal(features, strategy.config_of(config), now_ms)
        if signal is not None:
            signals.append(signal)
    return signals
