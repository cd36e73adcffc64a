"""Live public market data for `paper` mode: Binance combined streams with a REST fallback.

- One WebSocket (`websockets` package) on `/stream?streams=<sym>@bookTicker/<sym>@depth@100ms/
  <sym>@aggTrade` (lowercase symbols). Depth diffs are synchronised with a REST snapshot
  (`GET /api/v3/depth`, fetched with httpx) by `BookSync`/`LocalBook`; a gap triggers a new snapshot.
- While the socket is down, `GET /api/v3/depth` is polled per symbol instead.
- Reconnects use exponential backoff with jitter from an injected `random.Random`. Binance closes
  every connection after 24 h; that close is handled like any other (a reconnect, new snapshots).
  The server's pings (every 20 s) are answered by the `websockets` library.
- A symbol with no data for `stale_after_ms` gets one `DataOutage(reason)`; the next data for it
  is preceded by `DataRestored`. Nothing is ever filled in to bridge the silence.
- HTTP 429/418 answers (rate limit, ban) carry Retry-After: no REST call goes out until it passes.

Use it as `async with contextlib.aclosing(feed.events()) as events: async for event in events: ...`
so that leaving the loop closes the socket and the HTTP client at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from core.events import MarketEvent
from exchange.feeds.backoff import Backoff
from exchange.feeds.book_sync import BookSync
from exchange.feeds.health import OutageTracker
from exchange.feeds.recording import RawRecord
from exchange.feeds.streams import DepthDiff, book_from_snapshot, combined_url, decode_message, stream_names

log = logging.getLogger("exchange.feeds.live")

DEFAULT_WS_BASE = "wss://stream.binance.com:9443"
DEFAULT_REST_BASE = "https://api.binance.com"
# GET /api/v3/depth accepts these limits; weight grows with the limit (5 up to 100, 50 at 1000).
DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000, 5000)
# Binance allows 1024 streams per connection.
MAX_STREAMS = 1024
RESYNC_DELAY_S = 0.25


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def depth_limit_for(levels: int) -> int:
    """The smallest depth limit Binance accepts that returns at least `levels` levels."""
    for limit in DEPTH_LIMITS:
        if limit >= levels:
            return limit
    return DEPTH_LIMITS[-1]


class _Failure:
    """A background task died: the consumer re-raises its exception instead of waiting forever."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class LiveFeed:
    """Market events for `symbols` from Binance public data. Not thread-safe; one `events()` at a time."""

    def __init__(self, symbols: Sequence[str], ws_base: str = DEFAULT_WS_BASE, rest_base: str = DEFAULT_REST_BASE,
                 stale_after_ms: int = 5_000, *, depth: int = 10, snapshot_limit: int = 1000,
                 rest_poll_ms: int = 1_000, backoff_initial_ms: int = 500, backoff_max_ms: int = 30_000,
                 rng: random.Random | None = None, kline_interval: str | None = None,
                 raw_sink: Callable[[RawRecord], None] | None = None, clock: Callable[[], int] = wall_clock_ms,
                 open_timeout_s: float = 10.0, http_timeout_s: float = 10.0) -> None:
        if not symbols:
            raise ValueError("LiveFeed needs at least one symbol")
        if stale_after_ms <= 0 or rest_poll_ms <= 0 or depth <= 0:
            raise ValueError("stale_after_ms, rest_poll_ms and depth must be positive")
        if snapshot_limit not in DEPTH_LIMITS:
            raise ValueError(f"snapshot_limit must be one of {DEPTH_LIMITS}, got {snapshot_limit}")
        self.symbols = [s.upper() for s in symbols]
        self.streams = stream_names(self.symbols, kline_interval)
        if len(self.streams) > MAX_STREAMS:
            raise ValueError(f"{len(self.streams)} streams exceed Binance's {MAX_STREAMS} per connection")
        self.ws_base = ws_base
        self.rest_base = rest_base.rstrip("/")
        self.stale_after_ms = stale_after_ms
        self.depth = depth
        self.snapshot_limit = snapshot_limit
        self.rest_poll_ms = rest_poll_ms
        self._rng = rng if rng is not None else random.Random()
        self._backoff = Backoff(backoff_initial_ms, backoff_max_ms, self._rng)
        self._raw_sink = raw_sink
        self._clock = clock
        self._open_timeout_s = open_timeout_s
        self._http_timeout_s = http_timeout_s
        self.connections = 0
        self.ws_connected = False
        self._syncs = {s: BookSync(s, depth) for s in self.symbols}
        self._health = OutageTracker(self.symbols)
        self._last_seen: dict[str, float] = {}
        self._started = 0.0
        self._queue: asyncio.Queue[MarketEvent | _Failure] = asyncio.Queue()
        self._ws_down = asyncio.Event()
        self._snapshot_tasks: dict[str, asyncio.Task[None]] = {}
        self._rest_blocked_until = 0.0

    @property
    def url(self) -> str:
        return combined_url(self.ws_base, self.streams)

    async def events(self) -> AsyncIterator[MarketEvent]:
        """Every market event as it arrives, until the consumer stops iterating."""
        self._queue = asyncio.Queue()
        self._ws_down = asyncio.Event()
        self._started = time.monotonic()
        async with httpx.AsyncClient(base_url=self.rest_base, timeout=self._http_timeout_s) as http:
            tasks = [asyncio.create_task(self._guard(job)) for job in
                     (self._ws_loop(http), self._watchdog(), self._fallback_loop(http))]
            try:
                while True:
                    item = await self._queue.get()
                    if isinstance(item, _Failure):
                        raise item.exc
                    yield item
            finally:
                for task in [*tasks, *self._snapshot_tasks.values()]:
                    task.cancel()
                await asyncio.gather(*tasks, *self._snapshot_tasks.values(), return_exceptions=True)
                self._snapshot_tasks.clear()
                self.ws_connected = False

    async def _guard(self, job: Coroutine[Any, Any, None]) -> None:
        try:
            await job
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # a bug in a background task must reach the consumer
            self._queue.put_nowait(_Failure(exc))

    # -- output -------------------------------------------------------------------------------

    def _record(self, record: RawRecord) -> None:
        if self._raw_sink is not None:
            self._raw_sink(record)

    def _emit(self, event: MarketEvent, recv_ms: int) -> None:
        symbol = getattr(event, "symbol", None)
        if symbol is None:
            return
        restored = self._health.data_seen(symbol, recv_ms)
        if restored is not None:
            self._queue.put_nowait(restored)
        self._last_seen[symbol] = time.monotonic()
        self._queue.put_nowait(event)

    # -- WebSocket ----------------------------------------------------------------------------

    async def _ws_loop(self, http: httpx.AsyncClient) -> None:
        while True:
            reason = "closed by the server"
            try:
                async with connect(self.url, open_timeout=self._open_timeout_s, max_size=2**23) as ws:
                    self._on_connect(http)
                    async for raw in ws:
                        self._on_raw_message(raw, http)
            except (OSError, WebSocketException, TimeoutError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            self._on_disconnect(reason)
            await asyncio.sleep(self._backoff.next_delay_ms() / 1000)

    def _on_connect(self, http: httpx.AsyncClient) -> None:
        self.connections += 1
        self.ws_connected = True
        self._ws_down.clear()
        self._record(RawRecord("connect", self._clock(), None, self.url))
        log.info("connected to %s (%d streams)", self.ws_base, len(self.streams))
        for symbol, sync in self._syncs.items():
            sync.reset()
            self._ensure_snapshot(symbol, http)

    def _on_disconnect(self, reason: str) -> None:
        if self.ws_connected:
            log.warning("websocket disconnected: %s", reason)
            self._record(RawRecord("disconnect", self._clock(), None, reason))
        self.ws_connected = False
        self._ws_down.set()
        for task in self._snapshot_tasks.values():
            task.cancel()
        self._snapshot_tasks.clear()

    def _on_raw_message(self, raw: str | bytes, http: httpx.AsyncClient) -> None:
        recv_ms = self._clock()
        self._backoff.reset()
        try:
            message = json.loads(raw)
        except ValueError:
            log.warning("ignored a websocket message that is not JSON: %.200r", raw)
            return
        self._record(RawRecord("ws", recv_ms, None, message))
        try:
            decoded = decode_message(message, recv_ms) if isinstance(message, dict) else None
        except (KeyError, ValueError, TypeError) as exc:
            log.warning("ignored a malformed stream message (%r): %.200r", exc, message)
            return
        if decoded is None or decoded.symbol not in self._syncs:
            return
        if isinstance(decoded, DepthDiff):
            sync = self._syncs[decoded.symbol]
            book = sync.on_diff(decoded.data, decoded.time_ms)
            if sync.needs_snapshot:
                self._ensure_snapshot(decoded.symbol, http)
            if book is not None:
                self._emit(book, recv_ms)
            return
        self._emit(decoded, recv_ms)

    # -- REST ---------------------------------------------------------------------------------

    def _ensure_snapshot(self, symbol: str, http: httpx.AsyncClient) -> None:
        task = self._snapshot_tasks.get(symbol)
        if task is None or task.done():
            self._snapshot_tasks[symbol] = asyncio.create_task(self._guard(self._synchronise(symbol, http)))

    async def _synchronise(self, symbol: str, http: httpx.AsyncClient) -> None:
        """Fetch snapshots until the symbol's book is synced (a snapshot older than the buffered
        diffs is useless, so wait a little and fetch again)."""
        sync = self._syncs[symbol]
        retry = Backoff(int(RESYNC_DELAY_S * 1000), 10_000, self._rng)
        while sync.needs_snapshot and self.ws_connected:
            snapshot = await self._get_depth(http, symbol, self.snapshot_limit)
            if snapshot is not None and self.ws_connected:
                recv_ms = self._clock()
                self._record(RawRecord("snapshot", recv_ms, symbol, snapshot))
                book = sync.on_snapshot(snapshot, recv_ms)
                if book is not None:
                    self._emit(book, recv_ms)
                    return
            await asyncio.sleep(retry.next_delay_ms() / 1000)

    async def _get_depth(self, http: httpx.AsyncClient, symbol: str, limit: int) -> dict[str, Any] | None:
        """A REST depth snapshot, or None (logged) when it cannot be had right now."""
        now = time.monotonic()
        if now < self._rest_blocked_until:
            return None
        try:
            response = await http.get("/api/v3/depth", params={"symbol": symbol, "limit": limit})
        except httpx.HTTPError as exc:
            log.warning("depth snapshot for %s failed: %s", symbol, exc)
            return None
        if response.status_code in (418, 429):
            wait_s = _retry_after_s(response)
            self._rest_blocked_until = time.monotonic() + wait_s
            log.warning("Binance answered %d: no REST call for %.1f s", response.status_code, wait_s)
            return None
        if response.status_code != 200:
            log.warning("depth snapshot for %s: HTTP %d %.200s", symbol, response.status_code, response.text)
            return None
        try:
            body = response.json()
        except ValueError:
            log.warning("depth snapshot for %s is not JSON", symbol)
            return None
        if not (isinstance(body, dict) and isinstance(body.get("lastUpdateId"), int)
                and isinstance(body.get("bids"), list) and isinstance(body.get("asks"), list)):
            log.warning("depth snapshot for %s lacks lastUpdateId/bids/asks", symbol)
            return None
        return body

    async def _fallback_loop(self, http: httpx.AsyncClient) -> None:
        """While the socket is down, poll each symbol's depth so that books keep coming."""
        limit = depth_limit_for(self.depth)
        while True:
            await self._ws_down.wait()
            snapshots = await asyncio.gather(*(self._get_depth(http, s, limit) for s in self.symbols))
            if not self.ws_connected:
                for symbol, snapshot in zip(self.symbols, snapshots, strict=True):
                    if snapshot is None:
                        continue
                    recv_ms = self._clock()
                    self._record(RawRecord("poll", recv_ms, symbol, snapshot))
                    book = book_from_snapshot(symbol, snapshot, recv_ms, self.depth)
                    if book is not None:
                        self._emit(book, recv_ms)
            await asyncio.sleep(self.rest_poll_ms / 1000)

    # -- staleness ----------------------------------------------------------------------------

    async def _watchdog(self) -> None:
        period_s = min(self.stale_after_ms / 4, 1_000) / 1000
        while True:
            await asyncio.sleep(period_s)
            now = time.monotonic()
            for symbol in self.symbols:
                seen = self._last_seen.get(symbol)
                age_ms = int((now - (seen if seen is not None else self._started)) * 1000)
                if age_ms <= self.stale_after_ms or self._health.is_out(symbol):
                    continue
                since = "since the feed started" if seen is None else "since the last update"
                socket = "websocket connected" if self.ws_connected else "websocket down, REST fallback polling"
                reason = f"no market data for {age_ms} ms {since} ({socket})"
                recv_ms = self._clock()
                outage = self._health.outage(symbol, recv_ms, reason)
                if outage is not None:
                    self._record(RawRecord("outage", recv_ms, symbol, reason))
                    self._queue.put_nowait(outage)


def _retry_after_s(response: httpx.Response) -> float:
    """Retry-After in seconds (Binance sends it with 429 and 418); 60 s when absent or unreadable."""
    with contextlib.suppress(TypeError, ValueError):
        return max(0.0, float(response.headers.get("Retry-After")))
    return 60.0
