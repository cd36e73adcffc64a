"""The entry gate: blockers, Kelly sizing, every cap (with its clamp event), filters, manual entries."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.clock import MS_PER_HOUR
from core.config import ExecutorConfig, RiskConfig
from core.filters import SymbolRules, rules_from_exchange_info
from core.risk import (
    ALL_SYMBOLS,
    BreakerState,
    InvalidRiskInput,
    entry_blockers,
    evaluate_entry,
    evaluate_manual_entry,
    update_breakers,
)
from core.types import Advice, AdviceAction, Decision, DecisionAction, ReasonKind, RuleId, StrategyName
from tests.conftest import fixture_path
from tests.core.test_risk_support import MONDAY_MS, btc_rules, context, signal

NOW = MONDAY_MS
RULES = btc_rules()
CONFIG = ExecutorConfig()
D = Decimal


def rules_of(decision: Decision) -> list[str]:
    return [c.rule for c in decision.clamps]


def test_signal_sized_by_fractional_kelly_prior_confidence_and_allocation() -> None:
    # ½ × prior 0.10 × confidence 0.8 × scalping allocation 0.70 = 2.8% of 10 000 = 280 USDT, spent as a
    # quote amount; the least it buys is 280 / (40 000 + the 0.5% slippage allowance), down to the 0.00001 step.
    decision = evaluate_entry(signal(confidence=0.8), context(), RULES, CONFIG, NOW)
    assert decision.action is DecisionAction.ENTER
    assert decision.quantity == D("0.00696")
    assert decision.quote_amount == D("280")
    assert decision.take_profit_price == D("40600.00") and decision.stop_price == D("39680.00")
    assert decision.reference_price == D("40000") and decision.clamps == ()
    assert any(r.rule is RuleId.SIZING_KELLY and r.kind is ReasonKind.NOTE and "prior" in r.message
               for r in decision.reasons)


def test_estimate_replaces_the_prior_after_enough_trades() -> None:
    stats = {StrategyName("momentum"): (40, 0.2)}  # ½ × 0.2 × 1.0 × 0.25 = 2.5%
    decision = evaluate_entry(signal(strategy=StrategyName("momentum")), context(stats=stats), RULES, CONFIG, NOW)
    assert decision.quote_amount == D("250")


def test_position_cap_binds_with_a_clamp_event() -> None:
    stats = {StrategyName("scalping"): (100, 1.0)}  # ½ × 1.0 × 0.7 = 35% > 12%
    decision = evaluate_entry(signal(), context(stats=stats), RULES, CONFIG, NOW)
    assert decision.quote_amount == D("1200")
    assert rules_of(decision) == ["risk.max_position_size_pct"]
    clamp = decision.clamps[0]
    assert clamp.source == "risk" and clamp.field == "quote_amount" and D(clamp.applied) == D("1200")


def test_position_ceiling_binds_even_when_config_was_built_around_validation() -> None:
    loose = ExecutorConfig.model_construct(risk=RiskConfig.model_construct(
        **{**RiskConfig().model_dump(), "max_position_size_pct": 80.0, "kelly_fraction": 1.0}))
    stats = {StrategyName("scalping"): (100, 1.0)}
    decision = evaluate_entry(signal(), context(stats=stats), RULES, loose, NOW)
    assert decision.quote_amount == D("2500")  # 25% ceiling, not 70% or 80%
    assert rules_of(decision) == ["risk.ceiling.max_position_size_pct"]


def test_free_balance_cap_leaves_room_for_the_fee() -> None:
    decision = evaluate_entry(signal(confidence=1.0), context(free="100.10"), RULES, CONFIG, NOW)
    assert "risk.free_balance" in rules_of(decision)
    assert decision.quote_amount * (1 + CONFIG.risk.fee_rate) <= D("100.10")
    assert decision.quote_amount == D("0.0025") * D("40000")


def test_total_exposure_cap() -> None:
    decision = evaluate_entry(signal(), context(exposure="5900"), RULES, CONFIG, NOW)  # room 100 of 6 000
    assert "risk.max_total_exposure_pct" in rules_of(decision)
    assert decision.quote_amount <= D("100")
    full = evaluate_entry(signal(), context(exposure="6000"), RULES, CONFIG, NOW)
    assert full.action is DecisionAction.SKIP and full.reasons[-1].rule is RuleId.MAX_TOTAL_EXPOSURE


def test_below_min_notional_skips_and_never_raises_the_size() -> None:
    decision = evaluate_entry(signal(confidence=0.01), context(), RULES, CONFIG, NOW)  # 3.5 USDT < 5
    assert decision.action is DecisionAction.SKIP and decision.quantity == 0
    assert any(r.rule is RuleId.MIN_SIZE and "minNotional" in r.message and "never raised" in r.message
               for r in decision.reasons)


def test_below_min_qty_skips() -> None:
    rules = btc_rules(min_qty=D("0.01"), min_notional=D("0"))
    decision = evaluate_entry(signal(), context(), rules, CONFIG, NOW)  # 0.00875 < 0.01
    assert decision.action is DecisionAction.SKIP and any(r.rule is RuleId.MIN_SIZE and "minQty" in r.message
                                                           for r in decision.reasons)


def test_max_notional_and_max_qty_cap_with_clamp_events() -> None:
    rules = btc_rules(max_notional=D("100"))
    decision = evaluate_entry(signal(), context(), rules, CONFIG, NOW)
    assert rules_of(decision) == ["filters.max_notional"] and decision.action is DecisionAction.ENTER
    # The take-profit leg (worth more than the entry) must fit maxNotional too, or the OCO would be refused.
    assert decision.take_profit_price is not None and decision.quantity * decision.take_profit_price <= D("100")
    assert decision.quantity == D("0.00245") and decision.quote_amount == D("98.52216748")  # 100 / 1.015
    rules = btc_rules(max_qty=D("0.002"))
    decision = evaluate_entry(signal(), context(), rules, CONFIG, NOW)
    assert decision.quantity == D("0.002") and rules_of(decision) == ["filters.max_qty"]
    assert decision.quote_amount == D("80")  # what maxQty costs at the reference: no fill at or above it buys more


def test_weekly_breaker_halves_signal_sizes() -> None:
    breakers, _ = update_breakers(BreakerState.initial(10_000.0, NOW), 9_400.0, NOW + MS_PER_HOUR,
                                  RiskConfig(daily_loss_limit_pct=10.0), equity_before=10_000.0)
    ctx = context(equity="9400", breakers=breakers)
    decision = evaluate_entry(signal(time_ms=NOW + MS_PER_HOUR), ctx, RULES, CONFIG, NOW + MS_PER_HOUR)
    assert decision.quote_amount == D("164.5")  # 9 400 × 3.5% × 0.5
    assert any("breaker 0.50" in r.message for r in decision.reasons)


def test_stop_that_rounds_up_to_the_price_is_refused() -> None:
    rules = btc_rules(tick_size=D("100"), min_price=D("100"))
    decision = evaluate_entry(signal(sl="0.1"), context(), rules, CONFIG, NOW)
    assert decision.action is DecisionAction.SKIP and decision.reasons[-1].rule is RuleId.STOP_NOT_BELOW_PRICE


def test_rules_for_another_symbol_are_refused() -> None:
    with pytest.raises(InvalidRiskInput):
        evaluate_entry(signal(symbol="ETHUSDT"), context(), RULES, CONFIG, NOW)


def test_account_values_are_validated() -> None:
    with pytest.raises(InvalidRiskInput):
        context(free="-1")
    with pytest.raises(InvalidRiskInput):
        context(equity="NaN")


@pytest.mark.parametrize(("kwargs", "rule", "needle"), [
    ({"paused": {"BTCUSDT": NOW + 1}}, RuleId.PAUSE_SYMBOL, "BTCUSDT paused until"),
    ({"paused": {ALL_SYMBOLS: NOW + 1}}, RuleId.PAUSE_EVERY_SYMBOL, "every symbol paused"),
    ({"all_paused_until": NOW + 1}, RuleId.PAUSE_ALL, "all entries paused"),
    ({"outages": {"BTCUSDT": "no book for 30 s"}}, RuleId.DATA_OUTAGE, "DATA_OUTAGE"),
    ({"open_symbols": frozenset({"BTCUSDT"})}, RuleId.ONE_POSITION_PER_SYMBOL, "already has an open position"),
    ({"pending_symbols": frozenset({"BTCUSDT"})}, RuleId.ONE_POSITION_PER_SYMBOL, "already in flight"),
])
def test_each_blocker_skips_with_its_reason(kwargs: dict[str, object], rule: RuleId, needle: str) -> None:
    ctx = context(**kwargs)  # type: ignore[arg-type]
    blockers = entry_blockers("BTCUSDT", ctx, CONFIG, NOW)
    assert any(b.rule is rule and b.kind is ReasonKind.REFUSAL and needle in b.message for b in blockers), blockers
    decision = evaluate_entry(signal(), ctx, RULES, CONFIG, NOW)
    assert decision.action is DecisionAction.SKIP and any(r.rule is rule and needle in r.message
                                                          for r in decision.reasons)


def test_expired_pauses_and_other_symbols_do_not_block() -> None:
    ctx = context(paused={"BTCUSDT": NOW, "ETHUSDT": NOW + 10}, outages={"ETHUSDT": "stale"},
                  open_symbols=frozenset({"ETHUSDT"}), all_paused_until=NOW)
    assert entry_blockers("BTCUSDT", ctx, CONFIG, NOW) == []


def test_breaker_pause_and_kill_block_entries() -> None:
    paused, _ = update_breakers(BreakerState.initial(10_000.0, NOW), 9_700.0, NOW + 1, CONFIG.risk,
                                equity_before=10_000.0)
    assert entry_blockers("BTCUSDT", context(breakers=paused), CONFIG, NOW + 2)[0].rule is RuleId.BREAKER_DAILY_LOSS
    killed, _ = update_breakers(BreakerState.initial(10_000.0, NOW), 8_000.0, NOW + 1, CONFIG.risk,
                                equity_before=10_000.0)
    assert entry_blockers("BTCUSDT", context(breakers=killed), CONFIG, NOW + 2)[0].rule is RuleId.BREAKER_DRAWDOWN_KILL


def test_advice_is_applied_last_and_only_tightens() -> None:
    veto = [Advice(source="analyzer", symbol="BTCUSDT", action=AdviceAction.VETO, reason="conflict",
                   issued_ms=NOW, expires_ms=NOW + 60_000)]
    assert evaluate_entry(signal(), context(), RULES, CONFIG, NOW, veto).action is DecisionAction.SKIP
    enlarge = [Advice(source="scout", symbol="BTCUSDT", action=AdviceAction.APPROVE, size_multiplier=4.0,
                      stop_loss_pct=D("5"), issued_ms=NOW, expires_ms=NOW + 60_000)]
    plain = evaluate_entry(signal(), context(), RULES, CONFIG, NOW)
    advised = evaluate_entry(signal(), context(), RULES, CONFIG, NOW, enlarge)
    assert advised.quantity == plain.quantity and advised.stop_price == plain.stop_price
    assert rules_of(advised) == ["advice.size_multiplier_max_1", "advice.stop_no_wider"]


def test_manual_entry_uses_the_request_as_an_upper_bound_and_every_cap() -> None:
    small = evaluate_manual_entry("BTCUSDT", D("100"), D("2"), D("1"), D("40000"), context(), RULES, CONFIG, NOW)
    assert small.action is DecisionAction.ENTER and small.strategy is None
    assert small.quote_amount == D("100") and small.quantity == D("0.00248")  # at 40 000 + 0.5% at worst
    assert small.take_profit_price == D("40800.00") and small.stop_price == D("39600.00")
    big = evaluate_manual_entry("BTCUSDT", D("5000"), D("2"), D("1"), D("40000"), context(), RULES, CONFIG, NOW)
    assert big.quote_amount == D("1200") and rules_of(big) == ["risk.max_position_size_pct"]


def test_manual_entry_obeys_blockers_and_refuses_nonsense() -> None:
    blocked = evaluate_manual_entry("BTCUSDT", D("100"), D("2"), D("1"), D("40000"),
                                    context(open_symbols=frozenset({"BTCUSDT"})), RULES, CONFIG, NOW)
    assert blocked.action is DecisionAction.SKIP
    for amount, tp, sl, price in ((D("0"), D("2"), D("1"), D("40000")), (D("100"), D("0"), D("1"), D("40000")),
                                  (D("100"), D("2"), D("100"), D("40000")), (D("100"), D("2"), D("1"), D("-1"))):
        decision = evaluate_manual_entry("BTCUSDT", amount, tp, sl, price, context(), RULES, CONFIG, NOW)
        assert decision.action is DecisionAction.SKIP and decision.reasons[-1].rule is RuleId.INVALID_REQUEST


def test_manual_entry_is_shrunk_by_the_weekly_breaker() -> None:
    breakers, _ = update_breakers(BreakerState.initial(10_000.0, NOW), 9_400.0, NOW + 1,
                                  RiskConfig(daily_loss_limit_pct=10.0), equity_before=10_000.0)
    decision = evaluate_manual_entry("BTCUSDT", D("400"), D("2"), D("1"), D("40000"),
                                     context(equity="9400", breakers=breakers), RULES, CONFIG, NOW + 1)
    assert decision.quote_amount == D("200") and rules_of(decision) == ["risk.weekly_size_multiplier"]


def test_real_exchange_info_rules() -> None:
    doc = json.loads(fixture_path("rest", "nautilus_btcusdt_2021-10", "http_spot_market_exchange_info.json")
                     .read_text())
    rules = rules_from_exchange_info(doc)["BTCUSDT"]
    decision = evaluate_entry(signal(price="62345.67"), context(), rules, CONFIG, NOW)
    assert decision.action is DecisionAction.ENTER
    assert decision.quote_amount == D("350")
    assert decision.quantity == D("0.00558")  # 350 / (62 345.67 × 1.005) = 0.005586…, down to the 0.00001 step
    assert decision.stop_price == D("61846.91") and decision.take_profit_price == D("63280.86")
    tiny = evaluate_entry(signal(price="62345.67", confidence=0.02), context(), rules, CONFIG, NOW)
    assert tiny.action is DecisionAction.SKIP and any(r.rule is RuleId.MIN_SIZE and "MIN_NOTIONAL" in r.message
                                                       for r in tiny.reasons)


# ---- property: no input makes a size exceed any cap -------------------------------------------------

steps = st.sampled_from([D("0.00001000"), D("0.001"), D("1"), D("0.1"), D("0.00000001")])


@st.composite
def gate_inputs(draw: st.DrawFn) -> tuple[object, ...]:
    equity = draw(st.sampled_from([D("0.01"), D("50"), D("1000"), D("25000"), D("10000000")])
                  | st.decimals(min_value=D("0.01"), max_value=D("10000000"), places=2))
    free_share = draw(st.sampled_from([D("1"), D("0.5"), D("0.02")]) | st.decimals(min_value=D("0"),
                                                                                  max_value=D("1.5"), places=3))
    exposure_share = draw(st.sampled_from([D("0"), D("0.3")]) | st.decimals(min_value=D("0"), max_value=D("1"),
                                                                            places=3))
    free = (equity * free_share).quantize(D("0.01"))
    exposure = (equity * exposure_share).quantize(D("0.01"))
    step = draw(steps)
    rules = SymbolRules(symbol="BTCUSDT", status="TRADING", base_asset="BTC", quote_asset="USDT",
                        tick_size=D("0.01"), step_size=step, min_qty=draw(st.sampled_from([D(0), step])),
                        min_notional=draw(st.sampled_from([D(0), D("5"), D("10")])))
    risk = RiskConfig.model_construct(**{
        **RiskConfig().model_dump(),
        "max_position_size_pct": draw(st.floats(0.1, 100.0)),  # above the 25% ceiling too (around validation)
        "max_total_exposure_pct": draw(st.floats(0.1, 150.0)),
        "kelly_fraction": draw(st.floats(0.01, 3.0)),
    })
    cfg = ExecutorConfig.model_construct(risk=risk, strategies=ExecutorConfig().strategies)
    price = draw(st.sampled_from([D("0.01"), D("0.25"), D("1.37"), D("40000")])
                 | st.decimals(min_value=D("0.01"), max_value=D("100000"), places=2))
    stats = {StrategyName("scalping"): (draw(st.integers(0, 100)), draw(st.none() | st.floats(-1.0, 2.0)))}
    return equity, free, exposure, rules, cfg, price, stats


def assert_within_caps(decision: Decision, equity: Decimal, free: Decimal, exposure: Decimal, rules: SymbolRules,
                       cfg: ExecutorConfig) -> None:
    if decision.action is not DecisionAction.ENTER:
        assert decision.quantity == 0 and decision.quote_amount == 0
        return
    ref = decision.reference_price
    assert ref is not None
    spent = decision.quote_amount  # a quoteOrderQty: the most the entry can cost, whatever its fill price
    worst = ref * (100 + cfg.risk.entry_slippage_allowance_pct) / 100
    assert decision.quantity * worst <= spent
    position_pct = min(D(repr(cfg.risk.max_position_size_pct)), D(25))
    exposure_pct = min(D(repr(cfg.risk.max_total_exposure_pct)), D(90))
    assert spent * 100 <= equity * position_pct
    assert spent <= equity * D("0.25")
    assert spent * (1 + cfg.risk.fee_rate) <= free
    assert (exposure + spent) * 100 <= equity * exposure_pct
    assert decision.quantity >= rules.min_qty and decision.quantity > 0
    assert decision.quantity * worst >= rules.min_notional
    if rules.step_size > 0:
        assert decision.quantity % rules.step_size == 0


@given(inputs=gate_inputs(), confidence=st.sampled_from([1.0, 0.6]) | st.floats(0.0, 1.0))
def test_property_signal_size_never_exceeds_any_cap(inputs: tuple[object, ...], confidence: float) -> None:
    equity, free, exposure, rules, cfg, price, stats = inputs
    ctx = context(equity=str(equity), free=str(free), exposure=str(exposure), stats=stats)  # type: ignore[arg-type]
    decision = evaluate_entry(signal(price=str(price), confidence=confidence), ctx, rules, cfg, NOW)  # type: ignore[arg-type]
    assert_within_caps(decision, equity, free, exposure, rules, cfg)  # type: ignore[arg-type]


@given(inputs=gate_inputs(), requested=st.decimals(min_value=D("0.01"), max_value=D("100000000"), places=2))
def test_property_manual_size_never_exceeds_any_cap_or_the_request(inputs: tuple[object, ...],
                                                                    requested: Decimal) -> None:
    equity, free, exposure, rules, cfg, price, _ = inputs
    ctx = context(equity=str(equity), free=str(free), exposure=str(exposure))
    decision = evaluate_manual_entry("BTCUSDT", requested, D("2"), D("1"), price, ctx, rules, cfg, NOW)  # type: ignore[arg-type]
    assert_within_caps(decision, equity, free, exposure, rules, cfg)  # type: ignore[arg-type]
    assert decision.quote_amount <= requested


def test_a_symbol_without_quote_amount_market_orders_is_refused_with_the_rule() -> None:
    rules = btc_rules(quote_order_qty_market_allowed=False)
    decision = evaluate_entry(signal(), context(), rules, CONFIG, NOW)
    assert decision.action is DecisionAction.SKIP
    assert any(r.rule is RuleId.QUOTE_ORDER_QTY and "BTCUSDT" in r.message for r in decision.reasons)


@pytest.mark.parametrize("missing", ["MARKET", "STOP_LOSS_LIMIT"])
def test_a_symbol_that_could_not_be_bought_at_market_or_protected_by_a_stop_is_refused(missing: str) -> None:
    listed = frozenset({"LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT"} - {missing})
    rules = btc_rules(order_types=listed)
    for decision in (evaluate_entry(signal(), context(), rules, CONFIG, NOW),
                     evaluate_manual_entry("BTCUSDT", D("100"), D("2"), D("1"), D("40000"), context(), rules, CONFIG,
                                           NOW)):
        assert decision.action is DecisionAction.SKIP
        assert any(r.rule is RuleId.ORDER_TYPES and missing in r.message for r in decision.reasons)
    allowed = btc_rules(order_types=listed | {missing})
    assert evaluate_entry(signal(), context(), allowed, CONFIG, NOW).action is DecisionAction.ENTER


def test_the_least_quantity_counts_the_slippage_allowance() -> None:
    # 12 USDT buys 0.0003 BTC at 40 000 (0.00029 kept after the fee) but only 0.00029 at 40 200 (0.00028 kept):
    # with a 0.00029 minimum that fill could not be protected, so the entry is refused rather than sent.
    rules = btc_rules(min_qty=D("0.00029"))
    decision = evaluate_manual_entry("BTCUSDT", D("12"), D("2"), D("1"), D("40000"), context(), rules, CONFIG, NOW)
    assert decision.action is DecisionAction.SKIP
    assert any(r.rule is RuleId.TOO_SMALL_TO_PROTECT for r in decision.reasons)
    loose = CONFIG.model_copy(update={"risk": CONFIG.risk.model_copy(update={"entry_slippage_allowance_pct": D(0)})})
    assert evaluate_manual_entry("BTCUSDT", D("12"), D("2"), D("1"), D("40000"), context(), rules, loose,
                                 NOW).action is DecisionAction.ENTER
