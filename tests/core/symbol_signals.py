"""The symbol strategies' signals on one symbol's features, as the registry resolves them from a config."""

from __future__ import annotations

from core.config import StrategyConfig
from core.features import SymbolFeatures
from core.strategies.base import ReadOnlySymbol
from core.strategies.registry import StrategySet
from core.types import Signal


def symbol_signals(features: SymbolFeatures, config: StrategyConfig, now_ms: int) -> list[Signal]:
    """Scalping and momentum (and any other symbol strategy registered) for one symbol: what fires now."""
    view = ReadOnlySymbol(features)
    signals = []
    for active in StrategySet.resolve(config).symbol:
        signal = active.strategy.signal(view, active.config, now_ms)  # type: ignore[attr-defined]
        if signal is not None:
            signals.append(signal)
    return signals
