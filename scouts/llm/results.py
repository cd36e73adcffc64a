"""The typed result of one logical LLM call: `Ok(value)`, `Invalid(reason)` or `Unavailable(reason)`.

A caller matches on the type; nothing here is free text to parse. Every result carries its `CallRecord`
(what was journaled): attempts, tokens, cost, latency.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Generic, TypeVar

from pydantic import BaseModel

from scouts.llm.errors import LlmError
from scouts.llm.usage import TokenUsage

T = TypeVar("T", bound=BaseModel)


class Outcome(StrEnum):
    OK = "ok"
    INVALID = "invalid"
    UNAVAILABLE = "unavailable"
    REFUSED = "refused"  # never sent: a budget, a stopped role


class InvalidReason(StrEnum):
    BLANK = "blank"  # no content (DeepSeek's answer to a JSON-mode reply that was not JSON), even after one retry
    NOT_JSON = "not_json"
    SCHEMA = "schema"  # JSON that the output model refuses
    MALFORMED = "malformed"  # a 200 answer that is not a chat completion (no choices, no message)


class UnavailableReason(StrEnum):
    DEADLINE = "deadline"
    TIMEOUT = "timeout"  # every attempt timed out before the deadline
    CONNECTION = "connection"
    SERVER = "server"  # 429/5xx still failing after the retries that fit
    REJECTED = "rejected"  # 400/422: the server refused the request itself
    AUTH = "auth"  # 401
    NO_BALANCE = "no_balance"  # 402
    STOPPED = "stopped"  # an earlier 401/402 stopped the role
    BUDGET = "budget"


@dataclass(frozen=True, slots=True)
class CallRecord:
    role: str
    model: str
    provider: str
    time_ms: int
    attempts: int
    billed_attempts: int
    usage: TokenUsage | None
    cost_usd: Decimal
    latency_ms: int
    journal_id: int | None = None  # the llm_calls row, once journaled


@dataclass(frozen=True, slots=True)
class Ok(Generic[T]):
    value: T
    call: CallRecord


@dataclass(frozen=True, slots=True)
class Invalid:
    reason: InvalidReason
    detail: str
    call: CallRecord


@dataclass(frozen=True, slots=True)
class Unavailable:
    reason: UnavailableReason
    error: LlmError
    call: CallRecord


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One function call a model asked for, as it sent it: nothing about it is trusted yet."""

    id: str
    name: str
    arguments: str  # JSON text, unparsed


@dataclass(frozen=True, slots=True)
class ToolCalls:
    """A tool-calling round's answer: the model wants these tools run before it answers."""

    calls: tuple[ToolCall, ...]
    content: str | None
    call: CallRecord


LlmResult = Ok[T] | Invalid | Unavailable
