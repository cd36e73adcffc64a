"""The contract between whoever writes advice (LM Studio scouts, the DeepSeek analyzer) and the engine.

A scout never holds the engine: it is given a `SubmitAdvice` callable and nothing else that can act. The
runtime's implementation (`runtime.advice.advice_submitter`) queues the advice as an "advice" command in the
home's journal; the process that holds the engine applies it (`Engine.on_advice`), where the risk clamp makes
sure it can only skip, shrink or pause. This module is here, in the pure core, so `scouts/` can import the
contract without importing `runtime`.
"""

from __future__ import annotations

from typing import Protocol

from core.types import Advice


class SubmitAdvice(Protocol):
    """Hand one piece of advice to the engine of a home. Returns the id of the queued command, or None when a
    submitter that keeps going (`scouts --once`) could not deliver it and noted why.

    Raises an `ExecutorError` when it cannot be queued (no executor state in the home, an unreadable journal)
    and the submitter does not note it.
    Queued advice is applied when the engine takes it, and only while it is live by the engine's clock.
    """

    def __call__(self, advice: Advice) -> int | None: ...
