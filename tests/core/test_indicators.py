"""Incremental indicators against independent batch references in numpy, on the real 5m candles.

The references below are written from the definitions (TA-Lib's seeding and lookbacks, as freqtrade's strategies
see them), over whole arrays: sliding windows for the rolling ones, a plain recurrence for the smoothed ones.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view

from core.errors import InvalidArgument
from core.indicators import Adx, Atr, Bollinger, Ema, InvalidIndicatorInput, RollingZScore, Rsi, Sma
from tests.conftest import fixture_path

NAN = float("nan")


def _padded(values: np.ndarray, first: int, length: int) -> np.ndarray:
    out = np.full(length, NAN)
    out[first:first + len(values)] = values
    return out


def ref_sma(x: np.ndarray, n: int) -> np.ndarray:
    return _padded(sliding_window_view(x, n).mean(axis=1), n - 1, len(x))


def ref_ema(x: np.ndarray, n: int) -> np.ndarray:
    out = np.full(len(x), NAN)
    if len(x) < n:
        return out
    k = 2.0 / (n + 1)
    out[n - 1] = x[:n].mean()
    for i in range(n, len(x)):
        out[i] = out[i - 1] * (1 - k) + x[i] * k
    return out


def _wilder(values: np.ndarray, n: int, first: int) -> np.ndarray:
    """Mean of values[first - n + 1 .. first], then (prev·(n − 1) + v) / n; NaN before `first`."""
    out = np.full(len(values), NAN)
    if len(values) <= first:
        return out
    out[first] = values[first - n + 1:first + 1].mean()
    for i in range(first + 1, len(values)):
        out[i] = (out[i - 1] * (n - 1) + values[i]) / n
    return out


def ref_rsi(close: np.ndarray, n: int) -> np.ndarray:
    change = np.diff(close, prepend=NAN)
    gain, loss = np.where(change > 0, change, 0.0), np.where(change < 0, -change, 0.0)
    avg_gain, avg_loss = _wilder(gain, n, n), _wilder(loss, n, n)
    total = avg_gain + avg_loss
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total == 0, np.where(np.isnan(total), NAN, 0.0), 100 * avg_gain / total)


def ref_true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    previous = np.concatenate(([NAN], close[:-1]))
    return np.fmax(high - low, np.fmax(np.abs(high - previous), np.abs(low - previous)))


def ref_atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int) -> np.ndarray:
    return _wilder(ref_true_range(high, low, close), n, n)


def ref_adx(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int) -> np.ndarray:
    up = np.diff(high, prepend=NAN)
    down = -np.diff(low, prepend=NAN)
    plus_dm = np.where((up > 0) & (up > down), up, 0.0)
    minus_dm = np.where((down > 0) & (up < down), down, 0.0)
    tr = ref_true_range(high, low, close)
    out = np.full(len(close), NAN)
    if len(close) < 2 * n:
        return out
    s_plus, s_minus, s_tr = plus_dm[1:n].sum(), minus_dm[1:n].sum(), tr[1:n].sum()  # n − 1 changes
    dx: list[float | None] = []
    adx: float | None = None
    for i in range(n, len(close)):
        s_plus += plus_dm[i] - s_plus / n
        s_minus += minus_dm[i] - s_minus / n
        s_tr += tr[i] - s_tr / n
        value = None
        if abs(s_tr) >= 1e-8:
            p, m = 100 * s_plus / s_tr, 100 * s_minus / s_tr
            if abs(p + m) >= 1e-8:
                value = 100 * abs(p - m) / (p + m)
        if adx is None:
            dx.append(value)
            if len(dx) == n:
                adx = sum(v for v in dx if v is not None) / n
                out[i] = adx
            continue
        if value is not None:
            adx = (adx * (n - 1) + value) / n
        out[i] = adx
    return out


def ref_bands(x: np.ndarray, n: int, k: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    windows = sliding_window_view(x, n)
    mean, std = windows.mean(axis=1), windows.std(axis=1)
    return (_padded(mean - k * std, n - 1, len(x)), _padded(mean, n - 1, len(x)),
            _padded(mean + k * std, n - 1, len(x)))


def ref_zscore(x: np.ndarray, n: int) -> np.ndarray:
    windows = sliding_window_view(x, n)
    mean, std = windows.mean(axis=1), windows.std(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(std > 1e-12 * np.maximum(1, np.abs(mean)), (x[n - 1:] - mean) / std, NAN)
    return _padded(z, n - 1, len(x))


def run(indicator: Any, *columns: np.ndarray, pick: Callable[[Any], float] = lambda v: v) -> np.ndarray:
    out = []
    for values in zip(*columns, strict=True):
        value = indicator.update(*values)
        out.append(NAN if value is None else pick(value))
    return np.array(out)


def assert_same(mine: np.ndarray, reference: np.ndarray, name: str, tolerance: float = 1e-9) -> None:
    warm = np.isnan(reference)
    assert np.array_equal(np.isnan(mine), warm), f"{name}: first value at bar {np.argmax(~np.isnan(mine))}, " \
                                                 f"reference at {np.argmax(~warm)}"
    scale = np.maximum(1.0, np.abs(reference[~warm]))
    worst = float(np.max(np.abs(mine[~warm] - reference[~warm]) / scale)) if (~warm).any() else 0.0
    assert worst <= tolerance, f"{name}: relative error {worst}"


def candles(pair: str) -> np.ndarray:
    path = fixture_path("candles", "binance_spot_5m_nfi", f"{pair}-5m.json.gz")
    return np.array(json.loads(gzip.decompress(path.read_bytes())), dtype=float)


@pytest.mark.parametrize("pair", ["BTC_USDT", "XRP_USDT"])
def test_every_indicator_matches_its_reference_on_the_real_candles(pair: str) -> None:
    rows = candles(pair)
    high, low, close = rows[:, 2], rows[:, 3], rows[:, 4]
    assert len(close) > 60_000  # 7.5 months of 5m bars: the rolling sums resynchronise many times
    assert_same(run(Ema(9), close), ref_ema(close, 9), "EMA(9)")
    assert_same(run(Ema(21), close), ref_ema(close, 21), "EMA(21)")
    assert_same(run(Sma(20), close), ref_sma(close, 20), "SMA(20)")
    assert_same(run(Rsi(14), close), ref_rsi(close, 14), "RSI(14)")
    assert_same(run(Atr(14), high, low, close), ref_atr(high, low, close, 14), "ATR(14)")
    assert_same(run(Adx(14), high, low, close), ref_adx(high, low, close, 14), "ADX(14)")
    lower, middle, upper = ref_bands(close, 20, 2.0)
    bands = Bollinger(20, 2.0)
    assert_same(run(bands, close, pick=lambda b: b.upper), upper, "BBANDS upper")
    assert_same(np.array([NAN] * 19 + [bands.value.lower]), np.array([NAN] * 19 + [lower[-1]]), "BBANDS lower")
    assert_same(np.array([bands.value.middle]), middle[-1:], "BBANDS middle")
    assert_same(run(RollingZScore(50), close), ref_zscore(close, 50), "z-score(50)", tolerance=1e-6)


def test_the_first_values_arrive_at_ta_libs_lookbacks() -> None:
    bars = [(10.0 + i % 7, 9.0 + i % 5, 9.5 + i % 6) for i in range(40)]
    firsts = {}
    for name, indicator, takes_bar in (("ema", Ema(9), False), ("sma", Sma(9), False), ("rsi", Rsi(14), False),
                                       ("atr", Atr(14), True), ("adx", Adx(14), True),
                                       ("bbands", Bollinger(20), False), ("z", RollingZScore(20), False)):
        for i, (h, lo, c) in enumerate(bars):
            if (indicator.update(h, lo, c) if takes_bar else indicator.update(c)) is not None:
                firsts[name] = i
                break
    assert firsts == {"ema": 8, "sma": 8, "rsi": 14, "atr": 14, "adx": 27, "bbands": 19, "z": 19}


def test_the_ema_is_seeded_with_the_mean_not_the_first_value() -> None:
    ema = Ema(3)
    assert [ema.update(x) for x in (3.0, 6.0, 9.0, 13.0)] == [None, None, 6.0, 9.5]


def test_rsi_of_a_flat_market_is_zero_as_in_ta_lib() -> None:
    rsi = Rsi(3)
    assert [rsi.update(5.0) for _ in range(5)][-1] == 0.0


@pytest.mark.parametrize("make, call", [
    (lambda: Ema(3), lambda i: i.update(float("nan"))),
    (lambda: Sma(3), lambda i: i.update(float("inf"))),
    (lambda: Rsi(3), lambda i: i.update(-float("inf"))),
    (lambda: Atr(3), lambda i: i.update(1.0, float("nan"), 1.0)),
    (lambda: Adx(3), lambda i: i.update(float("nan"), 1.0, 1.0)),
    (lambda: Bollinger(3), lambda i: i.update(float("nan"))),
    (lambda: RollingZScore(3), lambda i: i.update(float("nan"))),
])
def test_a_value_that_is_not_finite_is_refused_and_leaves_the_state_as_it_was(make, call) -> None:
    indicator = make()
    before = indicator.to_dict()
    with pytest.raises(InvalidIndicatorInput) as refused:
        call(indicator)
    assert refused.value.code == "INVALID_INDICATOR_INPUT" and refused.value.details["indicator"]
    assert indicator.to_dict() == before


@pytest.mark.parametrize("make", [lambda: Ema(0), lambda: Sma(-1), lambda: Rsi(1), lambda: Adx(1),
                                  lambda: Bollinger(1), lambda: RollingZScore(1), lambda: Atr(True),
                                  lambda: Bollinger(20, 0.0)])
def test_a_bad_period_is_refused_by_name(make) -> None:
    with pytest.raises(InvalidArgument) as refused:
        make()
    assert refused.value.details["indicator"]


prices = st.floats(min_value=0.0001, max_value=1e6, allow_nan=False, allow_infinity=False)
bars = st.tuples(prices, prices, prices).map(lambda t: (max(t), min(t), sorted(t)[1]))  # high, low, close


def _fresh(kind: str) -> Any:
    return {"ema": Ema(5), "sma": Sma(5), "rsi": Rsi(4), "atr": Atr(4), "adx": Adx(3), "bbands": Bollinger(5, 1.5),
            "z": RollingZScore(5)}[kind]


_RESTORE = {"ema": Ema, "sma": Sma, "rsi": Rsi, "atr": Atr, "adx": Adx, "bbands": Bollinger, "z": RollingZScore}


def _feed(indicator: Any, kind: str, bar: tuple[float, float, float]) -> Any:
    return indicator.update(*bar) if kind in ("atr", "adx") else indicator.update(bar[2])


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(sorted(_RESTORE)), history=st.lists(bars, min_size=0, max_size=40),
       cut=st.integers(min_value=0, max_value=40))
def test_property_a_restored_indicator_goes_on_exactly_as_the_original(kind: str,
                                                                        history: Sequence[tuple[float, float, float]],
                                                                        cut: int) -> None:
    original = _fresh(kind)
    for bar in history[:cut]:
        _feed(original, kind, bar)
    restored = _RESTORE[kind].from_dict(json.loads(json.dumps(original.to_dict())))
    for bar in history[cut:]:
        a, b = _feed(original, kind, bar), _feed(restored, kind, bar)
        if a is None or b is None:
            assert a is b
        elif kind == "bbands":
            assert math.isclose(a.upper, b.upper, rel_tol=1e-9, abs_tol=1e-9)
        else:
            assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


@settings(max_examples=60, deadline=None)
@given(history=st.lists(bars, min_size=1, max_size=60))
def test_property_oscillators_stay_in_range_and_bands_stay_ordered(history: Sequence[tuple[float, float, float]]
                                                                   ) -> None:
    rsi, adx, bands = Rsi(4), Adx(3), Bollinger(5, 2.0)
    for high, low, close in history:
        for value in (rsi.update(close), adx.update(high, low, close)):
            assert value is None or -1e-9 <= value <= 100 + 1e-9
        band = bands.update(close)
        assert band is None or band.lower <= band.middle + 1e-9 * band.middle <= band.upper + 2e-9 * band.middle


def test_rolling_sums_do_not_drift_over_a_long_run_at_high_prices() -> None:
    rng = np.random.default_rng(7)
    x = 50_000 + np.cumsum(rng.normal(0, 0.5, 300_000))
    assert_same(run(Sma(30), x), ref_sma(x, 30), "SMA(30)", tolerance=1e-12)
    assert_same(run(RollingZScore(30), x), ref_zscore(x, 30), "z-score(30)", tolerance=1e-6)


@pytest.mark.parametrize("make", [lambda: Atr(3), lambda: Adx(3)])
@pytest.mark.parametrize("field", ["high", "low", "close"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_the_bar_value_that_is_not_finite_is_the_one_named(make, field: str, bad: float) -> None:
    """ATR and ADX check a bar's three prices in one test: the refusal still names the value at fault."""
    prices = {"high": 2.0, "low": 1.0, "close": 1.5} | {field: bad}
    with pytest.raises(InvalidIndicatorInput) as refused:
        make().update(**prices)
    assert refused.value.details["field"] == field
