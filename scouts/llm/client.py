"""One client path for every LLM role: the pinned `openai` package (3.x, over httpx2), one client per role.

A logical call (`complete`) is:
1. refused before anything is sent when the role is stopped (an earlier 401 or 402) or, for a paid
   provider, when a budget read from the journal is used up (with an alert row in the journal's errors);
2. sent with `max_retries` from the settings (openai's default is 2) and a per-attempt timeout of
   deadline / (retries + 1), so that a timed-out attempt leaves time for the resend openai makes;
3. bounded by a wall-clock deadline around everything (attempts, back-offs, keep-alive blank lines
   that defeat a per-read timeout): `asyncio.timeout` cancels the call wherever it is;
4. counted per HTTP attempt at the transport (`attempts.CountingTransport`), priced from `usage`
   (an attempt that may have been answered unseen is charged like the answer we read), validated with
   pydantic whatever the server claims, and journaled, redacted, whatever the outcome.

JSON: how a server is asked for it is the role's `JsonDialect` (configured per server, never sniffed):
DeepSeek takes `response_format={"type": "json_object"}` only, and the prompt must say "json" and show an
example; a reply that would not have been JSON comes back blank, which is retried once. LM Studio refuses
`json_object` and takes `json_schema`. llama-cpp-python's server takes `json_object` with a `schema` and
answers `json_schema` with HTTP 500. `forced_tool` asks for the answer as the arguments of one function named
in `tool_choice`. Every dialect gets the same instruction with the schema and an example, added as a system
message.
"""

from __future__ import annotations

import asyncio
import functools
import json
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any, Generic

import httpx2
import openai
from pydantic import BaseModel, ValidationError

from core.clock import Clock
from memory.journal import Journal
from memory.redact import SecretMask
from scouts.llm.attempts import AttemptLog, CountingTransport
from scouts.llm.budget import budget_reached, journal_spend, period_starts
from scouts.llm.errors import (
    BudgetReached,
    DeadlineExceeded,
    LlmConfigError,
    LlmError,
    NoBalance,
    ServerFailed,
)
from scouts.llm.pricing import call_cost
from scouts.llm.results import (
    CallRecord,
    Invalid,
    InvalidReason,
    LlmResult,
    Ok,
    Outcome,
    T,
    ToolCall,
    ToolCalls,
    Unavailable,
    UnavailableReason,
)
from scouts.llm.settings import JsonDialect, LlmSettings, Provider, RoleConfig
from scouts.llm.usage import TokenUsage, usage_of

Message = Mapping[str, Any]  # a chat message: role, content, and tool_calls / tool_call_id in a tool loop
CONNECT_TIMEOUT_S = 5.0
ANSWER_FUNCTION = "answer"  # the function a `forced_tool` answer is a call of
SUMMARY_CHARS = 200


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The TLS context of every call, built once per process: loading the CA bundle takes ~0.25 s, which a
    transport built per call would otherwise spend on every call (more than a local model's answer)."""
    return httpx2.create_ssl_context()


class SystemClock:
    """The wall clock, for calls made by a live process (the time a call is priced and budgeted at)."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


@dataclass(slots=True)
class _Answer(Generic[T]):
    """What the server said, before it becomes a result."""

    content: str | None = None
    usages: list[TokenUsage] = field(default_factory=list)
    verdict: T | Rejected | tuple[ToolCall, ...] | None = None


class LlmClient:
    """The client of one role (a scout model on LM Studio, the DeepSeek analyzer).

    `secrets`: values to mask in every prompt besides the settings' own keys (pass
    `memory.redact.credential_values(os.environ)`). A stop after 401 or 402 lasts until `reset_stop()`
    or the end of the process.

    `on_stop`: called with each stop the client journals (a budget reached, once per budget and period; a 402;
    a 401) and its time, inside the journal batch that records it, so that an alert queued through the same
    journal commits with the stop (`runtime.alerting.llm_stop_hook`).
    """

    def __init__(self, config: RoleConfig, settings: LlmSettings, journal: Journal, *,
                 clock: Clock | None = None, secrets: Sequence[str] = (),
                 on_stop: Callable[[LlmError, int], None] | None = None) -> None:
        self.config = config
        self._on_stop = on_stop
        self._settings = settings
        self._journal = journal
        self._clock: Clock = clock or SystemClock()
        self._mask = SecretMask([*settings.secrets(), *secrets])
        self.stopped: LlmError | None = None

    def reset_stop(self) -> None:
        """Let calls through again after a 401 or 402 (the key was fixed, the account topped up)."""
        self.stopped = None

    def complete_sync(self, messages: Sequence[Message], example: T) -> LlmResult[T]:
        """`complete` for a caller without an event loop (the CLI, the engine's thread)."""
        return asyncio.run(self.complete(messages, example))

    async def complete(self, messages: Sequence[Message], example: T) -> LlmResult[T]:
        """Ask for one JSON answer shaped like `example` (an instance of the output model, shown to the model
        as the example the prompt needs). Never raises for anything the server does: the result says it."""
        result = await self._call(messages, example, None)
        assert not isinstance(result, ToolCalls)  # no tools offered, none can come back
        return result

    async def complete_with_tools(self, messages: Sequence[Message], example: T,
                                  tools: Sequence[Mapping[str, Any]]) -> LlmResult[T] | ToolCalls:
        """One round of native tool calling (`tool_choice` "auto", the one value every server takes): the
        model's tool calls (`ToolCalls`, arguments unparsed: the caller checks them), or its final answer,
        validated like `complete`'s. No `response_format` is sent with tools: a grammar-constrained answer
        could not call a tool, and the answer is validated whatever it is."""
        return await self._call(messages, example, list(tools))

    async def _call(self, messages: Sequence[Message], example: T,
                    tools: list[Mapping[str, Any]] | None) -> LlmResult[T] | ToolCalls:
        config = self.config
        time_ms = self._clock.now_ms()
        started = time.monotonic()
        sent = self._prepare(messages, example)
        refusal = self._refusal(time_ms)
        if refusal is not None:
            reason, error = refusal
            record = self._record(time_ms, started, AttemptLog(), [])
            record = self._journal_call(record, Outcome.REFUSED, reason.value, sent, None, str(error))
            return Unavailable(reason, error, record)
        log = AttemptLog()
        answer: _Answer[T] = _Answer()
        failure: tuple[UnavailableReason, LlmError] | None = None
        try:
            async with asyncio.timeout(config.deadline_s):
                await self._exchange(log, sent, example, answer, tools)
        except TimeoutError:
            failure = UnavailableReason.DEADLINE, DeadlineExceeded(config.role.value, config.deadline_variable,
                                                                   config.deadline_s, len(log))
        except openai.APIStatusError as exc:
            failure = self._status_failure(exc, time_ms)
        except openai.APITimeoutError:
            failure = UnavailableReason.TIMEOUT, ServerFailed(config.role.value, None,
                                                              f"every one of {len(log)} attempt(s) timed out")
        except openai.APIConnectionError as exc:
            failure = UnavailableReason.CONNECTION, ServerFailed(config.role.value, None, type(exc).__name__)
        except openai.APIError as exc:
            failure = UnavailableReason.SERVER, ServerFailed(config.role.value, None, type(exc).__name__)
        record = self._record(time_ms, started, log, answer.usages)
        if failure is not None:
            reason, error = failure
            record = self._journal_call(record, Outcome.UNAVAILABLE, reason.value, sent, answer.content, str(error))
            return Unavailable(reason, error, record)
        verdict = answer.verdict
        if isinstance(verdict, tuple):
            summary = "tool calls: " + ", ".join(call.name for call in verdict)
            record = self._journal_call(record, Outcome.OK, None, sent, json.dumps(
                [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in verdict], ensure_ascii=False), summary)
            return ToolCalls(verdict, answer.content, record)
        if isinstance(verdict, Rejected) or verdict is None:
            rejected = verdict or Rejected(InvalidReason.MALFORMED, "no answer")
            record = self._journal_call(record, Outcome.INVALID, rejected.reason.value, sent, answer.content,
                                        rejected.detail)
            return Invalid(rejected.reason, rejected.detail, record)
        record = self._journal_call(record, Outcome.OK, None, sent, answer.content, answer.content or "")
        return Ok(verdict, record)

    # ----- the exchange with the server -----------------------------------------------------------------

    async def _exchange(self, log: AttemptLog, sent: list[dict[str, Any]], example: T, answer: _Answer[T],
                        tools: list[Mapping[str, Any]] | None) -> None:
        """Fills `answer` as it goes, so that the usage of a first answer survives a deadline during the retry."""
        loop = asyncio.get_running_loop()
        end = loop.time() + self.config.deadline_s
        transport = CountingTransport(httpx2.AsyncHTTPTransport(verify=tls_context()), log, lambda: end - loop.time())
        timeout = self._attempt_timeout()
        async with httpx2.AsyncClient(transport=transport, timeout=timeout) as http, openai.AsyncOpenAI(
            base_url=self.config.base_url, api_key=self.config.api_key.get_secret_value(),
            max_retries=self.config.max_retries, timeout=timeout, http_client=http,
        ) as client:
            await self._one(self._create(client, sent, example, tools), answer, type(example), self._reading(tools))
            verdict = answer.verdict
            if isinstance(verdict, Rejected) and verdict.reason is InvalidReason.BLANK \
                    and self.config.provider is Provider.DEEPSEEK:
                await self._one(self._create(client, sent, example, tools), answer, type(example),
                                self._reading(tools))

    def _attempt_timeout(self) -> httpx2.Timeout:
        per_attempt = self.config.deadline_s / (self.config.max_retries + 1)
        return httpx2.Timeout(per_attempt, connect=min(CONNECT_TIMEOUT_S, per_attempt))

    def _create(self, client: openai.AsyncOpenAI, sent: list[dict[str, Any]], example: T,
                tools: list[Mapping[str, Any]] | None) -> Awaitable[Any]:
        if tools is not None:
            return client.chat.completions.create(model=self.config.model, messages=sent,  # type: ignore[arg-type]
                                                  tools=tools, tool_choice="auto",  # type: ignore[arg-type]
                                                  max_tokens=self.config.max_output_tokens)
        output = type(example)
        if self.config.json_dialect is JsonDialect.FORCED_TOOL:
            function = {"name": ANSWER_FUNCTION, "description": "Give your answer as this function's arguments.",
                        "parameters": output.model_json_schema()}
            return client.chat.completions.create(model=self.config.model, messages=sent,  # type: ignore[arg-type]
                                                  tools=[{"type": "function", "function": function}],  # type: ignore[list-item]
                                                  tool_choice={"type": "function",  # type: ignore[arg-type]
                                                               "function": {"name": ANSWER_FUNCTION}},
                                                  max_tokens=self.config.max_output_tokens)
        return client.chat.completions.create(model=self.config.model, messages=sent,  # type: ignore[arg-type]
                                              response_format=response_format(self.config.json_dialect, output),  # type: ignore[arg-type]
                                              max_tokens=self.config.max_output_tokens)

    def _reading(self, tools: list[Mapping[str, Any]] | None) -> Reading:
        if tools is not None:
            return Reading.TOOL_CALLS
        return Reading.FORCED_TOOL if self.config.json_dialect is JsonDialect.FORCED_TOOL else Reading.CONTENT

    @staticmethod
    async def _one(create: Awaitable[Any], answer: _Answer[T], output: type[T], reading: Reading) -> None:
        completion = await create
        usage = usage_of(getattr(completion, "usage", None))
        if usage is not None:
            answer.usages.append(usage)
        calls = tool_calls_of(completion) if reading is not Reading.CONTENT else ()
        if calls and reading is Reading.TOOL_CALLS:
            answer.content, answer.verdict = None, calls
        elif reading is Reading.FORCED_TOOL:
            answer.content, answer.verdict = forced_answer(calls, output)
        else:
            answer.content, answer.verdict = validate_answer(completion, output)

    # ----- before and after -----------------------------------------------------------------------------

    def _prepare(self, messages: Sequence[Message], example: T) -> list[dict[str, Any]]:
        schema = json.dumps(type(example).model_json_schema(), separators=(",", ":"))
        instruction = ("Answer with one json object and nothing else. It must validate against this JSON schema: "
                       f"{schema}\nExample json answer: {example.model_dump_json()}")
        return [{**m, "content": self._mask.text(c) if isinstance(c := m.get("content"), str) else c}
                for m in [*messages, {"role": "system", "content": instruction}]]

    def _refusal(self, time_ms: int) -> tuple[UnavailableReason, LlmError] | None:
        if self.stopped is not None:
            return UnavailableReason.STOPPED, self.stopped
        if self.config.provider is not Provider.DEEPSEEK:
            return None
        reached = budget_reached(self.config.role.value, journal_spend(self._journal, self.config.provider.value,
                                                                       time_ms), self._settings)
        if reached is None:
            return None
        self._alert_budget(reached, time_ms)
        return UnavailableReason.BUDGET, reached

    def _alert_budget(self, reached: BudgetReached, time_ms: int) -> None:
        """One alert row per budget per period (a UTC day or month), however many calls it refuses."""
        day_start, month_start = period_starts(time_ms)
        since = day_start if "DAILY" in reached.budget else month_start
        if not any(row["code"] == reached.code and row["details"].get("budget") == reached.budget
                   for row in self._journal.errors(since)):
            self._journal_stop(reached, time_ms)

    def _status_failure(self, exc: openai.APIStatusError, time_ms: int) -> tuple[UnavailableReason, LlmError]:
        role, status = self.config.role.value, exc.status_code
        if status == 401:
            error: LlmError = LlmConfigError(role, self.config.key_variable, status, "authentication failed")
            return self._stop(UnavailableReason.AUTH, error, time_ms)
        if status == 402 and self.config.provider is Provider.DEEPSEEK:
            return self._stop(UnavailableReason.NO_BALANCE, NoBalance(role, self.config.key_variable), time_ms)
        reason = UnavailableReason.REJECTED if status in (400, 404, 422) else UnavailableReason.SERVER
        return reason, ServerFailed(role, status, self._mask.text(str(exc.message))[:SUMMARY_CHARS])

    def _stop(self, reason: UnavailableReason, error: LlmError, time_ms: int) -> tuple[UnavailableReason, LlmError]:
        self.stopped = error
        self._journal_stop(error, time_ms)
        return reason, error

    def _journal_stop(self, error: LlmError, time_ms: int) -> None:
        with self._journal.batch():
            self._journal.record_error(time_ms, error.code, error.message, error.details)
            if self._on_stop is not None:
                self._on_stop(error, time_ms)

    def _record(self, time_ms: int, started: float, log: AttemptLog, usages: list[TokenUsage]) -> CallRecord:
        # An attempt that may have been answered without our reading it (a resent POST) is charged like the
        # last answer we did read: the same request, so about the same bill.
        charged = [*usages, *([usages[-1]] * log.unseen_billable() if usages else [])]
        total = None if not charged else TokenUsage(
            prompt_tokens=sum(u.prompt_tokens for u in charged),
            completion_tokens=sum(u.completion_tokens for u in charged),
            cache_hit_tokens=_sum_known(u.cache_hit_tokens for u in charged),
            cache_miss_tokens=_sum_known(u.cache_miss_tokens for u in charged))
        cost = sum((call_cost(u, self.config.price, time_ms) for u in charged), Decimal(0))
        return CallRecord(role=self.config.role.value, model=self.config.model, provider=self.config.provider.value,
                          time_ms=time_ms, attempts=len(log), billed_attempts=log.billable(), usage=total,
                          cost_usd=cost, latency_ms=round((time.monotonic() - started) * 1000))

    def _journal_call(self, record: CallRecord, outcome: Outcome, reason: str | None, sent: list[dict[str, Any]],
                      answer: str | None, summary: str) -> CallRecord:
        """The call journaled; the record given back carries its journal row id (to note the advice it caused)."""
        usage = record.usage
        row = self._journal.record_llm_call(
            record.time_ms, record.role, record.model,
            None if usage is None else usage.prompt_tokens, None if usage is None else usage.completion_tokens,
            record.latency_ms, outcome is Outcome.OK, self._mask.text(summary)[:SUMMARY_CHARS],
            provider=record.provider, attempts=record.attempts, billed_attempts=record.billed_attempts,
            cache_hit_tokens=None if usage is None else usage.cache_hit_tokens,
            cache_miss_tokens=None if usage is None else usage.cache_miss_tokens,
            cost_usd=record.cost_usd, outcome=outcome.value, reason=reason,
            prompt=json.dumps(sent, ensure_ascii=False), answer=None if answer is None else self._mask.text(answer))
        return replace(record, journal_id=row)


@dataclass(frozen=True, slots=True)
class Rejected:
    """Why an answer is not a valid output: becomes `Invalid` once the call's record exists."""

    reason: InvalidReason
    detail: str


def validate_answer(completion: Any, output: type[T]) -> tuple[str | None, T | Rejected]:
    """The completion's content and what it is worth: the validated model, or why not. Never raises."""
    try:
        content = completion.choices[0].message.content
    except (AttributeError, IndexError, TypeError):
        return None, Rejected(InvalidReason.MALFORMED, "the answer has no choices[0].message")
    if not isinstance(content, str) or not content.strip():
        return (content if isinstance(content, str) else None), Rejected(InvalidReason.BLANK,
                                                                          "the answer's content is blank")
    return content, validated(content, output)


def validated(text: str, output: type[T]) -> T | Rejected:
    """`text` as the output model, or why not. Never raises."""
    try:
        return output.model_validate_json(text)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        reason = InvalidReason.NOT_JSON if any(e["type"] == "json_invalid" for e in errors) else InvalidReason.SCHEMA
        where = ".".join(str(p) for p in errors[0]["loc"]) or "answer"
        return Rejected(reason, f"{where}: {errors[0]['msg']}")


class Reading(StrEnum):
    """Where an answer is read from."""

    CONTENT = "content"  # the message's content (a response_format dialect)
    TOOL_CALLS = "tool_calls"  # the model's tool calls when it makes some, else its content (a scout's tool loop)
    FORCED_TOOL = "forced_tool"  # the arguments of its call of ANSWER_FUNCTION


def response_format(dialect: JsonDialect, output: type[BaseModel]) -> dict[str, Any]:
    """The `response_format` a dialect sends (FORCED_TOOL sends none: it names a function instead)."""
    match dialect:
        case JsonDialect.JSON_SCHEMA:
            return {"type": "json_schema", "json_schema": {"name": output.__name__,
                                                           "schema": output.model_json_schema()}}
        case JsonDialect.JSON_OBJECT:
            return {"type": "json_object"}
        case JsonDialect.JSON_OBJECT_SCHEMA:
            return {"type": "json_object", "schema": output.model_json_schema()}
        case _:
            raise ValueError(f"JSON dialect {dialect.value} has no response_format")


def forced_answer(calls: tuple[ToolCall, ...], output: type[T]) -> tuple[str | None, T | Rejected]:
    """A `forced_tool` answer: the arguments of the call of ANSWER_FUNCTION, validated like content."""
    named = [call for call in calls if call.name == ANSWER_FUNCTION]
    if not named:
        called = ", ".join(ascii(call.name)[:40] for call in calls) or "no function"
        return None, Rejected(InvalidReason.MALFORMED, f"the answer is not a call of {ANSWER_FUNCTION} ({called})")
    arguments = named[0].arguments
    if not arguments.strip():
        return arguments, Rejected(InvalidReason.BLANK, f"the {ANSWER_FUNCTION} call has no arguments")
    return arguments, validated(arguments, output)


def tool_calls_of(completion: Any) -> tuple[ToolCall, ...]:
    """The function calls of a completion's first choice, as sent (name and arguments unchecked); () for none."""
    try:
        calls = completion.choices[0].message.tool_calls
    except (AttributeError, IndexError, TypeError):
        return ()
    found = []
    for call in calls or ():
        function = getattr(call, "function", None)
        name, arguments = getattr(function, "name", None), getattr(function, "arguments", None)
        found.append(ToolCall(id=str(getattr(call, "id", "") or f"call_{len(found)}"),
                              name=name if isinstance(name, str) else "",
                              arguments=arguments if isinstance(arguments, str) else ""))
    return tuple(found)


def _sum_known(values: Iterable[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None
