"""Issue 9, item 8: `core.config.effective_risk` merges a home's stored limits with a tool's environment.

Property: whatever the environment says, the result is never looser than the stored limits in any field
(lower for every ceiling-bounded limit, equal for everything else), or the environment is refused whole.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.config import CEILINGS, ENV_SETTINGS, LOWER_IS_STRICTER, RiskConfig, effective_risk, risk_config
from core.errors import ConfigError

FINITE = st.floats(min_value=0.01, max_value=40, allow_nan=False)
ENV_TEXT = st.one_of(FINITE.map(str), st.integers(-5, 40).map(str),
                     st.sampled_from(["nan", "inf", "-inf", "", " ", "x", "1e400", "0"]))


@st.composite
def stored_limits(draw: st.DrawFn) -> RiskConfig:
    values = {}
    for field in CEILINGS:
        ceiling = CEILINGS[field]
        values[field] = draw(st.integers(1, int(ceiling))) if isinstance(ceiling, int) else \
            draw(st.floats(min_value=0.01, max_value=ceiling, allow_nan=False))
    values["drawdown_kill_pct"] = max(values["drawdown_kill_pct"], min(values["drawdown_pause_pct"] + 0.5, 30.0))
    values["drawdown_pause_pct"] = min(values["drawdown_pause_pct"], values["drawdown_kill_pct"] - 0.25)
    return risk_config(values)


def test_item8_every_env_setting_is_a_ceiling_bounded_limit() -> None:
    """An environment variable for a field without a ceiling would have no 'stricter' direction."""
    assert set(ENV_SETTINGS.values()) <= set(CEILINGS) == set(LOWER_IS_STRICTER)


@settings(max_examples=300, deadline=None)
@given(stored=stored_limits(), env=st.dictionaries(st.sampled_from([*ENV_SETTINGS, "FEE_RATE", "fee_rate"]),
                                                   ENV_TEXT, max_size=6))
def test_item8_effective_risk_is_never_looser_than_stored(stored: RiskConfig, env: dict[str, str]) -> None:
    try:
        merged, overrides = effective_risk(stored, env)
    except ConfigError as exc:
        assert exc.setting in ENV_SETTINGS
        return
    for field, value in merged.model_dump().items():
        if field in LOWER_IS_STRICTER:
            assert value <= getattr(stored, field), field
        else:
            assert value == getattr(stored, field), field
    for field, override in overrides.items():
        assert override.applied == (getattr(merged, field) < getattr(stored, field))


def test_item8_a_stricter_env_value_wins_and_a_looser_one_is_reported_ignored() -> None:
    merged, overrides = effective_risk(RiskConfig(max_position_size_pct=5), {"MAX_POSITION_SIZE_PCT": "25",
                                                                             "KELLY_FRACTION": "0.25"})
    assert (merged.max_position_size_pct, merged.kelly_fraction) == (5, 0.25)
    assert not overrides["max_position_size_pct"].applied and overrides["kelly_fraction"].applied


@pytest.mark.parametrize("text", ["nan", "inf", "-inf"])
def test_item10_non_finite_env_values_are_refused_by_name_as_text(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        effective_risk(RiskConfig(), {"DRAWDOWN_PAUSE_PCT": text})
    assert caught.value.details["setting"] == "DRAWDOWN_PAUSE_PCT" and caught.value.details["value"] == text


def test_item12_a_kill_level_tightened_below_the_stored_pause_is_named() -> None:
    with pytest.raises(ConfigError) as caught:
        effective_risk(RiskConfig(), {"DRAWDOWN_KILL_PCT": "6"})
    assert caught.value.setting == "DRAWDOWN_KILL_PCT" and caught.value.details["limit"] == 7.0
    assert not math.isnan(caught.value.details["value"])
