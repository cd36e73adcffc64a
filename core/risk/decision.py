"""Shared by the gate and the advice clamp: a log of clamps with their reasons, and turning a decision into a skip."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from core.types import ClampEvent, Decision, DecisionAction, Reason, ReasonKind, RuleId

ZERO = Decimal(0)


@dataclass(slots=True)
class ClampLog:
    """Clamps and reasons gathered while one decision is made, in the order the rules fired."""

    symbol: str
    clamps: list[ClampEvent] = field(default_factory=list)
    reasons: list[Reason] = field(default_factory=list)

    def record(self, rule: RuleId, field_name: str, requested: object, applied: object, source: str, why: str,
               *, refusal: bool = False) -> None:
        """A clamp: `field_name` went from `requested` to `applied` (a refusal when it refuses the entry)."""
        self.clamps.append(ClampEvent(rule=rule.value, field=field_name, requested=str(requested),
                                      applied=str(applied), source=source, symbol=self.symbol))
        kind = ReasonKind.REFUSAL if refusal else ReasonKind.CLAMP
        message = f"{rule}: {field_name} {requested} -> {applied} ({why})"
        self.reasons.append(Reason(rule=rule, message=message, kind=kind))

    def refuse(self, rule: RuleId, message: str) -> None:
        """`rule` refuses the entry."""
        self.reasons.append(Reason(rule=rule, message=message, kind=ReasonKind.REFUSAL))

    def note(self, rule: RuleId, message: str) -> None:
        """Explains the decision (how it was sized) without refusing or changing anything."""
        self.reasons.append(Reason(rule=rule, message=message, kind=ReasonKind.NOTE))

    def refused(self) -> bool:
        return any(reason.kind is ReasonKind.REFUSAL for reason in self.reasons)

    def applied_to(self, decision: Decision, **updates: object) -> Decision:
        return decision.model_copy(update={
            **updates,
            "reasons": decision.reasons + tuple(self.reasons),
            "clamps": decision.clamps + tuple(self.clamps),
        })


def skipped(decision: Decision, log: ClampLog) -> Decision:
    """`decision` turned into a SKIP (no amounts, no exit prices) carrying every reason and clamp so far."""
    return log.applied_to(decision, action=DecisionAction.SKIP, quote_amount=ZERO, quantity=ZERO,
                          take_profit_price=None, stop_price=None)
