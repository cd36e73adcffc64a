"""Binance public REST: the four market-data calls, fetched concurrently, failures typed.

Binance facts used here (spot REST docs): an unknown symbol is HTTP 400 with ``{"code": -1121}``;
HTTP 429 (rate limit) and 418 (IP ban after ignoring 429s; bans escalate from minutes to days) carry
``Retry-After`` in seconds; any 5xx means the exchange could not answer. ``ticker/24hr`` and
``ticker/bookTicker`` also take ``symbols=["A","B"]`` (a JSON array, URL-encoded) and answer a list;
one unknown symbol in it fails the whole call with -1121. Weight: 24hr is 2 for one symbol and for
1-20 symbols (40 for 21-100), bookTicker 2 for one and 4 for several, so a batch of up to 20 costs a
fraction of one call per symbol.

HTTP goes through one aiohttp session per process (keep-alive pool): per request it costs a
fraction of the CPU httpx did, which is what bounds a scan on a small machine.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import Any

import aiohttp

from oracle.errors import OracleError
from oracle.snapshot import (
    ParseError,
    Snapshot,
    parse_agg_trades,
    parse_book_ticker,
    parse_depth,
    parse_ticker_24h,
    resolve_as_of,
)

log = logging.getLogger("oracle.fetch")

DEFAULT_BASE_URL = "https://api.binance.com"
AGG_TRADES_LIMIT = 1000
INVALID_SYMBOL_CODE = -1121
# The request itself needs a little time after a Retry-After wait; a wait that leaves less than
# this before the deadline is not worth starting.
MIN_REQUEST_S = 0.05
# The largest symbols= list sent at once: up to 20 the 24hr ticker still weighs 2 (see above).
MAX_BATCH_SYMBOLS = 20
_ERROR_PRIORITY = ("INVALID_SYMBOL", "INVALID_REQUEST", "DATA_OUTAGE", "DEADLINE")


class RateGate:
    """Per-process memory of a 429/418: until Retry-After ends, no call goes out.

    Concurrent requests in one worker share it, so one rate-limit answer stops the whole worker
    from hammering the exchange. It lives in memory only (no shared file between processes).
    """

    def __init__(self) -> None:
        self._blocked_until = 0.0  # time.monotonic()

    def block(self, seconds: float) -> None:
        self._blocked_until = max(self._blocked_until, time.monotonic() + seconds)

    async def wait(self, deadline: float, status: int | None = None) -> None:
        """Sleep out an active block if it ends in time for a request, else raise DATA_OUTAGE."""
        wait_s = self._blocked_until - time.monotonic()
        if wait_s <= 0:
            return
        if time.monotonic() + wait_s + MIN_REQUEST_S > deadline:
            raise OracleError(
                "DATA_OUTAGE",
                f"rate-limited by Binance for another {wait_s:.1f} s, longer than the call's deadline",
                {"reason": "rate_limited", "retry_after_s": round(wait_s, 3), "status": status},
            )
        log.warning("rate-limited: waiting %.2f s (Retry-After) before retrying", wait_s)
        await asyncio.sleep(wait_s)


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _binance_error(raw: bytes) -> tuple[int | None, str]:
    try:
        body = json.loads(raw)
    except ValueError:
        return None, raw[:200].decode(errors="replace")
    if isinstance(body, dict):
        code = body.get("code")
        return (code if isinstance(code, int) else None), str(body.get("msg", ""))[:200]
    return None, str(body)[:200]


def env_proxy(base_url: str) -> str | None:
    """The proxy HTTP(S)_PROXY / NO_PROXY ask for ``base_url`` (httpx honoured them), read once:
    aiohttp's ``trust_env`` would re-read the environment and ~/.netrc on every call (~0.6 ms)."""
    url = urllib.parse.urlsplit(base_url)
    if not url.hostname or urllib.request.proxy_bypass(url.hostname):
        return None
    return urllib.request.getproxies().get(url.scheme)


class Fetcher:
    """One long-lived HTTP session (connection reuse keeps a warm worker fast) plus its RateGate."""

    def __init__(self, base_url: str = DEFAULT_BASE_URL) -> None:
        self.base_url = base_url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None
        self._proxy = env_proxy(self.base_url)
        self.gate = RateGate()

    def _client(self) -> aiohttp.ClientSession:
        """Created on first use: an aiohttp session belongs to the running event loop."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=64, keepalive_timeout=30),
                headers={"User-Agent": "crypto-executor-oracle"},
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def get_json(self, path: str, params: dict[str, Any], deadline: float) -> Any:
        """GET with typed failures; honours Retry-After only while it fits before ``deadline``."""
        while True:
            await self.gate.wait(deadline)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise OracleError("DEADLINE", f"deadline expired before GET {path}", {"path": path})
            try:
                # No redirects, as before: a 3xx is not market data (its body fails as unparseable).
                async with self._client().get(self.base_url + path, params=params, allow_redirects=False,
                                              proxy=self._proxy,
                                              timeout=aiohttp.ClientTimeout(total=remaining)) as response:
                    status, headers, raw = response.status, response.headers, await response.read()
            except TimeoutError:
                raise OracleError(
                    "DEADLINE", f"Binance did not answer GET {path} before the deadline", {"path": path}
                ) from None
            except aiohttp.ClientError as exc:
                raise OracleError(
                    "DATA_OUTAGE",
                    f"Binance unreachable: {type(exc).__name__}: {exc}",
                    {"reason": "unreachable", "path": path, "base_url": self.base_url},
                ) from None
            if status in (429, 418):
                retry_after = _retry_after(headers)
                if retry_after is None:
                    raise OracleError(
                        "DATA_OUTAGE",
                        f"rate-limited by Binance (HTTP {status}) without a usable Retry-After",
                        {"reason": "rate_limited", "status": status, "path": path, "retry_after_s": None},
                    )
                self.gate.block(retry_after)
                await self.gate.wait(deadline, status)
                continue
            if status >= 400:
                code, msg = _binance_error(raw)
                if status == 400 and code == INVALID_SYMBOL_CODE:
                    symbol = params.get("symbol", params.get("symbols"))
                    raise OracleError(
                        "INVALID_SYMBOL", f"Binance does not know symbol {symbol!r}: {msg}",
                        {"symbol": symbol, "binance_code": code},
                    )
                raise OracleError(
                    "DATA_OUTAGE",
                    f"Binance answered HTTP {status} to GET {path}: {msg}",
                    {"reason": "http_error", "status": status, "binance_code": code, "path": path},
                )
            try:
                return json.loads(raw)
            except ValueError:
                raise OracleError(
                    "DATA_OUTAGE", f"unparseable JSON from GET {path}", {"reason": "unparseable", "path": path}
                ) from None

    def tickers(self, symbols: Sequence[str], deadline: float) -> Tickers:
        """Start the shared 24hr and bookTicker calls for these (already valid) symbols."""
        return Tickers(self, symbols, deadline)

    async def snapshot(self, symbol: str, depth: int, deadline: float, tickers: Tickers | None = None) -> Snapshot:
        """Depth, bookTicker, 24h ticker and aggTrades, concurrently; the most telling error wins.

        With ``tickers`` (a batch), the two tickers come from its shared calls instead of two more
        calls of this symbol's own."""
        one = {"symbol": symbol}
        if tickers is None:
            book_call = self.get_json(BOOK_TICKER, one, deadline)
            ticker_call = self.get_json(TICKER_24H, one, deadline)
        else:
            book_call = tickers.entry(BOOK_TICKER, symbol)
            ticker_call = tickers.entry(TICKER_24H, symbol)
        results = await asyncio.gather(
            self.get_json("/api/v3/depth", {**one, "limit": depth}, deadline),
            book_call,
            ticker_call,
            self.get_json("/api/v3/aggTrades", {**one, "limit": AGG_TRADES_LIMIT}, deadline),
            return_exceptions=True,
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            typed = [e for e in errors if isinstance(e, OracleError)]
            if len(typed) < len(errors):
                raise next(e for e in errors if not isinstance(e, OracleError))
            raise min(typed, key=lambda e: _ERROR_PRIORITY.index(e.code))
        raw_depth, raw_book_ticker, raw_ticker, raw_trades = results
        try:
            update_id, bids, asks = parse_depth(raw_depth)
            book_ticker = parse_book_ticker(raw_book_ticker)
            ticker = parse_ticker_24h(raw_ticker)
            trades = parse_agg_trades(raw_trades)
        except ParseError as exc:
            raise OracleError(
                "DATA_OUTAGE", f"Binance payload has an unexpected shape: {exc}", {"reason": "unparseable"}
            ) from None
        as_of_ms, as_of_source = resolve_as_of(ticker, trades, None, "unknown")
        return Snapshot(
            symbol=symbol,
            bids=bids,
            asks=asks,
            last_update_id=update_id,
            trades=trades,
            ticker=ticker,
            book_ticker=book_ticker,
            received_ms=int(time.time() * 1000),
            as_of_ms=as_of_ms,
            as_of_source=as_of_source,
        )


BOOK_TICKER = "/api/v3/ticker/bookTicker"
TICKER_24H = "/api/v3/ticker/24hr"


class Tickers:
    """The 24hr and bookTicker payloads of a batch of symbols: one ``symbols=`` call per endpoint
    (per ``MAX_BATCH_SYMBOLS``), shared by every symbol of the batch.

    Binance rejects a whole ``symbols=`` call with -1121 when one symbol in it is unknown and does
    not say which; then each symbol falls back to its own single-symbol call, so one bad symbol gets
    INVALID_SYMBOL and the others still get their data. Any other failure of a shared call (5xx,
    rate limit beyond the deadline, bad JSON, a list of the wrong shape) is every symbol's failure,
    as it would have been for its own call. A symbol missing from the answer is a DATA_OUTAGE.
    """

    def __init__(self, fetcher: Fetcher, symbols: Sequence[str], deadline: float) -> None:
        self._fetcher = fetcher
        self._deadline = deadline
        self._calls: dict[tuple[str, str], asyncio.Task[dict[str, Any]]] = {}
        unique = list(dict.fromkeys(symbols))
        for start in range(0, len(unique), MAX_BATCH_SYMBOLS):
            chunk = unique[start:start + MAX_BATCH_SYMBOLS]
            for path in (BOOK_TICKER, TICKER_24H):
                task = asyncio.create_task(self._fetch(path, chunk))
                task.add_done_callback(_retrieve)
                for symbol in chunk:
                    self._calls[path, symbol] = task

    async def _fetch(self, path: str, symbols: list[str]) -> dict[str, Any]:
        payload = await self._fetcher.get_json(
            path, {"symbols": json.dumps(symbols, separators=(",", ":"))}, self._deadline)
        if not isinstance(payload, list):
            raise OracleError("DATA_OUTAGE", f"Binance payload has an unexpected shape: {path}: expected a list",
                              {"reason": "unparseable", "path": path})
        by_symbol: dict[str, Any] = {}
        for row in payload:
            if not isinstance(row, dict) or not isinstance(row.get("symbol"), str):
                raise OracleError("DATA_OUTAGE", f"Binance payload has an unexpected shape: {path}: "
                                  "expected objects with a symbol", {"reason": "unparseable", "path": path})
            by_symbol[row["symbol"]] = row
        return by_symbol

    async def entry(self, path: str, symbol: str) -> Any:
        """This symbol's payload from the shared call (shielded: one symbol's deadline does not
        cancel the call the others wait on)."""
        try:
            by_symbol = await asyncio.shield(self._calls[path, symbol])
        except OracleError as exc:
            if exc.code == "INVALID_SYMBOL":
                return await self._fetcher.get_json(path, {"symbol": symbol}, self._deadline)
            raise OracleError(exc.code, exc.message, dict(exc.details)) from None
        if symbol not in by_symbol:
            raise OracleError("DATA_OUTAGE", f"Binance payload has an unexpected shape: {path}: no entry for "
                              f"{symbol}", {"reason": "unparseable", "path": path})
        return by_symbol[symbol]


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Mark a shared call's exception as seen (each waiting symbol reports its own copy)."""
    if not task.cancelled():
        task.exception()
