"""Typed errors. Each carries what a person needs to act on it: which symbol, which limit, which value."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any


class ExecutorError(Exception):
    """Base of every error the project raises on purpose. `code` is stable and machine-readable."""

    code = "EXECUTOR_ERROR"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = {k: _plain(v) for k, v in details.items()}

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class FilterRejected(ExecutorError):
    """An order value that no rounding in the safe direction can make valid for the symbol's filters."""

    code = "FILTER_REJECTED"

    def __init__(self, symbol: str, filter_name: str, field: str, value: Any, limit: Any, reason: str) -> None:
        super().__init__(
            f"{symbol}: {field} {value} fails {filter_name} ({reason}; limit {limit})",
            symbol=symbol,
            filter=filter_name,
            field=field,
            value=value,
            limit=limit,
        )
        self.symbol = symbol
        self.filter_name = filter_name


class TrailingStopNotAllowed(ExecutorError):
    """A trailing stop (`trailingDelta`) on a symbol whose exchangeInfo says `allowTrailingStop` is false."""

    code = "TRAILING_STOP_NOT_ALLOWED"

    def __init__(self, symbol: str, trailing_delta: int) -> None:
        super().__init__(f"{symbol}: trailing stops are not allowed on this symbol (trailing_delta {trailing_delta})",
                         symbol=symbol, setting="allowTrailingStop", trailing_delta=trailing_delta)
        self.symbol = symbol


class InvalidArgument(ExecutorError):
    """Bad input from a person or an agent: a flag, a tool argument, a value out of range."""

    code = "INVALID_ARGUMENT"


class UnknownSymbol(ExecutorError):
    code = "INVALID_SYMBOL"

    def __init__(self, symbol: str) -> None:
        super().__init__(f"symbol {symbol!r} is not in the exchange's symbol list", symbol=symbol)


class SymbolNotTrading(ExecutorError):
    code = "SYMBOL_NOT_TRADING"

    def __init__(self, symbol: str, status: str) -> None:
        super().__init__(f"{symbol} is not trading (status {status})", symbol=symbol, status=status)


class ConfigError(ExecutorError):
    """A configuration value that is missing, malformed or beyond its hard ceiling."""

    code = "INVALID_CONFIG"

    def __init__(self, setting: str, value: Any, reason: str, *, limit: Any = None, **details: Any) -> None:
        extra = {"limit": limit} if limit is not None else {}
        super().__init__(f"setting {setting}={value!r} is invalid: {reason}", setting=setting, value=value,
                         reason=reason, **extra, **details)
        self.setting = setting


def _plain(value: Any) -> Any:
    """Details must serialise to JSON as they are shown: Decimals keep their exact digits as strings, and a NaN
    or an infinity (which strict JSON cannot carry) is shown as its text."""
    if isinstance(value, Decimal) or (isinstance(value, float) and not math.isfinite(value)):
        return str(value)
    return value
