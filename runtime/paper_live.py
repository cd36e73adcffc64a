"""`run --mode paper`: live public Binance data, orders on the paper simulator, the same Runner as replay.

The WebSocket feed is asyncio; the engine loop is not. The feed runs on its own event loop in a daemon
thread and hands events over through a queue; when nothing arrives for a moment the loop gets a `Tick`
(wall time), so stale data, pauses and stop signals are noticed even in a silent market.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import queue
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from core.config import ExecutorConfig
from core.errors import ExecutorError
from core.events import Tick
from core.filters import SymbolRules, rules_from_exchange_info
from exchange.feeds.live import LiveFeed
from runtime.home import Home
from runtime.scout_schedule import ScoutSchedule
from runtime.settings import StartSettings
from runtime.sources import MarketSource, load_exchange_info
from runtime.view import LiveView

DEFAULT_SYMBOLS = ("BTCUSDT", "ETHUSDT")
IDLE_TICK_S = 0.5
EXECUTOR_SCRIPT = Path(__file__).resolve().parent.parent / "executor.py"
_END = object()


class ExchangeInfoUnavailable(ExecutorError):
    code = "DATA_OUTAGE"


def offline_command() -> str:
    """The command that tries the executor with no network: a replay of the seeded synthetic market, written
    with this interpreter and the absolute path of executor.py so it works pasted into any folder."""
    return f"{sys.executable} {EXECUTOR_SCRIPT} run --mode replay --synthetic"


def fetch_rules(rest_base: str, symbols: Sequence[str], timeout_s: float = 10.0) -> dict[str, SymbolRules]:
    """The symbols' filters from `GET /api/v3/exchangeInfo?symbols=[...]`: refuse to trade without them."""
    try:
        response = httpx.get(f"{rest_base}/api/v3/exchangeInfo", params={"symbols": json.dumps(list(symbols))},
                             timeout=timeout_s)
        response.raise_for_status()
        rules = rules_from_exchange_info(response.json())
    except httpx.TransportError as exc:  # no answer at all: no network, DNS, refused, timed out
        reason = str(exc) or type(exc).__name__
        raise ExchangeInfoUnavailable(f"paper mode trades on live data, and Binance cannot be reached at {rest_base} "
                                      f"(GET /api/v3/exchangeInfo: {reason}); to run offline instead, replay the "
                                      f"synthetic market: {offline_command()}", base_url=rest_base,
                                      reason="unreachable", offline=offline_command()) from None
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        raise ExchangeInfoUnavailable(f"cannot read exchangeInfo from {rest_base} ({exc}); to run offline instead, "
                                      f"replay the synthetic market: {offline_command()}", base_url=rest_base,
                                      reason="unreadable", offline=offline_command()) from None
    missing = [s for s in symbols if s not in rules]
    if missing:
        raise ExecutorError(f"the exchange does not list {', '.join(missing)}", symbols=missing)
    return rules


class ThreadedFeed:
    """Iterate a LiveFeed from synchronous code. Yields market events, or a Tick when the market is quiet."""

    def __init__(self, feed: LiveFeed, clock_ms: Any) -> None:
        self._feed = feed
        self._clock_ms = clock_ms
        self._queue: queue.Queue[object] = queue.Queue(maxsize=10_000)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="live-feed", daemon=True)

    def _run(self) -> None:
        async def pump() -> None:
            async with contextlib.aclosing(self._feed.events()) as events:
                async for event in events:
                    if self._stop.is_set():
                        return
                    await asyncio.to_thread(self._queue.put, event)

        try:
            asyncio.run(pump())
        except BaseException as exc:  # handed to the consumer, which reports it
            self._error = exc
        finally:
            self._queue.put(_END)

    def __iter__(self) -> Iterator[object]:
        self._thread.start()
        try:
            while True:
                try:
                    event = self._queue.get(timeout=IDLE_TICK_S)
                except queue.Empty:
                    yield Tick(self._clock_ms())
                    continue
                if event is _END:
                    if self._error is not None:
                        raise ExecutorError(f"the live feed stopped: {self._error}") from self._error
                    return
                yield event
        finally:
            self._stop.set()


def live_source(symbols: Sequence[str], rest: str, stream: str, exchange_info: Any = None) -> MarketSource:
    """Live public Binance data from the REST base `rest` and the WebSocket base `stream`."""
    from tools.spec import wall_clock_ms

    rules = load_exchange_info(exchange_info) if exchange_info is not None else fetch_rules(rest, symbols)
    feed = LiveFeed(list(symbols), ws_base=stream, rest_base=rest)
    return MarketSource(events=ThreadedFeed(feed, wall_clock_ms), rules=rules, symbols=sorted(symbols),
                        start_ms=wall_clock_ms(), total_events=None,
                        description=f"live Binance public data, {len(symbols)} symbols", rules_origin=rest,
                        live=True)


def run_paper(home: Home, config: ExecutorConfig, args: argparse.Namespace, settings: StartSettings) -> dict[str, Any]:
    from runtime.runner import Runner

    symbols = args.symbols or list(DEFAULT_SYMBOLS)
    source = live_source(symbols, settings.binance_rest, settings.binance_stream, args.exchange_info)
    view = None if args.no_view or args.format == "json" else LiveView("paper", source)
    runner = Runner(home, config, source, f"paper:{','.join(sorted(symbols))}", args.balance,
                    args.checkpoint_every, None, view, accept_rollback=args.accept_journal_rollback,
                    notifiers=settings.notifiers, alerts=settings.alerts, alert_outage_min=settings.alert_outage_min)
    from tools.spec import wall_clock_ms

    schedule = ScoutSchedule(home, config, os.environ, settings.llm, wall_clock_ms) \
        if ScoutSchedule.wanted(settings.llm, "paper") else None
    if schedule is not None:
        schedule.start()
    try:
        return runner.run_to_end()
    finally:
        if schedule is not None:
            schedule.stop()
