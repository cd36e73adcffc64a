"""The buffering around a LocalBook: diffs wait for a snapshot, a gap asks for a new one.

Shared by the live feed and the recording reader so that a replay rebuilds exactly the books the
live feed built from the same messages.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

from core.events import Book
from exchange.feeds.book import LocalBook
from exchange.feeds.errors import BookOutOfSync

# Diffs kept while no snapshot is loaded: 100 ms diffs for ~3 minutes. Older ones could only be
# dropped by any later snapshot anyway.
MAX_BUFFERED_DIFFS = 2_000


class BookSync:
    """One symbol's book plus the diffs that arrived before its snapshot.

    `needs_snapshot` is True from the start, after `reset()` and after a gap; the owner then fetches
    (live) or waits for (replay) a snapshot and hands it to `on_snapshot`.
    """

    def __init__(self, symbol: str, depth: int = 10) -> None:
        self.symbol = symbol
        self.depth = depth
        self.book = LocalBook(symbol)
        self._buffer: deque[Mapping[str, Any]] = deque(maxlen=MAX_BUFFERED_DIFFS)
        self.needs_snapshot = True
        self.gaps = 0

    def reset(self) -> None:
        """Forget the book (a new connection: the old stream's ids say nothing about the new one)."""
        self.book = LocalBook(self.symbol)
        self._buffer.clear()
        self.needs_snapshot = True

    def on_diff(self, diff: Mapping[str, Any], time_ms: int) -> Book | None:
        """A depthUpdate arrived: the new top of the book, or None while waiting for a snapshot."""
        if self.needs_snapshot:
            self._buffer.append(diff)
            return None
        try:
            if not self.book.apply(diff):
                return None
            return self.book.book(time_ms, self.depth)
        except BookOutOfSync:
            self.gaps += 1
            self.book = LocalBook(self.symbol)
            self._buffer.clear()
            self._buffer.append(diff)
            self.needs_snapshot = True
            return None

    def on_snapshot(self, snapshot: Mapping[str, Any], time_ms: int) -> Book | None:
        """Load a REST snapshot and replay the buffered diffs: the synced book, or None if it is unusable.

        None leaves `needs_snapshot` set: the snapshot was older than the buffered diffs (fetch a newer
        one) or the buffer itself had a gap.
        """
        self.book.load_snapshot(snapshot)
        last_id = self.book.last_update_id or 0
        pending = [d for d in self._buffer if int(d["u"]) > last_id]
        self._buffer = deque(pending, maxlen=MAX_BUFFERED_DIFFS)
        try:
            for diff in pending:
                self.book.apply(diff)
            top = self.book.book(time_ms, self.depth)
        except BookOutOfSync:
            self.book = LocalBook(self.symbol)
            self.needs_snapshot = True
            return None
        self._buffer.clear()
        self.needs_snapshot = False
        return top
