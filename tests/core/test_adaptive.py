"""The adaptive strategy mix (core.adaptive): bounds, step, total and minimum evidence for any sequence of
outcomes; the engine adjusts once per UTC day of engine time and never touches a risk limit."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from core.adaptive import AdaptTrigger, StrategyRole, adjust, project, step_box
from core.clock import MS_PER_DAY
from core.config import AdaptConfig, ExecutorConfig, StrategyConfig, executor_config
from core.engine import Engine, Notice
from core.errors import ConfigError
from core.performance import TradeOutcome
from core.portfolio import Portfolio
from core.types import StrategyName
from exchange.feeds.rules import offline_rules

NAMES = [StrategyName(n) for n in ("alpha", "beta", "gamma", "delta")]
TOL = 1e-9

returns = st.floats(min_value=-30.0, max_value=30.0, allow_nan=False, allow_infinity=False)
records = st.lists(returns, max_size=80)


@st.composite
def settings_and_mix(draw: st.DrawFn) -> tuple[AdaptConfig, dict[StrategyName, float]]:
    """Settings and a starting mix within [floor, ceiling] summing to at most 1."""
    n = draw(st.integers(min_value=2, max_value=4))
    floor = draw(st.floats(min_value=0.01, max_value=0.2))
    ceiling = draw(st.floats(min_value=max(floor, 1.0 / n), max_value=1.0))
    total = draw(st.floats(min_value=n * floor, max_value=min(1.0, n * ceiling)))
    raw = draw(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=n, max_size=n))
    # Start from the floor, then share what is left in proportion to `raw` under the ceiling (water-filling).
    mix = project({NAMES[i]: raw[i] for i in range(n)}, {NAMES[i]: (floor, ceiling) for i in range(n)}, total)
    config = AdaptConfig(floor=floor, ceiling=ceiling, max_step=draw(st.floats(min_value=0.001, max_value=0.5)),
                         min_trades=draw(st.integers(min_value=2, max_value=40)),
                         window_trades=draw(st.integers(min_value=2, max_value=100)),
                         confidence_z=draw(st.floats(min_value=0, max_value=5)),
                         temperature_pct=draw(st.floats(min_value=0.01, max_value=10)))
    return config, mix


def outcomes_of(values: list[float]) -> list[TradeOutcome]:
    return [TradeOutcome(r, r, None, i) for i, r in enumerate(values)]


@settings(max_examples=300, deadline=None)
@given(settings_and_mix(), st.lists(st.dictionaries(st.sampled_from(NAMES), records), min_size=1, max_size=6))
def test_bounds_step_and_total_hold_for_any_sequence_of_outcomes(
        start: tuple[AdaptConfig, dict[StrategyName, float]],
        days: list[dict[StrategyName, list[float]]]) -> None:
    config, mix = start
    total = math.fsum(mix.values())
    history: dict[StrategyName, list[TradeOutcome]] = {name: [] for name in mix}
    for day, new in enumerate(days):
        for name, values in new.items():
            if name in history:
                history[name].extend(outcomes_of(values))
        result = adjust(mix, history, config, day * MS_PER_DAY, AdaptTrigger.DAILY)
        assert set(result.after) == set(mix)
        assert abs(math.fsum(result.after.values()) - total) <= TOL
        for name, share in result.after.items():
            assert config.floor - TOL <= share <= config.ceiling + TOL, (name, share)
            assert abs(share - mix[name]) <= config.max_step + TOL, (name, share, mix[name])
            if len(history[name]) < config.min_trades:
                assert share == mix[name] and result.evidence[name].role is StrategyRole.FROZEN
        mix = result.after


@settings(max_examples=200, deadline=None)
@given(settings_and_mix(), st.data())
def test_nothing_moves_before_two_strategies_have_the_minimum_evidence(
        start: tuple[AdaptConfig, dict[StrategyName, float]], data: st.DataObject) -> None:
    config, mix = start
    names = sorted(mix)
    ready = data.draw(st.sampled_from(names))  # at most one strategy has enough closed trades
    history = {name: outcomes_of(data.draw(st.lists(returns, min_size=config.min_trades if name == ready else 0,
                                                     max_size=config.min_trades + 20 if name == ready
                                                     else config.min_trades - 1)))
               for name in names}
    result = adjust(mix, history, config, 0, AdaptTrigger.DAILY)
    assert result.after == mix and not result.changed


def test_the_better_strategy_gains_share_by_at_most_the_step() -> None:
    config = AdaptConfig(floor=0.1, ceiling=0.8, max_step=0.05, min_trades=30)
    mix = {StrategyName("alpha"): 0.5, StrategyName("beta"): 0.5}
    history = {StrategyName("alpha"): outcomes_of([1.0, 0.5] * 20), StrategyName("beta"): outcomes_of([-1.0, 0.2] * 20)}
    result = adjust(mix, history, config, 0, AdaptTrigger.DAILY)
    assert result.after[StrategyName("alpha")] == pytest.approx(0.55)
    assert result.after[StrategyName("beta")] == pytest.approx(0.45)
    evidence = result.evidence[StrategyName("alpha")]
    assert evidence.role is StrategyRole.MOVED and evidence.closed_trades == 40 and evidence.score_pct is not None


def test_a_strategy_switched_off_stays_off_and_one_above_the_ceiling_only_comes_down() -> None:
    config = AdaptConfig(floor=0.1, ceiling=0.6, max_step=0.05, min_trades=2)
    mix = {StrategyName("alpha"): 0.8, StrategyName("beta"): 0.2, StrategyName("gamma"): 0.0}
    history = {name: outcomes_of([2.0, 1.0, 3.0]) for name in mix}
    result = adjust(mix, history, config, 0, AdaptTrigger.DAILY)
    assert result.after[StrategyName("gamma")] == 0.0
    assert result.evidence[StrategyName("gamma")].role is StrategyRole.OFF
    assert 0.75 - TOL <= result.after[StrategyName("alpha")] <= 0.8
    assert math.fsum(result.after.values()) == pytest.approx(1.0)


def test_step_box_always_holds_the_current_share() -> None:
    config = AdaptConfig(floor=0.2, ceiling=0.5, max_step=0.05)
    for current in (0.0, 0.1, 0.2, 0.35, 0.5, 0.9):
        low, high = step_box(current, config)
        assert low <= current <= high


def test_a_floor_above_the_ceiling_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"must not be above adapt\.ceiling"):
        AdaptConfig(floor=0.5, ceiling=0.4)


@pytest.mark.parametrize(("adapt", "allocation", "setting"), [
    ({"floor": 0.4}, {"scalping": 0.5, "momentum": 0.2}, "adapt.floor"),
    ({"ceiling": 0.3}, {"scalping": 0.5, "momentum": 0.3}, "adapt.ceiling"),
])
def test_bounds_no_mix_can_meet_are_refused_by_name(adapt: dict[str, float], allocation: dict[str, float],
                                                    setting: str) -> None:
    with pytest.raises(ConfigError) as caught:
        executor_config(ExecutorConfig().risk, StrategyConfig(allocation=allocation), ExecutorConfig().manual,
                        AdaptConfig(**adapt))
    assert caught.value.setting == setting
    # Off, the same bounds do not matter: nothing adapts.
    executor_config(ExecutorConfig().risk, StrategyConfig(allocation=allocation), ExecutorConfig().manual,
                    AdaptConfig(**adapt, enabled=False))


def _engine(adapt: AdaptConfig) -> Engine:
    config = ExecutorConfig(strategies=StrategyConfig(allocation={"scalping": 0.5, "momentum": 0.5}), adapt=adapt)
    rules = offline_rules({"BTCUSDT": 40_000.0})
    return Engine(config, rules, Portfolio("USDT", {"USDT": Decimal(1000)}), ["BTCUSDT"], 0)


def test_the_engine_adjusts_once_per_utc_day_of_engine_time_and_only_allocations() -> None:
    engine = _engine(AdaptConfig(min_trades=2, max_step=0.05))
    engine.outcomes[StrategyName("scalping")] = outcomes_of([1.0, 2.0, 1.5])
    engine.outcomes[StrategyName("momentum")] = outcomes_of([-1.0, -2.0, 0.5])
    risk_before = engine.config.risk
    engine._advance(MS_PER_DAY - 1)
    assert engine.config.strategies.allocation == {"scalping": 0.5, "momentum": 0.5}
    engine._advance(MS_PER_DAY + 10)
    assert engine.config.strategies.allocation[StrategyName("scalping")] == pytest.approx(0.55)
    assert engine.learned["adaptation"]["changed"] and engine.learned["time_ms"] == MS_PER_DAY + 10
    assert [r.kind for r in engine.records if isinstance(r, Notice)] == ["strategy_mix"]
    engine._advance(MS_PER_DAY + 20)  # the same day: no second adjustment
    assert engine.config.strategies.allocation[StrategyName("scalping")] == pytest.approx(0.55)
    assert engine.config.risk == risk_before and engine.config.risk is risk_before
    state = engine.to_state()
    restored = Engine.from_state(state, engine.config, engine.rules)
    assert restored.next_adapt_ms == 2 * MS_PER_DAY and restored.learned == engine.learned


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["scalping", "momentum"]), returns), max_size=120),
       st.integers(min_value=1, max_value=10))
def test_learning_never_touches_a_risk_limit(trades: list[tuple[str, float]], days: int) -> None:
    engine = _engine(AdaptConfig(min_trades=2))
    before = engine.config.risk.model_dump()
    for name, value in trades:
        engine.outcomes[StrategyName(name)].append(TradeOutcome(value, value, None, 0))
    for day in range(1, days + 1):
        engine._advance(day * MS_PER_DAY)
        engine.adapt(AdaptTrigger.ON_DEMAND)
    assert engine.config.risk.model_dump() == before
    untouched = ExecutorConfig(adapt=AdaptConfig(min_trades=2)).model_dump(exclude={"strategies"})
    assert engine.config.model_dump(exclude={"strategies"}) == untouched


def test_adapting_off_keeps_the_configured_mix() -> None:
    engine = _engine(AdaptConfig(enabled=False, min_trades=2))
    engine.outcomes[StrategyName("scalping")] = outcomes_of([1.0, 2.0, 1.5])
    engine.outcomes[StrategyName("momentum")] = outcomes_of([-1.0, -2.0, 0.5])
    engine._advance(3 * MS_PER_DAY)
    assert engine.config.strategies.allocation == {"scalping": 0.5, "momentum": 0.5}
