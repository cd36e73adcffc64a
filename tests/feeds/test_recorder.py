"""record → iter_recording round trip against the loopback servers, and recordings as candles."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from pathlib import Path

import pytest

from core.events import Bar, Book, BookTop, DataOutage, MarketEvent, TradePrint
from exchange.feeds.candles import load_candles
from exchange.feeds.errors import MalformedDataFile
from exchange.feeds.live import LiveFeed
from exchange.feeds.recorder import record
from exchange.feeds.recording import RECORDING_FORMAT, RawRecord, iter_recording
from tests.feeds.captures import Capture, load_capture
from tests.feeds.livehelpers import books, final_top, reached_final, take_until
from tests.feeds.servers import DepthRestServer, ReplayWsServer, running


@pytest.fixture(scope="module")
def capture() -> Capture:
    return load_capture()


def test_record_then_replay(capture: Capture, tmp_path: Path) -> None:
    out = tmp_path / "session.jsonl"
    seen: list[float] = []

    async def scenario() -> object:
        # No pacing: the whole capture arrives well inside the 1.2 s recording even on a busy machine.
        ws = ReplayWsServer([m for _, m in capture.messages], interval_s=0.0)
        rest = DepthRestServer(capture.snapshots)
        async with running(ws, rest):
            return await record(capture.symbols, 0.02, out, ws.base, rest.base, progress=seen.append)

    summary = asyncio.run(scenario())
    header = json.loads(out.read_text().splitlines()[0])
    assert header["format"] == RECORDING_FORMAT and header["version"] == 1
    assert header["symbols"] == capture.symbols
    assert "nknusdt@kline_1m" in header["streams"]
    assert summary.by_kind["ws"] == len(capture.messages)  # type: ignore[attr-defined]
    assert summary.by_kind["connect"] == 1 and summary.by_kind["snapshot"] >= 4  # type: ignore[attr-defined]
    assert seen and seen[-1] == 1.0 and all(0 <= f <= 1 for f in seen)

    events = list(iter_recording(out))
    assert reached_final(events, "NKNUSDT", final_top(capture, "NKNUSDT"))
    for symbol in capture.symbols:
        assert books(events, symbol)
    assert len([e for e in events if isinstance(e, TradePrint)]) == 2  # the capture's two aggTrades
    ticker_messages = [m for _, m in capture.messages if m["stream"].endswith("@bookTicker")]
    assert len([e for e in events if isinstance(e, BookTop)]) == len(ticker_messages)
    # The capture's klines are all still open (x=false): the recording honestly holds no candle.
    assert not any(isinstance(e, Bar) for e in events)
    assert load_candles(out) == {}


def test_replay_gives_exactly_the_live_events(capture: Capture, tmp_path: Path) -> None:
    """Run the live feed with a raw sink and compare its events with the replay of what it recorded."""
    out = tmp_path / "live.jsonl"
    expected = final_top(capture, "NKNUSDT")

    async def scenario() -> list[MarketEvent]:
        ws = ReplayWsServer([m for _, m in capture.messages], close_after=80, pause_after=120, pause_s=0.6)
        rest = DepthRestServer(capture.snapshots)
        async with running(ws, rest):
            with out.open("w") as fh:
                header = {"format": RECORDING_FORMAT, "version": 1, "symbols": capture.symbols, "depth": 10}
                fh.write(json.dumps(header) + "\n")

                def sink(record: RawRecord) -> None:
                    fh.write(record.to_line() + "\n")

                feed = LiveFeed(capture.symbols, ws.base, rest.base, stale_after_ms=200, backoff_initial_ms=20,
                                backoff_max_ms=100, rng=random.Random(3), raw_sink=sink)
                events: list[MarketEvent] = []
                async with contextlib.aclosing(feed.events()) as stream:
                    await take_until(stream, events, lambda ev: feed.connections == 2
                                     and reached_final(ev, "NKNUSDT", expected), 10)
        return events

    live = asyncio.run(scenario())
    assert any(isinstance(e, DataOutage) for e in live)
    replayed = list(iter_recording(out))
    assert replayed[: len(live)] == live


def _kline(symbol: str, open_ms: int, closed: bool, close: str = "1.5") -> dict:  # type: ignore[type-arg]
    return {"stream": f"{symbol.lower()}@kline_1m", "data": {"e": "kline", "E": open_ms + 60_000, "s": symbol, "k": {
        "t": open_ms, "T": open_ms + 59_999, "s": symbol, "i": "1m", "o": "1.0", "c": close, "h": "2.0",
        "l": "0.5", "v": "100.0", "V": "40.0", "x": closed}}}


def test_closed_klines_of_a_recording_load_as_candles(tmp_path: Path) -> None:
    t0 = 1_700_000_040_000 - 1_700_000_040_000 % 60_000
    lines = [json.dumps({"format": RECORDING_FORMAT, "version": 1, "symbols": ["ABCUSDT"]})]
    for minute in (0, 1, 3):
        lines.append(RawRecord("ws", t0 + minute * 60_000 + 100, None, _kline("ABCUSDT", t0 + minute * 60_000,
                                                                              False)).to_line())
        lines.append(RawRecord("ws", t0 + minute * 60_000 + 60_001, None, _kline("ABCUSDT", t0 + minute * 60_000,
                                                                                 True)).to_line())
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join(lines) + "\n")
    series = load_candles(tmp_path)["ABCUSDT"]
    assert series.open_time.tolist() == [t0, t0 + 60_000, t0 + 180_000]
    assert series.taker_buy is not None and series.taker_buy.tolist() == [40.0, 40.0, 40.0]
    assert [(g.from_ms, g.to_ms) for g in series.gaps] == [(t0 + 120_000, t0 + 180_000)]
    bars = [e for e in iter_recording(path) if isinstance(e, Bar)]
    assert [b.open_time_ms for b in bars] == series.open_time.tolist()


def test_a_bad_recording_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    header = json.dumps({"format": RECORDING_FORMAT, "version": 1, "symbols": ["ABCUSDT"]})
    path.write_text(header + "\n" + RawRecord("connect", 1, None, "ws://x").to_line() + "\n{not json\n")
    with pytest.raises(MalformedDataFile) as raised:
        list(iter_recording(path))
    assert raised.value.line == 3
    path.write_text(json.dumps({"format": RECORDING_FORMAT, "version": 99}) + "\n")
    with pytest.raises(MalformedDataFile, match="version"):
        list(iter_recording(path))


def test_books_in_a_recording_are_never_invented(capture: Capture, tmp_path: Path) -> None:
    """A recording whose snapshot is missing yields no Book from the diffs: they cannot be trusted alone."""
    path = tmp_path / "r.jsonl"
    lines = [json.dumps({"format": RECORDING_FORMAT, "version": 1, "symbols": ["NKNUSDT"]}),
             RawRecord("connect", 1, None, "ws://x").to_line()]
    lines += [RawRecord("ws", int(t * 1000), None, m).to_line() for t, m in capture.messages
              if m["stream"] == "nknusdt@depth@100ms"]
    path.write_text("\n".join(lines) + "\n")
    assert not any(isinstance(e, Book) for e in iter_recording(path))
