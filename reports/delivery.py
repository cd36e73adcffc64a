"""Delivery policy shared by the notifiers: typed failure, bounded retries, and secrets kept out of text.

Retries (tenacity) cover what may succeed a moment later: connection errors and timeouts, 5xx, and 429
after the wait the service asks for. Any other 4xx is final at once. The total time spent waiting is
bounded by `max_wait_s`: a 429 asking for longer than what is left fails at once instead of blocking the
caller.

A bot token or a webhook URL is a credential (invariant 9). Each notifier registers its secrets here;
every text that leaves this package (error messages, our log lines, and httpx's own INFO log line, which
prints the full request URL with the Telegram token in it) goes through `scrub` first.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from core.errors import ExecutorError
from memory.redact import mask_secret, redact_text

log = logging.getLogger(__name__)

DEFAULT_MAX_ATTEMPTS = 4
DEFAULT_MAX_WAIT_S = 30.0
_backoff = wait_exponential(multiplier=0.5, max=8.0)
_secrets: set[str] = set()


class NotifyError(ExecutorError):
    """A notification was not delivered: which service, and what it answered (never a secret)."""

    code = "NOTIFY_FAILED"

    def __init__(self, service: str, reason: str, *, status: int | None = None,
                 retry_after: float | None = None, attempts: int = 1) -> None:
        reason = scrub(reason)
        super().__init__(f"{service} notification failed: {reason}", service=service, status=status,
                         retry_after=retry_after, attempts=attempts)
        self.service = service
        self.status = status

    def __repr__(self) -> str:
        return f"NotifyError({self.message!r})"


class TransientFailure(Exception):
    """A failure worth another attempt; `retry_after` is the wait the service asked for, in seconds."""

    def __init__(self, reason: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


def register_secret(secret: str) -> None:
    """Remember a credential so that `scrub` masks it wherever it shows up."""
    if secret:
        _secrets.add(secret)


def scrub(text: str) -> str:
    """Mask every registered secret, then every secret-looking pattern (`memory.redact.redact_text`)."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, mask_secret(secret))
    return redact_text(text)


def deliver(service: str, attempt: Callable[[], None], *, max_attempts: int = DEFAULT_MAX_ATTEMPTS,
            max_wait_s: float = DEFAULT_MAX_WAIT_S, sleep: Callable[[float], None] = time.sleep) -> None:
    """Run `attempt` until it returns, retrying TransientFailure within the bounds; NotifyError when it gives up."""

    def over_budget(state: RetryCallState) -> bool:
        return state.idle_for + state.upcoming_sleep > max_wait_s

    def warn(state: RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome else None
        log.warning("%s notification attempt %d failed (%s); retrying in %.1f s", service, state.attempt_number,
                    scrub(getattr(failure, "reason", "unknown")), state.upcoming_sleep)

    retrying = Retrying(
        retry=retry_if_exception_type(TransientFailure),
        wait=_wait,
        stop=stop_after_attempt(max_attempts) | over_budget,
        sleep=sleep,
        before_sleep=warn,
        reraise=True,
    )
    try:
        retrying(attempt)
    except TransientFailure as failure:
        attempts = int(retrying.statistics.get("attempt_number", 1))
        waited = float(retrying.statistics.get("idle_for", 0.0))
        reason = failure.reason
        if failure.retry_after is not None and waited + failure.retry_after > max_wait_s:
            reason += f"; asked to retry after {failure.retry_after:g} s, beyond the {max_wait_s:g} s allowed"
        raise NotifyError(service, f"{reason} (gave up after {attempts} attempt(s))", status=failure.status,
                          retry_after=failure.retry_after, attempts=attempts) from None


def _wait(state: RetryCallState) -> float:
    failure = state.outcome.exception() if state.outcome else None
    if isinstance(failure, TransientFailure) and failure.retry_after is not None:
        return max(0.0, failure.retry_after)
    return float(_backoff(state))


class _ScrubSecrets(logging.Filter):
    """Rewrites a record's message with secrets masked (httpx logs every request's full URL at INFO)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def _install_log_filter() -> None:
    for name in ("httpx", "httpcore", __name__):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _ScrubSecrets) for f in logger.filters):
            logger.addFilter(_ScrubSecrets())


_install_log_filter()
