"""What `doctor` reports: one `Check` per id, with a status and what to do; a report blocks trading on any FAIL."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"  # works, but a person should look: trading is not blocked
    FAIL = "fail"  # blocks trading until fixed
    SKIPPED = "skipped"  # not configured, or not needed by this mode


class CheckId(StrEnum):
    CONFIG = "config"
    HOME = "home"
    LOCK = "lock"
    BINANCE_CONNECTIVITY = "binance.connectivity"
    BINANCE_CLOCK = "binance.clock"
    BINANCE_KEY_PERMISSIONS = "binance.key_permissions"
    BINANCE_USER_DATA = "binance.user_data"
    BINANCE_SYMBOLS = "binance.symbols"
    TELEGRAM = "notify.telegram"
    DISCORD_EXECUTION = "notify.discord_execution"
    DISCORD_RESEARCH = "notify.discord_research"
    LMSTUDIO = "llm.lmstudio"
    DEEPSEEK = "llm.deepseek"


@dataclass(frozen=True, slots=True)
class Check:
    id: CheckId
    status: Status
    message: str  # what was found and, unless ok, what to do
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id.value, "status": self.status.value, "message": self.message, "details": self.details}


def ok(check: CheckId, message: str, **details: Any) -> Check:
    return Check(check, Status.OK, message, details)


def warn(check: CheckId, message: str, **details: Any) -> Check:
    return Check(check, Status.WARN, message, details)


def fail(check: CheckId, message: str, **details: Any) -> Check:
    return Check(check, Status.FAIL, message, details)


def skipped(check: CheckId, message: str) -> Check:
    return Check(check, Status.SKIPPED, message)


def text_lines(checks: list[Check]) -> list[str]:
    """One line per check, for a terminal or a chat: `[fail] binance.clock: ...`."""
    return [f"[{c.status.value}] {c.id.value}: {c.message}" for c in checks]
