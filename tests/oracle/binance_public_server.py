"""A loopback server speaking Binance Spot's public market-data REST shapes, for contract tests.

Serves ``/api/v3/depth``, ``/api/v3/ticker/bookTicker``, ``/api/v3/ticker/24hr``, ``/api/v3/aggTrades``
and ``/api/v3/time`` for the symbols it is given (the two tickers also with ``symbols=["A","B"]``, a JSON
array answered with a list in the order asked, as Binance does; one unknown symbol in it fails the whole
call with -1121, a malformed array is -1100, ``symbol`` and ``symbols`` together -1101), answers an
unknown symbol exactly like Binance (HTTP 400, ``{"code": -1121, "msg": "Invalid symbol."}``), and
lets a test inject latency and faults (any status, headers such as ``Retry-After``, raw bodies). It
runs an aiohttp app on its own thread and event loop, so injected latency never blocks other requests.

    with BinancePublicServer(recorded_markets(fixtures_dir)) as server:
        server.latency_s = 0.05
        server.inject(429, path="/api/v3/depth", headers={"Retry-After": "1"})
        ... server.base_url ...
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class MarketData:
    """Payloads for one symbol, in Binance's JSON shapes. ``book_ticker`` and ``ticker_24h`` are
    derived from ``depth`` / ``agg_trades`` when not given (see ``derived_book_ticker``)."""

    depth: dict[str, Any]
    agg_trades: list[dict[str, Any]] = field(default_factory=list)
    book_ticker: dict[str, Any] | None = None
    ticker_24h: dict[str, Any] | None = None


@dataclass
class Fault:
    status: int
    path: str | None = None
    symbol: str | None = None
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    times: int | None = 1  # None: every matching request


@dataclass(frozen=True)
class Hit:
    path: str
    symbol: str | None
    at: float  # time.monotonic()
    symbols: tuple[str, ...] | None = None  # a symbols= call


def derived_book_ticker(symbol: str, depth: Mapping[str, Any]) -> dict[str, Any]:
    """The bookTicker a depth snapshot implies (its best levels; zeros for an empty side, as Binance)."""
    bid = depth["bids"][0] if depth["bids"] else ["0.00000000", "0.00000000"]
    ask = depth["asks"][0] if depth["asks"] else ["0.00000000", "0.00000000"]
    return {"symbol": symbol, "bidPrice": bid[0], "bidQty": bid[1], "askPrice": ask[0], "askQty": ask[1]}


def derived_ticker_24h(symbol: str, agg_trades: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A 24hr ticker built from the recorded trades (no real one was recorded): VWAP of those
    trades as weightedAvgPrice, the last trade time as closeTime. None without trades."""
    if not agg_trades:
        return None
    qty = math.fsum(float(t["q"]) for t in agg_trades)
    vwap = math.fsum(float(t["p"]) * float(t["q"]) for t in agg_trades) / qty
    return {
        "symbol": symbol,
        "weightedAvgPrice": f"{vwap:.8f}",
        "lastPrice": agg_trades[-1]["p"],
        "volume": f"{qty:.8f}",
        "openTime": agg_trades[0]["T"],
        "closeTime": agg_trades[-1]["T"],
        "count": len(agg_trades),
    }


def recorded_markets(fixtures: Path) -> dict[str, MarketData]:
    """Real recorded payloads from ../shared/fixtures: BTCUSDT (depth, bookTicker, aggTrades from
    nautilus_trader's captures) and the four cryptofeed depth snapshots (NKNUSDT, BLZETH, LRCBTC,
    RUNEEUR)."""
    rest = fixtures / "rest" / "nautilus_btcusdt_2021-10"
    markets = {
        "BTCUSDT": MarketData(
            depth=json.loads((rest / "http_spot_market_depth.json").read_text()),
            agg_trades=json.loads((rest / "http_spot_market_agg_trades.json").read_text()),
            book_ticker=json.loads((rest / "http_spot_market_book_ticker.json").read_text()),
        )
    }
    for symbol, depth in cryptofeed_depth_snapshots(fixtures).items():
        markets[symbol] = MarketData(depth=depth)
    return markets


def cryptofeed_depth_snapshots(fixtures: Path) -> dict[str, dict[str, Any]]:
    """The REST depth snapshots in cryptofeed's capture: lines of ``URL -> epoch: JSON``."""
    path = fixtures / "ws_captures" / "cryptofeed_2021-10-12" / "BINANCE.http.0.0"
    out = {}
    with path.open() as lines:
        for line in filter(str.strip, lines):
            url, _, rest = line.partition(" -> ")
            _, _, payload = rest.partition(": ")
            symbol = url.split("symbol=")[1].split("&")[0]
            out[symbol] = json.loads(payload)
    return out


class BinancePublicServer:
    def __init__(self, markets: Mapping[str, MarketData], latency_s: float = 0.0) -> None:
        self.markets = dict(markets)
        self.latency_s = latency_s
        self.hits: list[Hit] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> BinancePublicServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def inject(
        self,
        status: int,
        *,
        path: str | None = None,
        symbol: str | None = None,
        body: str | dict[str, Any] = "",
        headers: Mapping[str, str] | None = None,
        times: int | None = 1,
    ) -> None:
        """Answer the next ``times`` matching requests (None: all) with this status/body/headers."""
        text = json.dumps(body) if isinstance(body, dict) else body
        with self._lock:
            self._faults.append(Fault(status, path, symbol, text, dict(headers or {}), times))

    def clear(self) -> None:
        """Drop faults and recorded hits; latency back to 0."""
        with self._lock:
            self._faults.clear()
            self.hits.clear()
        self.latency_s = 0.0

    def hits_for(self, path: str) -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if h.path == path]

    def start(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="binance-public-server", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._loop = None

    async def _shutdown(self) -> None:
        """Close the site, then cancel handlers still sleeping out an injected latency."""
        if self._runner is not None:
            await self._runner.cleanup()
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/api/v3/time", self._time)
        for path in ("/api/v3/depth", "/api/v3/ticker/bookTicker", "/api/v3/ticker/24hr", "/api/v3/aggTrades"):
            app.router.add_get(path, self._market)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=512)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _time(self, _: web.Request) -> web.Response:
        return web.json_response({"serverTime": int(time.time() * 1000)})

    def _take_fault(self, path: str, symbol: str | None, symbols: tuple[str, ...] | None = None) -> Fault | None:
        """Record the hit; a fault for a symbol also matches a symbols= call that includes it."""
        with self._lock:
            self.hits.append(Hit(path, symbol, time.monotonic(), symbols))
            for fault in self._faults:
                wanted = fault.symbol is None or fault.symbol == symbol or fault.symbol in (symbols or ())
                if fault.path in (None, path) and wanted:
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    async def _market(self, request: web.Request) -> web.Response:
        path, symbol, raw_symbols = request.path, request.query.get("symbol"), request.query.get("symbols")
        symbols = _symbols(raw_symbols) if path in _MULTI and raw_symbols is not None else None
        fault = self._take_fault(path, symbol, symbols or None)
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if fault is not None:
            return web.Response(status=fault.status, text=fault.body, headers=fault.headers,
                                content_type="application/json")
        if raw_symbols is not None and path in _MULTI:
            if symbol is not None:
                return web.json_response({"code": -1101, "msg": "Combination of optional parameters invalid."},
                                         status=400)
            if not symbols:
                return web.json_response({"code": -1100, "msg": "Illegal characters found in parameter "
                                          "'symbols'; legal range is '^\\[(\"[A-Z0-9-_.]{1,20}\"(,\"[A-Z0-9-_.]"
                                          "{1,20}\"){0,}){0,1}\\]$'."}, status=400)
            if any(s not in self.markets for s in symbols):
                return web.json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)
            return web.json_response([self._payload(path, s, 0) for s in symbols])
        if symbol is None:
            return web.json_response({"code": -1102, "msg": "Mandatory parameter 'symbol' was not sent."},
                                     status=400)
        market = self.markets.get(symbol)
        if market is None:
            return web.json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)
        limit = int(request.query.get("limit", "100" if path == "/api/v3/depth" else "500"))
        return web.json_response(self._payload(path, symbol, limit))

    def _payload(self, path: str, symbol: str, limit: int) -> Any:
        market = self.markets[symbol]
        if path == "/api/v3/depth":
            depth = market.depth
            payload: Any = {"lastUpdateId": depth.get("lastUpdateId"),
                            "bids": depth["bids"][:limit], "asks": depth["asks"][:limit]}
        elif path == "/api/v3/aggTrades":
            payload = market.agg_trades[-limit:]
        elif path == "/api/v3/ticker/bookTicker":
            payload = {**(market.book_ticker or derived_book_ticker(symbol, market.depth)), "symbol": symbol}
        else:
            payload = market.ticker_24h or derived_ticker_24h(symbol, market.agg_trades)
            if payload is None:  # Binance's answer for a symbol with no trades in 24h
                payload = {"symbol": symbol, "weightedAvgPrice": "0.00000000", "closeTime": int(time.time() * 1000)}
            payload = {**payload, "symbol": symbol}
        return payload


_MULTI = ("/api/v3/ticker/bookTicker", "/api/v3/ticker/24hr")
_SYMBOL_RE = re.compile(r"^[A-Z0-9\-_.]{1,20}$")


def _symbols(raw: str) -> tuple[str, ...]:
    """A symbols= value as Binance reads it: a JSON array of symbol strings; () when malformed."""
    try:
        value = json.loads(raw)
    except ValueError:
        return ()
    if not isinstance(value, list) or not value:
        return ()
    if not all(isinstance(s, str) and _SYMBOL_RE.fullmatch(s) for s in value):
        return ()
    return tuple(value)
