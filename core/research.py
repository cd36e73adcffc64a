"""Records the LLM side and the adaptive memory hand to the notifiers: research items and strategy-mix changes.

They live in `core` because their producers (`scouts/`, `memory/`) may import only `core` (and `memory`), and the
consumers that render and queue them (`reports/`, `runtime/`) import `core` too. Plain frozen values, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from core.types import StrategyName


class ResearchKind(StrEnum):
    """What a research item is: a scout's intel on a symbol or the market, or the analyzer's verdict on a trade."""

    INTEL = "intel"
    VERDICT = "verdict"


@dataclass(frozen=True, slots=True)
class ResearchItem:
    """One message for the research channel. `key` identifies the item (a scout round and symbol, a verdict's
    decision id): queueing the same key twice sends it once. `source` names who produced it (a model, a role)."""

    kind: ResearchKind
    key: str
    time_ms: int
    source: str
    title: str
    summary: str
    symbol: str | None = None
    fields: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not self.key.strip() or not self.title.strip():
            raise ValueError("a research item needs a key and a title")


@dataclass(frozen=True, slots=True)
class StrategyMixChange:
    """The share of new entries each strategy gets changed (the adaptive memory's output): before and after as
    fractions of 1, the reason, and the version of the learned configuration that holds the new mix."""

    time_ms: int
    version: int
    before: tuple[tuple[StrategyName, Decimal], ...]
    after: tuple[tuple[StrategyName, Decimal], ...]
    reason: str
