"""``python -m oracle`` as a user runs it: one JSON document on stdout, documented exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema

from oracle.model import output_schema
from tests.conftest import fixture_path
from tests.oracle.binance_public_server import BinancePublicServer


def oracle(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    proc = subprocess.run([sys.executable, "-m", "oracle", *args], capture_output=True, text=True, timeout=30,
                          env={**os.environ, **(env or {})})
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, (proc.stdout, proc.stderr)
    document = json.loads(lines[0])
    jsonschema.validate(document, output_schema())
    return proc.returncode, document


def test_schema_command_matches_the_published_schema() -> None:
    proc = subprocess.run([sys.executable, "-m", "oracle", "--schema"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and json.loads(proc.stdout) == output_schema()


def test_input_file_of_recorded_depth() -> None:
    path = fixture_path("rest", "nautilus_btcusdt_2021-10", "http_spot_market_depth.json")
    code, doc = oracle("--symbol", "BTCUSDT", "--input", str(path))
    assert code == 0 and doc["ok"] is True and "id" not in doc
    data = doc["data"]
    assert (data["source"], data["as_of_source"], data["best_ask"]) == ("file", "file_mtime", 60650.01)


def test_input_file_errors(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.json"
    garbage.write_text("<html>")
    assert oracle("--symbol", "BTCUSDT", "--input", str(garbage))[1]["error"]["code"] == "INVALID_REQUEST"
    crossed = tmp_path / "crossed.json"
    crossed.write_text(json.dumps({"lastUpdateId": 1, "bids": [["101", "1"]], "asks": [["100", "1"]]}))
    code, doc = oracle("--symbol", "BTCUSDT", "--input", str(crossed))
    assert (code, doc["error"]["code"], doc["error"]["details"]["reason"]) == (1, "DATA_OUTAGE", "crossed_book")


def test_bad_arguments_are_invalid_request() -> None:
    code, doc = oracle("--symbol", "BTCUSDT", "--depth", "lots")
    assert (code, doc["error"]["code"]) == (2, "INVALID_REQUEST")
    code, doc = oracle("--depth", "5")
    assert (code, doc["error"]["code"]) == (2, "INVALID_REQUEST")


def test_live_one_shot_against_loopback(server: BinancePublicServer) -> None:
    code, doc = oracle("--symbol", "NKNUSDT", "--depth", "50", env={"BINANCE_BASE_URL": server.base_url})
    assert code == 0 and doc["data"]["bid_levels"] == 50 and doc["data"]["source"] == "rest"
    code, doc = oracle("--symbol", "NOPEUSDT", "--base-url", server.base_url)
    assert (code, doc["error"]["code"]) == (2, "INVALID_SYMBOL")
    server.inject(502, times=None)
    code, doc = oracle("--symbol", "BTCUSDT", "--base-url", server.base_url)
    assert (code, doc["error"]["code"]) == (1, "DATA_OUTAGE")
