"""The scouts on a schedule inside `run`: one round every SCOUT_INTERVAL_MIN minutes on a daemon thread.

Trading never waits for a scout: the round runs on its own thread (its LLM calls on its own event loop, its
tools in that thread), and its advice reaches the engine only through the journal's command queue, which the
engine loop drains between events as it does a person's pause. Off when SCOUT_MODELS is empty, and never in a
replay (a replay stays deterministic and fast: no wall-clock timer, no local model). A round that fails (LM
Studio down, a model not loaded) is logged and journaled by the client; the next one runs on time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

from core.config import ExecutorConfig
from core.errors import ExecutorError
from core.types import Advice
from runtime.home import Home
from scouts.llm.settings import LlmSettings
from scouts.round import PostIntel

log = logging.getLogger("scouts")
STOP_WAIT_S = 5.0


class ScoutSchedule:
    """`start()` once `run` holds the home; `stop()` when it ends (waits a little for a round under way)."""

    def __init__(self, home: Home, config: ExecutorConfig, env: Mapping[str, str], settings: LlmSettings,
                 now_ms: Callable[[], int], post_intel: PostIntel | None = None) -> None:
        self._home = home
        self._config = config
        self._env = dict(env)
        self._interval_s = settings.scout_interval_min * 60.0
        self._now_ms = now_ms
        self._post_intel = post_intel
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="scouts", daemon=True)
        self.rounds = 0

    @staticmethod
    def wanted(settings: LlmSettings, mode: str) -> bool:
        return bool(settings.scout_models) and mode != "replay"

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> ScoutSchedule:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(STOP_WAIT_S)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.run_once()

    def run_once(self) -> None:
        """One round of every scout, its advice queued for the engine; never raises (the engine goes on)."""
        from tools.scouts import deliver_advice, run_round  # the tool layer: imported only when a round runs
        from tools.spec import ToolContext

        ctx = ToolContext(home=self._home, config=self._config, env=self._env, now_ms=self._now_ms)

        def deliver(advice: Advice) -> int | None:
            try:
                return deliver_advice(ctx, advice)
            except ExecutorError as exc:
                log.warning("scout advice not delivered (%s): %s", exc.code, exc.message)
                return None

        try:
            run_round(ctx, deliver, self._post_intel)
        except ExecutorError as exc:
            log.warning("scout round failed (%s): %s", exc.code, exc.message)
        except Exception:  # a bug in a round must not end `run`: log it, try again next interval
            log.exception("scout round crashed")
        self.rounds += 1
