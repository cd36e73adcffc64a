"""The --serve protocol and the worker-pool client: real subprocesses, real pipes, real sockets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from oracle.client import OracleClient
from oracle.model import RESULT_ADAPTER, OracleFailure, OracleOk, OracleResult
from tests.oracle.binance_public_server import BinancePublicServer

BOOK = {"lastUpdateId": 7, "bids": [["100.0", "2"], ["99.9", "1"]], "asks": [["100.1", "1"], ["100.2", "3"]]}


def failure(result: OracleResult) -> OracleFailure:
    assert isinstance(result, OracleFailure), result
    return result


def worker_exchange(lines: list[bytes], env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Feed raw lines to one worker, close its input, return every line it printed."""
    proc = subprocess.run(
        [sys.executable, "-m", "oracle", "--serve", "--base-url", "http://127.0.0.1:9"],
        input=b"".join(lines), capture_output=True, timeout=20, env={**os.environ, **(env or {})},
    )
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_malformed_lines_get_typed_errors_and_the_worker_survives() -> None:
    out = worker_exchange([
        b"this is not json\n",
        b"[1, 2, 3]\n",
        b'{"id": 2}\n',
        b'{"id": 3, "symbol": "BTCUSDT", "depth": 0}\n',
        b'{"id": 4, "symbol": "BTCUSDT", "kind": "launch-missiles"}\n',
        b'{"id": 5, "kind": "test-crash"}\n',  # hooks are off: just an invalid request
        b'{"id": 6, "symbol": "BTCUSDT", "snapshot": {"bids": "x"}}\n',
        json.dumps({"id": 7, "symbol": "BTCUSDT", "snapshot": BOOK}).encode() + b"\n",
    ])
    assert out[0]["event"] == "ready"
    answers = out[1:]
    assert len(answers) == 8
    for answer in answers:
        RESULT_ADAPTER.validate_python(answer)  # every line is a valid envelope
    by_id = {a.get("id"): a for a in answers}
    assert [a["error"]["code"] for a in answers if "id" not in a] == ["INVALID_REQUEST"] * 2
    for request_id in (2, 3, 4, 5, 6):
        assert by_id[request_id]["error"]["code"] == "INVALID_REQUEST", by_id[request_id]
    assert by_id[3]["error"]["details"]["errors"][0]["loc"] == "depth"
    assert by_id[7]["ok"] is True and by_id[7]["data"]["best_bid"] == 100.0


def test_worker_answers_concurrently(server: BinancePublicServer) -> None:
    server.latency_s = 1.0
    proc = subprocess.Popen([sys.executable, "-m", "oracle", "--serve", "--base-url", server.base_url],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    assert json.loads(proc.stdout.readline())["event"] == "ready"
    started = time.monotonic()
    for i, symbol in enumerate(["BTCUSDT", "NKNUSDT", "LRCBTC", "NOPEUSDT"]):
        proc.stdin.write(json.dumps({"id": i, "symbol": symbol}).encode() + b"\n")
    proc.stdin.flush()
    answers = [json.loads(proc.stdout.readline()) for _ in range(4)]
    elapsed = time.monotonic() - started
    proc.stdin.close()
    assert proc.wait(10) == 0
    assert elapsed < 3.0  # four requests of >= 1 s each: serial would take >= 4 s (margin for a loaded CI)
    by_id = {a["id"]: a for a in answers}
    assert [by_id[i]["ok"] for i in range(3)] == [True, True, True]
    assert by_id[3]["error"]["code"] == "INVALID_SYMBOL"


@pytest.fixture(scope="module")
def client(_server: BinancePublicServer) -> Iterator[OracleClient]:
    with OracleClient(workers=2, deadline_s=3.0, grace_s=0.3, base_url=_server.base_url,
                      env={"ORACLE_TEST_HOOKS": "1"}) as pool:
        assert pool.wait_ready(20)
        yield pool


def test_client_live_document_and_unknown_symbol(client: OracleClient, server: BinancePublicServer) -> None:
    ok = client.analyse("BTCUSDT")
    assert isinstance(ok, OracleOk) and ok.data.best_bid == 60650.0
    assert failure(client.analyse("NOPEUSDT")).error.code == "INVALID_SYMBOL"


def test_client_snapshot_without_network(client: OracleClient, server: BinancePublicServer) -> None:
    result = client.analyse_snapshot("TESTUSDT", BOOK, as_of_ms=1_600_000_000_000)
    assert isinstance(result, OracleOk) and result.data.as_of_source == "request"
    assert server.hits == []


def test_scan_of_twenty_symbols_in_parallel(client: OracleClient, server: BinancePublicServer) -> None:
    symbols = ["BTCUSDT", "NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR"] * 4
    symbols = [s if i < 5 else f"{s}{i}" for i, s in enumerate(symbols)]  # 5 known, 15 unknown
    server.latency_s = 0.3
    started = time.monotonic()
    results = client.analyse_many([*symbols, "BAD/SYMBOL"])
    elapsed = time.monotonic() - started
    assert elapsed < 3.0  # 21 requests of >= 0.3 s each; serial would be >= 6 s (margin for a loaded CI)
    assert len(results) == 21
    assert all(results[s].ok for s in symbols[:5])
    assert {failure(results[s]).error.code for s in symbols[5:]} == {"INVALID_SYMBOL"}
    assert failure(results["BAD/SYMBOL"]).error.code == "INVALID_SYMBOL"


def test_deadline_expires_inside_a_healthy_worker(client: OracleClient, server: BinancePublicServer) -> None:
    server.latency_s = 10.0
    started = time.monotonic()
    error = failure(client.analyse("BTCUSDT", deadline_s=0.4)).error
    assert error.code == "DEADLINE" and error.details.get("reason") != "worker_hung"
    assert time.monotonic() - started < 3.0  # the exchange would have answered after 10 s


def test_hung_worker_is_killed_and_replaced(client: OracleClient, server: BinancePublicServer) -> None:
    started = time.monotonic()
    error = failure(client.request({"kind": "test-hang", "seconds": 60}, deadline_s=0.3)).error
    assert (error.code, error.details["reason"]) == ("DEADLINE", "worker_hung")
    assert time.monotonic() - started < 5.0  # the worker would have hung for 60 s
    hung_pid = error.details["pid"]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(hung_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the hung worker is still alive")
    assert client.analyse("BTCUSDT", deadline_s=5).ok  # the pool still serves


def test_crashed_worker_is_replaced(client: OracleClient, server: BinancePublicServer) -> None:
    error = failure(client.request({"kind": "test-crash", "exit_code": 7}, deadline_s=2)).error
    assert (error.code, error.details["reason"], error.details["exit_code"]) == ("DATA_OUTAGE", "worker_exited", 7)
    results = client.analyse_many(["BTCUSDT", "NKNUSDT", "LRCBTC"], deadline_s=5)
    assert all(r.ok for r in results.values())


def test_requests_sharing_a_hung_worker_all_get_typed_errors(server: BinancePublicServer) -> None:
    with OracleClient(workers=1, grace_s=0.2, base_url=server.base_url, env={"ORACLE_TEST_HOOKS": "1"}) as one:
        assert one.wait_ready(20)
        server.latency_s = 8.0
        with ThreadPoolExecutor(1) as pool:
            in_flight = pool.submit(one.analyse, "BTCUSDT", deadline_s=10)
            time.sleep(0.2)  # the analysis is now waiting on the exchange inside the worker
            hang = one.request({"kind": "test-hang", "seconds": 60}, deadline_s=0.2)
            started = time.monotonic()
            bystander = in_flight.result(timeout=15)
        assert failure(hang).error.details["reason"] == "worker_hung"
        assert time.monotonic() - started < 4.0  # failed when the worker was killed, not after the 8 s answer
        assert (failure(bystander).error.code, failure(bystander).error.details["reason"]) == (
            "DEADLINE", "worker_hung")
        server.latency_s = 0.0
        assert one.analyse("BTCUSDT", deadline_s=5).ok


def test_closed_client_answers_with_a_typed_error(server: BinancePublicServer) -> None:
    pool = OracleClient(workers=1, base_url=server.base_url)
    assert pool.wait_ready(20)
    procs = [w.proc for w in pool._workers]
    pool.close()
    assert all(p.poll() is not None for p in procs)
    error = failure(pool.analyse("BTCUSDT")).error
    assert (error.code, error.details["reason"]) == ("DATA_OUTAGE", "client_closed")
