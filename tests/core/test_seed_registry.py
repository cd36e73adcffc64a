"""The seeds' strategies are built-ins an engine runs only when the configuration names them: a configuration that
does not name them resolves, wires and checkpoints exactly as before they existed."""

from __future__ import annotations

import pytest

from core.config import StrategyConfig
from core.errors import ConfigError
from core.strategies.registry import OPTIONAL_BUILT_INS, OriginKind, StrategySet


def test_the_default_configuration_does_not_register_the_seed_strategies() -> None:
    assert StrategySet.resolve(StrategyConfig()).names == ("scalping", "momentum", "stat_arb")
    assert {str(c.cls.name) for c in OPTIONAL_BUILT_INS} == {"regime_atr", "pattern_echo"}


@pytest.mark.parametrize("values", [
    {"allocation": {"regime_atr": 0.0}},
    {"regime_atr": {"trail_atr": 2.0}},
    {"allocation": {"pattern_echo": 0.3, "regime_atr": 0.2}},
])
def test_naming_a_seed_strategy_in_the_configuration_registers_it_as_a_built_in(values: dict[str, object]) -> None:
    strategies = StrategySet.resolve(StrategyConfig.model_validate(values))
    named = {n for n in ("regime_atr", "pattern_echo") if n in str(values)}
    assert named <= set(strategies.names)
    assert all(strategies.by_name[n].origin.kind is OriginKind.BUILT_IN for n in named)  # type: ignore[index]


def test_a_seed_strategys_settings_are_validated_by_its_own_model() -> None:
    with pytest.raises(ConfigError) as err:
        StrategySet.resolve(StrategyConfig.model_validate({"regime_atr": {"size_multiplier": {"choppy": 1.5}}}))
    assert err.value.setting == "strategies.regime_atr.size_multiplier"
    with pytest.raises(ConfigError) as err:
        StrategySet.resolve(StrategyConfig.model_validate({"pattern_echo": {"max_distance": 0}}))
    assert err.value.setting == "strategies.pattern_echo.max_distance"


def test_a_regime_atr_plan_that_would_trail_before_breakeven_is_refused_at_start_up() -> None:
    with pytest.raises(ConfigError) as err:
        StrategySet.resolve(StrategyConfig.model_validate(
            {"regime_atr": {"breakeven_at_pct": "3", "trail_at_pct": "2"}}))
    assert err.value.setting == "strategies.regime_atr"
