"""Shared by the gate and the advice clamp: a log of clamps with their reasons, and turning a decision into a skip."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from core.types import ClampEvent, Decision, DecisionAction

ZERO = Decimal(0)


@dataclass(slots=True)
class ClampLog:
    """Clamps and reasons gathered while one decision is made, in the order the rules fired."""

    symbol: str
    clamps: list[ClampEvent] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def record(self, rule: str, field_name: str, requested: object, applied: object, source: str, why: str) -> None:
        self.clamps.append(ClampEvent(rule=rule, field=field_name, requested=str(requested), applied=str(applied),
                                      source=source, symbol=self.symbol))
        self.reasons.append(f"{rule}: {field_name} {requested} -> {applied} ({why})")

    def note(self, reason: str) -> None:
        self.reasons.append(reason)

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
