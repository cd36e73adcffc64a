"""LiveFeed against loopback servers replaying the real 2021-10-12 Binance capture."""

from __future__ import annotations

import asyncio
import contextlib
import random

import pytest

from core.events import Book, BookTop, DataOutage, DataRestored, MarketEvent, TradePrint
from exchange.feeds.live import LiveFeed, depth_limit_for
from tests.feeds.captures import Capture, load_capture
from tests.feeds.livehelpers import books, final_top, reached_final, take_until
from tests.feeds.servers import DepthRestServer, ReplayWsServer, free_port, running


@pytest.fixture(scope="module")
def capture() -> Capture:
    return load_capture()


def _feed(capture: Capture, ws: str, rest: str, **options: object) -> LiveFeed:
    defaults: dict[str, object] = {"backoff_initial_ms": 20, "backoff_max_ms": 200, "rng": random.Random(7)}
    defaults.update(options)
    return LiveFeed(capture.symbols, ws, rest, **defaults)  # type: ignore[arg-type]


def _no_crossed_books(events: list[MarketEvent]) -> None:
    for event in events:
        if isinstance(event, Book):
            assert event.bids[0][0] < event.asks[0][0], event


def test_books_come_out_synced(capture: Capture) -> None:
    expected = final_top(capture, "NKNUSDT")

    async def scenario() -> tuple[list[MarketEvent], bool, LiveFeed, DepthRestServer, ReplayWsServer]:
        ws, rest = ReplayWsServer([m for _, m in capture.messages]), DepthRestServer(capture.snapshots)
        async with running(ws, rest):
            feed = _feed(capture, ws.base, rest.base)
            events: list[MarketEvent] = []
            async with contextlib.aclosing(feed.events()) as stream:
                done = await take_until(stream, events, lambda ev: reached_final(ev, "NKNUSDT", expected), 10)
        return events, done, feed, rest, ws

    events, done, feed, rest, ws = asyncio.run(scenario())
    assert done, "the NKNUSDT book never reached the state of snapshot + all captured diffs"
    assert ws.paths[0].startswith("/stream?streams=blzeth@bookTicker/blzeth@depth@100ms/blzeth@aggTrade/")
    assert "/nknusdt@bookTicker/nknusdt@depth@100ms/nknusdt@aggTrade/" in ws.paths[0]
    assert feed.connections == 1
    assert rest.limits and set(rest.limits) == {1000}
    for symbol in capture.symbols:
        assert books(events, symbol), f"no book for {symbol}"
    _no_crossed_books(events)
    tops = [e for e in events if isinstance(e, BookTop) and e.symbol == "NKNUSDT"]
    assert tops and all(t.bid < t.ask and -1 <= (t.imbalance or 0) <= 1 for t in tops)
    assert any(isinstance(e, TradePrint) and e.symbol == "NKNUSDT" for e in events)
    assert not any(isinstance(e, DataOutage) for e in events)


def test_a_dropped_connection_reconnects_and_resyncs(capture: Capture) -> None:
    expected = final_top(capture, "NKNUSDT")

    async def scenario() -> tuple[list[MarketEvent], bool, LiveFeed, DepthRestServer, ReplayWsServer]:
        ws = ReplayWsServer([m for _, m in capture.messages], close_after=60)
        rest = DepthRestServer(capture.snapshots)
        async with running(ws, rest):
            feed = _feed(capture, ws.base, rest.base)
            events: list[MarketEvent] = []
            async with contextlib.aclosing(feed.events()) as stream:
                done = await take_until(
                    stream, events, lambda ev: feed.connections == 2 and reached_final(ev, "NKNUSDT", expected), 10)
        return events, done, feed, rest, ws

    events, done, feed, rest, ws = asyncio.run(scenario())
    assert done, "after the server dropped the connection the feed did not come back in sync"
    assert ws.connections == 2 and feed.connections == 2
    assert rest.requests["NKNUSDT"] >= 2, "a new connection needs a new snapshot"
    _no_crossed_books(events)


def test_silence_gives_one_outage_then_restored(capture: Capture) -> None:
    def restored_then_data(events: list[MarketEvent]) -> bool:
        marks = [i for i, e in enumerate(events) if isinstance(e, DataRestored) and e.symbol == "NKNUSDT"]
        return bool(marks) and any(getattr(e, "symbol", None) == "NKNUSDT" for e in events[marks[0] + 1:])

    async def scenario() -> tuple[list[MarketEvent], bool]:
        ws = ReplayWsServer([m for _, m in capture.messages], pause_after=30, pause_s=1.0)
        rest = DepthRestServer(capture.snapshots)
        async with running(ws, rest):
            feed = _feed(capture, ws.base, rest.base, stale_after_ms=250)
            events: list[MarketEvent] = []
            async with contextlib.aclosing(feed.events()) as stream:
                done = await take_until(stream, events, restored_then_data, 10)
        return events, done

    events, done = asyncio.run(scenario())
    assert done, "no DataRestored for NKNUSDT after the silence"
    nkn = [e for e in events if getattr(e, "symbol", None) == "NKNUSDT"]
    out_at = next(i for i, e in enumerate(nkn) if isinstance(e, DataOutage))
    back_at = next(i for i, e in enumerate(nkn) if isinstance(e, DataRestored))
    assert out_at < back_at
    outage = nkn[out_at]
    assert isinstance(outage, DataOutage) and "no market data for" in outage.reason
    # Nothing in between: no second outage, no made-up book or trade while the data was missing.
    assert nkn[out_at + 1:back_at] == []
    assert not isinstance(nkn[back_at + 1], DataOutage | DataRestored)
    assert nkn[back_at].time_ms >= outage.time_ms


def test_rest_fallback_while_the_socket_is_refused_then_websocket_takes_over(capture: Capture) -> None:
    port = free_port()
    diff_times = {d["E"] for d in capture.depth_updates("NKNUSDT")}

    async def scenario() -> tuple[list[MarketEvent], list[MarketEvent], bool, bool, int, int]:
        rest = DepthRestServer(capture.snapshots)
        ws = ReplayWsServer([m for _, m in capture.messages])
        async with running(rest):
            feed = _feed(capture, f"ws://127.0.0.1:{port}", rest.base, rest_poll_ms=50, stale_after_ms=2_000)
            before: list[MarketEvent] = []
            after: list[MarketEvent] = []
            async with contextlib.aclosing(feed.events()) as stream:
                polled = await take_until(
                    stream, before, lambda ev: all(books(ev, s) for s in capture.symbols), 10)
                await ws.start(port)
                try:
                    switched = await take_until(
                        stream, after, lambda ev: any(b.time_ms in diff_times for b in books(ev, "NKNUSDT")), 10)
                    polls_at_switch = rest.limits.count(depth_limit_for(10))
                    await take_until(stream, after, lambda ev: False, 0.3)
                finally:
                    await ws.stop()
            return before, after, polled, switched, polls_at_switch, rest.limits.count(depth_limit_for(10))

    before, after, polled, switched, polls_at_switch, polls_at_end = asyncio.run(scenario())
    assert polled, "no book from REST polling while the websocket refused connections"
    assert not any(isinstance(e, DataOutage) for e in before)
    _no_crossed_books(before + after)
    assert switched, "the feed did not switch to the websocket once it accepted connections"
    assert polls_at_end - polls_at_switch <= len(capture.symbols), "REST polling went on with the socket up"


def test_rate_limit_answers_stop_rest_calls(capture: Capture) -> None:
    async def scenario() -> tuple[list[MarketEvent], int]:
        rest = DepthRestServer(capture.snapshots, status_for=lambda n: 429, retry_after_s=30)
        async with running(rest):
            feed = _feed(capture, f"ws://127.0.0.1:{free_port()}", rest.base, rest_poll_ms=20, stale_after_ms=150)
            events: list[MarketEvent] = []
            async with contextlib.aclosing(feed.events()) as stream:
                await take_until(stream, events, lambda ev: len([e for e in ev if isinstance(e, DataOutage)]) == 4, 5)
            return events, sum(rest.requests.values())

    events, requests = asyncio.run(scenario())
    # One round of 4 concurrent polls went out before the first 429 came back; then nothing.
    assert requests <= len(capture.symbols)
    outages = [e for e in events if isinstance(e, DataOutage)]
    assert sorted(e.symbol for e in outages) == capture.symbols
    assert all("websocket down" in e.reason for e in outages)
    assert not any(isinstance(e, Book) for e in events)
