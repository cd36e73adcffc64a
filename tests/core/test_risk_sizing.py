"""Kelly arithmetic: the formula, its clipping, the prior until enough trades, the ceiling on the fraction."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.config import RiskConfig
from core.risk import InvalidRiskInput, full_kelly, kelly_for_strategy


@pytest.mark.parametrize(("win_rate", "payoff", "expected"), [
    (0.6, 1.0, 0.2),          # 0.6 − 0.4/1
    (0.5, 2.0, 0.25),         # 0.5 − 0.5/2
    (0.4, 1.0, 0.0),          # negative edge clipped to 0
    (1.0, 3.0, 1.0),
    (0.55, 0.0, 0.0),         # wins pay nothing: no edge
    (0.7, math.inf, 0.7),     # no losses: W
])
def test_full_kelly(win_rate: float, payoff: float, expected: float) -> None:
    assert full_kelly(win_rate, payoff) == pytest.approx(expected)


@pytest.mark.parametrize(("win_rate", "payoff"), [(-0.1, 1.0), (1.1, 1.0), (math.nan, 1.0), (0.5, -1.0),
                                                  (0.5, math.nan)])
def test_full_kelly_refuses_nonsense(win_rate: float, payoff: float) -> None:
    with pytest.raises(InvalidRiskInput):
        full_kelly(win_rate, payoff)


@given(st.floats(0.0, 1.0), st.floats(0.0, 1e6))
def test_property_full_kelly_in_unit_interval(win_rate: float, payoff: float) -> None:
    assert 0.0 <= full_kelly(win_rate, payoff) <= 1.0


def test_prior_until_min_trades_then_estimate() -> None:
    config = RiskConfig(kelly_fraction=0.5, kelly_prior=0.1, min_trades_for_kelly=30)
    assert kelly_for_strategy(0, None, config) == pytest.approx(0.05)
    assert kelly_for_strategy(29, 0.4, config) == pytest.approx(0.05)   # an estimate from 29 trades is ignored
    assert kelly_for_strategy(30, 0.4, config) == pytest.approx(0.2)
    assert kelly_for_strategy(30, None, config) == pytest.approx(0.05)  # no estimate: still the prior
    assert kelly_for_strategy(100, -0.3, config) == 0.0                 # a losing strategy gets nothing
    assert kelly_for_strategy(100, 3.0, config) == pytest.approx(0.5)   # estimate clipped to 1


def test_fraction_above_its_ceiling_is_capped_even_around_validation() -> None:
    config = RiskConfig.model_construct(**{**RiskConfig().model_dump(), "kelly_fraction": 4.0})
    assert kelly_for_strategy(100, 0.5, config) == pytest.approx(0.5)  # ceiling 1.0 × 0.5


def test_nan_estimate_is_refused() -> None:
    with pytest.raises(InvalidRiskInput):
        kelly_for_strategy(100, math.nan, RiskConfig())
