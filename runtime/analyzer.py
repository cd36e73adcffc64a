"""Attach the DeepSeek analyzer to a live-data engine, or say why there is none.

No DEEPSEEK_API_KEY: no analyzer, no review (entries go ahead on the deterministic rules and the scouts' advice
alone). Replays and backtests never get one: they must stay deterministic and fast. The analyzer's deadline is
ANALYZER_DEADLINE_S (it replaces DEEPSEEK_DEADLINE_S for this role): an entry never waits longer than that.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from memory.journal import Journal
from memory.redact import credential_values
from runtime.settings import AnalyzerSettings
from scouts.analyzer import Analyzer, VerdictHook
from scouts.llm.client import LlmClient
from scouts.llm.errors import LlmError
from scouts.llm.settings import LlmSettings

REVIEWED_MODES = frozenset({"paper", "testnet", "live"})


def analyzer_status(env: Mapping[str, str], mode: str) -> str:
    """One line for `status` and the start-up banner: whether entries are reviewed, and if not, why."""
    if mode not in REVIEWED_MODES:
        return f"analyzer off: {mode} runs are never reviewed"
    if not (env.get("DEEPSEEK_API_KEY") or "").strip():
        return "analyzer off: DEEPSEEK_API_KEY is not set, no entry is reviewed"
    return "analyzer on: large or conflicting entries are reviewed by DeepSeek"


def build_analyzer(env: Mapping[str, str], settings: AnalyzerSettings, journal: Journal, mode: str,
                   on_verdict: VerdictHook | None = None,
                   on_stop: Callable[[LlmError, int], None] | None = None) -> Analyzer | None:
    """The analyzer for an engine in `mode`, or None (see the module docstring)."""
    if mode not in REVIEWED_MODES or not (env.get("DEEPSEEK_API_KEY") or "").strip():
        return None
    llm = LlmSettings.from_env(env)
    role = llm.analyzer().model_copy(update={"deadline_s": settings.deadline_s,
                                             "deadline_variable": "ANALYZER_DEADLINE_S"})
    client = LlmClient(role, llm, journal, secrets=credential_values(env), on_stop=on_stop)
    return Analyzer(client, settings.min_trade_pct, settings.fallback, on_verdict)
