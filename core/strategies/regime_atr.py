"""Regime-adaptive entries with ATR stops (from one of the seeds' bots), as a plugin.

**Regimes** come from `core.regime` through the read-only view (`features.regime`, `regime_confidence`): the
classification of the last completed UTC hour, so no bar sees its own hour's regime.

**Entry rule** (float comparisons on state `on_bar` keeps per symbol from 5-minute bars; `core.indicators`):

- in a trend (STRONG_TREND, VOLATILE_TREND): a pullback that resumes in an uptrend — the previous close was at or
  below EMA(`fast_ema`), this close is above it, and EMA(`fast_ema`) is above EMA(`slow_ema`);
- in a range (TIGHT_RANGE, CHOPPY): a reversion from the lower band — the previous close was below the lower
  Bollinger(20, 2) band and this close is back above it;
- TRANSITIONAL: no entry (the regime says neither rule is known to hold);
- and the regime's confidence is at least `min_regime_confidence`.

**Exits.** The initial stop is `stop_atr[regime]` × ATR(`atr_period`) below the price (1.5–3 × by default, as a
percent of the close), capped to [0.5 %, 5 %] (`core.stop_plan.capped_distance_pct`). The Signal carries a stop
plan: breakeven plus both fees once +`breakeven_at_pct`, then a trailing stop `trail_atr` × ATR below the high
(capped the same way) once +`trail_at_pct`; the ATR is the one at entry, so the trailing distance is fixed for the
position's life and exact in its checkpoint. The take-profit is `take_profit_pct`, far enough above the trailing
start for the trail to work. The engine moves the plan's stop itself (see `core.stop_plan` for why not with
Binance's trailing delta).

**Size.** The Signal's size multiplier is `size_multiplier[regime]` (1.2 in a strong trend, 0.5 in chop, …): the
risk gate applies it to the Kelly × confidence × allocation size, never above ×1.2 and under every hard cap.
Confidence is the regime's confidence.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_CEILING, Decimal
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from core.events import Bar
from core.indicators import Atr, Bollinger, Ema
from core.regime import Regime
from core.stop_plan import StopPlan, capped_distance_pct
from core.strategies.base import StrategySettings, SymbolStrategy, SymbolView
from core.strategies.scoring import long_signal
from core.types import MAX_SIGNAL_SIZE_MULTIPLIER, Signal, StrategyName

REGIME_ATR = StrategyName("regime_atr")
TREND_REGIMES = frozenset({Regime.STRONG_TREND, Regime.VOLATILE_TREND})
RANGE_REGIMES = frozenset({Regime.TIGHT_RANGE, Regime.CHOPPY})
BOLLINGER_PERIOD = 20
BOLLINGER_DEVIATIONS = 2.0
_CENT = Decimal("0.01")

DEFAULT_STOP_ATR: dict[Regime, float] = {Regime.STRONG_TREND: 2.0, Regime.VOLATILE_TREND: 3.0,
                                         Regime.TIGHT_RANGE: 1.5, Regime.CHOPPY: 2.5, Regime.TRANSITIONAL: 2.0}
DEFAULT_SIZE: dict[Regime, float] = {Regime.STRONG_TREND: 1.2, Regime.VOLATILE_TREND: 0.8, Regime.TIGHT_RANGE: 0.8,
                                     Regime.CHOPPY: 0.5, Regime.TRANSITIONAL: 0.7}


class RegimeAtrConfig(StrategySettings):
    atr_period: int = Field(default=14, ge=2, le=500)
    fast_ema: int = Field(default=20, ge=2, le=1_000)
    slow_ema: int = Field(default=50, ge=3, le=2_000)
    min_regime_confidence: float = Field(default=0.6, ge=0.5, le=1.0)
    stop_atr: dict[Regime, float] = Field(default_factory=lambda: dict(DEFAULT_STOP_ATR))
    size_multiplier: dict[Regime, float] = Field(default_factory=lambda: dict(DEFAULT_SIZE))
    breakeven_at_pct: Decimal = Field(default=Decimal("1.5"), gt=0, lt=100)
    trail_at_pct: Decimal = Field(default=Decimal("2.5"), gt=0, lt=100)
    trail_atr: float = Field(default=1.5, gt=0, le=10)
    trail_step_pct: Decimal = Field(default=Decimal("0.25"), gt=0, lt=100)
    take_profit_pct: Decimal = Field(default=Decimal("6"), gt=0, lt=100)

    @model_validator(mode="after")
    def _trail_after_breakeven(self) -> RegimeAtrConfig:
        if self.trail_at_pct < self.breakeven_at_pct:  # refused at start-up, not at the first signal
            raise ValueError(f"trail_at_pct {self.trail_at_pct} is below breakeven_at_pct {self.breakeven_at_pct}")
        return self

    @field_validator("stop_atr")
    @classmethod
    def _stops(cls, value: dict[Regime, float]) -> dict[Regime, float]:
        for regime, multiple in value.items():
            if not 0.5 <= multiple <= 10.0:
                raise ValueError(f"stop_atr[{regime.value}] {multiple} must be within [0.5, 10] ATRs")
        return {**DEFAULT_STOP_ATR, **value}

    @field_validator("size_multiplier")
    @classmethod
    def _sizes(cls, value: dict[Regime, float]) -> dict[Regime, float]:
        for regime, multiple in value.items():
            if not 0.0 <= multiple <= MAX_SIGNAL_SIZE_MULTIPLIER:
                raise ValueError(f"size_multiplier[{regime.value}] {multiple} must be within "
                                 f"[0, {MAX_SIGNAL_SIZE_MULTIPLIER}]")
        return {**DEFAULT_SIZE, **value}


class _Track:
    """One symbol's indicators and the two entry cues of its last bar."""

    __slots__ = ("atr", "atr_pct", "bands", "fast", "last_ms", "prev_close", "prev_fast", "prev_lower", "range_cue",
                 "slow", "trend_cue")

    def __init__(self, cfg: RegimeAtrConfig) -> None:
        self.atr = Atr(cfg.atr_period)
        self.fast = Ema(cfg.fast_ema)
        self.slow = Ema(cfg.slow_ema)
        self.bands = Bollinger(BOLLINGER_PERIOD, BOLLINGER_DEVIATIONS)
        self.last_ms = -1
        self.prev_close: float | None = None
        self.prev_fast: float | None = None
        self.prev_lower: float | None = None
        self.atr_pct: float | None = None
        self.trend_cue = False
        self.range_cue = False

    def update(self, bar: Bar) -> None:
        close = bar.close
        atr = self.atr.update(bar.high, bar.low, close)
        fast = self.fast.update(close)
        slow = self.slow.update(close)
        bands = self.bands.update(close)
        self.atr_pct = atr / close * 100.0 if atr is not None and close > 0.0 else None
        prev_close, prev_fast, prev_lower = self.prev_close, self.prev_fast, self.prev_lower
        self.trend_cue = (fast is not None and slow is not None and prev_close is not None and prev_fast is not None
                          and prev_close <= prev_fast and close > fast and fast > slow)
        lower = None if bands is None else bands.lower
        self.range_cue = (lower is not None and prev_close is not None and prev_lower is not None
                          and prev_close < prev_lower and close > lower)
        self.prev_close, self.prev_fast, self.prev_lower = close, fast, lower

    def to_dict(self) -> dict[str, Any]:
        return {"atr": self.atr.to_dict(), "fast": self.fast.to_dict(), "slow": self.slow.to_dict(),
                "bands": self.bands.to_dict(), "last_ms": self.last_ms, "prev": [self.prev_close, self.prev_fast,
                                                                                 self.prev_lower],
                "atr_pct": self.atr_pct, "cues": [self.trend_cue, self.range_cue]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], cfg: RegimeAtrConfig) -> _Track:
        track = cls(cfg)
        track.atr = Atr.from_dict(d["atr"])
        track.fast = Ema.from_dict(d["fast"])
        track.slow = Ema.from_dict(d["slow"])
        track.bands = Bollinger.from_dict(d["bands"])
        track.last_ms = int(d["last_ms"])
        track.prev_close, track.prev_fast, track.prev_lower = (None if v is None else float(v) for v in d["prev"])
        track.atr_pct = None if d["atr_pct"] is None else float(d["atr_pct"])
        track.trend_cue, track.range_cue = (bool(v) for v in d["cues"])
        return track


def _pct(value: float) -> Decimal:
    """A stop distance in percent, capped to [0.5 %, 5 %] and rounded up to a hundredth (5 % stays 5 %)."""
    return capped_distance_pct(value).quantize(_CENT, rounding=ROUND_CEILING)


class RegimeAtr(SymbolStrategy[RegimeAtrConfig]):
    """Regime-adaptive entries, ATR stops with breakeven and trailing, size by regime (the module docstring)."""

    name: ClassVar[StrategyName] = REGIME_ATR
    config_model = RegimeAtrConfig
    summary: ClassVar[str] = ("by regime: buy a resumed pullback in a trend or a lower-band reversion in a range; "
                              "ATR stop, breakeven, ATR trailing, size ×1.2 … ×0.5")

    def __init__(self) -> None:
        self.tracks: dict[str, _Track] = {}

    def on_bar(self, bar: Bar, config: RegimeAtrConfig) -> None:
        track = self.tracks.get(bar.symbol)
        if track is None:
            track = self.tracks[bar.symbol] = _Track(config)
        if bar.close_time_ms <= track.last_ms:  # a replayed or late bar: indicators only move forward
            return
        track.last_ms = bar.close_time_ms
        track.update(bar)

    def fires(self, features: SymbolView, config: RegimeAtrConfig) -> bool:
        track = self.tracks.get(features.symbol)
        if track is None or not (track.trend_cue or track.range_cue):
            return False
        regime = features.regime
        if regime is None or track.atr_pct is None or features.last_price is None:
            return False
        confidence = features.regime_confidence
        if confidence is None or confidence < config.min_regime_confidence:
            return False
        return track.trend_cue if regime in TREND_REGIMES else track.range_cue and regime in RANGE_REGIMES

    def signal(self, features: SymbolView, config: RegimeAtrConfig, now_ms: int) -> Signal | None:
        if not self.fires(features, config):
            return None
        track = self.tracks[features.symbol]
        regime, confidence, price, atr_pct = (features.regime, features.regime_confidence, features.last_price,
                                              track.atr_pct)
        assert regime is not None and confidence is not None and price is not None and atr_pct is not None
        stop = _pct(config.stop_atr[regime] * atr_pct)
        plan = StopPlan(breakeven_at_pct=config.breakeven_at_pct, trail_at_pct=config.trail_at_pct,
                        trail_distance_pct=_pct(config.trail_atr * atr_pct), trail_step_pct=config.trail_step_pct)
        cue = "pullback resumed above the fast EMA" if regime in TREND_REGIMES else "back above the lower band"
        reason = (f"{regime.value} ({confidence:.2f}): {cue}; ATR {atr_pct:.3f}% → stop {stop}% "
                  f"({config.stop_atr[regime]:g} ATR), trail {plan.trail_distance_pct}% from +{plan.trail_at_pct}%")
        return long_signal(features.symbol, REGIME_ATR, confidence, price, config.take_profit_pct, stop, now_ms,
                           reason, size_multiplier=config.size_multiplier[regime], stop_plan=plan)

    def state(self) -> dict[str, Any]:
        return {symbol: track.to_dict() for symbol, track in self.tracks.items()}

    def restore(self, state: Mapping[str, Any], config: RegimeAtrConfig) -> None:
        self.tracks = {symbol: _Track.from_dict(d, config) for symbol, d in state.items()}
