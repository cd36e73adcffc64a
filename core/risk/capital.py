"""How much capital may be deployed at once: MAX_TOTAL_EXPOSURE_PCT of equity, and with
CAPITAL_RULE=base_plus_profits also a budget that grows only with realized profits:

    base    = BASE_DEPLOY_PCT % × the starting capital
    budget  = max(base + realized P&L since the start, 0)     (a loss shrinks it; it never goes below 0)
    limit   = min(budget, MAX_TOTAL_EXPOSURE_PCT % × equity)  (the exposure cap and its code ceiling still hold)

Exact Decimal arithmetic with rounding toward minus infinity, so no rounding lifts the limit. The rule that
binds (the budget or the exposure cap) is named with its values in every clamp and refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, localcontext

from core.config import CapitalRule, RiskConfig
from core.risk.decision import ZERO
from core.risk.errors import InvalidRiskInput
from core.types import RuleId

_HUNDRED = Decimal(100)
_DIGITS = 40


@dataclass(frozen=True, slots=True)
class DeployLimit:
    """The most capital that may be deployed at once, and the rule (with its values) that sets it."""

    limit: Decimal
    rule: RuleId
    why: str


def deploy_limit(rule: CapitalRule, equity: Decimal, exposure_pct: Decimal, exposure_rule: RuleId,
                 starting_capital: Decimal, realized_pnl: Decimal, risk: RiskConfig) -> DeployLimit:
    """`exposure_pct` is MAX_TOTAL_EXPOSURE_PCT after its code ceiling, `exposure_rule` the rule that names it."""
    for name, value in (("equity", equity), ("starting_capital", starting_capital), ("realized_pnl", realized_pnl)):
        if not value.is_finite():
            raise InvalidRiskInput(name, value, "finite", "the capital rule needs finite Decimals")
    with localcontext(prec=_DIGITS, rounding=ROUND_FLOOR):
        exposure_cap = equity * exposure_pct / _HUNDRED
        exposure_why = f"{exposure_pct}% of equity {equity} = {exposure_cap}"
        match rule:
            case CapitalRule.OFF:
                return DeployLimit(exposure_cap, exposure_rule, exposure_why)
            case CapitalRule.BASE_PLUS_PROFITS:
                base_pct = Decimal(repr(float(risk.base_deploy_pct)))
                if not ZERO < base_pct <= _HUNDRED:
                    raise InvalidRiskInput("base_deploy_pct", base_pct, "(0, 100]", "a share of the starting capital")
                base = starting_capital * base_pct / _HUNDRED
                budget = max(base + realized_pnl, ZERO)
                budget_why = (f"BASE_DEPLOY_PCT {base_pct}% of starting capital {starting_capital} = {base}, "
                              f"plus realized P&L {realized_pnl} since the start = {budget}")
                if budget < exposure_cap:
                    return DeployLimit(budget, RuleId.CAPITAL_BASE_PLUS_PROFITS,
                                       f"{budget_why} (below the exposure cap {exposure_why})")
                return DeployLimit(exposure_cap, exposure_rule, f"{exposure_why} (below the capital rule's "
                                   f"{budget_why})")
            case _:
                raise InvalidRiskInput("capital_rule", rule, [r.value for r in CapitalRule], "unknown capital rule")
