"""Regime classification: the rule on hand-made inputs, and hand-checked windows of the real 5m candles.

The windows (../shared/fixtures/candles/binance_spot_5m_nfi, Binance spot, Dec 2020 – Jul 2021):

* **A range: BTC/USDT on Sunday 2020-12-06 (UTC).** BTC traded between ~18,900 and ~19,400 all day (it opened
  at 19,252 and its last bar closed at 19,359), a weekend lull between the early-December test of 19,900 and
  the mid-December breakout: no trend, a narrow band. Every hour must be TIGHT_RANGE.
* **A trending week: SOL/USDT from 2021-01-31 07:00 to 2021-02-07 07:00.** SOL rose from 4.48 to 5.88 (+31 %)
  in the early-2021 alt rally, with a directional ADX through most of it: at least three hours in four must be a
  trend (strong or volatile), and almost none a range.
* **The May 2021 crash: 2021-05-19.** BTC fell from ~42,500 to ~30,000 intraday (closing the day near 36,700)
  and the alts fell harder. Every BTC hour of that day is VOLATILE_TREND, and at the hour of the low
  (13:00–14:00 UTC) every one of the 8 pairs is a volatile downtrend (24-hour momentum below −15 %).
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.regime import (
    ADX_RANGE,
    ADX_TREND,
    ATR_VOLATILE_PCT,
    BOLLINGER_TIGHT_PCT,
    MOMENTUM_TREND_PCT,
    Regime,
    RegimeInputs,
    RegimeTracker,
    classify,
)
from tests.conftest import fixture_path

FIVE_MIN = 300_000
HOUR = 3_600_000
PAIRS = ("ADA", "BTC", "DOT", "ETH", "LINK", "LTC", "SOL", "XRP")
TRENDS = {Regime.STRONG_TREND, Regime.VOLATILE_TREND}
RANGES = {Regime.TIGHT_RANGE, Regime.CHOPPY}


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def _hourly(pair: str) -> dict[int, object]:
    """Every completed hour's reading of one pair over the whole file, by hour start."""
    path = fixture_path("candles", "binance_spot_5m_nfi", f"{pair}_USDT-5m.json.gz")
    with gzip.open(path, "rt") as fh:
        rows = json.load(fh)
    tracker = RegimeTracker()
    readings = {}
    for row in rows:
        tracker.update(int(row[0]) + FIVE_MIN, float(row[2]), float(row[3]), float(row[4]))
        if tracker.reading is not None:
            readings[tracker.reading.hour_ms] = tracker.reading
    return readings


@pytest.fixture(scope="module")
def readings() -> dict[str, dict[int, object]]:
    return {pair: _hourly(pair) for pair in PAIRS}


def _window(readings: dict[int, object], start: str, end: str) -> list[object]:
    return [readings[h] for h in range(_ms(start), _ms(end), HOUR)]


@pytest.mark.fixtures
def test_a_quiet_sunday_is_a_tight_range(readings: dict[str, dict[int, object]]) -> None:
    hours = _window(readings["BTC"], "2020-12-06T00:00", "2020-12-07T00:00")
    assert len(hours) == 24
    assert {h.regime for h in hours} == {Regime.TIGHT_RANGE}
    assert all(h.inputs.adx < ADX_RANGE and h.inputs.bollinger_width_pct <= BOLLINGER_TIGHT_PCT for h in hours)


@pytest.mark.fixtures
def test_the_sol_rally_week_is_a_trend(readings: dict[str, dict[int, object]]) -> None:
    hours = _window(readings["SOL"], "2021-01-31T07:00", "2021-02-07T07:00")
    counts = Counter(h.regime for h in hours)
    trend = sum(counts[r] for r in TRENDS)
    assert trend >= 0.75 * len(hours), counts
    assert sum(counts[r] for r in RANGES) <= 0.05 * len(hours), counts
    assert sum(h.inputs.momentum_pct > 0 for h in hours if h.regime in TRENDS) >= 0.75 * trend  # up, not down


@pytest.mark.fixtures
def test_the_may_2021_crash_is_a_volatile_trend(readings: dict[str, dict[int, object]]) -> None:
    day = _window(readings["BTC"], "2021-05-19T00:00", "2021-05-20T00:00")
    assert {h.regime for h in day} == {Regime.VOLATILE_TREND}
    for pair in PAIRS:
        low = readings[pair][_ms("2021-05-19T13:00")]
        assert low.regime is Regime.VOLATILE_TREND, (pair, low)
        assert low.inputs.momentum_pct < -15.0 and low.inputs.atr_pct >= ATR_VOLATILE_PCT, (pair, low)


@pytest.mark.fixtures
def test_a_restored_tracker_continues_identically(readings: dict[str, dict[int, object]]) -> None:
    path = fixture_path("candles", "binance_spot_5m_nfi", "ETH_USDT-5m.json.gz")
    with gzip.open(path, "rt") as fh:
        rows = json.load(fh)[:20_000]
    whole, first = RegimeTracker(), RegimeTracker()
    for row in rows[:7_777]:
        first.update(int(row[0]) + FIVE_MIN, row[2], row[3], row[4])
    second = RegimeTracker.from_dict(json.loads(json.dumps(first.to_dict())))
    for row in rows:
        whole.update(int(row[0]) + FIVE_MIN, row[2], row[3], row[4])
    for row in rows[7_777:]:
        second.update(int(row[0]) + FIVE_MIN, row[2], row[3], row[4])
    assert second.reading == whole.reading and second.to_dict() == whole.to_dict()


def test_no_reading_until_the_indicators_have_warmed_up() -> None:
    tracker = RegimeTracker()
    for i in range(12 * 26):  # 26 hours of bars: ADX(14) needs 27 completed hours
        tracker.update((i + 1) * FIVE_MIN, 101.0, 99.0, 100.0)
    assert tracker.reading is None


def test_a_late_or_repeated_bar_changes_nothing() -> None:
    tracker = RegimeTracker()
    tracker.update(2 * HOUR, 1.0, 1.0, 1.0)
    before = tracker.to_dict()
    tracker.update(HOUR, 5.0, 0.5, 3.0)
    tracker.update(2 * HOUR, 5.0, 0.5, 3.0)
    assert tracker.to_dict() == before


@pytest.mark.parametrize(("inputs", "expected"), [
    (RegimeInputs(adx=40, atr_pct=0.5, bollinger_width_pct=5, momentum_pct=6), Regime.STRONG_TREND),
    (RegimeInputs(adx=40, atr_pct=3.0, bollinger_width_pct=20, momentum_pct=-12), Regime.VOLATILE_TREND),
    (RegimeInputs(adx=12, atr_pct=0.3, bollinger_width_pct=1.5, momentum_pct=0.2), Regime.TIGHT_RANGE),
    (RegimeInputs(adx=12, atr_pct=1.2, bollinger_width_pct=7, momentum_pct=1.0), Regime.CHOPPY),
    (RegimeInputs(adx=22, atr_pct=1.0, bollinger_width_pct=4, momentum_pct=5), Regime.TRANSITIONAL),
    (RegimeInputs(adx=35, atr_pct=1.0, bollinger_width_pct=4, momentum_pct=0.5), Regime.TRANSITIONAL),
])
def test_the_documented_rule(inputs: RegimeInputs, expected: Regime) -> None:
    assert classify(inputs)[0] is expected


finite = st.floats(min_value=0.0, max_value=100.0, allow_nan=False)


@given(adx=finite, atr=finite, width=finite, momentum=st.floats(min_value=-99.0, max_value=500.0))
def test_confidence_is_between_a_half_and_one_and_a_trend_needs_adx_and_momentum(
        adx: float, atr: float, width: float, momentum: float) -> None:
    regime, confidence = classify(RegimeInputs(adx, atr, width, momentum))
    assert 0.5 <= confidence <= 1.0
    if regime in TRENDS:
        assert adx >= ADX_TREND and abs(momentum) >= MOMENTUM_TREND_PCT
    if regime in RANGES:
        assert adx < ADX_RANGE


def test_a_non_finite_input_is_refused() -> None:
    with pytest.raises(ValueError, match="adx"):
        classify(RegimeInputs(float("nan"), 1.0, 1.0, 1.0))


@pytest.mark.parametrize("position, name", [(0, "adx"), (1, "atr_pct"), (2, "bollinger_width_pct"),
                                            (3, "momentum_pct")])
def test_the_non_finite_input_is_the_one_named(position: int, name: str) -> None:
    values = [30.0, 1.0, 2.0, 3.0]
    values[position] = float("inf")
    with pytest.raises(ValueError, match=f"regime input {name} is inf"):
        classify(RegimeInputs(*values))
