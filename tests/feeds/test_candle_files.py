"""Candle parsing rules on small files written by the tests: malformed input is refused with the
file and line; both freqtrade parsing paths agree; gaps and merge order hold for any series."""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.events import Bar, DataGap
from exchange.feeds.candle_files import _freqtrade_fast, _freqtrade_json
from exchange.feeds.candles import CandleSeries, iter_bars, load_candles
from exchange.feeds.errors import MalformedDataFile

MIN = 60_000
T0 = 1_600_000_000_000 - 1_600_000_000_000 % MIN


def _rows(n: int, start: int = T0) -> list[list[float]]:
    return [[start + i * MIN, 10.0, 11.0, 9.0, 10.5, 3.0] for i in range(n)]


def _write_json(path: Path, rows: object, compact: bool = True) -> Path:
    text = json.dumps(rows, separators=(",", ":") if compact else (", ", ": "))
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def _csv_line(open_ms: int, o: str = "1.0", h: str = "1.2", lo: str = "0.9", c: str = "1.1", v: str = "10",
              taker: str = "4") -> str:
    return f"{open_ms},{o},{h},{lo},{c},{v},{open_ms + MIN - 1},11.0,5,{taker},4.4,0"


@pytest.mark.parametrize(("row", "reason"), [
    ([T0 + 2 * MIN, 10.0, 9.0, 9.5, 10.5, 3.0], "low/high"),
    ([T0 + 2 * MIN, 10.0, 11.0, 9.0, 10.5, -1.0], "volume is negative"),
    ([T0 + 2 * MIN, 0.0, 11.0, 0.0, 10.5, 1.0], "not positive"),
    ([T0 + MIN, 10.0, 11.0, 9.0, 10.5, 3.0], "does not follow"),
    ([T0 + 2 * MIN + 7, 10.0, 11.0, 9.0, 10.5, 3.0], "grid"),
    ([T0 + 2 * MIN, 10.0, 11.0, 9.0, 10.5], "row 3"),
    ([T0 + 2 * MIN, "10", 11.0, 9.0, 10.5, 3.0], "row 3"),
])
@pytest.mark.parametrize("compact", [True, False])
def test_a_bad_freqtrade_row_names_file_and_row(tmp_path: Path, row: list, reason: str,  # type: ignore[type-arg]
                                                compact: bool) -> None:
    rows = [*_rows(2), row, *_rows(2, T0 + 3 * MIN)]
    path = _write_json(tmp_path / "BTC_USDT-1m.json.gz", rows, compact)
    with pytest.raises(MalformedDataFile) as raised:
        load_candles(tmp_path)
    assert raised.value.line == 3
    assert raised.value.file == str(path)
    assert reason in str(raised.value)
    assert raised.value.to_dict()["code"] == "MALFORMED_DATA"


def test_broken_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "ETH_USDT-5m.json"
    path.write_text('[[1600000000000,1,2,0.5,1.5,3],\n[1600000300000,1,2,0.5,1.5')
    with pytest.raises(MalformedDataFile) as raised:
        load_candles(path)
    assert raised.value.line == 2 and "not JSON" in raised.value.reason


def test_a_bad_csv_line_is_named(tmp_path: Path) -> None:
    lines = [_csv_line(T0), _csv_line(T0 + MIN), "1600000120000,1.0,1.2,0.9", _csv_line(T0 + 3 * MIN)]
    (tmp_path / "ADABTC-1m-2020-09-13.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(MalformedDataFile) as raised:
        load_candles(tmp_path)
    assert raised.value.line == 3 and "12 columns" in raised.value.reason


def test_csv_taker_buy_above_volume_is_refused(tmp_path: Path) -> None:
    lines = [_csv_line(T0), _csv_line(T0 + MIN, v="10", taker="11")]
    (tmp_path / "ADABTC-1m-2020-09-13.csv").write_text("\n".join(lines))
    with pytest.raises(MalformedDataFile) as raised:
        load_candles(tmp_path)
    assert raised.value.line == 2 and "taker-buy" in raised.value.reason


def test_csv_with_header_and_microsecond_times(tmp_path: Path) -> None:
    """Binance public data added headers to some files and switched spot times to microseconds in 2025."""
    header = "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,x,ignore"
    rows = [f"{(T0 + i * MIN) * 1000},1.0,1.2,0.9,1.1,10,{(T0 + (i + 1) * MIN) * 1000 - 1},11,5,4,4.4,0"
            for i in range(3)]
    (tmp_path / "BTCUSDT-1m-2025-01-01.csv").write_text("\n".join([header, *rows]))
    series = load_candles(tmp_path)["BTCUSDT"]
    assert series.open_time.tolist() == [T0, T0 + MIN, T0 + 2 * MIN]
    assert series.taker_buy is not None and series.taker_buy.tolist() == [4.0, 4.0, 4.0]


def test_overlapping_files_must_agree(tmp_path: Path) -> None:
    (tmp_path / "ADABTC-1m-2020-09-13.csv").write_text("\n".join(_csv_line(T0 + i * MIN) for i in range(3)))
    (tmp_path / "ADABTC-1m-2020-09-14.csv").write_text("\n".join(_csv_line(T0 + i * MIN) for i in range(2, 5)))
    assert len(load_candles(tmp_path)["ADABTC"]) == 5
    (tmp_path / "ADABTC-1m-2020-09-14.csv").write_text(
        "\n".join([_csv_line(T0 + 2 * MIN, c="1.15"), _csv_line(T0 + 3 * MIN)]))
    with pytest.raises(MalformedDataFile, match="overlaps"):
        load_candles(tmp_path)


def test_several_intervals_use_the_finest_unless_one_is_chosen(tmp_path: Path) -> None:
    _write_json(tmp_path / "BTC_USDT-1m.json", _rows(10))
    _write_json(tmp_path / "BTC_USDT-5m.json", [[T0 + i * 5 * MIN, 10.0, 11.0, 9.0, 10.5, 3.0] for i in range(2)])
    assert load_candles(tmp_path)["BTCUSDT"].interval_ms == MIN
    assert load_candles(tmp_path, interval="5m")["BTCUSDT"].interval_ms == 5 * MIN


def test_empty_and_monthly_files(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _write_json(tmp_path / "BTC_USDT-1m.json", [])
    _write_json(tmp_path / "BTC_USDT-1M.json", _rows(1))
    (tmp_path / "notes.txt").write_text("hello")
    with caplog.at_level("WARNING"):
        assert load_candles(tmp_path) == {}
    assert "monthly" in caplog.text and "notes.txt" in caplog.text


_price = st.floats(0.0001, 1e6, allow_nan=False, allow_infinity=False)


@st.composite
def _candle_rows(draw: st.DrawFn) -> list[list[float]]:
    n = draw(st.integers(0, 40))
    rows, t = [], T0
    for _ in range(n):
        t += MIN * draw(st.sampled_from([1, 1, 1, 2, 7]))
        o, c = draw(_price), draw(_price)
        rows.append([t, o, max(o, c) * draw(st.floats(1, 1.1)), min(o, c) * draw(st.floats(0.9, 1)), c,
                     draw(st.floats(0, 1e9))])
    return rows


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
@given(rows=_candle_rows())
def test_fast_and_json_paths_agree_and_gaps_cover_every_hole(tmp_path: Path, rows: list) -> None:  # type: ignore[type-arg]
    data = json.dumps(rows, separators=(",", ":")).encode()
    fast = _freqtrade_fast(data)
    slow = _freqtrade_json(tmp_path / "x.json", data)
    assert fast is not None
    assert fast.tolist() == slow.tolist()
    _write_json(tmp_path / "BTC_USDT-1m.json", rows)
    loaded = load_candles(tmp_path)
    if not rows:
        assert loaded == {}
        return
    series = loaded["BTCUSDT"]
    assert series.close.tolist() == [r[4] for r in rows]  # exact floats, nothing rounded or filled
    covered = len(series) * MIN + sum(g.to_ms - g.from_ms for g in series.gaps)
    assert covered == series.open_time[-1] + MIN - series.open_time[0]
    for gap in series.gaps:
        assert gap.to_ms > gap.from_ms and (gap.to_ms - gap.from_ms) % MIN == 0


@st.composite
def _series_set(draw: st.DrawFn) -> dict[str, CandleSeries]:
    result = {}
    for symbol in draw(st.lists(st.sampled_from(["AAAUSDT", "BBBUSDT", "CCCUSDT"]), unique=True, max_size=3)):
        interval = draw(st.sampled_from([MIN, 5 * MIN]))
        times = sorted(draw(st.sets(st.integers(0, 50), min_size=1, max_size=20)))
        open_time = [T0 + k * interval for k in times]
        gaps = [DataGap(symbol, a + interval, b) for a, b in itertools.pairwise(open_time)
                if b - a != interval]
        ones = [1.0] * len(times)
        result[symbol] = CandleSeries(symbol, interval, open_time, ones, ones, ones, ones, ones, None, gaps)
    return result


@given(_series_set())
def test_iter_bars_orders_any_mix_of_series(series: dict[str, CandleSeries]) -> None:
    events = list(iter_bars(series))
    bars = [e for e in events if isinstance(e, Bar)]
    assert len(bars) == sum(len(s) for s in series.values())
    assert len(events) - len(bars) == sum(len(s.gaps) for s in series.values())
    keys = [(b.close_time_ms, b.symbol) for b in bars]
    assert keys == sorted(keys)
    seen: dict[str, int] = {}
    for event in events:
        if isinstance(event, Bar):
            seen[event.symbol] = event.close_time_ms
        else:
            assert seen[event.symbol] == event.from_ms - 1


@settings(max_examples=60)
@given(rows=_candle_rows(), indent=st.sampled_from([None, 0, 1]), separators=st.sampled_from([
    (",", ":"), (", ", ": "), (",", ": ")]), noise=st.sampled_from(["", '"x"', "null", "[1]", "true", "1.5"]))
def test_the_fast_path_never_reads_what_json_reads_differently(rows: list, indent: int | None,  # type: ignore[type-arg]
                                                               separators: tuple[str, str], noise: str) -> None:
    """Any layout (spaces, newlines) and any junk value in a row: the fast reader either gives exactly json's
    numbers or steps aside, so json reads the file and names the row."""
    text = json.dumps(rows, indent=indent, separators=separators)
    if noise and rows:
        text = text.replace("]", f",{noise}]", 1)
    fast = _freqtrade_fast(text.encode())
    if fast is not None:
        assert fast.tolist() == [[float(v) for v in row] for row in json.loads(text)]
