"""Per-symbol data health: one DataOutage when data stops, one DataRestored when it comes back.

Shared by the live feed and the recording reader, so a replay reports outages exactly where the
recorded session did.
"""

from __future__ import annotations

from collections.abc import Iterable

from core.events import DataOutage, DataRestored


class OutageTracker:
    def __init__(self, symbols: Iterable[str]) -> None:
        self._out: dict[str, bool] = dict.fromkeys(symbols, False)

    def is_out(self, symbol: str) -> bool:
        return self._out.get(symbol, False)

    def outage(self, symbol: str, time_ms: int, reason: str) -> DataOutage | None:
        """The outage event, or None when this symbol is already reported out."""
        if self._out.get(symbol):
            return None
        self._out[symbol] = True
        return DataOutage(symbol, time_ms, reason)

    def data_seen(self, symbol: str, time_ms: int) -> DataRestored | None:
        """Data for `symbol` arrived: DataRestored if it was out, else None."""
        if not self._out.get(symbol):
            return None
        self._out[symbol] = False
        return DataRestored(symbol, time_ms)
