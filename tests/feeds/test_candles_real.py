"""load_candles / iter_bars on the real recorded candles in ../shared/fixtures/candles."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.events import Bar, DataGap
from exchange.feeds.candles import iter_bars, load_candles
from tests.conftest import fixture_path

NFI = ("candles", "binance_spot_5m_nfi")
# PROVENANCE.md: rows per file.
ROWS = {"BTCUSDT": 65_741, "ETHUSDT": 65_742, "SOLUSDT": 65_744, "XRPUSDT": 65_745, "ADAUSDT": 65_740,
        "DOTUSDT": 65_742, "LINKUSDT": 65_743, "LTCUSDT": 65_743}
# PROVENANCE.md: "Gap starts after <time> | Missing <min>". The documented figure is the step between
# the open times either side of the hole; the time no candle covers is one interval (5 min) less.
GAPS = [("2020-12-21 14:05", 235), ("2020-12-25 01:55", 65), ("2021-02-11 03:40", 80),
        ("2021-03-06 01:55", 95), ("2021-04-20 01:55", 155), ("2021-04-25 04:00", 285)]
FIVE_MIN = 300_000


def _ms(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC).timestamp() * 1000)


@pytest.fixture(scope="module")
def nfi() -> dict:  # type: ignore[type-arg]
    return load_candles(fixture_path(*NFI))


def test_all_eight_files_load_with_documented_row_counts(nfi) -> None:  # type: ignore[no-untyped-def]
    assert {s: len(series) for s, series in nfi.items()} == ROWS
    btc = nfi["BTCUSDT"]
    assert btc.interval_ms == FIVE_MIN
    assert btc.open_time[0] == _ms("2020-12-01 00:00")
    assert btc.close[0] == 19607.03  # PROVENANCE.md: matches Binance's BTCUSDT 00:00 candle of 2020-12-01
    assert btc.taker_buy is None
    assert sum(1 for v in btc.volume if v == 0) == 28


def test_the_six_documented_gaps_are_found_in_every_pair(nfi) -> None:  # type: ignore[no-untyped-def]
    expected = [(_ms(after) + FIVE_MIN, _ms(after) + minutes * 60_000) for after, minutes in GAPS]
    for symbol, series in nfi.items():
        assert [(g.from_ms, g.to_ms) for g in series.gaps] == expected, symbol
        for gap in series.gaps:
            assert gap.symbol == symbol
            assert gap.from_ms - FIVE_MIN in series.open_time and gap.to_ms in series.open_time


def test_iter_bars_is_in_time_order_with_gaps_where_they_occur(nfi) -> None:  # type: ignore[no-untyped-def]
    events = list(iter_bars(nfi))
    bars = [e for e in events if isinstance(e, Bar)]
    gaps = [e for e in events if isinstance(e, DataGap)]
    assert len(bars) == sum(ROWS.values()) and len(gaps) == 48
    keys = [(b.close_time_ms, b.symbol) for b in bars]
    assert keys == sorted(keys)
    last_bar: dict[str, Bar] = {}
    for event in events:
        if isinstance(event, Bar):
            last_bar[event.symbol] = event
        else:
            # Right after the symbol's last bar before the hole, before any later bar of anyone.
            assert last_bar[event.symbol].close_time_ms == event.from_ms - 1
    first = bars[0]
    assert first == Bar("ADAUSDT", _ms("2020-12-01 00:00"), _ms("2020-12-01 00:05") - 1, 0.17207, 0.17456,
                        0.17185, 0.17342, 9394135.2, None)
    assert type(first) is Bar


def test_symbol_and_time_filters(nfi) -> None:  # type: ignore[no-untyped-def]
    start, end = _ms("2020-12-21 00:00"), _ms("2020-12-22 00:00")
    picked = load_candles(fixture_path(*NFI), symbols=["BTC/USDT", "eth_usdt"], start_ms=start, end_ms=end)
    assert sorted(picked) == ["BTCUSDT", "ETHUSDT"]
    btc = picked["BTCUSDT"]
    assert btc.open_time[0] == start and btc.open_time[-1] == end - FIVE_MIN
    assert len(btc) == 288 - 235 // 5 + 1
    assert [(g.from_ms, g.to_ms) for g in btc.gaps] == [(_ms("2020-12-21 14:10"), _ms("2020-12-21 18:00"))]


def test_a_single_file_loads(nfi) -> None:  # type: ignore[no-untyped-def]
    one = load_candles(fixture_path(*NFI, "SOL_USDT-5m.json.gz"))
    assert list(one) == ["SOLUSDT"]
    assert one["SOLUSDT"].close.tolist() == nfi["SOLUSDT"].close.tolist()


def test_binance_kline_csvs_parse_with_taker_buy() -> None:
    folder = fixture_path("candles", "nautilus_binance_public_data")
    loaded = load_candles(folder)
    ada = loaded["ADABTC"]
    assert ada.interval_ms == 60_000
    assert len(ada) == 10 + 11
    assert ada.open_time[0] == _ms("2021-11-27 00:00")
    assert ada.taker_buy is not None and ada.taker_buy[0] == 19523.0
    assert ada.volume[0] == 36304.2 and ada.close[0] == 0.00002854
    bars = [e for e in iter_bars(loaded) if isinstance(e, Bar)]
    assert bars[0].taker_buy_volume == 19523.0
    assert bars[0].close_time_ms == 1637971259999  # Binance's own close_time column
    # The two daily files cover different days: the night between is a gap, reported, not filled.
    assert [(g.from_ms, g.to_ms) for g in ada.gaps] == [(_ms("2021-11-27 00:10"), _ms("2021-11-28 00:00"))]


def test_unknown_files_in_a_folder_are_skipped_with_a_reason(caplog: pytest.LogCaptureFixture) -> None:
    folder = fixture_path("candles", "freqtrade_testdata")
    with caplog.at_level("WARNING", logger="exchange.feeds.candles"):
        assert load_candles(folder) == {}
    text = caplog.text
    assert "XRP_ETH-1m.feather" in text and "feather" in text
    assert "XRP_ETH-trades.json.gz" in text and "not spot candles" in text


def test_a_file_given_by_name_that_is_not_candles_raises() -> None:
    from exchange.feeds.errors import MalformedDataFile

    with pytest.raises(MalformedDataFile) as raised:
        load_candles(fixture_path("candles", "freqtrade_testdata", "XRP_ETH-5m.feather"))
    assert "XRP_ETH-5m.feather" in str(raised.value)
