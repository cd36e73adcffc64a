"""Issue 9, Protection item 3: a bound on the stop distance, and no entry whose protection the filters refuse."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.config import CEILINGS, ExecutorConfig, RiskConfig, load_config
from core.errors import ConfigError
from core.risk import evaluate_entry, evaluate_manual_entry
from core.types import DecisionAction, RuleId
from tests.core.test_risk_support import MONDAY_MS, btc_rules, context, signal

D = Decimal
CONFIG = ExecutorConfig()
# Binance's PERCENT_PRICE_BY_SIDE as BTCUSDT has it: a SELL may not sit more than 20 % below the average price.
BY_SIDE = {"bid_up": D("5"), "bid_down": D("0.2"), "ask_up": D("5"), "ask_down": D("0.8")}


def test_item3_max_stop_loss_pct_defaults_to_10_with_a_ceiling_of_25() -> None:
    assert RiskConfig().max_stop_loss_pct == 10.0 and CEILINGS["max_stop_loss_pct"] == 25.0
    assert load_config(env={"MAX_STOP_LOSS_PCT": "5"}).risk.max_stop_loss_pct == 5.0
    with pytest.raises(ConfigError) as caught:
        load_config(env={"MAX_STOP_LOSS_PCT": "30"})
    assert caught.value.setting == "MAX_STOP_LOSS_PCT" and "ceiling 25" in caught.value.message


def test_item3_manual_stop_wider_than_the_limit_is_refused_naming_the_setting() -> None:
    """`trade --pct 12 --sl 95`: refused by the gate, not bought and sold at once."""
    decision = evaluate_manual_entry("BTCUSDT", D("1200"), D("1.5"), D("95"), D("40000"), context(), btc_rules(),
                                     CONFIG, MONDAY_MS)
    assert decision.action is DecisionAction.SKIP
    assert any(r.rule is RuleId.MAX_STOP_LOSS and "MAX_STOP_LOSS_PCT=10" in r.message and "95" in r.message
               for r in decision.reasons), decision.reasons
    assert evaluate_manual_entry("BTCUSDT", D("1200"), D("1.5"), D("10"), D("40000"), context(), btc_rules(),
                                 CONFIG, MONDAY_MS).action is DecisionAction.ENTER


def test_item3_strategy_signal_with_a_wide_stop_is_refused() -> None:
    decision = evaluate_entry(signal(sl="12"), context(), btc_rules(), CONFIG, MONDAY_MS)
    assert decision.action is DecisionAction.SKIP
    assert any(r.rule is RuleId.MAX_STOP_LOSS and "MAX_STOP_LOSS_PCT=10" in r.message for r in decision.reasons)


def test_item3_the_code_ceiling_binds_a_config_built_around_validation() -> None:
    loose = ExecutorConfig.model_construct(risk=RiskConfig.model_construct(
        **{**RiskConfig().model_dump(), "max_stop_loss_pct": 90.0}))
    decision = evaluate_manual_entry("BTCUSDT", D("100"), D("1.5"), D("30"), D("40000"), context(), btc_rules(),
                                     loose, MONDAY_MS)
    assert decision.action is DecisionAction.SKIP
    assert any(r.rule is RuleId.MAX_STOP_LOSS_CEILING and "MAX_STOP_LOSS_PCT=25" in r.message
               for r in decision.reasons)


def test_item3_entry_whose_stop_limit_fails_percent_price_by_side_is_refused() -> None:
    """Within MAX_STOP_LOSS_PCT yet below what PERCENT_PRICE_BY_SIDE lets a SELL be: refused before entry."""
    config = ExecutorConfig(risk=RiskConfig(max_stop_loss_pct=25))
    rules = btc_rules(**BY_SIDE)
    decision = evaluate_manual_entry("BTCUSDT", D("100"), D("1.5"), D("21"), D("40000"), context(), rules, config,
                                     MONDAY_MS)
    assert decision.action is DecisionAction.SKIP
    assert any(r.rule is RuleId.PROTECTION_REFUSED and "PERCENT_PRICE_BY_SIDE" in r.message for r in decision.reasons)
    ok = evaluate_manual_entry("BTCUSDT", D("100"), D("1.5"), D("19"), D("40000"), context(), rules, config,
                               MONDAY_MS)
    assert ok.action is DecisionAction.ENTER


@given(sl=st.decimals(min_value=D("0.1"), max_value=D("99"), places=2),
       tp=st.decimals(min_value=D("0.1"), max_value=D("50"), places=2))
def test_item3_property_every_entry_has_a_bounded_placeable_stop(sl: Decimal, tp: Decimal) -> None:
    """Whatever is asked: an entry's stop is within MAX_STOP_LOSS_PCT and its stop limit within the filters."""
    config = ExecutorConfig(risk=RiskConfig(max_stop_loss_pct=25))
    rules = btc_rules(**BY_SIDE)
    price = D("40000")
    decision = evaluate_manual_entry("BTCUSDT", D("500"), tp, sl, price, context(), rules, config, MONDAY_MS)
    if decision.action is DecisionAction.ENTER:
        assert decision.stop_price is not None and decision.take_profit_price is not None
        assert sl <= 25 and decision.stop_price >= price * D("0.75")
        limit = decision.stop_price * (100 - config.risk.stop_limit_buffer_pct) / 100
        assert limit >= price * BY_SIDE["ask_down"]
        assert decision.take_profit_price > price > decision.stop_price
