"""Per-strategy performance on returns per unit staked, not on quote P&L."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.analytics import ExactSum, trade_stats
from core.config import ExecutorConfig
from core.engine import Engine
from core.performance import StrategyRecord, TradeOutcome, strategy_performance
from core.portfolio import Portfolio
from core.regime import Regime
from core.types import StrategyName
from exchange.feeds.rules import offline_rules


def _outcome(return_pct: float, stake: float, regime: Regime | None = None, closed_ms: int = 0) -> TradeOutcome:
    return TradeOutcome(return_pct, stake * return_pct / 100.0, regime, closed_ms)


def test_position_size_does_not_weigh_the_payoff() -> None:
    """Two +2 % wins on 100-unit stakes and one −1 % loss on a 1,000-unit stake. Per unit staked the strategy
    wins twice as much as it loses (payoff 2, Kelly ⅔ − ⅓/2 = ½); in quote the one large loss (−10) dwarfs the
    wins (+2 each) and Kelly would be 0: sizing would be judging its own past sizes, not the strategy."""
    outcomes = [_outcome(2.0, 100.0), _outcome(2.0, 100.0), _outcome(-1.0, 1000.0)]
    record = strategy_performance(outcomes)
    assert record.payoff == pytest.approx(2.0)
    assert record.returns.kelly == pytest.approx(0.5)
    assert record.returns.profit_factor == pytest.approx(4.0)
    assert trade_stats([o.pnl for o in outcomes]).kelly == 0.0  # what the quote-P&L estimate said
    assert record.pnl == pytest.approx(-6.0)


def test_drawdown_contribution_and_regime_tags() -> None:
    outcomes = [_outcome(5.0, 100.0, Regime.STRONG_TREND, 1), _outcome(-3.0, 100.0, Regime.CHOPPY, 2),
                _outcome(-4.0, 100.0, Regime.CHOPPY, 3), _outcome(1.0, 100.0, None, 4)]
    record = strategy_performance(outcomes)
    assert record.drawdown_contribution == pytest.approx(7.0)  # from +5 down to −2
    assert record.trades_by_regime == {"choppy": 2, "strong_trend": 1, "warming_up": 1}
    assert record.last_closed_ms == 4


def test_no_trades() -> None:
    record = strategy_performance([])
    assert record.returns.count == 0 and record.payoff is None and record.drawdown_contribution == 0.0
    assert record.last_closed_ms is None


@given(st.lists(st.tuples(st.floats(-50.0, 50.0), st.floats(1.0, 1e6)), max_size=60))
def test_property_record_is_independent_of_stake(trades: list[tuple[float, float]]) -> None:
    """The same returns at any stakes give the same win rate, payoff, profit factor and Kelly."""
    at_stakes = strategy_performance([_outcome(r, s) for r, s in trades])
    at_one = strategy_performance([_outcome(r, 1.0) for r, _ in trades])
    assert at_stakes.returns == at_one.returns and at_stakes.payoff == at_one.payoff
    assert 0.0 <= at_stakes.returns.kelly <= 1.0 and at_stakes.drawdown_contribution >= 0.0


def test_outcome_round_trips() -> None:
    outcome = _outcome(1.25, 80.0, Regime.TIGHT_RANGE, 7)
    assert TradeOutcome.from_list(outcome.to_list()) == outcome


@given(st.lists(st.tuples(st.floats(min_value=-50, max_value=50, allow_nan=False),
                          st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
                          st.sampled_from([None, *Regime])), max_size=60))
def test_property_the_running_record_is_exactly_the_walk_over_the_outcomes(trades: list[tuple]) -> None:
    outcomes = [TradeOutcome(r, pnl, regime, i) for i, (r, pnl, regime) in enumerate(trades)]
    record = StrategyRecord()
    for i, outcome in enumerate(outcomes):
        record.add(outcome)
        done = outcomes[:i + 1]
        performance = record.performance()
        assert performance.returns == trade_stats([o.return_pct / 100.0 for o in done])
        assert performance.pnl == math.fsum(o.pnl for o in done)  # to the last bit
        assert performance == strategy_performance(done)


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300), max_size=80))
def test_property_a_running_exact_sum_is_fsum_to_the_last_bit(values: list[float]) -> None:
    total = ExactSum()
    for value in values:
        total.add(value)
    assert total.value == math.fsum(values)


def test_a_restored_engine_sizes_on_its_whole_record_not_a_stale_tally() -> None:
    rules = offline_rules({"AAAUSDT": 100.0})
    engine = Engine(ExecutorConfig(), rules, Portfolio("USDT", {"USDT": Decimal(10_000)}), ["AAAUSDT"], 0)
    state = engine.to_state()
    state["outcomes"] = {"momentum": [[2.0, 2.0, None, 1], [-1.0, -1.0, None, 2], [3.0, 3.0, None, 3]]}
    restored = Engine.from_state(state, ExecutorConfig(), rules)
    basis = restored.kelly(StrategyName("momentum")).basis
    assert basis.closed_trades == 3 and basis.estimate == trade_stats([0.02, -0.01, 0.03]).kelly
    assert restored.performance(StrategyName("momentum")).returns == trade_stats([0.02, -0.01, 0.03])

