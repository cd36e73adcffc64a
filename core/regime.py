"""Market regime per symbol: STRONG_TREND, VOLATILE_TREND, TIGHT_RANGE, CHOPPY or TRANSITIONAL, with a confidence.

Pure and deterministic: the same bars give the same regimes, and the state round-trips through a checkpoint.

**Timeframe.** Regimes describe hours and days, not five minutes: a 14-bar ADX on 5-minute bars spans 70
minutes and flips on every burst. The tracker folds the bars it is given into UTC hours (a bar belongs to the
hour in which it closes; an hour is complete when a bar of a later hour arrives) and updates its indicators
once per completed hour. The regime it reports is the one of the last completed hour, so it never looks ahead.

**Inputs** (hourly, from `core.indicators`, TA-Lib semantics):

| input | definition |
| --- | --- |
| ADX | `Adx(14)`: trend strength, direction-free |
| ATR % | `Atr(14)` / close × 100: how far price moves in an hour |
| Bollinger width | `Bollinger(20, 2)` (upper − lower) / middle × 100 |
| momentum | close / close 24 hours earlier − 1, in percent |

**Rule** (first match wins; thresholds are the constants below):

1. ADX ≥ 25 and |momentum| ≥ 2 %: a trend. ATR % ≥ 1.5 makes it VOLATILE_TREND, else STRONG_TREND.
2. ADX < 20 and Bollinger width ≤ 3 %: TIGHT_RANGE (no trend, narrow band).
3. ADX < 20: CHOPPY (no trend, wide band: price swings without going anywhere).
4. Anything else — ADX between 20 and 25, or a strong ADX whose day went nowhere — is TRANSITIONAL.

**Confidence** is 0.5 + 0.5 × the smallest margin among the conditions that decided the regime, each margin
being the distance of its input from its threshold over the threshold's scale, clipped to [0, 1]: 0.5 on a
boundary, 1.0 when every deciding input is at least one scale away from its threshold.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from core.indicators import Adx, Atr, Bollinger

MS_PER_HOUR = 3_600_000
ADX_PERIOD = 14
ATR_PERIOD = 14
BOLLINGER_PERIOD = 20
BOLLINGER_DEVIATIONS = 2.0
MOMENTUM_HOURS = 24

ADX_TREND = 25.0  # at or above: trending
ADX_RANGE = 20.0  # below: no trend
MOMENTUM_TREND_PCT = 2.0  # a trend must have moved at least this far in MOMENTUM_HOURS
ATR_VOLATILE_PCT = 1.5  # an hourly ATR at or above this % of price makes a trend volatile
BOLLINGER_TIGHT_PCT = 3.0  # a band at most this wide (% of the middle) is a tight range

# The distance from a threshold that counts as a full margin (confidence 1.0) for each input.
ADX_SCALE = 10.0
MOMENTUM_SCALE_PCT = 4.0
ATR_SCALE_PCT = 1.0
BOLLINGER_SCALE_PCT = 2.0
TRANSITIONAL_SCALE = (ADX_TREND - ADX_RANGE) / 2.0


class Regime(StrEnum):
    STRONG_TREND = "strong_trend"
    VOLATILE_TREND = "volatile_trend"
    TIGHT_RANGE = "tight_range"
    CHOPPY = "choppy"
    TRANSITIONAL = "transitional"


@dataclass(frozen=True, slots=True)
class RegimeInputs:
    """One completed hour's indicator values."""

    adx: float
    atr_pct: float
    bollinger_width_pct: float
    momentum_pct: float


@dataclass(frozen=True, slots=True)
class RegimeReading:
    regime: Regime
    confidence: float
    inputs: RegimeInputs
    hour_ms: int  # the start of the completed hour it describes

    def as_dict(self) -> dict[str, Any]:
        i = self.inputs
        return {"regime": self.regime.value, "confidence": round(self.confidence, 3), "hour_ms": self.hour_ms,
                "adx": round(i.adx, 2), "atr_pct": round(i.atr_pct, 3),
                "bollinger_width_pct": round(i.bollinger_width_pct, 3), "momentum_pct": round(i.momentum_pct, 3)}


def _margin(value: float, threshold: float, scale: float) -> float:
    return min(max(abs(value - threshold) / scale, 0.0), 1.0)


def classify(inputs: RegimeInputs) -> tuple[Regime, float]:
    """The regime and its confidence for one hour's inputs (the rule in the module docstring)."""
    adx, atr, width, momentum = inputs.adx, inputs.atr_pct, inputs.bollinger_width_pct, inputs.momentum_pct
    isfinite = math.isfinite
    # One test for the common case (runs every hour of every symbol); the loop only names the culprit.
    if not (isfinite(adx) and isfinite(atr) and isfinite(width) and isfinite(momentum)):
        for name, value in (("adx", adx), ("atr_pct", atr), ("bollinger_width_pct", width),
                            ("momentum_pct", momentum)):
            if not isfinite(value):
                raise ValueError(f"regime input {name} is {value}, not a finite number")
    if adx >= ADX_TREND and abs(momentum) >= MOMENTUM_TREND_PCT:
        margins = [_margin(adx, ADX_TREND, ADX_SCALE), _margin(abs(momentum), MOMENTUM_TREND_PCT, MOMENTUM_SCALE_PCT),
                   _margin(atr, ATR_VOLATILE_PCT, ATR_SCALE_PCT)]
        regime = Regime.VOLATILE_TREND if atr >= ATR_VOLATILE_PCT else Regime.STRONG_TREND
    elif adx < ADX_RANGE:
        margins = [_margin(adx, ADX_RANGE, ADX_SCALE), _margin(width, BOLLINGER_TIGHT_PCT, BOLLINGER_SCALE_PCT)]
        regime = Regime.TIGHT_RANGE if width <= BOLLINGER_TIGHT_PCT else Regime.CHOPPY
    else:
        if adx >= ADX_TREND:  # strong ADX, but the day went nowhere: how far momentum is from making it a trend
            margins = [_margin(abs(momentum), MOMENTUM_TREND_PCT, MOMENTUM_SCALE_PCT)]
        else:
            margins = [min(adx - ADX_RANGE, ADX_TREND - adx) / TRANSITIONAL_SCALE]
        regime = Regime.TRANSITIONAL
    return regime, 0.5 + 0.5 * min(margins)


class RegimeTracker:
    """Hourly regime of one symbol, fed the symbol's bars in time order (see the module docstring)."""

    __slots__ = ("_adx", "_atr", "_bands", "_close", "_closes", "_high", "_hour", "_last_ms", "_low", "reading")

    def __init__(self) -> None:
        self._adx = Adx(ADX_PERIOD)
        self._atr = Atr(ATR_PERIOD)
        self._bands = Bollinger(BOLLINGER_PERIOD, BOLLINGER_DEVIATIONS)
        self._closes: deque[float] = deque(maxlen=MOMENTUM_HOURS + 1)
        self._hour: int | None = None  # start of the hour being built
        self._high = 0.0
        self._low = 0.0
        self._close = 0.0
        self._last_ms = -1
        self.reading: RegimeReading | None = None  # None while the indicators warm up (about 27 hours)

    def update(self, close_ms: int, high: float, low: float, close: float) -> None:
        """Add one bar. A bar closing exactly on the hour belongs to the hour that ends there. A bar that closes no
        later than the last one added (a replayed or late duplicate) is ignored: hours only move forward."""
        if close_ms <= self._last_ms:
            return
        self._last_ms = close_ms
        hour = (close_ms - 1) // MS_PER_HOUR * MS_PER_HOUR
        if hour == self._hour:  # eleven bars in twelve: widen the hour's range (comparisons, not max()/min() calls)
            if high > self._high:
                self._high = high
            if low < self._low:
                self._low = low
            self._close = close
            return
        if self._hour is not None:
            self._complete()
        self._hour, self._high, self._low, self._close = hour, high, low, close

    def _complete(self) -> None:
        assert self._hour is not None
        high, low, close = self._high, self._low, self._close
        adx = self._adx.update(high, low, close)
        atr = self._atr.update(high, low, close)
        bands = self._bands.update(close)
        self._closes.append(close)
        if adx is None or atr is None or bands is None or len(self._closes) <= MOMENTUM_HOURS or close <= 0.0:
            return
        width = (bands.upper - bands.lower) / bands.middle * 100.0 if bands.middle > 0.0 else 0.0
        inputs = RegimeInputs(adx=adx, atr_pct=atr / close * 100.0, bollinger_width_pct=width,
                              momentum_pct=(close / self._closes[0] - 1.0) * 100.0)
        regime, confidence = classify(inputs)
        self.reading = RegimeReading(regime, confidence, inputs, self._hour)

    @property
    def regime(self) -> Regime | None:
        return None if self.reading is None else self.reading.regime

    def to_dict(self) -> dict[str, Any]:
        r = self.reading
        return {"adx": self._adx.to_dict(), "atr": self._atr.to_dict(), "bands": self._bands.to_dict(),
                "closes": list(self._closes), "hour": self._hour, "high": self._high, "low": self._low,
                "close": self._close, "last_ms": self._last_ms,
                "reading": None if r is None else {"regime": r.regime.value, "confidence": r.confidence,
                                                   "hour_ms": r.hour_ms, "inputs": [r.inputs.adx, r.inputs.atr_pct,
                                                   r.inputs.bollinger_width_pct, r.inputs.momentum_pct]}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RegimeTracker:
        tracker = cls()
        tracker._adx = Adx.from_dict(d["adx"])
        tracker._atr = Atr.from_dict(d["atr"])
        tracker._bands = Bollinger.from_dict(d["bands"])
        tracker._closes.extend(float(c) for c in d["closes"])
        tracker._hour = d["hour"]
        tracker._high, tracker._low, tracker._close = float(d["high"]), float(d["low"]), float(d["close"])
        tracker._last_ms = int(d["last_ms"])
        r = d["reading"]
        if r is not None:
            tracker.reading = RegimeReading(Regime(r["regime"]), float(r["confidence"]),
                                            RegimeInputs(*(float(x) for x in r["inputs"])), int(r["hour_ms"]))
        return tracker
