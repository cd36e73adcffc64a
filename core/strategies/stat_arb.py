"""BTC/ETH statistical arbitrage, long-only: buy the laggard when log(A/B) strays, exit when it reverts.

z is the rolling z-score of log(price_A / price_B) from `core.features.PairSpread`. z > +z_entry means
A is rich against B: buy B. z < −z_entry means A is cheap: buy A. Spot cannot short the rich leg, so
only the laggard is bought. Exits: take-profit (+1%) and stop (−1%) from the config, and reversion,
|z| < z_exit (`pair_reverted`).

Confidence = ramp(|z|, z_entry → 2 · z_entry): 0 at the entry threshold, 1 at twice it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from pydantic import Field

from core.features import FeatureError
from core.strategies.base import PairStrategy, PairView, Protection, StrategySettings, SymbolView
from core.strategies.scoring import long_signal, ramp
from core.types import Signal, StrategyName

STAT_ARB = StrategyName("stat_arb")


class StatArbConfig(StrategySettings):
    pair: tuple[str, str] = ("BTCUSDT", "ETHUSDT")
    z_entry: float = Field(default=2.0, gt=0)
    z_exit: float = Field(default=0.5, ge=0)
    window_bars: int = Field(default=288, ge=10, le=100_000)
    take_profit_pct: Decimal = Field(default=Decimal("1.0"), gt=0)
    stop_loss_pct: Decimal = Field(default=Decimal("1.0"), gt=0)


def _check_wiring(pair: PairView, config: StatArbConfig) -> None:
    if (pair.symbol_a, pair.symbol_b) != tuple(config.pair):
        raise FeatureError(pair.pair_name, "pair", config.pair, "the spread tracks a different pair than stat_arb.pair")
    if pair.window != config.window_bars:
        raise FeatureError(pair.pair_name, "window", pair.window,
                           f"the spread's window differs from stat_arb.window_bars={config.window_bars}")


def pair_laggard(pair: PairView, a: SymbolView, b: SymbolView, config: StatArbConfig) -> SymbolView | None:
    """The entry rule alone: the leg to buy when |z| > z_entry and it has a price, else None.

    Float comparisons only, run on every pair bar; `pair_signal` checks the wiring before any Signal exists.
    """
    z = pair.z
    if z is None:
        return None
    if z > config.z_entry:
        laggard = b
    elif z < -config.z_entry:
        laggard = a
    else:
        return None
    return laggard if laggard.last_price is not None else None


def pair_signal(pair: PairView, a: SymbolView, b: SymbolView, config: StatArbConfig, now_ms: int) -> Signal | None:
    """A long on the laggard when |z| > z_entry, else None (also None while z is unknown)."""
    _check_wiring(pair, config)
    if a.symbol != pair.symbol_a or b.symbol != pair.symbol_b:
        raise FeatureError(pair.pair_name, "features", f"{a.symbol}/{b.symbol}", "features of the wrong symbols")
    laggard = pair_laggard(pair, a, b, config)
    if laggard is None:
        return None
    z, price = pair.z, laggard.last_price
    assert z is not None and price is not None
    rich = a if laggard is b else b
    side = f"z {z:+.2f} > +{config.z_entry:g}" if laggard is b else f"z {z:+.2f} < -{config.z_entry:g}"
    reason = (f"{side} on log({pair.symbol_a}/{pair.symbol_b}) over {pair.window} bars: "
              f"{rich.symbol} rich, buy the laggard {laggard.symbol}")
    return long_signal(laggard.symbol, STAT_ARB, ramp(abs(z), config.z_entry, 2.0 * config.z_entry),
                       price, config.take_profit_pct, config.stop_loss_pct, now_ms, reason)


def pair_reverted(pair: PairView, config: StatArbConfig) -> bool:
    """Exit rule: the spread is back near its mean, |z| < z_exit.

    False while z is unknown (window not full, no variance): an unknown state is not a reversion, and
    the position's take-profit and stop keep protecting it meanwhile.
    """
    _check_wiring(pair, config)
    z = pair.z
    return z is not None and abs(z) < config.z_exit


class StatArb(PairStrategy[StatArbConfig]):
    """The built-in BTC/ETH statistical arbitrage as a plugin: the engine keeps the pair's spread, this decides."""

    name: ClassVar[StrategyName] = STAT_ARB
    config_model = StatArbConfig
    summary: ClassVar[str] = "log(A/B) strays past z_entry: buy the laggard; exit when |z| < z_exit"

    def pair(self, config: StatArbConfig) -> tuple[str, str]:
        return config.pair

    def window(self, config: StatArbConfig) -> int:
        return config.window_bars

    laggard = staticmethod(pair_laggard)  # type: ignore[assignment]  # run on every pair bar: no wrapper call

    def signal(self, pair: PairView, a: SymbolView, b: SymbolView, config: StatArbConfig,
               now_ms: int) -> Signal | None:
        return pair_signal(pair, a, b, config, now_ms)

    def exit_reason(self, pair: PairView, config: StatArbConfig) -> str | None:
        if pair_reverted(pair, config):
            return f"stat-arb spread reverted (z={pair.z:.2f})"
        return None

    def protection(self, config: StatArbConfig) -> Protection:
        return Protection(take_profit_pct=config.take_profit_pct, stop_loss_pct=config.stop_loss_pct)
