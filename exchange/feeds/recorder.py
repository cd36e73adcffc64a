"""`record`: run the live feed for a while and write everything it received as a native recording.

The file is written line by line and flushed as it goes, so a session cut short still leaves a
readable recording of everything up to the cut.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from exchange.feeds.live import LiveFeed, wall_clock_ms
from exchange.feeds.recording import RECORDING_FORMAT, RECORDING_VERSION, RawRecord

RECORD_KLINE_INTERVAL = "1m"


@dataclass(frozen=True)
class RecordingSummary:
    path: Path
    symbols: tuple[str, ...]
    started_ms: int
    ended_ms: int
    records: int
    by_kind: dict[str, int] = field(default_factory=dict)
    events: int = 0


class _Writer:
    def __init__(self, fh: IO[str]) -> None:
        self._fh = fh
        self.counts: Counter[str] = Counter()

    def __call__(self, record: RawRecord) -> None:
        self._fh.write(record.to_line() + "\n")
        self.counts[record.kind] += 1


async def record(symbols: Sequence[str], minutes: float, out: Path, ws_base: str, rest_base: str,
                 progress: Callable[[float], None] | None = None, *, depth: int = 10,
                 stale_after_ms: int = 5_000) -> RecordingSummary:
    """Record `symbols` for `minutes` into `out` (JSON lines: a header, then raw records).

    The streams are the live feed's (bookTicker, 100 ms depth, aggTrade) plus 1 m klines, so that the
    recording can be read back as Book/BookTop/TradePrint/Bar events (`iter_recording`) or as candles
    (`load_candles`). `progress` is called with the fraction done (0..1) about once a second.
    """
    if minutes <= 0:
        raise ValueError(f"minutes must be positive, got {minutes}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    duration_s = minutes * 60
    started_ms = wall_clock_ms()
    events = 0
    with out.open("w", encoding="utf-8", buffering=1) as fh:  # line-buffered: a cut leaves whole lines
        writer = _Writer(fh)
        feed = LiveFeed(symbols, ws_base, rest_base, stale_after_ms, depth=depth,
                        kline_interval=RECORD_KLINE_INTERVAL, raw_sink=writer)
        header = {"format": RECORDING_FORMAT, "version": RECORDING_VERSION, "symbols": feed.symbols,
                  "streams": feed.streams, "depth": depth, "ws_base": ws_base, "rest_base": rest_base,
                  "started_ms": started_ms}
        fh.write(json.dumps(header) + "\n")
        deadline = time.monotonic() + duration_s

        async def consume() -> None:
            nonlocal events
            next_report = 0.0
            async with contextlib.aclosing(feed.events()) as stream:
                async for _ in stream:
                    events += 1
                    now = time.monotonic()
                    if progress is not None and now >= next_report:
                        progress(min(1.0, 1 - (deadline - now) / duration_s))
                        next_report = now + 1.0

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(consume(), timeout=duration_s)
        fh.flush()
    if progress is not None:
        progress(1.0)
    return RecordingSummary(out, tuple(feed.symbols), started_ms, wall_clock_ms(),
                            sum(writer.counts.values()), dict(writer.counts), events)
