"""A parsed copy of each candle file, so that a data folder is parsed once rather than on every backtest.

Parsing the gzipped JSON of the 8-pair, 7-month set takes ~0.5 s a run; loading the parsed arrays back takes
a few milliseconds a file. There is one entry per source file, named by a digest of the file's resolved path,
and it holds the SHA-256 of the bytes it was parsed from: a file that changes in any way is parsed again and
its entry replaced, so a stale copy is never read and the cache keeps one entry per file it has seen.

Entries are uncompressed `.npz` files (about three times the size of gzipped JSON), read without pickles.
An entry that cannot be read is parsed again, with a warning. Writing is best effort: a cache that cannot be
written (read-only folder, full disk) costs speed, never the backtest. The rows are checked after loading,
from the cache or not, so a bad row is refused with the same file and line either way.
"""

from __future__ import annotations

import hashlib
import io
import logging
import zipfile
from pathlib import Path

import numpy as np

from exchange.feeds.candle_files import CandleFile, RawCandles, read_candle_file
from memory.files import MemoryFileError, write_bytes_atomic

log = logging.getLogger("exchange.feeds.candle_cache")

CACHE_VERSION = 1


def entry_path(cache_dir: Path, source: Path) -> Path:
    """Where the parsed copy of `source` lives."""
    return cache_dir / f"{hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:32]}.npz"


def read_candle_file_cached(file: CandleFile, cache_dir: Path | None) -> list[RawCandles]:
    """`read_candle_file`, answered from the cache when it holds a copy parsed from these exact bytes."""
    if cache_dir is None:
        return read_candle_file(file)
    digest = hashlib.sha256(file.path.read_bytes()).hexdigest()
    entry = entry_path(cache_dir, file.path)
    cached = _load(entry, digest, file.path)
    if cached is not None:
        return cached
    parsed = read_candle_file(file)
    _store(entry, digest, parsed, file.path)
    return parsed


def _load(entry: Path, digest: str, source: Path) -> list[RawCandles] | None:
    try:
        with np.load(entry, allow_pickle=False) as data:
            if int(data["version"]) != CACHE_VERSION or str(data["digest"]) != digest:
                return None
            return [
                RawCandles(
                    symbol=str(data[f"{i}.symbol"]),
                    interval=str(data[f"{i}.interval"]),
                    open_time=data[f"{i}.open_time"],
                    ohlcv=data[f"{i}.ohlcv"],
                    taker_buy=data[f"{i}.taker_buy"] if f"{i}.taker_buy" in data.files else None,
                    lines=data[f"{i}.lines"],
                    path=source,
                )
                for i in range(int(data["parts"]))
            ]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        log.warning("parsed copy %s of %s is unreadable (%s): parsing the file again", entry, source, exc)
        return None


def _store(entry: Path, digest: str, parts: list[RawCandles], source: Path) -> None:
    arrays: dict[str, np.ndarray] = {"version": np.array(CACHE_VERSION), "digest": np.array(digest),
                                     "parts": np.array(len(parts))}
    for i, raw in enumerate(parts):
        arrays |= {f"{i}.symbol": np.array(raw.symbol), f"{i}.interval": np.array(raw.interval),
                   f"{i}.open_time": raw.open_time, f"{i}.ohlcv": raw.ohlcv, f"{i}.lines": raw.lines}
        if raw.taker_buy is not None:
            arrays[f"{i}.taker_buy"] = raw.taker_buy
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    try:
        write_bytes_atomic(entry, buffer.getvalue())
    except MemoryFileError as exc:
        log.warning("could not keep a parsed copy of %s (%s): the next run parses it again", source, exc)
