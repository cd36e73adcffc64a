"""Attach the DeepSeek analyzer to a live-data engine, or say why there is none.

No DEEPSEEK_API_KEY: no analyzer, no review (entries go ahead on the deterministic rules and the scouts' advice
alone). Replays and backtests never get one: they must stay deterministic and fast. The analyzer's deadline is
ANALYZER_DEADLINE_S (it replaces DEEPSEEK_DEADLINE_S for this role): an entry never waits longer than that.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from core.errors import ConfigError
from memory.journal import Journal
from memory.redact import credential_values
from reports.notify import notifiers_from_env, research_notifier_from_env
from runtime.alerting import AlertOutbox, ResearchQueue, llm_stop_hook
from runtime.commands import ReviewFactory
from runtime.research import verdict_poster
from runtime.settings import AnalyzerSettings, alert_routes, analyzer_settings
from scouts.analyzer import Analyzer, VerdictHook
from scouts.llm.errors import LlmError
from scouts.llm.settings import LlmSettings

REVIEWED_MODES = frozenset({"paper", "testnet", "live"})


class AnalyzerState(StrEnum):
    ON = "on"
    NO_KEY = "no_key"  # DEEPSEEK_API_KEY is not set
    UNREVIEWED_MODE = "unreviewed_mode"  # a replay or a backtest: never reviewed
    NOT_STARTED = "not_started"  # no engine in the home yet: nothing to review
    INVALID_SETTINGS = "invalid_settings"  # an ANALYZER_* or DeepSeek setting is refused: `run` will not start


@dataclass(frozen=True, slots=True)
class AnalyzerStatus:
    """Whether entries of an engine in `mode` are reviewed, and if not, why (for `status` and the banner)."""

    state: AnalyzerState
    message: str
    settings: AnalyzerSettings | None  # None when they could not be read

    @property
    def on(self) -> bool:
        return self.state is AnalyzerState.ON


def analyzer_status(env: Mapping[str, str], mode: str | None) -> AnalyzerStatus:
    """Whether an engine in `mode` (None: no engine yet) with this environment gets an analyzer
    (`build_analyzer`), and why not."""
    try:
        settings = analyzer_settings(env)
        llm = LlmSettings.from_env(env)
    except ConfigError as exc:
        return AnalyzerStatus(AnalyzerState.INVALID_SETTINGS, f"analyzer off: {exc.message}", None)
    if mode is None:
        return AnalyzerStatus(AnalyzerState.NOT_STARTED, "analyzer off: no engine has run in this home yet",
                              settings)
    if mode not in REVIEWED_MODES:
        return AnalyzerStatus(AnalyzerState.UNREVIEWED_MODE, f"analyzer off: {mode} runs are never reviewed",
                              settings)
    if llm.deepseek_api_key is None:
        return AnalyzerStatus(AnalyzerState.NO_KEY, "analyzer off: DEEPSEEK_API_KEY is not set, no entry is "
                                                    "reviewed", settings)
    return AnalyzerStatus(AnalyzerState.ON, f"analyzer on: entries above {settings.min_trade_pct} % of equity or "
                          f"with conflicting signals are reviewed by {llm.deepseek_model} within "
                          f"{settings.deadline_s:g} s (fallback: {settings.fallback.value})", settings)


def build_analyzer(env: Mapping[str, str], settings: AnalyzerSettings, journal: Journal, mode: str,
                   on_verdict: VerdictHook | None = None,
                   on_stop: Callable[[LlmError, int], None] | None = None) -> Analyzer | None:
    """The analyzer for an engine in `mode`, or None (see the module docstring)."""
    if mode not in REVIEWED_MODES or not (env.get("DEEPSEEK_API_KEY") or "").strip():
        return None  # the cases `analyzer_status` names
    from scouts.llm.client import LlmClient  # openai takes ~1 s to import: only an engine that is reviewed

    llm = LlmSettings.from_env(env)
    role = llm.analyzer().model_copy(update={"deadline_s": settings.deadline_s,
                                             "deadline_variable": "ANALYZER_DEADLINE_S"})
    client = LlmClient(role, llm, journal, secrets=credential_values(env), on_stop=on_stop)
    return Analyzer(client, settings.min_trade_pct, settings.fallback, on_verdict)


def analyzer_factory(env: Mapping[str, str], now_ms: Callable[[], int]) -> ReviewFactory:
    """The analyzer of an engine, given the journal it writes to and its mode: `run`'s, and that of a process that
    becomes the engine for one command (`trade` with no `run` holding the home, `runtime.commands.DirectSession`),
    alike: the same settings, its stops queued as `llm` alerts and its verdicts for the research webhook
    (DISCORD_WEBHOOK_RESEARCH), all in that journal. The settings are read only for an engine that is reviewed
    (a mode of REVIEWED_MODES, DEEPSEEK_API_KEY set): ConfigError (named) for one it cannot read."""

    def build(journal: Journal, mode: str) -> Analyzer | None:
        if mode not in REVIEWED_MODES or not (env.get("DEEPSEEK_API_KEY") or "").strip():
            return None
        stops = llm_stop_hook(AlertOutbox(journal, notifiers_from_env(env), alert_routes(env)))
        research = ResearchQueue(journal, research_notifier_from_env(env))
        return build_analyzer(env, analyzer_settings(env), journal, mode, on_verdict=verdict_poster(research, now_ms),
                              on_stop=stops)

    return build
