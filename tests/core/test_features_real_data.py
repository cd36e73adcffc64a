"""Features against independent computations on recorded Binance 5m candles (BTC/USDT, ETH/USDT).

The slice 3000:8000 of BTC/USDT holds real artefacts: ten zero-volume bars (rows 5920-5929) followed by
a 235-minute maintenance gap (after 2020-12-21 14:05 UTC).
"""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from core.events import Bar
from core.features import MIN_SPREAD_STD, PairSpread, SymbolFeatures
from tests.conftest import fixture_path

pytestmark = pytest.mark.fixtures

FIVE_MIN = 300_000
SLICE = slice(3_000, 8_000)


def load_rows(pair: str) -> list[list[float]]:
    path = fixture_path("candles", "binance_spot_5m_nfi", f"{pair}-5m.json.gz")
    with gzip.open(path, "rt") as fh:
        rows: list[list[float]] = json.load(fh)
    return rows


@pytest.fixture(scope="module")
def btc() -> list[list[float]]:
    return load_rows("BTC_USDT")


@pytest.fixture(scope="module")
def eth() -> list[list[float]]:
    return load_rows("ETH_USDT")


def to_bar(symbol: str, r: list[float]) -> Bar:
    return Bar(symbol, int(r[0]), int(r[0]) + FIVE_MIN - 1, r[1], r[2], r[3], r[4], r[5])


def aligned_closes(a: list[list[float]], b: list[list[float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closes of both pairs at the open times both have (each maintenance gap is in both files)."""
    b_close = {int(r[0]): r[4] for r in b}
    times = [int(r[0]) for r in a if int(r[0]) in b_close]
    a_close = {int(r[0]): r[4] for r in a}
    return (np.array(times, dtype=np.int64), np.array([a_close[t] for t in times]),
            np.array([b_close[t] for t in times]))


@pytest.mark.parametrize("window", [12, 48])
def test_momentum_matches_a_direct_computation_across_a_real_gap(btc: list[list[float]], window: int) -> None:
    rows = btc[SLICE]
    opens = np.array([r[0] for r in rows], dtype=np.int64)
    closes = np.array([r[4] for r in rows])
    assert np.any(np.diff(opens) > FIVE_MIN), "the slice should contain the real maintenance gap"

    f = SymbolFeatures("BTCUSDT", window)
    got: list[float | None] = []
    for r in rows:
        f.on_bar(to_bar("BTCUSDT", r))
        got.append(f.momentum_pct)

    consecutive = np.diff(opens) == FIVE_MIN
    for t in range(len(rows)):
        span_ok = t >= window and bool(consecutive[t - window:t].all())
        if span_ok:
            assert got[t] == pytest.approx((closes[t] / closes[t - window] - 1.0) * 100.0, rel=1e-12), t
        else:
            assert got[t] is None, t
    assert sum(g is not None for g in got) > 4_500


def test_zero_volume_bars_give_no_imbalance_on_real_data(btc: list[list[float]]) -> None:
    f = SymbolFeatures("BTCUSDT", 12)
    for r in btc[SLICE]:
        f.on_bar(to_bar("BTCUSDT", r))
        if r[5] == 0.0 or r[2] == r[3]:
            assert f.imbalance is None
        else:
            assert f.imbalance_source == "candle_close_location"
            expected = ((r[4] - r[3]) - (r[2] - r[4])) / (r[2] - r[3])
            assert f.imbalance == pytest.approx(expected, abs=1e-12)


def rolling_z(x: np.ndarray, window: int) -> np.ndarray:
    """Independent z-score: numpy mean and sample std over each full window, current value included.

    NaN where the window has no variance (the real data has such windows: flat bars during an outage).
    """
    windows = sliding_window_view(x, window)
    mean = windows.mean(axis=1)
    std = windows.std(axis=1, ddof=1)
    flat = std < MIN_SPREAD_STD
    return np.where(flat, np.nan, (x[window - 1:] - mean) / np.where(flat, 1.0, std))


def as_array(zs: list[float | None]) -> np.ndarray:
    return np.array([np.nan if z is None else z for z in zs])


def test_pair_spread_matches_numpy_on_a_real_slice(btc: list[list[float]], eth: list[list[float]]) -> None:
    times, a, b = aligned_closes(btc[SLICE], eth)
    window = 288
    pair = PairSpread("BTCUSDT", "ETHUSDT", window)
    got = [pair.update(pa, pb, int(t)) for t, pa, pb in zip(times, a, b, strict=True)]
    assert got[: window - 1] == [None] * (window - 1)
    expected = rolling_z(np.log(a / b), window)
    np.testing.assert_allclose(as_array(got[window - 1:]), expected, rtol=1e-9, atol=1e-9)
    assert pair.z == got[-1]


@pytest.mark.parametrize("window", [10, 288])
def test_pair_spread_stays_accurate_over_seven_months(btc: list[list[float]], eth: list[list[float]],
                                                      window: int) -> None:
    """65k real updates: the running sums must not drift away from a fresh computation.

    With a 10-bar window the outage's flat bars give windows with no variance: z must be None there
    (numpy's NaN), never a number made of rounding noise.
    """
    times, a, b = aligned_closes(btc, eth)
    pair = PairSpread("BTCUSDT", "ETHUSDT", window)
    got = as_array([pair.update(pa, pb, int(t)) for t, pa, pb in zip(times, a, b, strict=True)])
    expected = rolling_z(np.log(a / b), window)
    np.testing.assert_allclose(got[window - 1:], expected, rtol=1e-8, atol=1e-8)  # NaNs must coincide
    assert np.isnan(got[: window - 1]).all()
    assert np.isfinite(expected).sum() > 65_000
