"""The one place that reads a checkpoint's mode and decides the trade confirmation policy from it.

`status`, `scan`, `report`, `trade` and a process acting on a stopped engine all ask here, so the mode a
person is shown is the mode a trade is confirmed under. A mode that is not one of ours is "unknown", and an
unknown mode is always two-phase.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runtime.run_mode import RunMode
from runtime.settings import trade_confirmation

UNKNOWN_MODE = "unknown"
# Source ids as the runner and backtest write them: "synthetic:<seed>:…", "data:<path>:…", "backtest:<id>".
REPLAY_SOURCES = frozenset({"synthetic", "data", "backtest"})
MODES = frozenset(mode.value for mode in RunMode)
SINGLE_PHASE = frozenset({RunMode.REPLAY, RunMode.PAPER})  # trades execute on the first call unless "always"


def checkpoint_mode(checkpoint: Mapping[str, Any]) -> str:
    """A RunMode's value, or "unknown": the checkpoint's own `mode` when it has one, else read from the kind of
    its source id (checkpoints written before the mode was saved)."""
    mode = checkpoint.get("mode")
    if isinstance(mode, str):
        return mode if mode in MODES else UNKNOWN_MODE
    kind = str(checkpoint.get("source_id", "")).split(":", 1)[0]
    if kind in REPLAY_SOURCES:
        return RunMode.REPLAY.value
    return kind if kind in MODES else UNKNOWN_MODE


def needs_confirmation(mode: str, env: Mapping[str, str]) -> bool:
    """Live and testnet always; paper and replay only with TRADE_CONFIRMATION=always; an unknown mode always."""
    return mode not in SINGLE_PHASE or trade_confirmation(env) == "always"
