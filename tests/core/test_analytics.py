"""Analytics against hand computations and independent numpy ones, plus the degenerate cases."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.analytics import (
    FLAT_RETURNS,
    AnalyticsInputError,
    TradeStats,
    daily_returns,
    max_drawdown_pct,
    returns_by_period,
    sharpe,
    sortino,
    trade_stats,
    utc_month_start,
)
from core.clock import MS_PER_DAY, MS_PER_HOUR

DAY = MS_PER_DAY


def ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


def test_trade_stats_by_hand() -> None:
    stats = trade_stats([10.0, -5.0, 20.0, -10.0, 0.0])
    assert stats == TradeStats(count=5, wins=2, losses=2, win_rate=0.4, avg_win=15.0, avg_loss=7.5,
                               profit_factor=2.0, expectancy=3.0, kelly=pytest.approx(0.4 - 0.6 / 2.0))


def test_trade_stats_with_no_trades() -> None:
    assert trade_stats([]) == TradeStats(0, 0, 0, 0.0, 0.0, 0.0, None, 0.0, 0.0)


def test_trade_stats_with_no_losses_has_no_profit_factor_and_kelly_is_the_win_rate() -> None:
    stats = trade_stats([1.0, 2.0, 0.0])
    assert stats.profit_factor is None
    assert stats.avg_loss == 0.0
    assert stats.kelly == pytest.approx(2 / 3)
    assert trade_stats([3.0]).kelly == 1.0


def test_trade_stats_with_only_losses() -> None:
    stats = trade_stats([-1.0, -3.0])
    assert (stats.wins, stats.losses, stats.win_rate, stats.avg_win, stats.avg_loss) == (0, 2, 0.0, 0.0, 2.0)
    assert stats.profit_factor == 0.0
    assert stats.kelly == 0.0
    assert stats.expectancy == -2.0


def test_kelly_is_clipped_to_zero_for_a_losing_edge() -> None:
    assert trade_stats([1.0, -10.0, -10.0]).kelly == 0.0


@settings(max_examples=200)
@given(st.lists(st.integers(-10**8, 10**8).map(lambda cents: cents / 100), max_size=60))
def test_trade_stats_match_numpy(pnls: list[float]) -> None:
    stats = trade_stats(pnls)
    a = np.array(pnls, dtype=float)
    wins, losses = a[a > 0], -a[a < 0]
    assert stats.count == a.size
    assert (stats.wins, stats.losses) == (wins.size, losses.size)
    if a.size:
        assert stats.expectancy == pytest.approx(a.mean(), rel=1e-9, abs=1e-6)
        assert stats.win_rate == wins.size / a.size
        assert stats.expectancy == pytest.approx(stats.win_rate * stats.avg_win
                                                 - losses.size / a.size * stats.avg_loss, rel=1e-9, abs=1e-6)
    if losses.size:
        assert stats.profit_factor == pytest.approx(wins.sum() / losses.sum(), rel=1e-9)
    else:
        assert stats.profit_factor is None
    assert 0.0 <= stats.kelly <= 1.0
    if wins.size and losses.size:
        r = wins.mean() / losses.mean()
        assert stats.kelly == pytest.approx(min(1.0, max(0.0, stats.win_rate - (1 - stats.win_rate) / r)),
                                            rel=1e-9, abs=1e-12)


def test_trade_stats_refuse_nan() -> None:
    with pytest.raises(AnalyticsInputError):
        trade_stats([1.0, math.nan])


def test_max_drawdown_by_hand() -> None:
    assert max_drawdown_pct([100, 120, 90, 130, 65, 140]) == pytest.approx(50.0)
    assert max_drawdown_pct([]) == 0.0
    assert max_drawdown_pct([100.0]) == 0.0
    assert max_drawdown_pct([100, 100, 100]) == 0.0
    assert max_drawdown_pct([100, 110, 121]) == 0.0
    assert max_drawdown_pct([100, 0]) == 100.0
    with pytest.raises(AnalyticsInputError):
        max_drawdown_pct([100, -1])


@given(st.lists(st.floats(0.01, 1e9), min_size=1, max_size=100))
def test_max_drawdown_matches_numpy(equity: list[float]) -> None:
    a = np.array(equity)
    peaks = np.maximum.accumulate(a)
    assert max_drawdown_pct(equity) == pytest.approx(float(((peaks - a) / peaks).max() * 100), abs=1e-9)


def test_daily_returns_take_the_last_equity_of_each_utc_day() -> None:
    points = [
        (ms(2024, 3, 1, 0, 0), 100.0),
        (ms(2024, 3, 1, 23, 59), 110.0),   # close of 1 March
        (ms(2024, 3, 2, 0, 0), 50.0),
        (ms(2024, 3, 2, 12, 0), 99.0),     # close of 2 March
        (ms(2024, 3, 4, 6, 0), 108.9),     # 3 March has no point: this return spans it
    ]
    assert daily_returns(points) == pytest.approx([99 / 110 - 1, 108.9 / 99 - 1])
    assert daily_returns(points[:2]) == []
    assert daily_returns([]) == []


def test_daily_returns_refuse_time_going_backwards_and_non_positive_equity() -> None:
    with pytest.raises(AnalyticsInputError):
        daily_returns([(DAY, 100.0), (0, 100.0)])
    with pytest.raises(AnalyticsInputError):
        daily_returns([(0, 100.0), (DAY, 0.0)])


def test_sharpe_and_sortino_against_numpy() -> None:
    r = [0.01, -0.02, 0.015, 0.003, -0.004, 0.02]
    a = np.array(r)
    assert sharpe(r) == pytest.approx(a.mean() / a.std(ddof=1) * np.sqrt(365))
    downside = np.sqrt(np.mean(np.minimum(a, 0.0) ** 2))
    assert sortino(r) == pytest.approx(a.mean() / downside * np.sqrt(365))


@given(st.lists(st.floats(-0.5, 0.5, allow_nan=False), min_size=2, max_size=50))
def test_sharpe_matches_numpy_when_defined(r: list[float]) -> None:
    a = np.array(r)
    result = sharpe(r)
    if a.max() - a.min() <= FLAT_RETURNS:
        assert result is None
    else:
        assert result is not None
        expected = a.mean() / a.std(ddof=1) * np.sqrt(365)
        assert result == pytest.approx(expected, rel=1e-6, abs=1e-6)


def test_constant_equity_gives_no_sharpe_rather_than_a_division_by_zero() -> None:
    flat = daily_returns([(i * DAY, 1000.0) for i in range(30)])
    assert flat == [0.0] * 29
    assert sharpe(flat) is None
    assert sortino(flat) is None
    assert sharpe([0.01] * 10) is None
    assert sharpe([0.1, 0.1 + 1e-17, 0.1]) is None, "float noise is not volatility"
    assert sharpe([]) is None and sharpe([0.5]) is None
    assert sortino([0.01, 0.02]) is None, "no downside: nothing to divide by"


def test_month_start_handles_month_lengths_and_leap_years() -> None:
    assert utc_month_start(ms(2024, 2, 29, 23, 59)) == ms(2024, 2, 1)
    assert utc_month_start(ms(2024, 3, 1)) == ms(2024, 3, 1)
    assert utc_month_start(ms(2023, 12, 31, 12)) == ms(2023, 12, 1)
    assert utc_month_start(0) == 0


def test_returns_by_week_start_on_monday() -> None:
    # 2024-03-03 is a Sunday, 2024-03-04 a Monday.
    points = [(ms(2024, 3, 1), 100.0), (ms(2024, 3, 3, 23), 105.0), (ms(2024, 3, 4), 200.0),
              (ms(2024, 3, 10, 23), 94.5)]
    assert returns_by_period(points, "week") == [
        (ms(2024, 2, 26), pytest.approx(0.05)),
        (ms(2024, 3, 4), pytest.approx(94.5 / 105 - 1)),
    ]


def test_returns_by_day_and_month() -> None:
    points = [(ms(2024, 1, 31, 10), 100.0), (ms(2024, 1, 31, 20), 102.0), (ms(2024, 2, 1, 1), 90.0),
              (ms(2024, 2, 29, 23), 91.8), (ms(2024, 3, 1), 100.98)]
    assert returns_by_period(points, "month") == [
        (ms(2024, 1, 1), pytest.approx(0.02)),
        (ms(2024, 2, 1), pytest.approx(0.9 - 1)),
        (ms(2024, 3, 1), pytest.approx(0.1)),
    ]
    by_day = returns_by_period(points, "day")
    assert [start for start, _ in by_day] == [ms(2024, 1, 31), ms(2024, 2, 1), ms(2024, 2, 29), ms(2024, 3, 1)]
    assert [r for _, r in by_day[1:]] == pytest.approx(daily_returns(points))
    assert returns_by_period([], "week") == []


@given(st.lists(st.tuples(st.integers(0, 400 * DAY), st.floats(1.0, 1e6)), min_size=1, max_size=80))
def test_period_returns_compound_to_the_whole_change(raw: list[tuple[int, float]]) -> None:
    points = sorted(raw, key=lambda p: p[0])
    for period in ("day", "week", "month"):
        returns = returns_by_period(points, period)
        growth = math.prod(1.0 + r for _, r in returns)
        assert growth == pytest.approx(points[-1][1] / points[0][1], rel=1e-9)
        starts = [s for s, _ in returns]
        assert starts == sorted(set(starts))
    assert len(daily_returns(points)) == len({t // DAY for t, _ in points}) - 1
    assert all(t % MS_PER_HOUR == 0 for t in (utc_month_start(p[0]) for p in points))
