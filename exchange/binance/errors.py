"""The SDK's exceptions as the port's typed errors, each carrying Binance's own code.

The SDK's exception class carries the HTTP status; Binance's error code is in `.status_code` (e.g. -1013),
except on `ServerError`, where `.status_code` is the HTTP status. A write whose outcome cannot be known (a
timeout, a 5xx, -1007) is `ExecutionStatusUnknown`: the caller looks the order up by client id, and the
request is never sent again blindly. A read that fails the same way is `ExchangeUnreachable`.
"""

from __future__ import annotations

from binance_common.errors import Error, NetworkError, ServerError

from core.errors import ExecutorError
from core.exchange_port import ExchangeRejected, ExecutionStatusUnknown

TIMEOUT_UNKNOWN = -1007  # "Timeout waiting for response from backend server. Send status unknown"
TIMESTAMP_OUTSIDE_WINDOW = -1021
NO_SUCH_ORDER = -2013
TOO_MANY_REQUESTS = -1003


class RateLimited(ExchangeRejected):
    """Binance answered 429 (or would: the adapter throttled itself). Nothing is sent before `retry_at_ms`."""

    code = "RATE_LIMITED"

    def __init__(self, binance_code: int, msg: str, *, retry_at_ms: int, symbol: str | None = None,
                 client_order_id: str | None = None) -> None:
        super().__init__(binance_code, f"{msg} (nothing is sent before {retry_at_ms} ms)", symbol=symbol,
                         client_order_id=client_order_id)
        self.retry_at_ms = retry_at_ms
        self.details["retry_at_ms"] = retry_at_ms


class RateLimitBanned(ExchangeRejected):
    """Binance banned this IP (418): no request at all, and no new entry, until `banned_until_ms`.

    Bans escalate from minutes to days with repeated offences, so the adapter never probes during one.
    """

    code = "RATE_LIMIT_BANNED"

    def __init__(self, binance_code: int, msg: str, *, banned_until_ms: int, symbol: str | None = None,
                 client_order_id: str | None = None) -> None:
        super().__init__(binance_code, f"{msg} (IP banned until {banned_until_ms} ms)", symbol=symbol,
                         client_order_id=client_order_id)
        self.banned_until_ms = banned_until_ms
        self.details["banned_until_ms"] = banned_until_ms


class ExchangeUnreachable(ExecutorError):
    """A read got no usable answer (network error, timeout, 5xx) after the configured retries."""

    code = "EXCHANGE_UNREACHABLE"

    def __init__(self, what: str, reason: str) -> None:
        super().__init__(f"Binance {what}: {reason}", request=what, reason=reason)
        self.reason = reason


def binance_code(error: Error) -> int:
    """Binance's code from a 4XX exception (0 where Binance gave none, e.g. a 409 `ClientError`)."""
    if isinstance(error, ServerError | NetworkError):
        return 0
    code = getattr(error, "status_code", None)
    return int(code) if isinstance(code, int) else 0


def unknown_outcome(error: Exception) -> str | None:
    """Why a write's outcome cannot be known from this error, or None if the exchange answered definitely."""
    if isinstance(error, ServerError):
        return f"HTTP {error.status_code}"
    if isinstance(error, NetworkError):
        return "no answer (network error or timeout)"
    if isinstance(error, Error) and binance_code(error) == TIMEOUT_UNKNOWN:
        return "Binance -1007: timeout waiting for the backend, send status unknown"
    return None


def translate_write(error: Exception, *, symbol: str, client_order_id: str) -> ExecutorError:
    """A failed order placement or cancel as the port's error."""
    reason = unknown_outcome(error)
    if reason is not None:
        return ExecutionStatusUnknown(reason, symbol=symbol, client_order_id=client_order_id)
    if isinstance(error, Error):
        return ExchangeRejected(binance_code(error), message(error), symbol=symbol, client_order_id=client_order_id)
    raise error


def message(error: Error) -> str:
    return str(getattr(error, "error_message", None) or error)


