"""A strategy with a fixed stake (`strategies.fixed_stake`): it asks for that quote amount, not a Kelly size, and
every cap of the risk gate still applies to it; the decision says the basis."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.config import load_config
from core.errors import ConfigError
from core.risk import evaluate_entry
from core.types import DecisionAction, ReasonKind, RuleId, StrategyName
from tests.core.test_risk_support import MONDAY_MS, btc_rules, context, signal

D = Decimal
CROSS = StrategyName("ema_rsi_cross")
RULES = btc_rules()


def staked(amount: str, **risk: object) -> object:
    return load_config({"strategies": {"allocation": {}, "fixed_stake": {"ema_rsi_cross": amount}}, "risk": risk})


def test_a_fixed_stake_is_the_amount_asked_for_whatever_kelly_and_the_allocation_say() -> None:
    # Kelly's prior (½ × 0.10) and no allocation at all would size this signal at 0; the stake asks for 100 USDT.
    decision = evaluate_entry(signal(strategy=CROSS, confidence=0.3), context(), RULES, staked("100"), MONDAY_MS)
    assert decision.action is DecisionAction.ENTER and decision.quote_amount == D("100")
    basis = [r for r in decision.reasons if r.rule is RuleId.SIZING_FIXED_STAKE]
    assert len(basis) == 1 and basis[0].kind is ReasonKind.NOTE and "fixed stake 100" in basis[0].message
    assert not any(r.rule is RuleId.SIZING_KELLY for r in decision.reasons)


def test_without_a_fixed_stake_the_same_strategy_is_sized_by_kelly_and_its_allocation() -> None:
    config = load_config({"strategies": {"allocation": {"ema_rsi_cross": 0.5}}})
    decision = evaluate_entry(signal(strategy=CROSS), context(), RULES, config, MONDAY_MS)
    assert decision.quote_amount == D("250")  # ½ × 0.10 × 1.0 × 0.5 of 10 000
    assert any(r.rule is RuleId.SIZING_KELLY for r in decision.reasons)


def test_a_fixed_stake_stays_under_the_position_cap_with_its_clamp() -> None:
    decision = evaluate_entry(signal(strategy=CROSS), context(), RULES, staked("5000"), MONDAY_MS)
    assert decision.quote_amount == D("1200")  # MAX_POSITION_SIZE_PCT 12 % of 10 000
    assert [c.rule for c in decision.clamps] == ["risk.max_position_size_pct"]


def test_a_fixed_stake_is_still_refused_by_the_blockers() -> None:
    decision = evaluate_entry(signal(strategy=CROSS), context(open_symbols=frozenset({"BTCUSDT"})), RULES,
                              staked("100"), MONDAY_MS)
    assert decision.action is DecisionAction.SKIP
    assert any(r.rule is RuleId.ONE_POSITION_PER_SYMBOL for r in decision.reasons)


@pytest.mark.parametrize("amount", ["0", "-5", "NaN", "Infinity", "1e13"])
def test_a_stake_that_is_not_a_sane_quote_amount_is_refused_at_start_up(amount: str) -> None:
    with pytest.raises(ConfigError):
        staked(amount)


@given(st.decimals(min_value=D("0.01"), max_value=D("100000"), places=2),
       st.decimals(min_value=D("100"), max_value=D("1000000"), places=2))
def test_a_fixed_stake_never_spends_more_than_it_asks_nor_more_than_the_caps(stake: Decimal, equity: Decimal) -> None:
    config = staked(str(stake))
    decision = evaluate_entry(signal(strategy=CROSS), context(equity=str(equity)), RULES, config, MONDAY_MS)
    if decision.action is DecisionAction.ENTER:
        assert decision.quote_amount is not None
        assert decision.quote_amount <= stake
        assert decision.quote_amount <= equity * D("0.12")
        assert decision.quote_amount * (1 + config.risk.fee_rate) <= equity


def test_a_fixed_stake_is_scaled_by_the_signals_own_size_multiplier() -> None:
    halved = signal(strategy=CROSS).model_copy(update={"size_multiplier": 0.5})
    decision = evaluate_entry(halved, context(), RULES, staked("100"), MONDAY_MS)
    assert decision.quote_amount == D("50")
    assert any(r.rule is RuleId.SIZING_FIXED_STAKE and "0.5 asked by ema_rsi_cross" in r.message
               for r in decision.reasons)
