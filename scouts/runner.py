"""Every configured scout, one round each: what `scouts --once` and the schedule inside `run` call.

LM Studio is asked once which models were trained for tool use; each model of `SCOUT_MODELS` then runs its
round on the path that fits it (`scouts.round`). One scout failing (not loaded, a timeout, an invalid answer)
is that scout's report, never the others' loss; LM Studio not answering at all is `ScoutServerUnreachable`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from core.advice import SubmitAdvice
from core.errors import ConfigError
from memory.journal import Journal
from scouts.llm.client import LlmClient
from scouts.llm.settings import LlmSettings
from scouts.lmstudio import tool_use_models
from scouts.round import PostIntel, RoundLimits, RoundReport, ScoutRound, ScoutTool


def round_limits(settings: LlmSettings) -> RoundLimits:
    return RoundLimits(max_turns=settings.scout_max_rounds, max_calls_per_turn=settings.scout_max_calls_per_round,
                       advice_minutes=settings.scout_advice_minutes)


async def scout_all(settings: LlmSettings, journal: Journal, tools: Sequence[ScoutTool], watched: frozenset[str],
                    submit: SubmitAdvice, now_ms: Callable[[], int], *, post_intel: PostIntel | None = None,
                    secrets: Sequence[str] = ()) -> list[RoundReport]:
    """One round of every scout of SCOUT_MODELS, one after the other (a small local server runs one model
    at a time well). ConfigError when no scout is configured; ScoutServerUnreachable when LM Studio is down."""
    roles = settings.scouts()
    if not roles:
        raise ConfigError("SCOUT_MODELS", None, "is not set: name the LM Studio model(s) the scouts use, comma "
                                                "separated (e.g. qwen2.5-3b-instruct)")
    capable = await tool_use_models(settings.lmstudio_base_url)
    reports = []
    for config in roles:
        client = LlmClient(config, settings, journal, secrets=secrets)
        scout = ScoutRound(client, journal, tools, watched, submit, round_limits(settings), now_ms, post_intel)
        reports.append(await scout.run(tool_use=capable.get(config.model, False)))
    return reports
