"""The parsed-candle cache: a hit gives the very arrays a parse gives, a changed file is never read stale,
a broken entry or an unwritable cache only costs speed, and a bad row is named the same either way."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest

from exchange.feeds.candle_cache import entry_path
from exchange.feeds.candles import CandleSeries, load_candles
from exchange.feeds.errors import MalformedDataFile
from tests.feeds.test_candle_files import MIN, T0, _csv_line, _rows, _write_json


def _folder(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    rows = _rows(30)
    rows[7][4] = 10.123456789  # a close that must survive exactly
    _write_json(data / "BTC_USDT-1m.json.gz", rows[:12] + rows[15:])  # a 3-minute hole
    lines = [_csv_line(T0 + i * MIN, c=f"1.{i:02d}", taker=str(i % 5)) for i in range(20)]
    (data / "ETHUSDT-1m-2020-09-13.csv").write_text("\n".join(lines) + "\n")
    return data


def _same(a: dict[str, CandleSeries], b: dict[str, CandleSeries]) -> None:
    assert sorted(a) == sorted(b)
    for symbol in a:
        x, y = a[symbol], b[symbol]
        for name in ("open_time", "open", "high", "low", "close", "volume"):
            assert np.array_equal(getattr(x, name), getattr(y, name)), (symbol, name)
            assert getattr(x, name).dtype == getattr(y, name).dtype
        assert (x.taker_buy is None) == (y.taker_buy is None)
        if x.taker_buy is not None:
            assert np.array_equal(x.taker_buy, y.taker_buy)
        assert x.gaps == y.gaps


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns


def test_an_unchanged_file_is_read_from_its_parsed_copy_with_the_same_arrays(tmp_path: Path) -> None:
    data, cache = _folder(tmp_path), tmp_path / "cache"
    parsed = load_candles(data)
    first = load_candles(data, cache_dir=cache)
    entries = sorted(cache.iterdir())
    assert len(entries) == 2
    stamps = [_stamp(e) for e in entries]
    second = load_candles(data, cache_dir=cache)
    assert [_stamp(e) for e in sorted(cache.iterdir())] == stamps  # read, not parsed and written again
    _same(parsed, first)
    _same(parsed, second)
    assert second["BTCUSDT"].close[7] == 10.123456789
    assert second["BTCUSDT"].gaps and second["ETHUSDT"].taker_buy is not None


def test_a_changed_file_is_parsed_again_even_with_the_same_size_and_time(tmp_path: Path) -> None:
    data, cache = _folder(tmp_path), tmp_path / "cache"
    csv = data / "ETHUSDT-1m-2020-09-13.csv"
    load_candles(data, cache_dir=cache)
    before = csv.stat()
    text = csv.read_text()
    csv.write_text(text.replace(",1.05,", ",1.06,", 1))  # same length, another close
    os.utime(csv, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert csv.stat().st_size == before.st_size
    loaded = load_candles(data, cache_dir=cache)
    assert loaded["ETHUSDT"].close[5] == 1.06
    assert len(list(cache.iterdir())) == 2  # the file's entry was replaced, not joined by another


def test_an_unreadable_entry_is_parsed_again_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data, cache = _folder(tmp_path), tmp_path / "cache"
    parsed = load_candles(data, cache_dir=cache)
    entry = entry_path(cache, data / "BTC_USDT-1m.json.gz")
    entry.write_bytes(entry.read_bytes()[:100])
    with caplog.at_level(logging.WARNING):
        again = load_candles(data, cache_dir=cache)
    _same(parsed, again)
    assert any("unreadable" in r.getMessage() and str(entry) in r.getMessage() for r in caplog.records)
    stamp = _stamp(entry)
    load_candles(data, cache_dir=cache)
    assert _stamp(entry) == stamp  # rewritten whole by the reparse, read since


def test_a_cache_that_cannot_be_written_costs_only_speed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = _folder(tmp_path)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would go")
    with caplog.at_level(logging.WARNING):
        loaded = load_candles(data, cache_dir=blocker / "candles")
    _same(load_candles(data), loaded)
    assert any("could not keep a parsed copy" in r.getMessage() for r in caplog.records)


def test_a_bad_row_is_named_the_same_from_a_parse_and_from_the_cache(tmp_path: Path) -> None:
    data, cache = tmp_path / "data", tmp_path / "cache"
    data.mkdir()
    rows = _rows(5)
    rows[2] = [T0 + 2 * MIN, 10.0, 9.0, 9.5, 10.5, 3.0]  # high below low
    _write_json(data / "BTC_USDT-1m.json", rows)
    for _ in range(2):
        with pytest.raises(MalformedDataFile) as raised:
            load_candles(data, cache_dir=cache)
        assert raised.value.line == 3 and "low/high" in str(raised.value)
    assert len(list(cache.iterdir())) == 1
