"""Historical pattern echo (from a seed's design conversation), as a plugin.

**Idea.** Days whose move was large are often preceded by a recognisable shape of returns and volume. Keep, per
symbol, the shapes that preceded the large days seen so far (the *precursors*), and enter small when today's shape
is close to the precursor of a large *up* day.

**The shape** (a 17-number vector, taken at 00:00 UTC from completed hours and days only):

| part | numbers | scaled by |
| --- | --- | --- |
| the last 6 hours' log returns, hour by hour | 6 | σ, the std of the last 120 hourly log returns |
| the last day's log returns in 6-hour blocks | 4 | σ·√6 |
| the last 5 days' log returns, day by day | 5 | σ·√24 |
| log(volume of the last 6 h / mean 6-hour volume of the last 5 days) | 1 | — |
| log(volume of the last day / mean daily volume of the last 5 days) | 1 | — |

Returns are divided by the symbol's own recent volatility, so a shape is comparable across calm and wild weeks and
across symbols; every number is clipped to [−4, 4] so one outlier cannot dominate. A day is *large* when
|close / open − 1| ≥ `min_move_pct` (3 % by default; the tiers 3 / 5 / 10 % set the confidence).

**Distance and threshold.** The root mean square of the difference of two vectors (Euclidean / √17): 0 for the same
shape, about √2 for two unrelated ones. Today's vector is compared with every precursor (1-nearest neighbour); the
strategy fires when the nearest is within `max_distance` (0.8 by default) and its day went *up*: a nearer down-day
precursor vetoes.

**Look-ahead safety.** Only data before the bar is used: the vector at a day's start is built from hours and days
that had completed before the day's first bar, and that first bar itself is not in it. The vector is kept aside as
the day's *pending* precursor and enters the library only once the day has closed and its move is known. A
replay cut at any bar decides the same up to the cut (tested).

Hours and days are counted as they complete in the data: across a gap in the data (an exchange maintenance
window) the return from the last hour before it to the first after it counts as one hour's.

**Cost.** Each bar updates the hour and day being built (a few float operations); each hour appends one
(close, volume) to a bounded deque; the vector and the nearest-neighbour search run once per symbol per day, over
at most `library_size` precursors (250 × 17 numbers).

**Entry** at the close of the day's first bar, with `take_profit_pct` / `stop_loss_pct` and a size multiplier of
`size_multiplier` (0.5: small); confidence 0.4 / 0.6 / 0.8 for a precursor day of ≥ 3 / 5 / 10 %.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from pydantic import Field

from core.clock import MS_PER_DAY, MS_PER_HOUR
from core.events import Bar
from core.strategies.base import StrategySettings, SymbolStrategy, SymbolView
from core.strategies.scoring import long_signal
from core.types import MAX_SIGNAL_SIZE_MULTIPLIER, Signal, StrategyName

PATTERN_ECHO = StrategyName("pattern_echo")
HOURS_KEPT = 121  # 120 hourly returns: five days
DAYS_KEPT = 6  # 5 daily returns
VOLUME_DAYS = 5
CLIP = 4.0
VECTOR_SIZE = 17
TIERS = ((10.0, 0.8), (5.0, 0.6), (3.0, 0.4))  # a precursor day's |move| % → the signal's confidence


class PatternEchoConfig(StrategySettings):
    min_move_pct: float = Field(default=3.0, gt=0, le=50)
    max_distance: float = Field(default=0.8, gt=0, le=3)
    library_size: int = Field(default=250, ge=1, le=2_000)
    min_library: int = Field(default=5, ge=1, le=2_000)
    size_multiplier: float = Field(default=0.5, ge=0, le=MAX_SIGNAL_SIZE_MULTIPLIER)
    take_profit_pct: Decimal = Field(default=Decimal("3"), gt=0, lt=100)
    stop_loss_pct: Decimal = Field(default=Decimal("2"), gt=0, lt=100)


def _clip(x: float) -> float:
    return CLIP if x > CLIP else -CLIP if x < -CLIP else x


def distance(a: list[float], b: list[float]) -> float:
    """Root mean square of the difference of two shape vectors."""
    return math.sqrt(sum((x - y) * (x - y) for x, y in zip(a, b, strict=True)) / len(a))


def shape(hours: deque[tuple[float, float]], days: deque[tuple[float, float]]) -> list[float] | None:
    """The shape vector (module docstring) from completed hours and days, each (close, volume); None until five days
    of hours and six days are complete, or when the volatility or a volume is zero (no shape to compare)."""
    if len(hours) < HOURS_KEPT or len(days) < DAYS_KEPT:
        return None
    closes = [h[0] for h in hours]
    if min(closes) <= 0.0 or min(d[0] for d in days) <= 0.0:
        return None
    returns = [math.log(closes[i] / closes[i - 1]) for i in range(1, len(closes))]
    mean = sum(returns) / len(returns)
    sigma = math.sqrt(sum((r - mean) ** 2 for r in returns) / len(returns))
    if sigma <= 0.0:
        return None
    vector = [_clip(r / sigma) for r in returns[-6:]]
    block = sigma * math.sqrt(6.0)
    vector += [_clip(math.log(closes[-1 - 6 * k] / closes[-7 - 6 * k]) / block) for k in (3, 2, 1, 0)]
    daily = sigma * math.sqrt(24.0)
    day_closes = [d[0] for d in days]
    vector += [_clip(math.log(day_closes[i] / day_closes[i - 1]) / daily) for i in range(1, len(day_closes))]
    volumes = [h[1] for h in hours][1:]
    six_hour_mean = sum(volumes) / (len(volumes) / 6.0)
    day_volumes = [d[1] for d in days][-VOLUME_DAYS:]
    day_mean = sum(day_volumes) / len(day_volumes)
    last_six, last_day = sum(volumes[-6:]), day_volumes[-1]
    if six_hour_mean <= 0.0 or day_mean <= 0.0 or last_six <= 0.0 or last_day <= 0.0:
        return None
    vector += [_clip(math.log(last_six / six_hour_mean)), _clip(math.log(last_day / day_mean))]
    return vector


class _Echo:
    """One symbol's hours, days, precursor library and today's cue."""

    __slots__ = ("cue", "day", "day_close", "day_open", "day_volume", "days", "hour", "hour_close", "hour_volume",
                 "hours", "last_ms", "library", "pending")

    def __init__(self, library_size: int) -> None:
        self.hours: deque[tuple[float, float]] = deque(maxlen=HOURS_KEPT)
        self.days: deque[tuple[float, float]] = deque(maxlen=DAYS_KEPT)
        self.library: deque[tuple[list[float], float]] = deque(maxlen=library_size)  # (shape, day's move %)
        self.pending: list[float] | None = None  # the shape at the start of the day being built
        self.cue: tuple[float, float] | None = None  # (distance, precursor move %) on the day's first bar only
        self.hour: int | None = None
        self.day: int | None = None
        self.hour_close = self.hour_volume = 0.0
        self.day_open = self.day_close = self.day_volume = 0.0
        self.last_ms = -1

    def update(self, bar: Bar, cfg: PatternEchoConfig) -> None:
        close_ms = bar.close_time_ms
        hour, day = (close_ms - 1) // MS_PER_HOUR, (close_ms - 1) // MS_PER_DAY
        self.cue = None
        if hour != self.hour:
            if self.hour is not None:
                self.hours.append((self.hour_close, self.hour_volume))
            self.hour, self.hour_volume = hour, 0.0
        if day != self.day:
            if self.day is not None:
                self._close_day(cfg)
            self.day, self.day_open, self.day_volume = day, bar.open, 0.0
            self.pending = shape(self.hours, self.days)
            if self.pending is not None and len(self.library) >= cfg.min_library:
                self.cue = self._nearest(self.pending, cfg)
        self.hour_close = self.day_close = bar.close
        self.hour_volume += bar.volume
        self.day_volume += bar.volume

    def _close_day(self, cfg: PatternEchoConfig) -> None:
        """The day being built is complete: its move is known now, so its pending shape may join the library."""
        self.days.append((self.day_close, self.day_volume))
        if self.pending is not None and self.day_open > 0.0:
            move = (self.day_close / self.day_open - 1.0) * 100.0
            if abs(move) >= cfg.min_move_pct:
                self.library.append((self.pending, move))
        self.pending = None

    def _nearest(self, vector: list[float], cfg: PatternEchoConfig) -> tuple[float, float] | None:
        best, best_move = math.inf, 0.0
        for precursor, move in self.library:
            d = distance(vector, precursor)
            if d < best:
                best, best_move = d, move
        return (best, best_move) if best <= cfg.max_distance and best_move > 0.0 else None

    def to_dict(self) -> dict[str, Any]:
        return {"hours": [list(h) for h in self.hours], "days": [list(d) for d in self.days],
                "library": [[v, m] for v, m in self.library], "pending": self.pending,
                "cue": None if self.cue is None else list(self.cue), "hour": self.hour, "day": self.day,
                "hour_bar": [self.hour_close, self.hour_volume],
                "day_bar": [self.day_open, self.day_close, self.day_volume], "last_ms": self.last_ms}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], library_size: int) -> _Echo:
        echo = cls(library_size)
        echo.hours.extend((float(c), float(v)) for c, v in d["hours"])
        echo.days.extend((float(c), float(v)) for c, v in d["days"])
        echo.library.extend(([float(x) for x in v], float(m)) for v, m in d["library"])
        echo.pending = None if d["pending"] is None else [float(x) for x in d["pending"]]
        echo.cue = None if d["cue"] is None else (float(d["cue"][0]), float(d["cue"][1]))
        echo.hour = None if d["hour"] is None else int(d["hour"])
        echo.day = None if d["day"] is None else int(d["day"])
        echo.hour_close, echo.hour_volume = (float(x) for x in d["hour_bar"])
        echo.day_open, echo.day_close, echo.day_volume = (float(x) for x in d["day_bar"])
        echo.last_ms = int(d["last_ms"])
        return echo


def _confidence(move_pct: float) -> float:
    for threshold, confidence in TIERS:
        if move_pct >= threshold:
            return confidence
    return TIERS[-1][1]


class PatternEcho(SymbolStrategy[PatternEchoConfig]):
    """Enter small when today's shape echoes what preceded a large up day (the module docstring)."""

    name: ClassVar[StrategyName] = PATTERN_ECHO
    config_model = PatternEchoConfig
    summary: ClassVar[str] = ("today's returns and volume look like what preceded a large up day (nearest "
                              "neighbour): buy small")

    def __init__(self) -> None:
        self.echoes: dict[str, _Echo] = {}

    def on_bar(self, bar: Bar, config: PatternEchoConfig) -> None:
        echo = self.echoes.get(bar.symbol)
        if echo is None:
            echo = self.echoes[bar.symbol] = _Echo(config.library_size)
        if bar.close_time_ms <= echo.last_ms:  # a replayed or late bar: hours and days only move forward
            return
        echo.last_ms = bar.close_time_ms
        echo.update(bar, config)

    def fires(self, features: SymbolView, config: PatternEchoConfig) -> bool:
        echo = self.echoes.get(features.symbol)
        return echo is not None and echo.cue is not None and features.last_price is not None

    def signal(self, features: SymbolView, config: PatternEchoConfig, now_ms: int) -> Signal | None:
        if not self.fires(features, config):
            return None
        echo = self.echoes[features.symbol]
        assert echo.cue is not None and features.last_price is not None
        gap, move = echo.cue
        reason = (f"today's shape is {gap:.3f} (RMS, ≤ {config.max_distance:g}) from the precursor of a "
                  f"{move:+.2f}% day, nearest of {len(echo.library)}")
        return long_signal(features.symbol, PATTERN_ECHO, _confidence(move), features.last_price,
                           config.take_profit_pct, config.stop_loss_pct, now_ms, reason,
                           size_multiplier=config.size_multiplier)

    def state(self) -> dict[str, Any]:
        return {symbol: echo.to_dict() for symbol, echo in self.echoes.items()}

    def restore(self, state: Mapping[str, Any], config: PatternEchoConfig) -> None:
        self.echoes = {symbol: _Echo.from_dict(d, config.library_size) for symbol, d in state.items()}
