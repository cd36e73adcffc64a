"""Small pieces: stream names, message decoding, backoff, depth limits."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from core.events import Bar, BookTop, TradePrint
from exchange.feeds.backoff import Backoff
from exchange.feeds.live import depth_limit_for
from exchange.feeds.streams import DepthDiff, combined_url, decode_message, stream_names
from tests.feeds.captures import load_capture


def test_stream_names_are_lowercase_and_combined() -> None:
    names = stream_names(["BTCUSDT"], kline_interval="1m")
    assert names == ["btcusdt@bookTicker", "btcusdt@depth@100ms", "btcusdt@aggTrade", "btcusdt@kline_1m"]
    assert combined_url("wss://stream.binance.com:9443/", names[:2]) == \
        "wss://stream.binance.com:9443/stream?streams=btcusdt@bookTicker/btcusdt@depth@100ms"


def test_captured_messages_decode() -> None:
    capture = load_capture()
    decoded = [decode_message(m, int(t * 1000)) for t, m in capture.messages]
    trades = [d for d in decoded if isinstance(d, TradePrint)]
    assert trades[0] == TradePrint("NKNUSDT", 1633998523963, 0.3528, 58.0, False)
    tops = [d for d in decoded if isinstance(d, BookTop)]
    blz = next(t for t in tops if t.symbol == "BLZETH")
    assert (blz.bid, blz.bid_qty, blz.ask, blz.ask_qty) == (0.00006547, 100.0, 0.0000656, 1528.0)
    assert blz.imbalance == (100.0 - 1528.0) / 1628.0
    assert blz.time_ms == 1633998525253  # bookTicker has no event time: the receive time stands in
    assert sum(isinstance(d, DepthDiff) for d in decoded) == 177
    # The capture's klines are open (x=false): no Bar from them.
    assert not any(isinstance(d, Bar) for d in decoded)


def test_a_closed_kline_is_a_bar_with_taker_volume() -> None:
    message = {"stream": "btcusdt@kline_1m", "data": {"e": "kline", "E": 1, "s": "BTCUSDT", "k": {
        "t": 60_000, "T": 119_999, "s": "BTCUSDT", "i": "1m", "o": "1", "c": "2", "h": "3", "l": "0.5",
        "v": "10", "V": "4", "x": True}}}
    assert decode_message(message, 0) == Bar("BTCUSDT", 60_000, 119_999, 1.0, 3.0, 0.5, 2.0, 10.0, 4.0)
    assert decode_message({"result": None, "id": 1}, 0) is None


def test_backoff_is_seeded_bounded_and_grows() -> None:
    a = Backoff(100, 2_000, random.Random(1))
    b = Backoff(100, 2_000, random.Random(1))
    delays = [a.next_delay_ms() for _ in range(10)]
    assert delays == [b.next_delay_ms() for _ in range(10)]
    for attempt, delay in enumerate(delays):
        ceiling = min(2_000, 100 * 2 ** attempt)
        assert ceiling / 2 <= delay <= ceiling
    a.reset()
    assert a.next_delay_ms() <= 100


@given(st.integers(1, 10_000))
def test_depth_limit_is_one_binance_accepts(levels: int) -> None:
    limit = depth_limit_for(levels)
    assert limit in (5, 10, 20, 50, 100, 500, 1000, 5000)
    assert limit >= min(levels, 5000)
