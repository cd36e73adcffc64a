"""Performance analytics over closed-trade P&Ls and equity curves, in floats (nothing here reaches the exchange).

Conventions:

* Returns are simple returns (`e1 / e0 - 1`), and the risk-free rate is taken as 0.
* Sharpe and Sortino are annualized with √365, not √252: crypto trades every day of the year, so a year
  holds 365 daily returns.
* Days, weeks and months are UTC; weeks start Monday 00:00 UTC (`core.clock`).
* A period with no equity point yields no return (the next return spans the gap) rather than a made-up 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Literal

from core.clock import utc_day_start, utc_week_start
from core.errors import ExecutorError

Period = Literal["day", "week", "month"]
DAYS_PER_YEAR = 365
# Returns that differ by less than this are flat: their "volatility" is float noise, and dividing by it
# would report an enormous Sharpe ratio for an account that did nothing.
FLAT_RETURNS = 1e-12
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class AnalyticsInputError(ExecutorError):
    """Input that has no meaningful statistic: a NaN P&L, a negative equity, time going backwards."""

    code = "INVALID_ANALYTICS_INPUT"


@dataclass(frozen=True, slots=True)
class TradeStats:
    """Summary of closed trades. A break-even trade (P&L exactly 0) counts in `count` but is neither a win
    nor a loss, so it lowers `win_rate`. `avg_loss` is a positive number."""

    count: int
    wins: int
    losses: int
    win_rate: float
    avg_win: float
    avg_loss: float
    profit_factor: float | None
    expectancy: float
    kelly: float


def trade_stats(pnls: Sequence[float]) -> TradeStats:
    """Win rate, average win/loss, profit factor, expectancy (mean P&L per trade) and full Kelly.

    Kelly is `W − (1 − W) / R` with W the win rate and R = avg_win / avg_loss, clipped to [0, 1]; with no
    losses R is infinite and Kelly is W; with no trades it is 0. `profit_factor` is gross wins over gross
    losses, None when there are no losses.
    """
    tally = TradeTally()
    for pnl in pnls:
        tally.add(pnl)
    return tally.stats()


class ExactSum:
    """A running sum whose value is exactly `math.fsum` of everything added, at O(1) per addition.

    It keeps Shewchuk's non-overlapping partials (the same invariant fsum itself builds): their exact sum is the
    exact sum of the values, so `fsum(partials)`, correctly rounded, is `fsum(values)` to the last bit. The
    partials stay a handful of floats however many values were added."""

    __slots__ = ("_partials",)

    def __init__(self) -> None:
        self._partials: list[float] = []

    def add(self, x: float) -> None:
        partials = self._partials
        i = 0
        for y in partials:
            if abs(x) < abs(y):
                x, y = y, x
            hi = x + y
            lo = y - (hi - x)
            if lo:
                partials[i] = lo
                i += 1
            x = hi
        partials[i:] = [x]

    @property
    def value(self) -> float:
        return math.fsum(self._partials)


class TradeTally:
    """`trade_stats` of a sequence that grows one trade at a time, at O(1) per trade and per `stats()`. The
    engine works a strategy's statistics out again at each of its closed trades, which rebuilt from scratch was
    quadratic in the trade count (most of a 12,000-trade backtest's time). `stats()` is exactly `trade_stats` of
    the values added (`ExactSum`)."""

    __slots__ = ("_lost", "_total", "_won", "count", "losses", "wins")

    def __init__(self) -> None:
        self.count = self.wins = self.losses = 0
        self._total, self._won, self._lost = ExactSum(), ExactSum(), ExactSum()  # losses as positive numbers

    def add(self, pnl: float) -> None:
        value = _finite(pnl, "pnl")
        self.count += 1
        self._total.add(value)
        if value > 0.0:
            self.wins += 1
            self._won.add(value)
        elif value < 0.0:
            self.losses += 1
            self._lost.add(-value)

    def stats(self) -> TradeStats:
        count, wins, losses = self.count, self.wins, self.losses
        if count == 0:
            return TradeStats(0, 0, 0, 0.0, 0.0, 0.0, None, 0.0, 0.0)
        gross_win, gross_loss = self._won.value, self._lost.value
        win_rate = wins / count
        avg_win = gross_win / wins if wins else 0.0
        avg_loss = gross_loss / losses if losses else 0.0
        if not losses:
            kelly = win_rate
        elif not wins:
            kelly = 0.0
        else:
            kelly = win_rate - (1.0 - win_rate) / (avg_win / avg_loss)
        return TradeStats(
            count=count,
            wins=wins,
            losses=losses,
            win_rate=win_rate,
            avg_win=avg_win,
            avg_loss=avg_loss,
            profit_factor=gross_win / gross_loss if losses else None,
            expectancy=self._total.value / count,
            kelly=min(1.0, max(0.0, kelly)),
        )


def max_drawdown_pct(equity: Sequence[float]) -> float:
    """The largest fall from a running peak, in percent of that peak (0 for fewer than two points)."""
    worst = 0.0
    peak = 0.0
    for value in equity:
        value = _non_negative(value, "equity")
        if value > peak:
            peak = value
        elif peak > 0.0:
            worst = max(worst, (peak - value) / peak * 100.0)
    return worst


def daily_returns(points: Sequence[tuple[int, float]]) -> list[float]:
    """Simple returns between the last equity of consecutive UTC days that have points.

    `points` are (time_ms, equity) in time order. N days give N − 1 returns: the first day has no close
    before it, and a partial first day would put a return that is not a day's into Sharpe and Sortino.
    """
    closes = _period_closes(points, utc_day_start)
    return [close / previous - 1.0 for (_, previous), (_, close) in pairwise(closes)]


def returns_by_period(points: Sequence[tuple[int, float]], period: Period) -> list[tuple[int, float]]:
    """(period start ms, simple return) for each UTC day, week (from Monday) or month that has points.

    Each period's return runs from the previous period's last equity to its own last equity; the first
    period's runs from the first point, so a report covers the period in which the history starts.
    """
    closes = _period_closes(points, _PERIOD_START[period])
    if not closes:
        return []
    result: list[tuple[int, float]] = []
    previous = _positive(points[0][1], "equity")
    for start, close in closes:
        result.append((start, close / previous - 1.0))
        previous = close
    return result


def sharpe(daily: Sequence[float]) -> float | None:
    """Annualized Sharpe ratio: mean / sample standard deviation × √365.

    None when it is undefined: fewer than two returns, or returns that do not vary (spread within
    `FLAT_RETURNS`: a flat equity curve would otherwise divide by zero or by float noise).
    """
    values = [_finite(r, "return") for r in daily]
    if len(values) < 2 or max(values) - min(values) <= FLAT_RETURNS:
        return None
    mean = math.fsum(values) / len(values)
    variance = math.fsum((r - mean) ** 2 for r in values) / (len(values) - 1)
    if variance <= 0.0:
        return None
    return mean / math.sqrt(variance) * math.sqrt(DAYS_PER_YEAR)


def sortino(daily: Sequence[float]) -> float | None:
    """Annualized Sortino ratio: mean / downside deviation × √365, with a target return of 0.

    The downside deviation is √(mean of min(r, 0)² over all returns). None with fewer than two returns or
    no negative return (no downside to divide by).
    """
    values = [_finite(r, "return") for r in daily]
    if len(values) < 2:
        return None
    downside = math.fsum(min(r, 0.0) ** 2 for r in values) / len(values)
    if downside <= 0.0:
        return None
    return math.fsum(values) / len(values) / math.sqrt(downside) * math.sqrt(DAYS_PER_YEAR)


def utc_month_start(ms: int) -> int:
    """Start of the UTC calendar month containing `ms`, in ms since the epoch."""
    moment = _EPOCH + timedelta(milliseconds=ms)
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (start - _EPOCH) // timedelta(milliseconds=1)


_PERIOD_START: dict[str, Callable[[int], int]] = {
    "day": utc_day_start,
    "week": utc_week_start,
    "month": utc_month_start,
}


def _period_closes(points: Sequence[tuple[int, float]], period_start: Callable[[int], int]) -> list[tuple[int, float]]:
    """The last equity of each period that has points, as (period start ms, equity)."""
    closes: list[tuple[int, float]] = []
    last_ms: int | None = None
    for time_ms, equity in points:
        equity = _positive(equity, "equity")
        if last_ms is not None and time_ms < last_ms:
            raise AnalyticsInputError(f"equity points go back in time ({time_ms} after {last_ms})",
                                      value=time_ms, limit=last_ms)
        last_ms = time_ms
        start = period_start(time_ms)
        if closes and closes[-1][0] == start:
            closes[-1] = (start, equity)
        else:
            closes.append((start, equity))
    return closes


def _finite(value: float, name: str) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise AnalyticsInputError(f"{name} {value} is not a finite number", field=name, value=value)
    return value


def _non_negative(value: float, name: str) -> float:
    value = _finite(value, name)
    if value < 0.0:
        raise AnalyticsInputError(f"{name} {value} is negative", field=name, value=value)
    return value


def _positive(value: float, name: str) -> float:
    value = _finite(value, name)
    if value <= 0.0:
        raise AnalyticsInputError(f"{name} {value} must be above 0 to compute a return", field=name, value=value)
    return value
