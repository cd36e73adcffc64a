"""The sector guard (MAX_POSITIONS_PER_SECTOR) and the capital rule (CAPITAL_RULE=base_plus_profits)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.config import CapitalRule, ExecutorConfig, RiskConfig, env_settings, parse_setting
from core.errors import ConfigError
from core.filters import SymbolRules
from core.risk import entry_blockers, evaluate_manual_entry
from core.risk.capital import deploy_limit
from core.sectors import DEFAULT_SECTORS, Sector, parse_sector_map
from core.types import DecisionAction, ReasonKind, RuleId
from tests.core.test_risk_support import MONDAY_MS, btc_rules, context

NOW = MONDAY_MS
D = Decimal
SYMBOLS = [*sorted(DEFAULT_SECTORS), "ZZZUSDT", "QQQUSDT"]  # two symbols in no sector


def rules_for(symbol: str) -> SymbolRules:
    return btc_rules(symbol=symbol, base_asset=symbol.removesuffix("USDT"))


def test_default_map_covers_30_pairs_in_named_sectors() -> None:
    assert len(DEFAULT_SECTORS) == 30
    assert {DEFAULT_SECTORS[s] for s in ("DOGEUSDT", "ARBUSDT", "UNIUSDT", "BNBUSDT", "LTCUSDT", "FETUSDT")} == {
        Sector.MEME, Sector.L2, Sector.DEFI, Sector.EXCHANGE, Sector.PAYMENT, Sector.AI}


def test_a_third_position_in_a_sector_is_refused_naming_sector_count_and_limit() -> None:
    ctx = context(open_symbols=frozenset({"ETHUSDT"}), pending_symbols=frozenset({"SOLUSDT"}))
    reasons = entry_blockers("ADAUSDT", ctx, ExecutorConfig(), NOW)
    sector = [r for r in reasons if r.rule is RuleId.MAX_POSITIONS_PER_SECTOR]
    assert len(sector) == 1 and sector[0].kind is ReasonKind.REFUSAL
    assert "sector l1" in sector[0].message and "holds 2" in sector[0].message and "limit 2" in sector[0].message
    assert "ETHUSDT, SOLUSDT" in sector[0].message
    # another sector, a symbol in none, or a higher limit: no sector refusal
    assert not entry_blockers("DOGEUSDT", ctx, ExecutorConfig(), NOW)
    assert not entry_blockers("ZZZUSDT", ctx, ExecutorConfig(), NOW)
    assert not entry_blockers("ADAUSDT", ctx, ExecutorConfig(risk=RiskConfig(max_positions_per_sector=3)), NOW)


def test_a_sector_refusal_reaches_the_decision() -> None:
    ctx = context(open_symbols=frozenset({"BTCUSDT", "ETHUSDT"}))
    decision = evaluate_manual_entry("SOLUSDT", D("100"), D("2"), D("1"), D("40000"), ctx, rules_for("SOLUSDT"),
                                     ExecutorConfig(), NOW)
    assert decision.action is DecisionAction.SKIP
    assert RuleId.MAX_POSITIONS_PER_SECTOR in [r.rule for r in decision.reasons]


def test_the_sector_map_override_moves_adds_and_removes_symbols() -> None:
    mapping = parse_sector_map("solusdt=meme, RNDRUSDT=AI,ETHUSDT=none,")
    assert mapping["SOLUSDT"] is Sector.MEME and mapping["RNDRUSDT"] is Sector.AI and "ETHUSDT" not in mapping
    assert mapping["BTCUSDT"] is Sector.L1
    config = ExecutorConfig(sector_map=mapping)
    ctx = context(open_symbols=frozenset({"DOGEUSDT", "SOLUSDT"}))
    assert [r.rule for r in entry_blockers("PEPEUSDT", ctx, config, NOW)] == [RuleId.MAX_POSITIONS_PER_SECTOR]


@pytest.mark.parametrize("raw", ["SOLUSDT", "SOLUSDT=", "=meme", "SOL-USDT=meme", "SOLUSDT=stocks"])
def test_a_bad_sector_map_is_refused_by_name(raw: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_sector_map(raw)
    assert caught.value.setting == "SECTOR_MAP"


@settings(max_examples=200, deadline=None)
@given(limit=st.integers(1, 4),
       steps=st.lists(st.tuples(st.booleans(), st.sampled_from(SYMBOLS), st.booleans()), max_size=60))
def test_no_sequence_of_entries_leaves_more_than_the_limit_open_in_a_sector(
        limit: int, steps: list[tuple[bool, str, bool]]) -> None:
    """Entries (filled at once or left pending) and exits in any order: every sector stays at or below its limit."""
    config = ExecutorConfig(risk=RiskConfig(max_positions_per_sector=limit, max_open_positions=20))
    open_symbols: set[str] = set()
    pending: set[str] = set()
    for enter, symbol, fills in steps:
        if not enter:
            open_symbols.discard(symbol)
            pending.discard(symbol)
            continue
        ctx = context(equity="1000000", open_symbols=frozenset(open_symbols), pending_symbols=frozenset(pending))
        decision = evaluate_manual_entry(symbol, D("100"), D("2"), D("1"), D("40000"), ctx, rules_for(symbol), config,
                                         NOW)
        if decision.action is DecisionAction.ENTER:
            (open_symbols if fills else pending).add(symbol)
        for sector in Sector:
            held = [s for s in open_symbols | pending if DEFAULT_SECTORS.get(s) is sector]
            assert len(held) <= limit, (sector, held)


# The capital rule

MONEY = st.decimals(min_value=D("0"), max_value=D("1e9"), places=8, allow_nan=False, allow_infinity=False)
PNL = st.decimals(min_value=D("-1e9"), max_value=D("1e9"), places=8, allow_nan=False, allow_infinity=False)
PCT = st.floats(min_value=0.01, max_value=100, allow_nan=False)


@settings(max_examples=400, deadline=None)
@given(start=MONEY, pnl=PNL, equity=MONEY, base_pct=PCT, exposure_pct=st.floats(min_value=0.01, max_value=90))
def test_the_deploy_limit_is_the_lesser_of_the_budget_and_the_exposure_cap(
        start: Decimal, pnl: Decimal, equity: Decimal, base_pct: float, exposure_pct: float) -> None:
    risk = RiskConfig(capital_rule=CapitalRule.BASE_PLUS_PROFITS, base_deploy_pct=base_pct)
    exposure = D(repr(exposure_pct))
    got = deploy_limit(CapitalRule.BASE_PLUS_PROFITS, equity, exposure, RuleId.MAX_TOTAL_EXPOSURE, start, pnl, risk)
    with localcontext(prec=80):  # exact for these inputs
        budget = max(start * D(repr(base_pct)) / 100 + pnl, D(0))
        cap = equity * exposure / 100
    assert D(0) <= got.limit <= min(budget, cap)
    assert min(budget, cap) - got.limit <= D("1e-20") * max(budget, cap, D(1))  # only the downward rounding
    assert got.rule is (RuleId.CAPITAL_BASE_PLUS_PROFITS if budget < cap else RuleId.MAX_TOTAL_EXPOSURE)
    # a larger loss never deploys more
    worse = deploy_limit(CapitalRule.BASE_PLUS_PROFITS, equity, exposure, RuleId.MAX_TOTAL_EXPOSURE, start,
                         pnl - D("0.01"), risk)
    assert worse.limit <= got.limit
    off = deploy_limit(CapitalRule.OFF, equity, exposure, RuleId.MAX_TOTAL_EXPOSURE, start, pnl, risk)
    assert got.limit <= off.limit and off.rule is RuleId.MAX_TOTAL_EXPOSURE


@settings(max_examples=200, deadline=None)
@given(pnl=PNL.filter(lambda p: abs(p) < D("20000")), exposure=st.decimals(min_value=0, max_value=6000, places=2),
       amount=st.decimals(min_value=1, max_value=5000, places=2))
def test_an_entry_never_deploys_past_the_budget(pnl: Decimal, exposure: Decimal, amount: Decimal) -> None:
    config = ExecutorConfig(risk=RiskConfig(capital_rule=CapitalRule.BASE_PLUS_PROFITS, max_position_size_pct=25))
    ctx = replace(context(equity="10000", exposure=str(exposure)), starting_capital=D("10000"), realized_pnl=pnl)
    decision = evaluate_manual_entry("BTCUSDT", amount, D("2"), D("1"), D("40000"), ctx, btc_rules(), config, NOW)
    budget = max(D("5000") + pnl, D(0))
    if decision.action is DecisionAction.ENTER:
        assert exposure + decision.quote_amount <= min(budget, D("6000"))
    elif exposure >= min(budget, D("6000")):
        refusal = [r for r in decision.reasons if r.kind is ReasonKind.REFUSAL]
        expected = RuleId.CAPITAL_BASE_PLUS_PROFITS if budget < D("6000") else RuleId.MAX_TOTAL_EXPOSURE
        assert refusal[0].rule is expected


def test_the_refusal_says_which_part_bound_with_its_values() -> None:
    config = ExecutorConfig(risk=RiskConfig(capital_rule=CapitalRule.BASE_PLUS_PROFITS))
    ctx = replace(context(equity="9000", exposure="3000"), starting_capital=D("10000"), realized_pnl=D("-2000"))
    decision = evaluate_manual_entry("BTCUSDT", D("500"), D("2"), D("1"), D("40000"), ctx, btc_rules(), config, NOW)
    assert decision.action is DecisionAction.SKIP
    [refusal] = [r for r in decision.reasons if r.kind is ReasonKind.REFUSAL]
    assert refusal.rule is RuleId.CAPITAL_BASE_PLUS_PROFITS
    assert "BASE_DEPLOY_PCT 50.0% of starting capital 10000" in refusal.message
    assert "realized P&L -2000" in refusal.message and "= 3000" in refusal.message


def test_off_by_default_and_the_exposure_cap_still_binds_when_profits_are_large() -> None:
    assert RiskConfig().capital_rule is CapitalRule.OFF
    config = ExecutorConfig(risk=RiskConfig(capital_rule=CapitalRule.BASE_PLUS_PROFITS, max_position_size_pct=25))
    ctx = replace(context(equity="20000", exposure="11900"), starting_capital=D("10000"), realized_pnl=D("10000"))
    decision = evaluate_manual_entry("BTCUSDT", D("500"), D("2"), D("1"), D("40000"), ctx, btc_rules(), config, NOW)
    assert decision.action is DecisionAction.ENTER and decision.quote_amount == D("100")
    assert RuleId.MAX_TOTAL_EXPOSURE.value in [c.rule for c in decision.clamps]


@pytest.mark.parametrize(("variable", "raw"), [
    ("CAPITAL_RULE", "maybe"), ("CAPITAL_RULE", "1"), ("BASE_DEPLOY_PCT", "nan"), ("BASE_DEPLOY_PCT", "-5"),
    ("BASE_DEPLOY_PCT", "100.5"), ("BASE_DEPLOY_PCT", "half"), ("BASE_DEPLOY_PCT", "0"),
    ("MAX_POSITIONS_PER_SECTOR", "0"), ("MAX_POSITIONS_PER_SECTOR", "2.5"), ("MAX_POSITIONS_PER_SECTOR", "21"),
    ("MAX_POSITIONS_PER_SECTOR", "inf"), ("MAX_POSITIONS_PER_SECTOR", "two")])
def test_bad_values_are_refused_by_name(variable: str, raw: str) -> None:
    with pytest.raises(ConfigError) as caught:
        env_settings({variable: raw})
    assert caught.value.setting == variable and caught.value.details["value"] == raw


def test_good_values_parse() -> None:
    assert env_settings({"CAPITAL_RULE": " Base_Plus_Profits ", "BASE_DEPLOY_PCT": "100",
                         "MAX_POSITIONS_PER_SECTOR": "3"}) == {
        "capital_rule": CapitalRule.BASE_PLUS_PROFITS, "base_deploy_pct": 100.0, "max_positions_per_sector": 3}
    assert parse_setting("capital_rule", "off") is CapitalRule.OFF
