"""Scalping: enter a long when the book leans to the bid and the spread is tight.

Fires when imbalance > `min_imbalance` (0.10) and spread < `max_spread_bps` (8 bps); exits are the
config's take-profit (+0.3%) and stop (−0.5%).

It needs a spread, and a spread exists only with a book or bookTicker. Recorded candles carry no book,
so on candle-only data `spread_bps` is None and scalping never fires. That is correct, not a bug: a
candle cannot tell whether the spread was tight enough to scalp.

Confidence = 0.5 · ramp(imbalance, min_imbalance → min_imbalance + 0.30)
           + 0.5 · (1 − spread_bps / max_spread_bps),
increasing with imbalance, decreasing with spread, in [0, 1].
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from pydantic import Field

from core.strategies.base import Protection, StrategySettings, SymbolStrategy, SymbolView
from core.strategies.scoring import long_signal, ramp
from core.types import Signal, StrategyName

SCALPING = StrategyName("scalping")
IMBALANCE_FULL_CONFIDENCE_SPAN = 0.30


class ScalpingConfig(StrategySettings):
    min_imbalance: float = Field(default=0.10, ge=0, lt=1)
    max_spread_bps: float = Field(default=8.0, gt=0)
    take_profit_pct: Decimal = Field(default=Decimal("0.3"), gt=0)
    stop_loss_pct: Decimal = Field(default=Decimal("0.5"), gt=0)


def scalping_fires(features: SymbolView, cfg: ScalpingConfig) -> bool:
    """The entry rule alone, float comparisons only: run on every bar and book, it must cost next to nothing."""
    spread = features.spread_bps  # first: candles have none, and the imbalance may cost a computation
    if spread is None or not spread < cfg.max_spread_bps:
        return False
    imbalance = features.imbalance
    return imbalance is not None and imbalance > cfg.min_imbalance and features.last_price is not None


def scalping_signal(features: SymbolView, cfg: ScalpingConfig, now_ms: int) -> Signal | None:
    if not scalping_fires(features, cfg):
        return None
    imbalance, spread, price = features.imbalance, features.spread_bps, features.last_price
    assert imbalance is not None and spread is not None and price is not None
    confidence = 0.5 * ramp(imbalance, cfg.min_imbalance, cfg.min_imbalance + IMBALANCE_FULL_CONFIDENCE_SPAN) + (
        0.5 * (1.0 - spread / cfg.max_spread_bps)
    )
    reason = (
        f"imbalance {imbalance:.3f} > {cfg.min_imbalance:g} ({features.imbalance_source}), "
        f"spread {spread:.2f} bps < {cfg.max_spread_bps:g}"
    )
    return long_signal(features.symbol, SCALPING, confidence, price, cfg.take_profit_pct,
                       cfg.stop_loss_pct, now_ms, reason)


class Scalping(SymbolStrategy[ScalpingConfig]):
    """The built-in scalping strategy as a plugin."""

    name: ClassVar[StrategyName] = SCALPING
    config_model = ScalpingConfig
    summary: ClassVar[str] = "the book leans to the bid and the spread is tight: buy"

    # The module's functions themselves, not methods calling them: the rule runs on every bar, and a call saved
    # there is measurable in a replay.
    fires = staticmethod(scalping_fires)  # type: ignore[assignment]
    signal = staticmethod(scalping_signal)  # type: ignore[assignment]

    def protection(self, config: ScalpingConfig) -> Protection:
        return Protection(take_profit_pct=config.take_profit_pct, stop_loss_pct=config.stop_loss_pct)
