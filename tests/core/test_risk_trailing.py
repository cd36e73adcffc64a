"""The trailing-stop ladder: exact rungs, monotone, never above the high."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.risk import InvalidRiskInput, trailing_stop

D = Decimal


@pytest.mark.parametrize(("high", "expected"), [
    ("100", "95"),        # no gain: the initial stop stays
    ("100.99", "95"),     # just short of +1%
    ("101", "100"),       # +1% exactly: breakeven
    ("101.99", "100"),
    ("102", "101"),       # +2%: lock +1%
    ("103", "102"),       # +3%: lock +2%
    ("110.5", "109"),     # +10.5%: rung 9
])
def test_ladder_with_one_percent_start_and_step(high: str, expected: str) -> None:
    assert trailing_stop(D("100"), D("95"), D(high), 1.0, 1.0) == D(expected)


def test_start_and_step_differ_the_stop_trails_the_high_by_start() -> None:
    # start 2%, step 0.5%: +2% → breakeven, +2.5% → +0.5%, +3% → +1%.
    assert trailing_stop(D("200"), D("190"), D("204"), 2.0, 0.5) == D("200")
    assert trailing_stop(D("200"), D("190"), D("205"), 2.0, 0.5) == D("201")
    assert trailing_stop(D("200"), D("190"), D("206"), 2.0, 0.5) == D("202")


def test_rungs_with_awkward_decimals_are_reached_exactly() -> None:
    # 0.1 and 0.7 have no exact binary form; a float ladder misses thresholds like these.
    entry = D("0.3")
    assert trailing_stop(entry, D("0.29"), entry * D("1.007"), 0.7, 0.1) == entry
    assert trailing_stop(entry, D("0.29"), entry * D("1.008"), 0.7, 0.1) == entry * D("1.001")
    assert trailing_stop(entry, D("0.29"), D("0.302399999999"), 0.7, 0.1) == entry


def test_never_lowers_a_stop_already_above_the_rung() -> None:
    assert trailing_stop(D("100"), D("101.5"), D("102.2"), 1.0, 1.0) == D("101.5")


def test_refuses_a_non_positive_entry_or_percentage() -> None:
    with pytest.raises(InvalidRiskInput):
        trailing_stop(D("0"), D("0"), D("1"), 1.0, 1.0)
    with pytest.raises(InvalidRiskInput):
        trailing_stop(D("100"), D("95"), D("110"), 1.0, 0.0)
    with pytest.raises(InvalidRiskInput):
        trailing_stop(D("100"), D("95"), D("110"), float("nan"), 1.0)


prices = st.decimals(min_value=D("0.00000001"), max_value=D("1000000"), places=8)
pcts = st.sampled_from([0.1, 0.25, 0.5, 0.7, 1.0, 1.5, 2.0, 3.3, 5.0])


@given(entry=prices, stop_fraction=st.decimals(min_value=D("0.5"), max_value=D("1"), places=4),
       rises=st.lists(st.decimals(min_value=D("0"), max_value=D("0.2"), places=6), min_size=1, max_size=12),
       start=pcts, step=pcts)
def test_property_monotone_and_never_above_the_high(entry: Decimal, stop_fraction: Decimal, rises: list[Decimal],
                                                    start: float, step: float) -> None:
    stop = entry * stop_fraction
    high = entry
    for rise in rises:
        high = high * (1 + rise)
        new = trailing_stop(entry, stop, high, start, step)
        assert new >= stop
        assert new <= max(stop, high)
        stop = new


@given(entry=prices, rung=st.integers(min_value=0, max_value=60), start=pcts, step=pcts)
def test_property_every_rung_is_reached_at_its_exact_threshold(entry: Decimal, rung: int, start: float,
                                                               step: float) -> None:
    s, k = D(repr(start)), D(repr(step))
    threshold = entry * (100 + s + rung * k) / 100
    locked = entry * (100 + rung * k) / 100
    result = trailing_stop(entry, D(0), threshold, start, step)
    assert result == locked  # exactly on the threshold, the rung is reached (no float drift)
    assert trailing_stop(entry, D(0), threshold - D("1e-12"), start, step) < locked
