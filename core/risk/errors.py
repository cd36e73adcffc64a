"""The risk engine's typed error: an input it cannot judge safely (a NaN equity, a rule for the wrong symbol)."""

from __future__ import annotations

from typing import Any

from core.errors import ExecutorError


class InvalidRiskInput(ExecutorError):
    """A value handed to the risk engine that would make a limit meaningless; refused rather than guessed."""

    code = "INVALID_RISK_INPUT"

    def __init__(self, field: str, value: Any, limit: Any, reason: str, symbol: str | None = None) -> None:
        where = f"{symbol}: " if symbol else ""
        super().__init__(f"{where}{field}={value!r} is invalid: {reason} (limit {limit})",
                         symbol=symbol, field=field, value=value, limit=limit)
        self.symbol = symbol
        self.field = field
