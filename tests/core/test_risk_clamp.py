"""The advice clamp (Invariant 1): advice can skip, shrink or pause, never enlarge or loosen."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from core.clock import MS_PER_MINUTE
from core.risk import ALL_SYMBOLS, advice_pauses, clamp_advice
from core.types import MAX_ADVICE_PAUSE_MINUTES, Advice, AdviceAction, Decision, DecisionAction, ReasonKind, RuleId
from tests.core.test_risk_support import MONDAY_MS, btc_rules, enter_decision

NOW = MONDAY_MS
RULES = btc_rules()
LIFE = {"issued_ms": NOW, "expires_ms": NOW + 60 * MS_PER_MINUTE}


def advise(action: AdviceAction = AdviceAction.APPROVE, **fields: object) -> Advice:
    return Advice.model_validate({"source": "scout:test", "symbol": "BTCUSDT", "action": action, **LIFE, **fields})


def rules_of(decision: Decision) -> list[str]:
    return [c.rule for c in decision.clamps]


def test_multiplier_above_one_is_clamped_to_one() -> None:
    before = enter_decision()
    after = clamp_advice(before, [advise(size_multiplier=3.0)], NOW, rules=RULES)
    assert after.action is DecisionAction.ENTER and after.quantity == before.quantity
    assert rules_of(after) == ["advice.size_multiplier_max_1"]
    assert after.clamps[0].requested == "3.0" and after.clamps[0].applied == "1.0"
    assert after.clamps[0].source == "scout:test" and after.clamps[0].symbol == "BTCUSDT"


def test_negative_or_zero_multiplier_means_skip() -> None:
    for multiplier, rule in ((-0.5, "advice.size_multiplier_negative"), (0.0, "advice.size_multiplier_zero")):
        after = clamp_advice(enter_decision(), [advise(AdviceAction.SHRINK, size_multiplier=multiplier)], NOW)
        assert after.action is DecisionAction.SKIP and after.quantity == 0
        assert rule in rules_of(after)


def test_shrink_is_conformed_to_the_lot_step() -> None:
    after = clamp_advice(enter_decision("0.05000"), [advise(AdviceAction.SHRINK, size_multiplier=0.333)], NOW,
                         rules=RULES)
    assert after.quantity == Decimal("0.01665")
    assert after.quote_amount == Decimal("0.01665") * Decimal("40000")
    assert rules_of(after) == ["advice.size_multiplier"]


def test_several_multipliers_do_not_compound_the_smallest_wins() -> None:
    advice = [advise(AdviceAction.SHRINK, size_multiplier=0.5), advise(AdviceAction.SHRINK, size_multiplier=0.8)]
    assert clamp_advice(enter_decision("0.05000"), advice, NOW, rules=RULES).quantity == Decimal("0.025")


def test_shrink_below_the_minimum_skips_rather_than_rounding_up() -> None:
    after = clamp_advice(enter_decision("0.00020"), [advise(AdviceAction.SHRINK, size_multiplier=0.5)], NOW,
                         rules=RULES)  # 0.0001 × 40000 = 4 < minNotional 5
    assert after.action is DecisionAction.SKIP
    assert any(r.rule is RuleId.ADVICE_SIZE and r.kind is ReasonKind.REFUSAL and "minNotional" in r.message
               for r in after.reasons)


def test_wider_stop_is_refused_and_tighter_stop_accepted() -> None:
    before = enter_decision(stop="39680.00")  # 0.8% below 40000
    wider = clamp_advice(before, [advise(stop_loss_pct=Decimal("2"))], NOW, rules=RULES)
    assert wider.stop_price == before.stop_price and rules_of(wider) == ["advice.stop_no_wider"]
    tighter = clamp_advice(before, [advise(stop_loss_pct=Decimal("0.5"))], NOW, rules=RULES)
    assert tighter.stop_price == Decimal("39800.00") and rules_of(tighter) == ["advice.stop_tightened"]


def test_higher_take_profit_is_refused_and_lower_accepted() -> None:
    before = enter_decision(take_profit="40600.00")  # +1.5%
    higher = clamp_advice(before, [advise(take_profit_pct=Decimal("5"))], NOW, rules=RULES)
    assert higher.take_profit_price == before.take_profit_price
    assert rules_of(higher) == ["advice.take_profit_no_higher"]
    lower = clamp_advice(before, [advise(take_profit_pct=Decimal("1"))], NOW, rules=RULES)
    assert lower.take_profit_price == Decimal("40400.00")


def test_nonsense_percentages_are_refused() -> None:
    before = enter_decision()
    unvalidated_nan = Advice.model_construct(source="scout:test", symbol="BTCUSDT", action=AdviceAction.APPROVE,
                                             size_multiplier=1.0, stop_loss_pct=Decimal("NaN"),
                                             take_profit_pct=Decimal("NaN"), pause_minutes=None, reason="")
    for advice in [advise(stop_loss_pct=pct, take_profit_pct=pct) for pct in ("-1", "0", "100")] + [unvalidated_nan]:
        after = clamp_advice(before, [advice], NOW, rules=RULES)
        assert after.stop_price == before.stop_price and after.take_profit_price == before.take_profit_price
        assert set(rules_of(after)) == {"advice.stop_price_invalid", "advice.take_profit_price_invalid"}


def test_veto_skip_and_pause_skip_the_entry() -> None:
    for action in (AdviceAction.VETO, AdviceAction.SKIP, AdviceAction.PAUSE):
        after = clamp_advice(enter_decision(), [advise(action, reason="news")], NOW)
        assert after.action is DecisionAction.SKIP
        assert rules_of(after) == [f"advice.{action.value}"]
        assert after.take_profit_price is None and after.stop_price is None


def test_advice_for_another_symbol_is_ignored_and_symbol_less_advice_applies_to_all() -> None:
    other = Advice(source="scout", symbol="ETHUSDT", action=AdviceAction.VETO, **LIFE)
    everyone = Advice(source="analyzer", symbol=None, action=AdviceAction.VETO, **LIFE)
    before = enter_decision()
    assert clamp_advice(before, [other], NOW) is before
    assert clamp_advice(before, [everyone], NOW).action is DecisionAction.SKIP


def test_approval_changes_nothing_and_exits_are_never_touched() -> None:
    before = enter_decision()
    assert clamp_advice(before, [advise()], NOW) is before
    exit_decision = before.model_copy(update={"action": DecisionAction.EXIT})
    assert clamp_advice(exit_decision, [advise(AdviceAction.VETO)], NOW) is exit_decision


def test_advice_pauses() -> None:
    pauses = advice_pauses([
        advise(AdviceAction.PAUSE, pause_minutes=30),
        advise(AdviceAction.PAUSE, pause_minutes=90),
        advise(AdviceAction.VETO),
        Advice(source="analyzer", symbol="ETHUSDT", action=AdviceAction.PAUSE, **LIFE),
        Advice(source="analyzer", symbol=None, action=AdviceAction.PAUSE, pause_minutes=5, **LIFE),
    ], NOW)
    assert pauses == {"BTCUSDT": NOW + 90 * MS_PER_MINUTE, "ETHUSDT": NOW + 60 * MS_PER_MINUTE,
                      ALL_SYMBOLS: NOW + 5 * MS_PER_MINUTE}


def test_a_pause_past_any_clock_is_refused_and_the_longest_pause_still_applies() -> None:
    # A model answered 10**30 minutes: the clamp used to format that time and crash (OverflowError).
    with pytest.raises(ValidationError):
        advise(AdviceAction.PAUSE, pause_minutes=10**30)
    longest = advise(AdviceAction.PAUSE, pause_minutes=MAX_ADVICE_PAUSE_MINUTES)
    assert clamp_advice(enter_decision(), [longest], NOW).action is DecisionAction.SKIP
    assert advice_pauses([longest], NOW) == {"BTCUSDT": NOW + MAX_ADVICE_PAUSE_MINUTES * MS_PER_MINUTE}


any_pct = st.one_of(st.none(), st.decimals(min_value=Decimal("-50"), max_value=Decimal("150"), places=3),
                    st.sampled_from([Decimal("0.0001"), Decimal("99.9999"), Decimal("0.8"), Decimal("1.5")]))
any_advice = st.builds(
    Advice, source=st.sampled_from(["scout:a", "analyzer"]), symbol=st.sampled_from(["BTCUSDT", None, "ETHUSDT"]),
    action=st.sampled_from(list(AdviceAction)),
    size_multiplier=st.floats(-5, 5, allow_nan=False) | st.sampled_from([0.0, 1.0, 1e9]),
    stop_loss_pct=any_pct, take_profit_pct=any_pct, pause_minutes=st.none() | st.integers(0, 1_440),
    issued_ms=st.just(NOW), expires_ms=st.integers(NOW + 1, NOW + 24 * 60 * MS_PER_MINUTE),
)


@given(advice=st.lists(any_advice, max_size=5), with_rules=st.booleans(),
       quantity=st.decimals(min_value=Decimal("0.00013"), max_value=Decimal("2"), places=5))
def test_property_limits_after_the_clamp_are_never_looser(advice: list[Advice], with_rules: bool,
                                                          quantity: Decimal) -> None:
    before = enter_decision(quantity=str(quantity))
    after = clamp_advice(before, advice, NOW, rules=RULES if with_rules else None)
    assert after.action in (DecisionAction.ENTER, DecisionAction.SKIP)
    assert after.quantity <= before.quantity and after.quote_amount <= before.quote_amount
    assert after.clamps[: len(before.clamps)] == before.clamps
    if after.action is DecisionAction.ENTER:
        assert before.stop_price is not None and before.take_profit_price is not None
        assert after.stop_price is not None and after.take_profit_price is not None
        ref = before.reference_price
        assert ref is not None
        assert before.stop_price <= after.stop_price < ref          # stop distance never wider
        assert ref < after.take_profit_price <= before.take_profit_price
        assert after.quantity > 0
