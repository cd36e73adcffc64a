"""The native recording: JSON lines of what a live session received, and its replay as events.

Line 1 is a header `{"format": "crypto-executor-recording", "version": 1, "symbols": [...], ...}`.
Every later line is one record `{"t": receive_ms, "k": kind, "s": symbol, "m": payload}`:

- `connect` (`m` = the stream URL): a new WebSocket connection; every book must be rebuilt.
- `disconnect` (`m` = why).
- `ws` (`m` = the raw combined-stream message, exactly as parsed from the socket).
- `snapshot` (`s`, `m` = the REST depth JSON fetched to synchronise the book).
- `poll` (`s`, `m` = a REST depth JSON polled while the socket was down).
- `outage` (`s`, `m` = the reason the live feed reported DataOutage).

Replaying the raw messages through the same `BookSync` and `OutageTracker` the live feed uses gives
back the events the live session produced, without trusting any derived value stored in the file.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from core.events import Book, MarketEvent
from exchange.feeds.book_sync import BookSync
from exchange.feeds.errors import MalformedDataFile
from exchange.feeds.health import OutageTracker
from exchange.feeds.streams import DepthDiff, book_from_snapshot, decode_message

RECORDING_FORMAT = "crypto-executor-recording"
RECORDING_VERSION = 1
RecordKind = Literal["connect", "disconnect", "ws", "snapshot", "poll", "outage"]
RECORD_KINDS = frozenset({"connect", "disconnect", "ws", "snapshot", "poll", "outage"})


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One thing the live feed received or decided, with its receive time (ms since the epoch)."""

    kind: RecordKind
    time_ms: int
    symbol: str | None = None
    payload: Any = None

    def to_line(self) -> str:
        record: dict[str, Any] = {"t": self.time_ms, "k": self.kind}
        if self.symbol is not None:
            record["s"] = self.symbol
        if self.payload is not None:
            record["m"] = self.payload
        return json.dumps(record, separators=(",", ":"))


def _open_text(path: Path) -> IO[str]:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open("r", encoding="utf-8")


def is_recording(path: Path) -> bool:
    """True when the file starts with a recording header (cheap: reads one line)."""
    try:
        with _open_text(path) as fh:
            first = fh.readline(4096)
        header = json.loads(first)
    except (OSError, UnicodeDecodeError, ValueError, EOFError):
        return False
    return isinstance(header, dict) and header.get("format") == RECORDING_FORMAT


def read_recording(path: Path) -> tuple[dict[str, Any], Iterator[RawRecord]]:
    """The header and a lazy iterator over the records. Malformed lines raise `MalformedDataFile`."""
    fh = _open_text(path)
    try:
        header = json.loads(fh.readline())
    except ValueError as exc:
        fh.close()
        raise MalformedDataFile(path, 1, f"header is not JSON ({exc})") from exc
    if not isinstance(header, dict) or header.get("format") != RECORDING_FORMAT:
        fh.close()
        raise MalformedDataFile(path, 1, f"not a {RECORDING_FORMAT} file")
    if header.get("version") != RECORDING_VERSION:
        fh.close()
        raise MalformedDataFile(path, 1, f"recording version {header.get('version')!r} is not {RECORDING_VERSION}")
    return header, _records(path, fh)


def _records(path: Path, fh: IO[str]) -> Iterator[RawRecord]:
    with fh:
        for number, line in enumerate(fh, start=2):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                kind = raw["k"]
                time_ms = int(raw["t"])
            except (ValueError, KeyError, TypeError) as exc:
                raise MalformedDataFile(path, number, f"not a record ({exc})") from exc
            if kind not in RECORD_KINDS:
                raise MalformedDataFile(path, number, f"unknown record kind {kind!r}")
            yield RawRecord(kind, time_ms, raw.get("s"), raw.get("m"))


def iter_recording(path: Path) -> Iterator[MarketEvent]:
    """Replay a recording as the events the live feed produced: Book, BookTop, TradePrint, Bar,
    DataOutage and DataRestored, in recorded order."""
    header, records = read_recording(path)
    symbols = [str(s) for s in header.get("symbols", ())]
    depth = int(header.get("depth", 10))
    syncs = {s: BookSync(s, depth) for s in symbols}
    health = OutageTracker(symbols)
    for number, record in enumerate(records, start=2):
        try:
            produced = _replay_one(record, syncs, depth)
        except (KeyError, ValueError, TypeError) as exc:
            raise MalformedDataFile(path, number, f"{record.kind} record unreadable ({exc!r})") from exc
        if record.kind == "outage" and record.symbol is not None:
            outage = health.outage(record.symbol, record.time_ms, str(record.payload))
            if outage is not None:
                yield outage
            continue
        if produced is None:
            continue
        restored = health.data_seen(produced.symbol, record.time_ms)
        if restored is not None:
            yield restored
        yield produced


def _replay_one(record: RawRecord, syncs: dict[str, BookSync], depth: int) -> MarketEvent | None:
    if record.kind == "connect":
        for sync in syncs.values():
            sync.reset()
        return None
    if record.kind == "ws":
        decoded = decode_message(record.payload, record.time_ms)
        if isinstance(decoded, DepthDiff):
            sync = syncs.get(decoded.symbol)
            return sync.on_diff(decoded.data, decoded.time_ms) if sync is not None else None
        return decoded
    if record.kind == "snapshot" and record.symbol in syncs:
        return syncs[record.symbol].on_snapshot(record.payload, record.time_ms)
    if record.kind == "poll" and record.symbol is not None:
        book: Book | None = book_from_snapshot(record.symbol, record.payload, record.time_ms, depth)
        return book
    return None
