"""Finding and parsing candle files: freqtrade JSON, Binance 12-column kline CSVs, native recordings.

Each reader returns raw columns (numpy arrays) plus the source line of every row, so that the
checks in `exchange.feeds.candles` can name the exact line of a bad row. Nothing here fills, drops
or repairs a row.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from exchange.feeds.errors import MalformedDataFile
from exchange.feeds.intervals import interval_ms
from exchange.feeds.recording import is_recording, read_recording

CandleFormat = Literal["freqtrade", "kline_csv", "recording"]

_FREQTRADE = re.compile(r"^(?P<base>[A-Za-z0-9]+)_(?P<quote>[A-Za-z0-9]+)-(?P<tf>\d+[smhdwM])\.json(?:\.gz)?$")
_FREQTRADE_OTHER = re.compile(r"^[A-Za-z0-9_]+-[^.]*\.(?:json(?:\.gz)?|feather|parquet)$")
_KLINE_CSV = re.compile(r"^(?P<symbol>[A-Z0-9]+)-(?P<tf>\d+[smhdwM])-\d{4}-\d{2}(?:-\d{2})?\.(?:csv|zip)$")
# Binance public data switched spot timestamps to microseconds in 2025; anything this large is µs.
MICROSECONDS_FROM = 10**14
KLINE_COLUMNS = 12


@dataclass(frozen=True, slots=True)
class CandleFile:
    path: Path
    format: CandleFormat
    symbol: str | None
    interval: str | None


@dataclass(frozen=True, slots=True)
class SkippedFile:
    path: Path
    reason: str


@dataclass(slots=True)
class RawCandles:
    """Rows of one file: open times (ms), OHLCV (n × 5), taker-buy base volume or None, source lines."""

    symbol: str
    interval: str
    open_time: np.ndarray
    ohlcv: np.ndarray
    taker_buy: np.ndarray | None
    lines: np.ndarray
    path: Path


def classify(path: Path) -> CandleFile | SkippedFile:
    """What a file is, judged by its name (and, for recordings, its first line)."""
    name = path.name
    if path.is_dir():
        return SkippedFile(path, "a folder (only the files directly inside the data folder are read)")
    if name.startswith("."):
        return SkippedFile(path, "hidden file")
    match = _FREQTRADE.match(name)
    if match:
        tf = match.group("tf")
        reason = _interval_problem(tf)
        if reason:
            return SkippedFile(path, reason)
        return CandleFile(path, "freqtrade", (match.group("base") + match.group("quote")).upper(), tf)
    match = _KLINE_CSV.match(name)
    if match:
        tf = match.group("tf")
        reason = _interval_problem(tf)
        if reason:
            return SkippedFile(path, reason)
        return CandleFile(path, "kline_csv", match.group("symbol"), tf)
    if name.endswith((".feather", ".parquet")):
        return SkippedFile(path, "feather/parquet candles are not read; convert them with "
                                 "`freqtrade convert-data --format-from feather --format-to jsongz`")
    if _FREQTRADE_OTHER.match(name):
        return SkippedFile(path, "a freqtrade file that is not spot candles (futures, mark, funding or trades)")
    if is_recording(path):
        return CandleFile(path, "recording", None, None)
    return SkippedFile(path, "not a freqtrade candle file (PAIR-TF.json[.gz]), a Binance kline CSV "
                             "(SYMBOL-TF-DATE.csv) or a crypto-executor recording")


def _interval_problem(tf: str) -> str | None:
    try:
        interval_ms(tf)
    except ValueError as exc:
        return str(exc)
    return None


def discover(path: Path) -> tuple[list[CandleFile], list[SkippedFile]]:
    """The candle files in a folder (sorted by name) and the files skipped, each with its reason."""
    found: list[CandleFile] = []
    skipped: list[SkippedFile] = []
    for child in sorted(path.iterdir()):
        kind = classify(child)
        (found if isinstance(kind, CandleFile) else skipped).append(kind)  # type: ignore[arg-type]
    return found, skipped


def _read_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    if not path.name.endswith(".gz"):
        return raw
    try:
        # One zlib call for the usual single-member file; gzip handles the multi-member case.
        inflater = zlib.decompressobj(wbits=31)
        data = inflater.decompress(raw)
        if inflater.eof and not inflater.unused_data:
            return data
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise MalformedDataFile(path, None, f"not a readable gzip file ({exc})") from exc


# -- freqtrade ------------------------------------------------------------------------------------


def read_freqtrade(file: CandleFile) -> RawCandles:
    """`[[open_ms, o, h, l, c, v], ...]`. A compact file (as freqtrade writes it) is parsed by numpy's
    C reader; anything else (spaces, other layouts, errors) goes through json for exact error rows."""
    assert file.symbol is not None and file.interval is not None
    data = _read_bytes(file.path)
    table = _freqtrade_fast(data)
    if table is None:
        table = _freqtrade_json(file.path, data)
    times = table[:, 0]
    lines = np.arange(1, len(table) + 1)
    bad = np.nonzero(times != np.floor(times))[0]
    if len(bad):
        raise MalformedDataFile(file.path, int(lines[bad[0]]), f"open time {times[bad[0]]!r} is not whole milliseconds")
    return RawCandles(file.symbol, file.interval, times.astype(np.int64), table[:, 1:6], None, lines, file.path)


def _freqtrade_fast(data: bytes) -> np.ndarray | None:
    body = data.strip()
    if body == b"[]":
        return np.empty((0, 6))
    if not (body.startswith(b"[[") and body.endswith(b"]]")):
        return None
    rows = body[2:-2].replace(b"],[", b"\n")
    # Anything but numbers and commas between the row brackets (whitespace between rows, strings, nesting)
    # leaves a bracket or a quote behind: json then reads the file and names the bad row. Single-byte
    # searches are memchr, so this costs next to nothing on a 4 MB file.
    if b"[" in rows or b"]" in rows or b'"' in rows:
        return None
    try:
        table = np.loadtxt(io.BytesIO(rows), delimiter=",", dtype=np.float64, comments=None, ndmin=2)
    except ValueError:
        return None
    return table if table.shape[1] == 6 else None


def _freqtrade_json(path: Path, data: bytes) -> np.ndarray:
    try:
        rows = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        raise MalformedDataFile(path, line, f"not JSON ({exc})") from exc
    if not isinstance(rows, list):
        raise MalformedDataFile(path, None, "expected a JSON array of candle rows")
    for index, row in enumerate(rows):
        if not (isinstance(row, list) and len(row) == 6
                and all(isinstance(v, int | float) and not isinstance(v, bool) for v in row)):
            raise MalformedDataFile(path, index + 1, f"row {index + 1} is not [open_ms, open, high, low, close, "
                                                     f"volume] as numbers: {str(row)[:120]}")
    return np.array(rows, dtype=np.float64).reshape(-1, 6)


# -- Binance kline CSV ----------------------------------------------------------------------------


def _csv_text(path: Path) -> str:
    if path.suffix == ".zip":
        try:
            with zipfile.ZipFile(path) as archive:
                members = [n for n in archive.namelist() if n.endswith(".csv")]
                if len(members) != 1:
                    raise MalformedDataFile(path, None, f"expected one CSV inside the zip, found {len(members)}")
                return archive.read(members[0]).decode("utf-8")
        except zipfile.BadZipFile as exc:
            raise MalformedDataFile(path, None, f"not a readable zip file ({exc})") from exc
    try:
        return _read_bytes(path).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedDataFile(path, None, f"not UTF-8 text ({exc})") from exc


def read_kline_csv(file: CandleFile) -> RawCandles:
    """Binance public-data klines: open_time, o, h, l, c, volume, close_time, quote_volume, trades,
    taker_buy_base, taker_buy_quote, ignore. A header line, if present, is skipped."""
    assert file.symbol is not None and file.interval is not None
    step = interval_ms(file.interval)
    times: list[int] = []
    values: list[tuple[float, float, float, float, float, float]] = []
    lines: list[int] = []
    for number, line in enumerate(_csv_text(file.path).splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split(",")
        if number == 1 and not fields[0].strip().isdigit():
            continue
        if len(fields) != KLINE_COLUMNS:
            raise MalformedDataFile(file.path, number, f"expected {KLINE_COLUMNS} columns, found {len(fields)}")
        try:
            open_time, close_time = int(fields[0]), int(fields[6])
            row = (float(fields[1]), float(fields[2]), float(fields[3]), float(fields[4]), float(fields[5]),
                   float(fields[9]))
        except ValueError as exc:
            raise MalformedDataFile(file.path, number, f"not a number ({exc})") from exc
        if open_time >= MICROSECONDS_FROM:
            open_time, close_time = open_time // 1000, close_time // 1000
        if close_time - open_time + 1 != step:
            raise MalformedDataFile(file.path, number, f"close time {close_time} does not end a {file.interval} "
                                                       f"candle opened at {open_time}")
        times.append(open_time)
        values.append(row)
        lines.append(number)
    table = np.array(values, dtype=np.float64).reshape(-1, 6)
    return RawCandles(file.symbol, file.interval, np.array(times, dtype=np.int64), table[:, :5], table[:, 5],
                      np.array(lines, dtype=np.int64), file.path)


# -- native recordings ----------------------------------------------------------------------------


def read_recording_klines(file: CandleFile) -> list[RawCandles]:
    """The closed klines (`k.x` true) a recording received, one RawCandles per symbol."""
    _, records = read_recording(file.path)
    rows: dict[tuple[str, str], list[tuple[int, int, list[float]]]] = {}
    for number, record in enumerate(records, start=2):
        if record.kind != "ws" or not isinstance(record.payload, dict):
            continue
        data = record.payload.get("data")
        if not isinstance(data, dict) or data.get("e") != "kline":
            continue
        try:
            k = data["k"]
            if not k.get("x"):
                continue
            key = (str(k["s"]), str(k["i"]))
            values = [float(k[f]) for f in ("o", "h", "l", "c", "v", "V")]
            rows.setdefault(key, []).append((int(k["t"]), number, values))
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise MalformedDataFile(file.path, number, f"kline message unreadable ({exc!r})") from exc
    result = []
    for (symbol, interval), received in sorted(rows.items()):
        # A kline closes once per connection; a replayed duplicate with the same values adds nothing.
        ordered = sorted(received, key=lambda e: e[0])
        entries = [e for i, e in enumerate(ordered)
                   if i == 0 or (e[0], e[2]) != (ordered[i - 1][0], ordered[i - 1][2])]
        table = np.array([v for _, _, v in entries], dtype=np.float64).reshape(-1, 6)
        result.append(RawCandles(symbol, interval, np.array([t for t, _, _ in entries], dtype=np.int64),
                                 table[:, :5], table[:, 5], np.array([n for _, n, _ in entries], dtype=np.int64),
                                 file.path))
    return result


def read_candle_file(file: CandleFile) -> list[RawCandles]:
    if file.format == "freqtrade":
        return [read_freqtrade(file)]
    if file.format == "kline_csv":
        return [read_kline_csv(file)]
    return read_recording_klines(file)
