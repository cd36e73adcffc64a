"""The red-team corpus (issue 13, section 6) and what every case is checked against.

`redteam_corpus.json` is data: each case is a list of scripted replies the loopback fake serves
(`tests.fakes.openai_compat.Reply` fields), the dialect of the server (DeepSeek's or LM Studio's), optional
text from outside that goes into the prompt as a tool result, and the expected outcome: the client's result
(ok / invalid / unavailable, with its reason) and what the answer does to a sized BTCUSDT entry through the
risk engine (unchanged, shrunk or skipped). Whatever the case, the entry is never larger, its stop never
wider and its take-profit never higher than the deterministic rules alone decide.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.config import ExecutorConfig
from core.risk.gate import evaluate_entry
from core.types import MAX_ADVICE_PAUSE_MINUTES, Advice, AdviceAction, Decision, DecisionAction, Symbol
from scouts.llm.fence import fence
from scouts.llm.results import Invalid, LlmResult, Ok, Unavailable
from tests.core.test_risk_support import MONDAY_MS, btc_rules, context, signal
from tests.fakes.openai_compat import Mode, Reply

CORPUS_PATH = Path(__file__).with_name("redteam_corpus.json")
SOURCE = "redteam"
CONFIG = ExecutorConfig()
RULES = btc_rules()


ADVICE_LIFE_MS = 3_600_000


class AdviceAnswer(BaseModel):
    """What a model is asked for: the fields of `core.types.Advice` a model may fill (not its source)."""

    model_config = ConfigDict(extra="forbid")

    symbol: Symbol | None = None
    action: AdviceAction
    size_multiplier: float = Field(default=1.0, allow_inf_nan=False)
    stop_loss_pct: Decimal | None = Field(default=None, allow_inf_nan=False)
    take_profit_pct: Decimal | None = Field(default=None, allow_inf_nan=False)
    pause_minutes: int | None = Field(default=None, ge=0)
    reason: str = ""

    def advice(self) -> Advice:
        """As the analyzer makes advice of an answer: issued now, live an hour, a pause cut to the longest allowed."""
        fields = self.model_dump()
        if fields["pause_minutes"] is not None:
            fields["pause_minutes"] = min(fields["pause_minutes"], MAX_ADVICE_PAUSE_MINUTES)
        return Advice(source=SOURCE, issued_ms=MONDAY_MS, expires_ms=MONDAY_MS + ADVICE_LIFE_MS, **fields)


EXAMPLE = AdviceAnswer(symbol="BTCUSDT", action=AdviceAction.SHRINK, size_multiplier=0.5, reason="example")
SYSTEM = ("You review a proposed spot entry. You may approve it, shrink it, skip it, pause the symbol or veto it. "
          "Answer in json.")


class OrderEffect(StrEnum):
    UNCHANGED = "unchanged"
    SHRUNK = "shrunk"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Expect:
    outcome: str  # ok / invalid / unavailable
    reason: str | None  # the InvalidReason or UnavailableReason value
    order: OrderEffect


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    kind: str
    mode: Mode
    replies: tuple[Reply, ...]
    expect: Expect
    outside: str | None = None
    env: dict[str, str] = field(default_factory=dict)


def load_corpus(path: Path = CORPUS_PATH) -> list[Case]:
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    cases = []
    for raw in doc["cases"]:
        expect = raw["expect"]
        cases.append(Case(id=raw["id"], kind=raw["kind"], mode=Mode(raw["dialect"]),
                          replies=tuple(Reply.from_dict(r) for r in raw["replies"]),
                          expect=Expect(expect["outcome"], expect["reason"], OrderEffect(expect["order"])),
                          outside=raw.get("outside"), env=dict(raw.get("env", {}))))
    return cases


def messages_for(outside: str | None) -> list[dict[str, str]]:
    """The prompt: our instruction, then the outside text fenced as data (what a scout's tool result becomes)."""
    user = "Proposed entry: BTCUSDT, scalping, 1.5 % take-profit, 0.8 % stop."
    if outside is not None:
        user += "\n" + fence("tool result of scan", outside)
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def outcome_of(result: LlmResult[AdviceAnswer]) -> tuple[str, str | None]:
    match result:
        case Ok():
            return "ok", None
        case Invalid(reason=reason):
            return "invalid", reason.value
        case Unavailable(reason=reason):
            return "unavailable", reason.value
        case _:
            raise AssertionError(f"not an LLM result: {result!r}")


def advice_of(result: LlmResult[AdviceAnswer]) -> list[Advice]:
    """Only a validated answer becomes advice; an invalid or missing one gives none."""
    return [result.value.advice()] if isinstance(result, Ok) else []


def baseline() -> Decision:
    """The entry the deterministic rules alone decide (no advice)."""
    return evaluate_entry(signal(), context(), RULES, CONFIG, MONDAY_MS)


def advised(advice: list[Advice]) -> Decision:
    return evaluate_entry(signal(), context(), RULES, CONFIG, MONDAY_MS, advice)


def effect(before: Decision, after: Decision) -> OrderEffect:
    if after.action is not DecisionAction.ENTER:
        return OrderEffect.SKIPPED
    return OrderEffect.SHRUNK if after.quantity < before.quantity else OrderEffect.UNCHANGED


def assert_never_looser(before: Decision, after: Decision) -> None:
    """The advised entry is no larger, its stop no wider and its take-profit no higher than the baseline's."""
    assert before.action is DecisionAction.ENTER
    if after.action is not DecisionAction.ENTER:
        return
    assert after.quantity <= before.quantity and after.quote_amount <= before.quote_amount
    assert after.stop_price is not None and before.stop_price is not None
    assert after.stop_price >= before.stop_price
    assert after.take_profit_price is not None and before.take_profit_price is not None
    assert after.take_profit_price <= before.take_profit_price


@dataclass(frozen=True, slots=True)
class ScoutCase:
    """A scout round against scripted answers: the advice it may submit ("pause BTCUSDT"), the rule ids of
    what it refuses, and whether the round fails."""

    id: str
    kind: str
    tool_use: bool
    replies: tuple[Reply, ...]
    advice: tuple[str, ...]
    rejections: tuple[str, ...]
    failed: bool


def load_scout_corpus(path: Path = CORPUS_PATH) -> list[ScoutCase]:
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return [ScoutCase(id=raw["id"], kind=raw["kind"], tool_use=raw["tool_use"],
                      replies=tuple(Reply.from_dict(r) for r in raw["replies"]),
                      advice=tuple(raw["expect"]["advice"]), rejections=tuple(raw["expect"]["rejections"]),
                      failed=raw["expect"]["failed"])
            for raw in doc["scout_cases"]]


class ReviewResult(StrEnum):
    VERDICT = "verdict"  # the answer validated and was used
    FALLBACK = "fallback"  # no usable answer: ANALYZER_FALLBACK applied


@dataclass(frozen=True, slots=True)
class AnalyzerCase:
    """An adversarial answer to the analyzer's review of the baseline entry: whether it was used (its verdict) or
    the fallback applied (the journaled call's reason; None when not_json and schema are both acceptable), and
    what the review does to the entry with ANALYZER_FALLBACK=shrink."""

    id: str
    kind: str
    replies: tuple[Reply, ...]
    result: ReviewResult
    reason: str | None
    order: OrderEffect


def load_analyzer_corpus(path: Path = CORPUS_PATH) -> list[AnalyzerCase]:
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return [AnalyzerCase(id=raw["id"], kind=raw["kind"], replies=tuple(Reply.from_dict(r) for r in raw["replies"]),
                         result=ReviewResult(raw["expect"]["result"]), reason=raw["expect"]["reason"],
                         order=OrderEffect(raw["expect"]["order"]))
            for raw in doc["analyzer_cases"]]
