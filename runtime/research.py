"""Scout intel and analyzer verdicts as research items for the Discord research webhook (DISCORD_WEBHOOK_RESEARCH).

Both go through the journal's outbox (`runtime.alerting.ResearchQueue`), so posting never blocks a round or an
entry and a running `run` delivers them at least once. The scouts run on their own thread: their poster opens
its own journal connection for each round's intel, never the engine's. Model output is data: rationale and
reasons are sent as text that the research renderer escapes (`reports.embeds`), never as markup or mentions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from core.research import ResearchItem, ResearchKind
from core.types import Decision
from memory.journal import Journal
from reports.notify import Notifier
from runtime.alerting import ResearchQueue
from runtime.home import Home
from scouts.analyzer import Review, VerdictHook
from scouts.intel import Intel
from scouts.round import PostIntel

SUMMARY_CHARS = 1_000  # a rationale or a reason, cut: the embed's description allows more, a reader wants less


def intel_item(model: str, intel: Intel, now_ms: int) -> ResearchItem:
    """One scout's view of one symbol, keyed by model, symbol and time: the same round posted twice is one item."""
    return ResearchItem(
        kind=ResearchKind.INTEL, key=f"{model}:{intel.symbol}:{now_ms}", time_ms=now_ms, source=f"scout:{model}",
        title=f"{intel.symbol}: {intel.bias.value} ({intel.confidence:.2f})",
        summary=intel.rationale[:SUMMARY_CHARS], symbol=intel.symbol,
        fields=(("horizon", f"{intel.horizon_min} min"), ("stale after", f"{intel.expires_in_min} min")))


def verdict_item(review: Review, decision: Decision, now_ms: int) -> ResearchItem:
    """The analyzer's verdict on one entry (or the fallback applied without one), keyed by symbol and time."""
    answer = review.answer
    verdict = answer.verdict.value if answer is not None else f"fallback ({review.advice.action.value})"
    fields: list[tuple[str, str]] = [("why reviewed", review.cause.value),
                                     ("proposed", f"{decision.quote_amount} quote")]
    if answer is not None and answer.size_quote is not None:
        fields.append(("reduce to", f"{answer.size_quote} quote"))
    if answer is not None:
        fields.append(("rules", ", ".join(rule.value for rule in answer.rule_ids)))
    summary = answer.reason if answer is not None else (review.fallback_reason or "")
    return ResearchItem(
        kind=ResearchKind.VERDICT, key=f"{decision.symbol}:{now_ms}", time_ms=now_ms, source="analyzer",
        title=f"{decision.symbol}: {verdict}", summary=summary[:SUMMARY_CHARS], symbol=decision.symbol,
        fields=tuple(fields))


def intel_poster(home: Home, research: Notifier | None, now_ms: Callable[[], int]) -> PostIntel | None:
    """What a scout schedule posts accepted intel with; None without a research webhook."""
    if research is None:
        return None

    def post(model: str, intel: Sequence[Intel]) -> None:
        now = now_ms()
        with Journal(home.journal) as journal:
            queue = ResearchQueue(journal, research)
            for item in intel:
                queue.publish(intel_item(model, item, now))

    return post


def verdict_poster(queue: ResearchQueue, now_ms: Callable[[], int]) -> VerdictHook | None:
    """What the analyzer posts its verdicts with, on the engine's own journal; None without a research webhook."""
    if not queue.enabled:
        return None

    def post(review: Review, decision: Decision) -> None:
        queue.publish(verdict_item(review, decision, now_ms()))

    return post
