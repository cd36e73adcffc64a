"""Typed errors of the market-data feeds. Each names what a person needs to find the problem."""

from __future__ import annotations

from pathlib import Path

from core.errors import ExecutorError


class FeedError(ExecutorError):
    code = "FEED_ERROR"


class MalformedDataFile(FeedError):
    """A data file that cannot be read as the format its name or header claims.

    `line` is 1-based: a text line for CSV files and recordings, a candle row for JSON candle files
    (a freqtrade file is one JSON array, so the row is the useful position), or None when the problem
    is the file as a whole.
    """

    code = "MALFORMED_DATA"

    def __init__(self, file: Path | str, line: int | None, reason: str) -> None:
        where = f"{file}" if line is None else f"{file}:{line}"
        super().__init__(f"{where}: {reason}", file=str(file), line=line, reason=reason)
        self.file = str(file)
        self.line = line
        self.reason = reason


class UnsupportedSymbol(FeedError):
    """A symbol whose quote asset cannot be told apart from its base (needed to derive offline rules)."""

    code = "UNSUPPORTED_SYMBOL"

    def __init__(self, symbol: str, reason: str) -> None:
        super().__init__(f"{symbol}: {reason}", symbol=symbol, reason=reason)
        self.symbol = symbol


class BookOutOfSync(FeedError):
    """The local order book no longer follows the exchange's: it must be rebuilt from a new snapshot.

    Binance's rule (spot "How to manage a local order book correctly"): drop diffs with u <= the
    snapshot's lastUpdateId; the first applied diff must satisfy U <= lastUpdateId + 1 <= u; every
    later diff must have U == previous u + 1. Anything else is a gap.
    """

    code = "BOOK_OUT_OF_SYNC"

    def __init__(self, symbol: str, reason: str, last_update_id: int | None = None,
                 first_update_id: int | None = None, final_update_id: int | None = None) -> None:
        super().__init__(
            f"{symbol}: local order book out of sync ({reason})",
            symbol=symbol,
            reason=reason,
            last_update_id=last_update_id,
            first_update_id=first_update_id,
            final_update_id=final_update_id,
        )
        self.symbol = symbol
        self.reason = reason
