"""Which market `run` trades on: `--mode`, else `EXECUTOR_MODE`, else replay when data is given, else paper.

`python executor.py` with no command is `run`, so with nothing configured it trades on paper against live
public data (Invariant 10, "paper by default"); `--data` or `--synthetic` alone means replaying that data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from core.errors import ConfigError

MODE_ENV = "EXECUTOR_MODE"


class RunMode(StrEnum):
    REPLAY = "replay"
    PAPER = "paper"
    TESTNET = "testnet"
    LIVE = "live"


class ModeOrigin(StrEnum):
    """Where the chosen mode came from, named in refusals so a person knows what to change."""

    FLAG = "--mode"
    ENV = MODE_ENV
    DEFAULT = "default"


@dataclass(frozen=True, slots=True)
class ChosenMode:
    mode: RunMode
    origin: ModeOrigin

    def describe(self) -> str:
        """'paper mode (from EXECUTOR_MODE)', for messages."""
        return f"{self.mode} mode" if self.origin is ModeOrigin.DEFAULT else f"{self.mode} mode (from {self.origin})"


def configured_mode(env: Mapping[str, str]) -> RunMode | None:
    """EXECUTOR_MODE as a mode, None when unset or blank; any other value is refused by name."""
    raw = env.get(MODE_ENV, "").strip()
    if not raw:
        return None
    try:
        return RunMode(raw)
    except ValueError:
        raise ConfigError(MODE_ENV, raw, f"must be one of {', '.join(RunMode)}") from None


def choose_mode(flag: str | None, env: Mapping[str, str], replay_data_given: bool) -> ChosenMode:
    """The mode of a `run`. EXECUTOR_MODE is checked even when --mode wins, so a typo in it is reported at
    the start, not the day someone relies on it."""
    configured = configured_mode(env)
    if flag is not None:
        return ChosenMode(RunMode(flag), ModeOrigin.FLAG)
    if configured is not None:
        return ChosenMode(configured, ModeOrigin.ENV)
    return ChosenMode(RunMode.REPLAY if replay_data_given else RunMode.PAPER, ModeOrigin.DEFAULT)
