"""Binance public REST: the four market-data calls, fetched concurrently, failures typed.

Binance facts used here (spot REST docs): an unknown symbol is HTTP 400 with ``{"code": -1121}``;
HTTP 429 (rate limit) and 418 (IP ban after ignoring 429s; bans escalate from minutes to days) carry
``Retry-After`` in seconds; any 5xx means the exchange could not answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx

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


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _binance_error(response: httpx.Response) -> tuple[int | None, str]:
    try:
        body = response.json()
    except ValueError:
        return None, response.text[:200]
    if isinstance(body, dict):
        code = body.get("code")
        return (code if isinstance(code, int) else None), str(body.get("msg", ""))[:200]
    return None, str(body)[:200]


class Fetcher:
    """One long-lived HTTP client (connection reuse keeps a warm worker fast) plus its RateGate."""

    def __init__(self, base_url: str = DEFAULT_BASE_URL) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
            headers={"User-Agent": "crypto-executor-oracle"},
        )
        self.gate = RateGate()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get_json(self, path: str, params: dict[str, Any], deadline: float) -> Any:
        """GET with typed failures; honours Retry-After only while it fits before ``deadline``."""
        while True:
            await self.gate.wait(deadline)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise OracleError("DEADLINE", f"deadline expired before GET {path}", {"path": path})
            try:
                response = await self._client.get(path, params=params, timeout=remaining)
            except httpx.TimeoutException:
                raise OracleError(
                    "DEADLINE", f"Binance did not answer GET {path} before the deadline", {"path": path}
                ) from None
            except httpx.HTTPError as exc:
                raise OracleError(
                    "DATA_OUTAGE",
                    f"Binance unreachable: {type(exc).__name__}: {exc}",
                    {"reason": "unreachable", "path": path, "base_url": self.base_url},
                ) from None
            status = response.status_code
            if status in (429, 418):
                retry_after = _retry_after(response)
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
                code, msg = _binance_error(response)
                if status == 400 and code == INVALID_SYMBOL_CODE:
                    raise OracleError(
                        "INVALID_SYMBOL", f"Binance does not know symbol {params.get('symbol')!r}: {msg}",
                        {"symbol": params.get("symbol"), "binance_code": code},
                    )
                raise OracleError(
                    "DATA_OUTAGE",
                    f"Binance answered HTTP {status} to GET {path}: {msg}",
                    {"reason": "http_error", "status": status, "binance_code": code, "path": path},
                )
            try:
                return response.json()
            except ValueError:
                raise OracleError(
                    "DATA_OUTAGE", f"unparseable JSON from GET {path}", {"reason": "unparseable", "path": path}
                ) from None

    async def snapshot(self, symbol: str, depth: int, deadline: float) -> Snapshot:
        """Depth, bookTicker, 24h ticker and aggTrades, concurrently; the most telling error wins."""
        one = {"symbol": symbol}
        results = await asyncio.gather(
            self.get_json("/api/v3/depth", {**one, "limit": depth}, deadline),
            self.get_json("/api/v3/ticker/bookTicker", one, deadline),
            self.get_json("/api/v3/ticker/24hr", one, deadline),
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
