"""The one way advice reaches an engine: an "advice" command in the home's journal queue.

Scouts and the analyzer are given `advice_submitter(home)` (a `core.advice.SubmitAdvice`); they never hold the
engine or the single-writer lock. The engine that holds the home takes the command on its next queue pass
(`runtime.commands.process_queue`, every ~200 ms while `run` is active; otherwise the next process that becomes
the engine for a moment) and applies it with `Engine.on_advice`, where the clamp lets it only tighten.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from core.advice import SubmitAdvice
from core.types import Advice
from memory.home_state import check_journal_present
from memory.journal import Journal
from runtime.commands import CommandKind, NotStarted, has_state, parse_payload
from runtime.home import Home

ADVICE_KEY_PREFIX = "advice:"


def advice_key(advice: Advice) -> str:
    """The idempotency key of a piece of advice: the same advice submitted twice is one command, applied once."""
    return ADVICE_KEY_PREFIX + hashlib.sha256(advice.model_dump_json().encode()).hexdigest()[:32]


def queue_advice(home: Home, advice: Advice, wall_ms: int) -> int:
    """Queue `advice` for the engine of `home` and return the command's id; it does not wait for the engine.

    Raises NotStarted when no executor ever ran on the home (there is no engine to advise)."""
    payload = {"advice": advice.model_dump(mode="json")}
    parse_payload(CommandKind.ADVICE, payload)
    if not has_state(home):
        raise NotStarted(home.root)
    check_journal_present(home.root, home.journal, accept_rollback=False)
    with Journal(home.journal) as journal:
        return journal.enqueue_command(CommandKind.ADVICE, payload, advice_key(advice), wall_ms)


def advice_submitter(home: Home, wall_ms: Callable[[], int]) -> SubmitAdvice:
    """The `SubmitAdvice` callable scouts and the analyzer are handed for `home`."""

    def submit(advice: Advice) -> int:
        return queue_advice(home, advice, wall_ms())

    return submit
