"""Kelly arithmetic: the formula, its clipping, the prior until enough trades, the ceiling on the fraction, and
the recovery rule (an estimate ages toward the prior while nothing closes)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.analytics import trade_stats
from core.config import RiskConfig
from core.risk import InvalidRiskInput, KellyBasis, KellySource, full_kelly, kelly_sizing


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


HOUR = 3_600_000
NOW = 1_700_000_000_000


def _fraction(trades: int, estimate: float | None, config: RiskConfig, hours_since_close: float = 0.0) -> float:
    basis = KellyBasis(trades, estimate, NOW - int(hours_since_close * HOUR))
    return kelly_sizing(basis, config, NOW).fraction


def test_prior_until_min_trades_then_estimate() -> None:
    config = RiskConfig(kelly_fraction=0.5, kelly_prior=0.1, min_trades_for_kelly=30)
    assert _fraction(0, None, config) == pytest.approx(0.05)
    assert _fraction(29, 0.4, config) == pytest.approx(0.05)   # an estimate from 29 trades is ignored
    assert _fraction(30, 0.4, config) == pytest.approx(0.2)
    assert _fraction(30, None, config) == pytest.approx(0.05)  # no estimate: still the prior
    assert _fraction(100, -0.3, config) == 0.0                 # a losing strategy gets nothing, for now
    assert _fraction(100, 3.0, config) == pytest.approx(0.5)   # estimate clipped to 1


def test_fraction_above_its_ceiling_is_capped_even_around_validation() -> None:
    config = RiskConfig.model_construct(**{**RiskConfig().model_dump(), "kelly_fraction": 4.0})
    assert _fraction(100, 0.5, config) == pytest.approx(0.5)  # ceiling 1.0 × 0.5


def test_nan_estimate_is_refused() -> None:
    with pytest.raises(InvalidRiskInput):
        _fraction(100, math.nan, RiskConfig())


def test_a_sized_out_strategy_comes_back_after_the_documented_time() -> None:
    """Estimate 0, prior 0.1, half-life 168 h, minimum 0.01: full = 0.1 × (1 − 2^(−t/168)) reaches 0.01 at
    t = 168 × log2(1/0.9) ≈ 25.5 h. Before that it is sized out; after, it trades at a small size that grows
    toward the prior (half of it after one half-life) and never passes it."""
    config = RiskConfig(kelly_fraction=0.5, kelly_prior=0.1, min_trades_for_kelly=30)
    assert _fraction(40, 0.0, config, hours_since_close=25.0) == 0.0
    assert _fraction(40, 0.0, config, hours_since_close=26.0) == pytest.approx(0.5 * 0.1 * (1 - 2 ** (-26 / 168)))
    assert _fraction(40, 0.0, config, hours_since_close=168.0) == pytest.approx(0.5 * 0.05)
    assert _fraction(40, 0.0, config, hours_since_close=24 * 365) <= 0.5 * 0.1
    sizing = kelly_sizing(KellyBasis(40, 0.0, NOW - 30 * HOUR), config, NOW)
    assert sizing.source is KellySource.ESTIMATE and "aged 30.0 h toward the prior 0.1000" in sizing.message


def test_a_good_estimate_ages_back_toward_the_prior_without_new_evidence() -> None:
    config = RiskConfig(kelly_fraction=0.5, kelly_prior=0.1, min_trades_for_kelly=30)
    assert _fraction(40, 0.3, config, hours_since_close=168.0) == pytest.approx(0.5 * 0.2)
    assert _fraction(40, 0.3, config, hours_since_close=0.0) == pytest.approx(0.5 * 0.3)


@given(trades=st.integers(0, 500), estimate=st.none() | st.floats(-2.0, 3.0),
       hours=st.floats(0.0, 24 * 3650), prior=st.floats(0.01, 0.25), half_life=st.floats(0.5, 24 * 365),
       fraction=st.floats(0.01, 1.0), minimum=st.floats(0.001, 0.1))
def test_property_kelly_stays_within_its_bounds(trades: int, estimate: float | None, hours: float, prior: float,
                                                half_life: float, fraction: float, minimum: float) -> None:
    """Whatever the record and however long ago it was: the full Kelly used lies between the (clipped)
    estimate and the prior, so without evidence above the prior it never passes the prior; the fraction is
    kelly_fraction × that or 0."""
    config = RiskConfig(kelly_fraction=fraction, kelly_prior=prior, min_trades_for_kelly=30,
                        kelly_recovery_half_life_hours=half_life, kelly_min_full=minimum)
    sizing = kelly_sizing(KellyBasis(trades, estimate, NOW - int(hours * HOUR)), config, NOW)
    if trades < 30 or estimate is None:
        assert sizing.full == prior and sizing.source is KellySource.PRIOR
    else:
        raw = min(max(estimate, 0.0), 1.0)
        assert min(raw, prior) <= sizing.full <= max(raw, prior)
        if raw <= prior:
            assert sizing.full <= prior
    assert sizing.fraction in (0.0, pytest.approx(fraction * sizing.full))
    assert 0.0 <= sizing.fraction <= fraction * max(prior, min(max(estimate or 0.0, 0.0), 1.0))


@given(outcomes=st.lists(st.floats(-0.5, 0.5), min_size=30, max_size=200))
def test_property_any_record_can_trade_again_within_a_bounded_time(outcomes: list[float]) -> None:
    """Any sequence of returns, however bad: a strategy is sized out for at most the time full Kelly takes to
    climb from 0 to kelly_min_full (25.5 h with the defaults), then sizes above zero, at most at the prior."""
    config = RiskConfig()
    estimate = trade_stats(outcomes).kelly
    later = kelly_sizing(KellyBasis(len(outcomes), estimate, NOW - 26 * HOUR), config, NOW)
    assert later.fraction > 0.0
    assert later.full <= max(config.kelly_prior, estimate)


@pytest.mark.parametrize(("basis", "expected"), [
    (KellyBasis(3, 0.4, NOW), "prior 0.1000, 3/30 closed trades before an estimate"),
    (KellyBasis(40, 0.0, NOW - 10 * HOUR),
     "estimate 0.0000 on returns after 40 closed trades, aged 10.0 h toward the prior 0.1000 (half-life 168 h) = "
     "0.0040, below the minimum 0.01: sized out until it recovers"),
    (KellyBasis(40, 1.5, NOW - 168 * HOUR),
     "estimate 1.0000 on returns after 40 closed trades, aged 168.0 h toward the prior 0.1000 (half-life 168 h) = "
     "0.5500"),
])
def test_the_sizing_basis_reads_as_the_decision_journal_shows_it(basis: KellyBasis, expected: str) -> None:
    """The message is worded when read: it says the inputs the sizing was worked out from, rounded as journaled."""
    config = RiskConfig(kelly_fraction=0.5, kelly_prior=0.1, min_trades_for_kelly=30, kelly_min_full=0.01,
                        kelly_recovery_half_life_hours=168)
    assert kelly_sizing(basis, config, NOW).message == expected
