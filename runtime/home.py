"""The data directory (EXECUTOR_HOME): journal, memory files, reports, lock and kill flag live here.

It is never inside the code folders, so reinstalling or upgrading the skill never touches what it learned.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from core.errors import ConfigError, ExecutorError

DEFAULT_HOME_NAME = ".crypto-executor"  # in the user's home directory
HOME_ENV = "EXECUTOR_HOME"


class HomeNotWritable(ExecutorError):
    """A file of the home that must be written cannot be (a read-only mount, another user's home)."""

    code = "HOME_NOT_WRITABLE"

    def __init__(self, path: Path, exc: OSError) -> None:
        reason = exc.strerror or type(exc).__name__
        super().__init__(f"cannot write {path} ({reason}): this process may read the home but not change it; run "
                         "the command as the user that runs the executor", file=str(path), reason=reason)


@dataclass(frozen=True, slots=True)
class Home:
    root: Path

    @classmethod
    def resolve(cls, explicit: str | Path | None = None) -> Home:
        """--home wins, then $EXECUTOR_HOME, then ~/.crypto-executor.

        A relative --home is a person's own path from their shell; a relative EXECUTOR_HOME would name a
        different home in every folder a process is started from (an agent's workspace, an MCP host's
        working directory), so it is refused.
        """
        if explicit:
            return cls(Path(explicit).expanduser().resolve())
        configured = os.environ.get(HOME_ENV)
        if configured:
            path = Path(configured).expanduser()
            if not path.is_absolute():
                raise ConfigError(HOME_ENV, configured, "must be an absolute path (or start with ~): a relative "
                                  "one would name another home in every working directory")
            return cls(path.resolve())
        return cls(_default_root())

    def ensure(self) -> Home:
        for folder in (self.root, self.reports, self.root / "history"):
            folder.mkdir(parents=True, exist_ok=True)
        return self

    @property
    def journal(self) -> Path:
        return self.root / "journal.db"

    @property
    def lock(self) -> Path:
        return self.root / "executor.lock"

    @property
    def kill_flag(self) -> Path:
        return self.root / "KILL"

    @property
    def candle_cache(self) -> Path:
        """Parsed copies of candle files (derived, safe to delete at any time)."""
        return self.root / "cache" / "candles"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def paper_state(self) -> Path:
        return self.root / "paper_exchange.json"


def _default_root() -> Path:
    """~/.crypto-executor, looked up when needed: a process with no HOME and no passwd entry (a service account
    in a container) still imports and runs every command that names its home, and is told what to set."""
    try:
        return (Path.home() / DEFAULT_HOME_NAME).resolve()
    except RuntimeError:
        raise ConfigError(HOME_ENV, "", "no home directory is known for this user (HOME is not set): set "
                          "EXECUTOR_HOME to an absolute path, or pass --home") from None
