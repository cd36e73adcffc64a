"""Every HTTP attempt of a logical call, counted where it happens: at the transport under the `openai` client.

openai resends a POST that timed out (ARCHITECTURE.md, "LLMs"): the first request may still be answered
and billed, so one logical call can cost twice. The client cannot see that bill; it can see the attempt.
`CountingTransport` records each attempt and how it ended, and keeps openai's retries inside the
deadline: an error answer whose `Retry-After` reaches past the deadline, or a status no retry can fix
(400, 401, 402, 403, 404, 422), is marked `x-should-retry: false`, which openai obeys.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from enum import StrEnum

import httpx2

NEVER_RETRY_STATUSES = frozenset({400, 401, 402, 403, 404, 422})


class AttemptEnd(StrEnum):
    ANSWERED = "answered"  # a 2xx answer read to its end
    ERROR_STATUS = "error_status"  # the server answered an error status
    CONNECT_FAILED = "connect_failed"  # never reached the server
    TIMEOUT = "timeout"  # sent, then no answer in time
    DROPPED = "dropped"  # sent, then the connection broke
    CANCELLED = "cancelled"  # the deadline ended the call while this attempt was under way
    PENDING = "pending"


# Ends after which the server may have generated (and charged for) an answer we never read.
MAYBE_BILLED = frozenset({AttemptEnd.TIMEOUT, AttemptEnd.DROPPED, AttemptEnd.CANCELLED})


@dataclass(slots=True)
class Attempt:
    end: AttemptEnd = AttemptEnd.PENDING
    status: int | None = None


@dataclass(slots=True)
class AttemptLog:
    attempts: list[Attempt] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.attempts)

    def start(self) -> Attempt:
        attempt = Attempt()
        self.attempts.append(attempt)
        return attempt

    def billable(self) -> int:
        """Attempts a provider may charge for: answered ones, and those that may have been answered unseen."""
        return sum(1 for a in self.attempts if a.end is AttemptEnd.ANSWERED or a.end in MAYBE_BILLED)

    def unseen_billable(self) -> int:
        return sum(1 for a in self.attempts if a.end in MAYBE_BILLED)


def _failure_end(exc: BaseException) -> AttemptEnd:
    if isinstance(exc, httpx2.ConnectError | httpx2.ConnectTimeout):
        return AttemptEnd.CONNECT_FAILED
    if isinstance(exc, httpx2.TimeoutException):
        return AttemptEnd.TIMEOUT
    if isinstance(exc, asyncio.CancelledError):
        return AttemptEnd.CANCELLED
    return AttemptEnd.DROPPED


class _CountedStream(httpx2.AsyncByteStream):
    """The answer's body: the attempt counts as answered only once it has been read to its end."""

    def __init__(self, inner: httpx2.AsyncByteStream, attempt: Attempt, ok: bool) -> None:
        self._inner = inner
        self._attempt = attempt
        self._ok = ok

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except BaseException as exc:
            self._attempt.end = _failure_end(exc)
            raise
        self._attempt.end = AttemptEnd.ANSWERED if self._ok else AttemptEnd.ERROR_STATUS

    async def aclose(self) -> None:
        if self._attempt.end is AttemptEnd.PENDING:  # closed before the end: an abandoned answer
            self._attempt.end = AttemptEnd.CANCELLED
        await self._inner.aclose()


class CountingTransport(httpx2.AsyncBaseTransport):
    """Wraps the real transport: one `Attempt` per request, and retries kept within `remaining_s()`."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, log: AttemptLog, remaining_s: Callable[[], float]) -> None:
        self._inner = inner
        self._log = log
        self._remaining_s = remaining_s

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        attempt = self._log.start()
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException as exc:
            attempt.end = _failure_end(exc)
            raise
        attempt.status = response.status_code
        ok = response.status_code < 400
        if not ok and (response.status_code in NEVER_RETRY_STATUSES or self._wait_too_long(response)):
            response.headers["x-should-retry"] = "false"
        assert isinstance(response.stream, httpx2.AsyncByteStream)
        response.stream = _CountedStream(response.stream, attempt, ok)
        return response

    def _wait_too_long(self, response: httpx2.Response) -> bool:
        for header, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
            value = response.headers.get(header)
            if value is not None:
                try:
                    return float(value) / divisor >= self._remaining_s()
                except ValueError:
                    return False
        return False

    async def aclose(self) -> None:
        await self._inner.aclose()
