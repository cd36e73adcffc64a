"""Candle interval names (Binance's and freqtrade's: 1s, 1m, 5m, 1h, 1d, 1w, ...) in milliseconds."""

from __future__ import annotations

import re

_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_INTERVAL = re.compile(r"^(\d+)([smhdwM])$")


def interval_ms(name: str) -> int:
    """Milliseconds of an interval name. Months ("1M") are refused: their length varies, so a
    missing month could not be told from a long one."""
    match = _INTERVAL.match(name)
    if match is None:
        raise ValueError(f"{name!r} is not a candle interval such as 1m, 5m, 1h or 1d")
    count, unit = int(match.group(1)), match.group(2)
    if unit == "M":
        raise ValueError(f"{name!r}: monthly candles have no fixed length, so gaps cannot be detected")
    if count <= 0:
        raise ValueError(f"{name!r}: the count must be positive")
    return count * _UNIT_MS[unit]
