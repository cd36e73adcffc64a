"""What a scout says (intel) and the only thing it can become (tightening advice).

Intel is validated with pydantic (`extra="forbid"`: an answer with a field we did not ask for is refused
whole) and then symbol by symbol (`check_symbol`): a symbol must be plain ASCII, exactly as written, and one
the executor watches. Homoglyphs (a Cyrillic `В`), zero-width characters and fullwidth letters are refused as
disguised, never normalised into a real symbol.

The mapping from intel to advice (CONFIGURATION.md repeats it):

| bias      | confidence    | advice                                                         |
|-----------|---------------|----------------------------------------------------------------|
| bearish   | >= 0.8        | PAUSE the symbol (new entries refused) until the advice expires |
| bearish   | 0.6 to < 0.8  | SKIP entries on the symbol until the advice expires            |
| bearish   | 0.3 to < 0.6  | SHRINK entry sizes to (1 - confidence) of what the rules allow |
| bearish   | < 0.3         | nothing                                                        |
| neutral, bullish | any    | nothing: a scout can never enlarge or loosen anything          |

Every advice expires after the intel's own `expires_in_min`, capped at `SCOUT_ADVICE_MINUTES`. The engine's
clamp applies it again whatever it says (Invariant 1), so this mapping is a policy, not the guarantee.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.clock import MS_PER_MINUTE
from core.types import Advice, AdviceAction
from scouts.llm.fence import clean_text

MAX_INTEL_ITEMS = 20
RATIONALE_CHARS = 300
PAUSE_CONFIDENCE = 0.8
SKIP_CONFIDENCE = 0.6
SHRINK_CONFIDENCE = 0.3
ADVICE_REASON_CHARS = 200


class Bias(StrEnum):
    BULLISH = "bullish"
    BEARISH = "bearish"
    NEUTRAL = "neutral"


class Intel(BaseModel):
    """One scout's view of one symbol."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    symbol: str = Field(max_length=40, description="a watched Binance Spot symbol, e.g. BTCUSDT")
    bias: Bias
    confidence: float = Field(ge=0, le=1, allow_inf_nan=False)
    horizon_min: int = Field(ge=1, le=10_080, description="minutes the view is about")
    rationale: str = Field(max_length=2_000)
    expires_in_min: int = Field(ge=1, le=10_080, description="minutes until the view is stale")


class ScoutAnswer(BaseModel):
    """A scout's final answer: its intel, possibly none."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    intel: list[Intel] = Field(max_length=MAX_INTEL_ITEMS)


EXAMPLE_ANSWER = ScoutAnswer(intel=[Intel(
    symbol="BTCUSDT", bias=Bias.BEARISH, confidence=0.65, horizon_min=60,
    rationale="order book imbalance turned negative and momentum is falling", expires_in_min=60)])


class RejectRule(StrEnum):
    """Why part of a scout's answer was refused: what the journal records (llm_calls.rejections_json)."""

    UNKNOWN_TOOL = "scout.unknown_tool"  # a tool it was not given (trade, kill_reset, anything else)
    BAD_ARGUMENTS = "scout.bad_arguments"  # not a JSON object, or refused by the tool's published schema
    DISGUISED_SYMBOL = "scout.disguised_symbol"  # non-ASCII, invisible or lower-case characters in a symbol
    UNWATCHED_SYMBOL = "scout.unwatched_symbol"  # a well-formed symbol the executor does not watch
    TOO_MANY_CALLS = "scout.too_many_calls"  # calls past SCOUT_MAX_CALLS_PER_ROUND in one turn
    LOOP_BOUND = "scout.loop_bound"  # still calling tools after SCOUT_MAX_ROUNDS turns
    INVALID_ANSWER = "scout.invalid_answer"  # blank, not JSON, or not the intel schema


@dataclass(frozen=True, slots=True)
class Rejection:
    rule: RejectRule
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule.value, "detail": self.detail}


def check_symbol(raw: object, watched: frozenset[str]) -> str | Rejection:
    """`raw` when it is exactly a watched symbol; else why not. Nothing is normalised: a symbol that needs
    cleaning to match was disguised, and is refused as such."""
    if not isinstance(raw, str):
        return Rejection(RejectRule.BAD_ARGUMENTS, f"symbol {raw!r} is not a string")
    shown = ascii(raw)[:60]
    if raw in watched:
        return raw
    if not raw.isascii() or not raw.isalnum() or clean_text(raw, 40) != raw or raw.upper() != raw:
        return Rejection(RejectRule.DISGUISED_SYMBOL, f"symbol {shown} has characters no Binance symbol has")
    return Rejection(RejectRule.UNWATCHED_SYMBOL, f"symbol {shown} is not watched ({', '.join(sorted(watched))})")


def advice_from_intel(intel: Intel, source: str, now_ms: int, max_minutes: int) -> Advice | None:
    """The tightening advice `intel` stands for (see the table above), or None. `intel.symbol` must already be
    checked (`check_symbol`)."""
    if intel.bias is not Bias.BEARISH or intel.confidence < SHRINK_CONFIDENCE:
        return None
    minutes = max(1, min(intel.expires_in_min, max_minutes))
    expires_ms = now_ms + minutes * MS_PER_MINUTE
    reason = clean_text(f"{intel.bias.value} {intel.confidence:.2f}: {intel.rationale}", ADVICE_REASON_CHARS)
    life = {"source": source, "symbol": intel.symbol, "reason": reason, "issued_ms": now_ms, "expires_ms": expires_ms}
    if intel.confidence >= PAUSE_CONFIDENCE:
        advice = Advice(action=AdviceAction.PAUSE, pause_minutes=minutes, **life)
    elif intel.confidence >= SKIP_CONFIDENCE:
        advice = Advice(action=AdviceAction.SKIP, **life)
    else:
        multiplier = float((Decimal(1) - Decimal(repr(intel.confidence))).quantize(Decimal("0.01")))
        advice = Advice(action=AdviceAction.SHRINK, size_multiplier=multiplier, **life)
    return advice
