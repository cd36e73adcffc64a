"""Incremental indicators for strategies: O(1) work per bar, the same numbers as TA-Lib's batch functions.

Each indicator takes one bar's values with `update` and returns its value for that bar, or None while it is
warming up: it answers on the same bar TA-Lib's function gives its first non-NaN output (its "lookback"),
so a strategy written against freqtrade's dataframe sees the same values at the same candles:

| indicator | first value at bar (0-based) | seeded with |
| --- | --- | --- |
| `Ema(n)` | n − 1 | the simple mean of the first n closes (TA-Lib's default, not the first close) |
| `Sma(n)` | n − 1 | — |
| `Rsi(n)` | n | Wilder: mean gain and loss of the first n changes, then (prev·(n − 1) + x) / n; 0 when both are 0 |
| `Atr(n)` | n | Wilder over the true range, which needs a previous close (so bar 0 has none) |
| `Adx(n)` | 2n − 1 | Wilder sums of ±DM and TR over n − 1 changes, then the mean of n DX values |
| `Bollinger(n, k)` | n − 1 | middle = SMA, bands at ± k population standard deviations (ddof 0) |
| `RollingZScore(n)` | n − 1 | (x − mean) / population std of the last n values; None while the std is 0 |

Rolling sums are kept relative to a shift (the window's first value at the last resynchronisation) and
recomputed exactly every `_RESYNC_EVERY` updates, so float error cannot accumulate over a long replay (and the
variance does not lose its digits to cancellation at prices of 50 000). Every indicator refuses a value that is
not finite: one NaN would otherwise poison it for ever. State is plain numbers (`to_dict` / `from_dict`) so a
strategy's indicators are checkpointed with it.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from core.errors import ExecutorError, InvalidArgument

_RESYNC_EVERY = 4096  # updates between exact recomputations of a rolling sum (amortised O(1))
_TA_ZERO = 1e-8  # TA-Lib's TA_IS_ZERO: |x| below this counts as zero in its ADX


class InvalidIndicatorInput(ExecutorError):
    """A bar value that is not a finite number: refused before it can poison an indicator's state."""

    code = "INVALID_INDICATOR_INPUT"

    def __init__(self, indicator: str, field: str, value: float) -> None:
        super().__init__(f"{indicator}: {field} {value!r} is not a finite number", indicator=indicator, field=field,
                         value=value)


def _period(indicator: str, period: int, minimum: int) -> int:
    if isinstance(period, bool) or not isinstance(period, int) or period < minimum:
        raise InvalidArgument(f"{indicator}: period {period!r} must be an integer ≥ {minimum}", indicator=indicator,
                              period=period, minimum=minimum)
    return period


def _finite(indicator: str, field: str, value: float) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise InvalidIndicatorInput(indicator, field, number)
    return number


def _finite_bar(indicator: str, high: float, low: float, close: float) -> tuple[float, float, float]:
    """`_finite` of a bar's high, low and close at once: one test on the common path (ATR and ADX take every bar
    of a replay; a generator over the three cost more than the indicator's own arithmetic)."""
    h, lo, c = float(high), float(low), float(close)
    isfinite = math.isfinite
    if not (isfinite(h) and isfinite(lo) and isfinite(c)):
        for field, value in (("high", h), ("low", lo), ("close", c)):
            _finite(indicator, field, value)
    return h, lo, c


class _RollingWindow:
    """The last `period` values with their shifted sum and sum of squares (for mean and population variance)."""

    __slots__ = ("period", "shift", "since_resync", "squares", "total", "values")

    def __init__(self, period: int) -> None:
        self.period = period
        self.values: deque[float] = deque(maxlen=period)
        self.shift = 0.0
        self.total = 0.0
        self.squares = 0.0
        self.since_resync = 0

    @property
    def full(self) -> bool:
        return len(self.values) == self.period

    def push(self, x: float) -> None:
        if len(self.values) == self.period:  # `full`, spelled out: this runs for every value of every window
            old = self.values[0] - self.shift
            self.total -= old
            self.squares -= old * old
        elif not self.values:
            self.shift = x
        self.values.append(x)
        d = x - self.shift
        self.total += d
        self.squares += d * d
        self.since_resync += 1
        if self.since_resync >= _RESYNC_EVERY:
            self.resync()

    def resync(self) -> None:
        self.shift = self.values[0] if self.values else 0.0
        shifted = [v - self.shift for v in self.values]
        self.total = math.fsum(shifted)
        self.squares = math.fsum(d * d for d in shifted)
        self.since_resync = 0

    def mean(self) -> float:
        return self.shift + self.total / len(self.values)

    def variance(self) -> float:
        n = len(self.values)
        centred = self.total / n
        return max(0.0, self.squares / n - centred * centred)

    def to_dict(self) -> dict[str, Any]:
        """The values and the running sums as they are: a restored window then continues bit for bit, where
        recomputing the sums would differ from the uninterrupted run in the last digits."""
        return {"values": list(self.values), "sums": [self.shift, self.total, self.squares, self.since_resync]}

    def restore(self, values: list[float], sums: list[float] | None = None) -> None:
        self.values = deque((float(v) for v in values[-self.period:]), maxlen=self.period)
        if sums is None or len(values) > self.period:
            self.resync()
        else:
            self.shift, self.total, self.squares = float(sums[0]), float(sums[1]), float(sums[2])
            self.since_resync = int(sums[3])


class Sma:
    """Simple moving average of the last `period` values (TA-Lib SMA)."""

    def __init__(self, period: int) -> None:
        self.period = _period("SMA", period, 1)
        self._window = _RollingWindow(self.period)
        self.value: float | None = None

    def update(self, x: float) -> float | None:
        self._window.push(_finite("SMA", "value", x))
        self.value = self._window.mean() if self._window.full else None
        return self.value

    def to_dict(self) -> dict[str, Any]:
        return {"period": self.period, **self._window.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Sma:
        sma = cls(int(d["period"]))
        sma._window.restore(list(d["values"]), d.get("sums"))
        sma.value = sma._window.mean() if sma._window.full else None
        return sma


class Ema:
    """Exponential moving average, k = 2 / (n + 1), seeded with the mean of the first n values (TA-Lib EMA)."""

    def __init__(self, period: int) -> None:
        self.period = _period("EMA", period, 1)
        self._k = 2.0 / (self.period + 1)
        self._seed: list[float] = []
        self.value: float | None = None

    def update(self, x: float) -> float | None:
        x = _finite("EMA", "value", x)
        if self.value is None:
            self._seed.append(x)
            if len(self._seed) == self.period:
                self.value = math.fsum(self._seed) / self.period
                self._seed = []
            return self.value
        self.value = self.value + self._k * (x - self.value)
        return self.value

    def to_dict(self) -> dict[str, Any]:
        return {"period": self.period, "seed": list(self._seed), "value": self.value}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Ema:
        ema = cls(int(d["period"]))
        ema._seed = [float(v) for v in d["seed"]]
        ema.value = None if d["value"] is None else float(d["value"])
        return ema


@dataclass(slots=True)
class _Wilder:
    """Wilder's smoothing seeded with the mean of the first `period` inputs: (prev · (n − 1) + x) / n."""

    period: int
    count: int = 0
    total: float = 0.0
    value: float | None = None

    def update(self, x: float) -> float | None:
        if self.value is None:
            self.count += 1
            self.total += x
            if self.count == self.period:
                self.value = self.total / self.period
            return self.value
        self.value = (self.value * (self.period - 1) + x) / self.period
        return self.value


class Rsi:
    """Relative strength index with Wilder's smoothing (TA-Lib RSI): first value after `period` changes."""

    def __init__(self, period: int) -> None:
        self.period = _period("RSI", period, 2)
        self._gain = _Wilder(self.period)
        self._loss = _Wilder(self.period)
        self._previous: float | None = None
        self.value: float | None = None

    def update(self, close: float) -> float | None:
        close = _finite("RSI", "close", close)
        previous, self._previous = self._previous, close
        if previous is None:
            return None
        change = close - previous
        gain = self._gain.update(max(change, 0.0))
        loss = self._loss.update(max(-change, 0.0))
        if gain is None or loss is None:
            return None
        total = gain + loss
        self.value = 100.0 * gain / total if total != 0.0 else 0.0
        return self.value

    def to_dict(self) -> dict[str, Any]:
        return {"period": self.period, "previous": self._previous, "gain": _wilder_dict(self._gain),
                "loss": _wilder_dict(self._loss), "value": self.value}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Rsi:
        rsi = cls(int(d["period"]))
        rsi._previous = None if d["previous"] is None else float(d["previous"])
        rsi._gain, rsi._loss = _wilder_from(rsi.period, d["gain"]), _wilder_from(rsi.period, d["loss"])
        rsi.value = None if d["value"] is None else float(d["value"])
        return rsi


def _true_range(high: float, low: float, previous_close: float) -> float:
    return max(high - low, abs(high - previous_close), abs(low - previous_close))


class Atr:
    """Average true range with Wilder's smoothing (TA-Lib ATR): the first bar has no true range."""

    def __init__(self, period: int) -> None:
        self.period = _period("ATR", period, 1)
        self._range = _Wilder(self.period)
        self._previous_close: float | None = None
        self.value: float | None = None

    def update(self, high: float, low: float, close: float) -> float | None:
        high, low, close = _finite_bar("ATR", high, low, close)
        previous, self._previous_close = self._previous_close, close
        if previous is None:
            return None
        self.value = self._range.update(_true_range(high, low, previous))
        return self.value

    def to_dict(self) -> dict[str, Any]:
        return {"period": self.period, "previous_close": self._previous_close, "range": _wilder_dict(self._range)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Atr:
        atr = cls(int(d["period"]))
        atr._previous_close = None if d["previous_close"] is None else float(d["previous_close"])
        atr._range = _wilder_from(atr.period, d["range"])
        atr.value = atr._range.value
        return atr


class Adx:
    """Average directional index (TA-Lib ADX), Wilder's directional movement over `period` bars.

    +DM counts when the high rose more than the low fell (and rose at all), −DM the reverse; TR is the true
    range. Their sums over the first n − 1 changes seed running Wilder sums (x − x/n + new); DX = 100 ·
    |+DI − −DI| / (+DI + −DI); the ADX is the mean of the first n DX values, then Wilder-smoothed. As in TA-Lib,
    a bar whose TR sum or DI sum is (nearly) zero leaves the ADX where it was.
    """

    def __init__(self, period: int) -> None:
        self.period = _period("ADX", period, 2)
        self._previous: tuple[float, float, float] | None = None  # high, low, close
        self._changes = 0
        self._plus_dm = 0.0
        self._minus_dm = 0.0
        self._tr = 0.0
        self._dx_total = 0.0
        self.value: float | None = None

    def update(self, high: float, low: float, close: float) -> float | None:
        high, low, close = _finite_bar("ADX", high, low, close)
        previous, self._previous = self._previous, (high, low, close)
        if previous is None:
            return None
        previous_high, previous_low, previous_close = previous
        up, down = high - previous_high, previous_low - low
        plus = up if up > 0 and up > down else 0.0
        minus = down if down > 0 and up < down else 0.0
        true_range = _true_range(high, low, previous_close)
        self._changes += 1
        n = self.period
        if self._changes < n:  # seeding the sums with the first n − 1 changes
            self._plus_dm += plus
            self._minus_dm += minus
            self._tr += true_range
            return None
        self._plus_dm += plus - self._plus_dm / n
        self._minus_dm += minus - self._minus_dm / n
        self._tr += true_range - self._tr / n
        dx = self._dx()
        if self.value is None:
            self._dx_total += 0.0 if dx is None else dx
            if self._changes == 2 * n - 1:
                self.value = self._dx_total / n
            return self.value
        if dx is not None:
            self.value = (self.value * (n - 1) + dx) / n
        return self.value

    def _dx(self) -> float | None:
        if abs(self._tr) < _TA_ZERO:
            return None
        plus_di, minus_di = 100.0 * self._plus_dm / self._tr, 100.0 * self._minus_dm / self._tr
        total = plus_di + minus_di
        return None if abs(total) < _TA_ZERO else 100.0 * abs(plus_di - minus_di) / total

    def to_dict(self) -> dict[str, Any]:
        return {"period": self.period, "previous": None if self._previous is None else list(self._previous),
                "changes": self._changes, "plus_dm": self._plus_dm, "minus_dm": self._minus_dm, "tr": self._tr,
                "dx_total": self._dx_total, "value": self.value}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Adx:
        adx = cls(int(d["period"]))
        previous = d["previous"]
        adx._previous = None if previous is None else (float(previous[0]), float(previous[1]), float(previous[2]))
        adx._changes = int(d["changes"])
        adx._plus_dm, adx._minus_dm, adx._tr = float(d["plus_dm"]), float(d["minus_dm"]), float(d["tr"])
        adx._dx_total = float(d["dx_total"])
        adx.value = None if d["value"] is None else float(d["value"])
        return adx


@dataclass(frozen=True, slots=True)
class Bands:
    lower: float
    middle: float
    upper: float

    @property
    def width(self) -> float:
        """(upper − lower) / middle: the band width as a fraction of the price (0 where the middle is 0)."""
        return (self.upper - self.lower) / self.middle if self.middle else 0.0


class Bollinger:
    """Bollinger bands (TA-Lib BBANDS with an SMA): middle ± `deviations` population standard deviations."""

    def __init__(self, period: int, deviations: float = 2.0) -> None:
        self.period = _period("BBANDS", period, 2)
        self.deviations = _finite("BBANDS", "deviations", deviations)
        if self.deviations <= 0:
            raise InvalidArgument(f"BBANDS: deviations {deviations!r} must be above 0", indicator="BBANDS",
                                  deviations=deviations)
        self._window = _RollingWindow(self.period)
        self.value: Bands | None = None

    def update(self, x: float) -> Bands | None:
        self._window.push(_finite("BBANDS", "value", x))
        self.value = self._bands() if self._window.full else None
        return self.value

    def _bands(self) -> Bands:
        middle = self._window.mean()
        spread = self.deviations * math.sqrt(self._window.variance())
        return Bands(middle - spread, middle, middle + spread)

    def to_dict(self) -> dict[str, Any]:
        return {"period": self.period, "deviations": self.deviations, **self._window.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Bollinger:
        bands = cls(int(d["period"]), float(d["deviations"]))
        bands._window.restore(list(d["values"]), d.get("sums"))
        bands.value = bands._bands() if bands._window.full else None
        return bands


class RollingZScore:
    """(x − mean) / std of the last `period` values, x included (population std); None while the std is 0."""

    def __init__(self, period: int) -> None:
        self.period = _period("ZSCORE", period, 2)
        self._window = _RollingWindow(self.period)
        self.value: float | None = None

    def update(self, x: float) -> float | None:
        self._window.push(_finite("ZSCORE", "value", x))
        self.value = self._z(x) if self._window.full else None
        return self.value

    def _z(self, x: float) -> float | None:
        std = math.sqrt(self._window.variance())
        # A window of equal values has no spread: its float variance is a rounding residue, not a std.
        if std <= 1e-12 * max(1.0, abs(self._window.mean())):
            return None
        return (x - self._window.mean()) / std

    def to_dict(self) -> dict[str, Any]:
        return {"period": self.period, **self._window.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RollingZScore:
        z = cls(int(d["period"]))
        z._window.restore(list(d["values"]), d.get("sums"))
        z.value = z._z(z._window.values[-1]) if z._window.full else None
        return z


def _wilder_dict(w: _Wilder) -> dict[str, Any]:
    return {"count": w.count, "total": w.total, "value": w.value}


def _wilder_from(period: int, d: dict[str, Any]) -> _Wilder:
    return _Wilder(period, int(d["count"]), float(d["total"]), None if d["value"] is None else float(d["value"]))
