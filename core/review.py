"""The analyzer's review of an entry, as data: when one is asked for, what an answer may say, and how an answer
(or its absence) becomes advice that the clamp applies, so that a review can only keep or shrink an entry.

An entry is reviewed when its quote amount is above `min_trade_pct` of equity, or when its signals conflict.
Conflict, precisely: the deterministic rules say ENTER while live scout advice on the symbol shrank it or
tightened its exits (the decision carries an `advice.*` clamp whose source is not the analyzer) — the rules and
the scouts disagree, and the entry is still going ahead.

The verdict is approve, reduce (to `size_quote`) or veto, naming the `RuleId`s it relies on; an id that is not a
RuleId makes the whole answer invalid. No answer (unavailable, late, over budget, invalid) gives the fallback:
shrink to the threshold size, or skip. Either way the result is an `Advice` for `clamp_advice`: it never enlarges.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.types import Advice, AdviceAction, Decision, DecisionAction, RuleId

ANALYZER_SOURCE = "analyzer"
# A verdict only concerns the entry it reviewed: it lives one minute of engine time.
VERDICT_LIFE_MS = 60_000
HUNDRED = Decimal(100)
MAX_SIZE_QUOTE = Decimal("1e15")  # a size above any account: an answer naming one is not read as a number


class ReviewCause(StrEnum):
    LARGE = "large"  # quote amount above ANALYZER_MIN_TRADE_PCT of equity
    CONFLICT = "conflict"  # see the module docstring


class AnalyzerFallback(StrEnum):
    SHRINK = "shrink"  # cut to the threshold size
    SKIP = "skip"


class ReviewVerdict(StrEnum):
    APPROVE = "approve"
    REDUCE = "reduce"
    VETO = "veto"


class AnalyzerAnswer(BaseModel):
    """What the analyzer must answer, validated whatever the server claims."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    verdict: ReviewVerdict
    size_quote: Decimal | None = Field(default=None, ge=0, le=MAX_SIZE_QUOTE, allow_inf_nan=False)
    rule_ids: list[RuleId] = Field(min_length=1, max_length=8)
    reason: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def _reduce_names_a_size(self) -> AnalyzerAnswer:
        if self.verdict is ReviewVerdict.REDUCE and self.size_quote is None:
            raise ValueError("a reduce verdict must give size_quote")
        return self


def review_cause(decision: Decision, equity: Decimal, min_trade_pct: Decimal) -> ReviewCause | None:
    """Why `decision` must be reviewed, or None. Only ENTER decisions are ever reviewed."""
    if decision.action is not DecisionAction.ENTER:
        return None
    if equity > 0 and decision.quote_amount > equity * min_trade_pct / HUNDRED:
        return ReviewCause.LARGE
    if any(c.rule.startswith("advice.") and c.source != ANALYZER_SOURCE for c in decision.clamps):
        return ReviewCause.CONFLICT
    return None


def threshold_quote(equity: Decimal, min_trade_pct: Decimal) -> Decimal:
    return equity * min_trade_pct / HUNDRED


def _multiplier(decision: Decision, quote: Decimal) -> float:
    if decision.quote_amount <= 0:
        return 0.0
    return float(min(quote / decision.quote_amount, Decimal(1)))


def verdict_advice(decision: Decision, answer: AnalyzerAnswer, now_ms: int) -> Advice:
    """The advice an analyzer answer amounts to for this entry (the clamp then refuses anything that loosens)."""
    rules = ", ".join(r.value for r in answer.rule_ids)
    why = f"analyzer {answer.verdict.value} ({rules}): {answer.reason}".strip()
    life = {"issued_ms": now_ms, "expires_ms": now_ms + VERDICT_LIFE_MS, "source": ANALYZER_SOURCE,
            "symbol": decision.symbol, "reason": why[:500]}
    if answer.verdict is ReviewVerdict.VETO:
        return Advice(action=AdviceAction.VETO, **life)
    if answer.verdict is ReviewVerdict.REDUCE and answer.size_quote is not None:
        return Advice(action=AdviceAction.SHRINK, size_multiplier=_multiplier(decision, answer.size_quote), **life)
    return Advice(action=AdviceAction.APPROVE, **life)


def fallback_advice(decision: Decision, equity: Decimal, min_trade_pct: Decimal, fallback: AnalyzerFallback,
                    now_ms: int, why: str) -> Advice:
    """No usable answer: cut the entry to the threshold size (never up), or skip it."""
    life = {"issued_ms": now_ms, "expires_ms": now_ms + VERDICT_LIFE_MS, "source": ANALYZER_SOURCE,
            "symbol": decision.symbol, "reason": f"analyzer fallback ({fallback.value}): {why}"[:500]}
    if fallback is AnalyzerFallback.SKIP:
        return Advice(action=AdviceAction.SKIP, **life)
    multiplier = _multiplier(decision, threshold_quote(equity, min_trade_pct))
    return Advice(action=AdviceAction.SHRINK, size_multiplier=multiplier, **life)


class EntryReview(Protocol):
    """The port an engine asks before it sends a reviewed entry. The runtime gives one only when an analyzer is
    configured (DEEPSEEK_API_KEY) and the mode is not a replay or backtest; with none, nothing is reviewed.
    It must return within its deadline and never raise: its answer, or its fallback, is advice."""

    min_trade_pct: Decimal

    def __call__(self, decision: Decision, cause: ReviewCause, equity: Decimal, now_ms: int) -> Advice: ...
