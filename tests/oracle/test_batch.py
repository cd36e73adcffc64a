"""Batch requests: one symbols= call per ticker endpoint for many symbols, with per-symbol answers
and the same typed errors as single requests. Real sockets against the loopback Binance server."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest

from oracle.client import OracleClient
from oracle.fetch import Fetcher
from oracle.model import RESULT_ADAPTER, OracleOk, OracleResult
from oracle.service import DEFAULT_DEPTH, BatchRequest, handle_batch
from tests.oracle.binance_public_server import BinancePublicServer
from tests.oracle.test_live import failure, run

TICKER = "/api/v3/ticker/24hr"
BOOK = "/api/v3/ticker/bookTicker"
KNOWN = ["BTCUSDT", "NKNUSDT", "LRCBTC"]


def run_batch(base_url: str, symbols: list[str], deadline_ms: int = 3000) -> dict[int, OracleResult]:
    """One batch of ``symbols`` (ids 0..n-1) through the worker's handler; answers by id."""

    async def once() -> dict[int, OracleResult]:
        fetcher = Fetcher(base_url)
        out: dict[int, OracleResult] = {}
        batch = BatchRequest(kind="batch", deadline_ms=deadline_ms,
                             requests=[{"id": i, "symbol": s} for i, s in enumerate(symbols)])
        try:
            await handle_batch(batch, fetcher, lambda r: out.__setitem__(r.id, r))
        finally:
            await fetcher.aclose()
        return out

    return asyncio.run(once())


def comparable(result: OracleResult) -> dict[str, Any]:
    assert isinstance(result, OracleOk), result
    return result.data.model_dump(exclude={"received_ms", "age_ms", "as_of_ms"})  # the server stamps "now"


def get(base_url: str, path: str, **params: str) -> tuple[int, Any]:
    url = f"{base_url}{path}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_server_answers_symbols_like_binance(server: BinancePublicServer) -> None:
    status, body = get(server.base_url, TICKER, symbols='["NKNUSDT","BTCUSDT"]')
    assert status == 200 and [row["symbol"] for row in body] == ["NKNUSDT", "BTCUSDT"]
    status, body = get(server.base_url, BOOK, symbols='["BTCUSDT","NOPEUSDT"]')
    assert (status, body["code"]) == (400, -1121)  # one unknown symbol fails the whole call
    status, body = get(server.base_url, BOOK, symbols="BTCUSDT")
    assert (status, body["code"]) == (400, -1100)
    status, body = get(server.base_url, BOOK, symbols='["BTCUSDT"]', symbol="BTCUSDT")
    assert (status, body["code"]) == (400, -1101)


def test_batch_shares_one_call_per_ticker_and_matches_single_requests(server: BinancePublicServer) -> None:
    results = run_batch(server.base_url, KNOWN)
    assert sorted(results) == [0, 1, 2]
    for path in (TICKER, BOOK):
        hits = server.hits_for(path)
        assert len(hits) == 1 and hits[0].symbol is None and hits[0].symbols == tuple(KNOWN)
    assert len(server.hits_for("/api/v3/depth")) == len(server.hits_for("/api/v3/aggTrades")) == 3
    for i, symbol in enumerate(KNOWN):
        assert comparable(results[i]) == comparable(run(server.base_url, symbol, depth=DEFAULT_DEPTH))


def test_batch_of_one_symbol_makes_single_symbol_calls(server: BinancePublicServer) -> None:
    assert run_batch(server.base_url, ["BTCUSDT"])[0].ok
    assert [(h.symbol, h.symbols) for h in server.hits_for(TICKER)] == [("BTCUSDT", None)]


def test_one_bad_symbol_in_a_batch_does_not_fail_the_others(server: BinancePublicServer) -> None:
    results = run_batch(server.base_url, ["BTCUSDT", "NOPEUSDT", "NKNUSDT", "BAD/ONE"])
    assert results[0].ok and results[2].ok
    error = failure(results[1]).error
    assert error.code == "INVALID_SYMBOL" and error.details["binance_code"] == -1121
    assert failure(results[3]).error.code == "INVALID_SYMBOL"  # never sent
    ticker_hits = server.hits_for(TICKER)
    assert [h.symbols for h in ticker_hits if h.symbols] == [("BTCUSDT", "NOPEUSDT", "NKNUSDT")]
    assert sorted(h.symbol for h in ticker_hits if h.symbol) == ["BTCUSDT", "NKNUSDT", "NOPEUSDT"]  # fallback
    assert all("BAD/ONE" not in (h.symbol or "") for h in server.hits)


def test_5xx_on_a_batch_call_is_data_outage_for_every_symbol(server: BinancePublicServer) -> None:
    server.inject(503, path=TICKER, body="<html>Service Unavailable</html>")
    results = run_batch(server.base_url, KNOWN)
    for result in results.values():
        error = failure(result).error
        assert (error.code, error.details["status"], error.details["path"]) == ("DATA_OUTAGE", 503, TICKER)
    assert len(server.hits_for(TICKER)) == 1  # no per-symbol retry: a 5xx is not a bad symbol


def test_429_on_a_batch_call_is_waited_out_once(server: BinancePublicServer) -> None:
    server.inject(429, path=BOOK, headers={"Retry-After": "1"}, body={"code": -1003, "msg": "Too many requests"})
    started = time.monotonic()
    results = run_batch(server.base_url, KNOWN, deadline_ms=3000)
    assert all(r.ok for r in results.values())
    assert time.monotonic() - started >= 1.0
    assert [h.symbols for h in server.hits_for(BOOK)] == [tuple(KNOWN)] * 2


def test_429_beyond_the_deadline_on_a_batch_call_is_data_outage(server: BinancePublicServer) -> None:
    server.inject(429, path=TICKER, headers={"Retry-After": "120"})
    started = time.monotonic()
    results = run_batch(server.base_url, KNOWN, deadline_ms=3000)
    assert time.monotonic() - started < 2.5  # it gave up at once rather than wait 120 s or the 3 s deadline
    for result in results.values():
        error = failure(result).error
        assert (error.code, error.details["reason"]) == ("DATA_OUTAGE", "rate_limited")


@pytest.mark.parametrize("body", [{"not": "a list"}, [{"symbol": "BTCUSDT", "weightedAvgPrice": "1"}], "{nope"])
def test_wrong_batch_answer_is_data_outage(server: BinancePublicServer, body: Any) -> None:
    server.inject(200, path=TICKER, body=body if isinstance(body, str) else json.dumps(body))
    results = run_batch(server.base_url, KNOWN)
    for i in (1, 2):  # NKNUSDT and LRCBTC have no entry in any of these answers
        error = failure(results[i]).error
        assert (error.code, error.details["reason"]) == ("DATA_OUTAGE", "unparseable")


def test_slow_batch_hits_the_deadline(server: BinancePublicServer) -> None:
    server.latency_s = 10.0
    started = time.monotonic()
    results = run_batch(server.base_url, KNOWN, deadline_ms=300)
    assert {failure(r).error.code for r in results.values()} == {"DEADLINE"}
    assert time.monotonic() - started < 3.0  # the exchange would have answered after 10 s


def test_worker_answers_a_batch_line_per_item(server: BinancePublicServer) -> None:
    lines = [
        {"kind": "batch", "deadline_ms": 3000, "requests": [{"id": 1, "symbol": "BTCUSDT"},
                                                            {"id": "b", "symbol": "NOPEUSDT"},
                                                            {"id": 3, "symbol": "LRCBTC"}]},
        {"kind": "batch", "depth": 0, "requests": [{"id": 4, "symbol": "BTCUSDT"}, {"id": 5, "symbol": "X"}]},
        {"kind": "batch", "requests": []},
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "oracle", "--serve", "--base-url", server.base_url],
        input=b"".join(json.dumps(line).encode() + b"\n" for line in lines), capture_output=True, timeout=20,
    )
    assert proc.returncode == 0, proc.stderr
    answers = [json.loads(line) for line in proc.stdout.splitlines()][1:]
    for answer in answers:
        RESULT_ADAPTER.validate_python(answer)
    by_id = {a.get("id"): a for a in answers}
    assert len(answers) == 6 and set(by_id) == {1, "b", 3, 4, 5, None}
    assert by_id[1]["ok"] and by_id[3]["ok"] and by_id["b"]["error"]["code"] == "INVALID_SYMBOL"
    for request_id in (4, 5, None):  # an invalid batch line: INVALID_REQUEST for each id it holds
        assert by_id[request_id]["error"]["code"] == "INVALID_REQUEST"


def test_client_scan_sends_one_batch_per_worker(server: BinancePublicServer) -> None:
    symbols = ["BTCUSDT", "NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR", "NOPEUSDT", "BAD/SYMBOL"]
    with OracleClient(workers=2, deadline_s=3.0, base_url=server.base_url) as pool:
        assert pool.wait_ready(20)
        server.clear()
        results = pool.analyse_many(symbols)
    assert list(results) == symbols
    assert all(results[s].ok for s in symbols[:5])
    assert failure(results["NOPEUSDT"]).error.code == failure(results["BAD/SYMBOL"]).error.code == "INVALID_SYMBOL"
    batches = [h.symbols for h in server.hits_for(TICKER) if h.symbols]
    assert len(batches) == 2 and sorted(s for b in batches for s in b) == sorted(symbols[:6])


def test_client_splits_a_share_larger_than_one_batch_line(server: BinancePublicServer) -> None:
    symbols = [f"BAD/{i}" for i in range(230)] + ["BTCUSDT"]  # more than MAX_BATCH_REQUESTS per worker
    with OracleClient(workers=1, deadline_s=5.0, base_url=server.base_url) as pool:
        assert pool.wait_ready(20)
        results = pool.analyse_many(symbols)
    assert len(results) == 231 and results["BTCUSDT"].ok
    assert {failure(results[s]).error.code for s in symbols[:-1]} == {"INVALID_SYMBOL"}
