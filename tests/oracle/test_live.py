"""The live REST path (Fetcher + service) against the loopback Binance server: real sockets."""

from __future__ import annotations

import asyncio
import time

import pytest

from oracle.fetch import Fetcher
from oracle.model import OracleFailure, OracleOk, OracleResult
from oracle.service import Request, handle
from tests.oracle.binance_public_server import BinancePublicServer

DEPTH = "/api/v3/depth"


def run(base_url: str, symbol: str = "BTCUSDT", deadline_ms: int = 3000, depth: int = 100) -> OracleResult:
    async def once() -> OracleResult:
        fetcher = Fetcher(base_url)
        try:
            return await handle(Request(id=1, symbol=symbol, deadline_ms=deadline_ms, depth=depth), fetcher)
        finally:
            await fetcher.aclose()

    return asyncio.run(once())


def failure(result: OracleResult) -> OracleFailure:
    assert isinstance(result, OracleFailure), result
    return result


def test_document_from_recorded_payloads(server: BinancePublicServer) -> None:
    result = run(server.base_url, "btcusdt")
    assert isinstance(result, OracleOk) and result.id == 1
    doc = result.data
    assert (doc.symbol, doc.source, doc.last_update_id) == ("BTCUSDT", "rest", 14527958487)
    assert (doc.best_bid, doc.best_ask) == (60650.0, 60650.01)
    # bookTicker and aggTrades are the recorded nautilus responses, served as-is.
    assert doc.top_of_book is not None and doc.top_of_book.bid == 60741.67
    assert doc.trade_flow is not None and doc.trade_flow.trades == 10
    last_trade_ms = server.markets["BTCUSDT"].agg_trades[-1]["T"]
    assert (doc.as_of_source, doc.as_of_ms) == ("ticker_close_time", last_trade_ms)  # derived ticker
    assert doc.age_ms is not None and doc.age_ms > 0
    assert {h.path for h in server.hits} == {DEPTH, "/api/v3/ticker/bookTicker", "/api/v3/ticker/24hr",
                                             "/api/v3/aggTrades"}


def test_four_calls_are_concurrent(server: BinancePublicServer) -> None:
    server.latency_s = 1.0
    started = time.monotonic()
    assert run(server.base_url).ok
    assert time.monotonic() - started < 3.0  # serial would be >= 4 s (margin for a loaded CI)


def test_unknown_symbol(server: BinancePublicServer) -> None:
    error = failure(run(server.base_url, "NOPEUSDT")).error
    assert error.code == "INVALID_SYMBOL" and error.details["binance_code"] == -1121


def test_symbol_that_cannot_exist_never_reaches_the_network(server: BinancePublicServer) -> None:
    assert failure(run(server.base_url, "BTC/USDT")).error.code == "INVALID_SYMBOL"
    assert server.hits == []


def test_5xx_is_data_outage(server: BinancePublicServer) -> None:
    server.inject(503, path=DEPTH, body="<html>Service Unavailable</html>")
    error = failure(run(server.base_url)).error
    assert error.code == "DATA_OUTAGE" and error.details["status"] == 503


def test_unparseable_json_is_data_outage(server: BinancePublicServer) -> None:
    server.inject(200, path="/api/v3/ticker/24hr", body="{not json")
    error = failure(run(server.base_url)).error
    assert (error.code, error.details["reason"]) == ("DATA_OUTAGE", "unparseable")


def test_wrong_shape_is_data_outage(server: BinancePublicServer) -> None:
    server.inject(200, path=DEPTH, body={"lastUpdateId": 1, "bids": "nope", "asks": []})
    error = failure(run(server.base_url)).error
    assert (error.code, error.details["reason"]) == ("DATA_OUTAGE", "unparseable")


def test_empty_book_is_data_outage(server: BinancePublicServer) -> None:
    error = failure(run(server.base_url, "EMPTYUSDT")).error
    assert (error.code, error.details["reason"]) == ("DATA_OUTAGE", "empty_book")


def test_429_with_short_retry_after_is_waited_out(server: BinancePublicServer) -> None:
    server.inject(429, path=DEPTH, headers={"Retry-After": "1"}, body={"code": -1003, "msg": "Too many requests"})
    started = time.monotonic()
    assert run(server.base_url, deadline_ms=3000).ok
    assert time.monotonic() - started >= 1.0
    assert len(server.hits_for(DEPTH)) == 2


def test_429_with_long_retry_after_is_data_outage_at_once(server: BinancePublicServer) -> None:
    server.inject(429, path=DEPTH, headers={"Retry-After": "120"})
    started = time.monotonic()
    error = failure(run(server.base_url, deadline_ms=3000)).error
    assert time.monotonic() - started < 2.5  # at once: neither the 120 s wait nor the 3 s deadline
    assert error.code == "DATA_OUTAGE"
    assert error.details["reason"] == "rate_limited" and error.details["retry_after_s"] == pytest.approx(120, abs=1)
    assert "rate-limited" in error.message and len(server.hits_for(DEPTH)) == 1


def test_418_ban_without_retry_after_is_data_outage(server: BinancePublicServer) -> None:
    server.inject(418, path=DEPTH)
    error = failure(run(server.base_url)).error
    assert (error.code, error.details["reason"], error.details["status"]) == ("DATA_OUTAGE", "rate_limited", 418)


def test_rate_limit_is_remembered_by_the_worker(server: BinancePublicServer) -> None:
    """After a long Retry-After, the same process sends nothing until the ban ends."""

    async def two() -> tuple[OracleResult, OracleResult]:
        fetcher = Fetcher(server.base_url)
        try:
            first = await handle(Request(symbol="BTCUSDT", deadline_ms=2000), fetcher)
            hits = len(server.hits)
            second = await handle(Request(symbol="NKNUSDT", deadline_ms=2000), fetcher)
            assert len(server.hits) == hits
            return first, second
        finally:
            await fetcher.aclose()

    server.inject(429, path=DEPTH, headers={"Retry-After": "60"})
    first, second = asyncio.run(two())
    assert failure(first).error.details["reason"] == failure(second).error.details["reason"] == "rate_limited"


def test_slow_exchange_hits_the_deadline(server: BinancePublicServer) -> None:
    server.latency_s = 10.0
    started = time.monotonic()
    error = failure(run(server.base_url, deadline_ms=300)).error
    assert error.code == "DEADLINE"
    assert time.monotonic() - started < 3.0  # the exchange would have answered after 10 s


def test_unreachable_exchange_is_data_outage() -> None:
    error = failure(run("http://127.0.0.1:9")).error
    assert (error.code, error.details["reason"]) == ("DATA_OUTAGE", "unreachable")


def test_depth_limit_is_passed_through(server: BinancePublicServer) -> None:
    result = run(server.base_url, "NKNUSDT", depth=20)
    assert isinstance(result, OracleOk) and result.data.bid_levels == 20
    assert server.hits_for(DEPTH)


def test_proxy_comes_from_the_environment_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from oracle.fetch import env_proxy

    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY",
                 "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert env_proxy("https://api.binance.com") is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert env_proxy("https://api.binance.com") == "http://proxy.example:3128"
    monkeypatch.setenv("NO_PROXY", "api.binance.com")
    assert env_proxy("https://api.binance.com") is None
