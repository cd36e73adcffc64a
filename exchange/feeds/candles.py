"""Recorded candles: load a file or folder into per-symbol series, and replay them as one stream.

Formats (see `exchange.feeds.candle_files`): freqtrade `PAIR-TF.json[.gz]`, Binance 12-column kline
CSVs (`SYMBOL-TF-DATE.csv`, also zipped), and native recordings (their closed klines).

Every row is checked (finite numbers, positive prices, low <= open/close <= high, volume >= 0,
taker-buy volume within the volume, open times strictly increasing on the interval's grid); a bad
row raises `MalformedDataFile` naming the file and line. Missing intervals are reported as
`DataGap(symbol, from_ms, to_ms)`: `[from_ms, to_ms)` is the time no candle covers, from the close of
the last candle before the hole to the open of the first after it. Gaps are never filled.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from core.events import Bar, DataGap
from exchange.feeds.candle_cache import read_candle_file_cached
from exchange.feeds.candle_files import CandleFile, RawCandles, SkippedFile, classify, discover
from exchange.feeds.errors import MalformedDataFile
from exchange.feeds.intervals import interval_ms

log = logging.getLogger("exchange.feeds.candles")

_CHUNK = 8_192


@dataclass
class CandleSeries:
    """One symbol's candles as numpy columns (open times in ms since the epoch, UTC) and the gaps found.

    Columns stay numpy arrays (8 bytes a value) rather than lists of Python floats (about 32 bytes a value):
    the 8-pair, 7.5-month 5m set then holds in ~25 MB instead of ~150 MB. `iter_bars` turns one chunk at a
    time into Python values.
    """

    symbol: str
    interval_ms: int
    open_time: np.ndarray  # int64
    open: np.ndarray  # float64, and so are the columns below
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    taker_buy: np.ndarray | None
    gaps: list[DataGap]

    def __post_init__(self) -> None:
        n = len(self.open_time)
        columns = [self.open, self.high, self.low, self.close, self.volume]
        if self.taker_buy is not None:
            columns.append(self.taker_buy)
        if any(len(c) != n for c in columns):
            raise ValueError(f"{self.symbol}: candle columns differ in length")
        if self.interval_ms <= 0:
            raise ValueError(f"{self.symbol}: interval must be positive, got {self.interval_ms}")

    def __len__(self) -> int:
        return len(self.open_time)


def normalise_symbol(name: str) -> str:
    """"BTC/USDT", "btc_usdt", "BTC-USDT" → "BTCUSDT"."""
    return "".join(ch for ch in name.upper() if ch.isalnum())


def load_candles(path: Path, symbols: Collection[str] | None = None, start_ms: int | None = None,
                 end_ms: int | None = None, *, interval: str | None = None,
                 cache_dir: Path | None = None) -> dict[str, CandleSeries]:
    """Candles of a file or of every candle file in a folder, keyed by symbol ("BTCUSDT").

    Only rows with `start_ms <= open_time < end_ms` are kept. When a folder holds several intervals
    of one symbol, `interval` picks one; without it the finest is used and the others are skipped.
    Skipped files are logged (stderr) with the reason; a file passed by name that cannot be read
    raises `MalformedDataFile`. With `cache_dir`, each file's parsed rows are kept there and reused while
    the file's bytes are unchanged (`exchange.feeds.candle_cache`).
    """
    path = Path(path)
    if not path.exists():
        raise MalformedDataFile(path, None, "no such file or folder")
    if path.is_dir():
        files, skipped = discover(path)
    else:
        kind = classify(path)
        if isinstance(kind, SkippedFile):
            raise MalformedDataFile(path, None, kind.reason)
        files, skipped = [kind], []
    wanted = {normalise_symbol(s) for s in symbols} if symbols is not None else None
    parts = _read_parts(files, wanted, cache_dir)
    chosen, not_chosen = _choose_intervals(parts, interval)
    skipped += not_chosen
    for skip in skipped:
        log.warning("skipped %s: %s", skip.path, skip.reason)
    result: dict[str, CandleSeries] = {}
    for symbol in sorted(chosen):
        series = _series(_combine(chosen[symbol]), start_ms, end_ms)
        if len(series):
            result[symbol] = series
    return result


def _read_parts(files: Sequence[CandleFile], wanted: set[str] | None, cache_dir: Path | None) -> list[RawCandles]:
    """Every wanted file read, in order. Two threads: zlib and file reads let go of the GIL, so one file
    inflates while the other is parsed (~20 % off loading the 8-pair set; parsing itself holds the GIL)."""
    chosen = [f for f in files if wanted is None or f.symbol is None or f.symbol in wanted]
    parts: list[RawCandles] = []
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="candles") as pool:
        read = list(pool.map(partial(read_candle_file_cached, cache_dir=cache_dir), chosen))
    for raws in read:
        for raw in raws:
            if wanted is None or raw.symbol in wanted:
                _check_rows(raw)
                parts.append(raw)
    return parts


def _choose_intervals(parts: list[RawCandles], interval: str | None) -> tuple[dict[str, list[RawCandles]],
                                                                                list[SkippedFile]]:
    by_symbol: dict[str, list[RawCandles]] = {}
    for raw in parts:
        by_symbol.setdefault(raw.symbol, []).append(raw)
    chosen: dict[str, list[RawCandles]] = {}
    skipped: list[SkippedFile] = []
    for symbol, group in by_symbol.items():
        intervals = {raw.interval for raw in group}
        pick = interval if interval is not None else min(intervals, key=interval_ms)
        for raw in group:
            if raw.interval == pick:
                chosen.setdefault(symbol, []).append(raw)
            else:
                skipped.append(SkippedFile(raw.path, f"{symbol} {raw.interval} candles: using {pick} instead"))
    return chosen, skipped


def _first_bad(mask: np.ndarray) -> int | None:
    bad = np.flatnonzero(mask)
    return int(bad[0]) if len(bad) else None


def _check_rows(raw: RawCandles) -> None:
    """Refuse the first row that no real candle could have, naming its line."""
    o, h, lo, c, v = (raw.ohlcv[:, i] for i in range(5))
    step = interval_ms(raw.interval)
    steps = np.diff(raw.open_time)
    checks: list[tuple[np.ndarray, str]] = [
        (~np.isfinite(raw.ohlcv).all(axis=1), "a value is not a finite number"),
        ((o <= 0) | (h <= 0) | (lo <= 0) | (c <= 0), "a price is not positive"),
        (v < 0, "volume is negative"),
        ((lo > np.minimum(o, c)) | (h < np.maximum(o, c)), "low/high do not bracket open and close"),
        (raw.open_time < 0, "open time is negative"),
    ]
    if raw.taker_buy is not None:
        checks.append(((raw.taker_buy < 0) | (raw.taker_buy > v) | ~np.isfinite(raw.taker_buy),
                       "taker-buy volume is not within [0, volume]"))
    for mask, reason in checks:
        row = _first_bad(mask)
        if row is not None:
            raise MalformedDataFile(raw.path, int(raw.lines[row]), f"{reason}: {raw.ohlcv[row].tolist()}")
    row = _first_bad((steps <= 0) | (steps % step != 0))
    if row is not None:
        raise MalformedDataFile(raw.path, int(raw.lines[row + 1]),
                                f"open time {int(raw.open_time[row + 1])} does not follow {int(raw.open_time[row])} "
                                f"on the {raw.interval} grid (rows must be in time order, without duplicates)")


def _combine(parts: list[RawCandles]) -> RawCandles:
    """One symbol's files (e.g. daily CSVs) in time order. Overlapping rows must agree exactly."""
    parts = sorted(parts, key=lambda p: (int(p.open_time[0]) if len(p.open_time) else 0))
    merged = parts[0]
    for part in parts[1:]:
        merged = _append(merged, part)
    return merged


def _append(head: RawCandles, tail: RawCandles) -> RawCandles:
    if len(head.open_time) and len(tail.open_time):
        last = int(head.open_time[-1])
        overlap = int(np.searchsorted(tail.open_time, last, side="right"))
        if overlap:
            at = np.searchsorted(head.open_time, tail.open_time[:overlap])
            same = (at < len(head.open_time)) & (head.open_time[np.minimum(at, len(head.open_time) - 1)]
                                                  == tail.open_time[:overlap])
            if not same.all() or not np.array_equal(head.ohlcv[at], tail.ohlcv[:overlap]):
                row = _first_bad(~same) or 0
                raise MalformedDataFile(tail.path, int(tail.lines[row]),
                                        f"overlaps {head.path.name} with different candles")
            tail = RawCandles(tail.symbol, tail.interval, tail.open_time[overlap:], tail.ohlcv[overlap:],
                              None if tail.taker_buy is None else tail.taker_buy[overlap:], tail.lines[overlap:],
                              tail.path)
    taker = (None if head.taker_buy is None or tail.taker_buy is None
             else np.concatenate([head.taker_buy, tail.taker_buy]))
    combined = RawCandles(head.symbol, head.interval, np.concatenate([head.open_time, tail.open_time]),
                          np.concatenate([head.ohlcv, tail.ohlcv]), taker,
                          np.concatenate([head.lines, tail.lines]), tail.path)
    if len(head.open_time) and len(tail.open_time):
        step = int(tail.open_time[0]) - int(head.open_time[-1])
        if step % interval_ms(head.interval):
            raise MalformedDataFile(tail.path, int(tail.lines[0]), f"off the {head.interval} grid of {head.path.name}")
    return combined


def _series(raw: RawCandles, start_ms: int | None, end_ms: int | None) -> CandleSeries:
    times, table, taker = raw.open_time, raw.ohlcv, raw.taker_buy
    if start_ms is not None or end_ms is not None:
        keep = np.ones(len(times), dtype=bool)
        if start_ms is not None:
            keep &= times >= start_ms
        if end_ms is not None:
            keep &= times < end_ms
        times, table = times[keep], table[keep]
        taker = None if taker is None else taker[keep]
    step = interval_ms(raw.interval)
    holes = np.flatnonzero(np.diff(times) != step)
    gaps = [DataGap(raw.symbol, int(times[i]) + step, int(times[i + 1])) for i in holes]
    columns = np.ascontiguousarray(table.T, dtype=np.float64)
    return CandleSeries(
        symbol=raw.symbol,
        interval_ms=step,
        open_time=np.asarray(times, dtype=np.int64),
        open=columns[0],
        high=columns[1],
        low=columns[2],
        close=columns[3],
        volume=columns[4],
        taker_buy=None if taker is None else np.asarray(taker, dtype=np.float64),
        gaps=gaps,
    )


# -- replay ---------------------------------------------------------------------------------------


def iter_bars(series: Mapping[str, CandleSeries]) -> Iterator[Bar | DataGap]:
    """Every bar of every series in time order (close time, then symbol), each DataGap right after
    the last bar before its hole. Bars are built as they are consumed."""
    ordered = sorted(series.values(), key=lambda s: s.symbol)
    if not ordered:
        return
    sizes = [len(s) for s in ordered]
    n_bars = sum(sizes)
    gaps = [gap for s in ordered for gap in s.gaps]
    bar_close = np.concatenate([np.asarray(s.open_time, dtype=np.int64) + (s.interval_ms - 1) for s in ordered])
    keys = np.concatenate([bar_close, np.array([g.from_ms - 1 for g in gaps], dtype=np.int64)])
    ranks = np.concatenate([np.repeat(np.arange(len(ordered)), sizes),
                            np.array([r for r, s in enumerate(ordered) for _ in s.gaps], dtype=np.int64)])
    kinds = np.concatenate([np.zeros(n_bars, dtype=np.int8), np.ones(len(gaps), dtype=np.int8)])
    order = np.lexsort((kinds, ranks, keys))
    names = np.array([s.symbol for s in ordered], dtype=object)[ranks[:n_bars]]
    open_times = np.concatenate([s.open_time for s in ordered])
    floats = [np.concatenate([getattr(s, name) for s in ordered])
              for name in ("open", "high", "low", "close", "volume")]
    has_taker = any(s.taker_buy is not None for s in ordered)
    taker = (np.concatenate([s.taker_buy if s.taker_buy is not None else np.full(len(s), np.nan) for s in ordered])
             if has_taker else None)
    columns = [names, open_times, bar_close, *floats]
    start = 0
    for position in [*np.flatnonzero(order >= n_bars).tolist(), len(order)]:
        for chunk_start in range(start, position, _CHUNK):
            picked = order[chunk_start:min(position, chunk_start + _CHUNK)]
            values = [column[picked].tolist() for column in columns]
            if taker is None:
                yield from map(Bar, *values)
            else:
                takers = [None if v != v else v for v in taker[picked].tolist()]  # NaN: this file has no taker
                yield from map(Bar, *values, takers)
        if position < len(order):
            yield gaps[int(order[position]) - n_bars]
        start = position + 1
