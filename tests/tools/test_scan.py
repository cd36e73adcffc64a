"""`scan` against the loopback Binance public-data server (real recorded payloads), over a replayed home.

The oracle runs as it does in production: a pool of `python -m oracle --serve` worker processes talking to
BINANCE_BASE_URL over sockets.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.errors import ConfigError
from core.sectors import DEFAULT_SECTORS, Sector
from core.types import RuleId
from runtime.home import Home
from runtime.lock import SingleWriterLock
from tests.conftest import fixture_path
from tests.oracle.binance_public_server import BinancePublicServer, MarketData, recorded_markets
from tests.tools.test_status import (
    FAKE_SECRETS,
    checkpoint,
    context,
    copy_of,
    run_tool,
    shared_replayed_home,
    snapshot_files,
)
from tools.scan import SPEC, ScanInput, ScanOutput, SymbolScan, SymbolScanError, handle
from tools.trade import TradeInput
from tools.trade import handle as trade

DEPTH = "/api/v3/depth"


@pytest.fixture(scope="module")
def server() -> Iterator[BinancePublicServer]:
    """The recorded BTCUSDT payloads (2021) with their trades moved to now, served as BTCUSDT and ETHUSDT
    (live data that is not stale), and as recorded under SOLUSDT (stale data)."""
    markets = recorded_markets(fixture_path())
    recorded = markets["BTCUSDT"]
    shift = int(time.time() * 1000) - recorded.agg_trades[-1]["T"]
    fresh = MarketData(depth=recorded.depth, agg_trades=[{**t, "T": t["T"] + shift} for t in recorded.agg_trades])
    markets.update(BTCUSDT=fresh, ETHUSDT=fresh, SOLUSDT=MarketData(depth=recorded.depth,
                                                                    agg_trades=recorded.agg_trades))
    with BinancePublicServer(markets) as running:
        yield running


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_replayed_home(tmp_path_factory)


def scan(root: Path, base_url: str, symbols: list[str] | None = None, **env: str) -> ScanOutput:
    return handle(ScanInput(symbols=symbols), context(root, {"BINANCE_BASE_URL": base_url, **env}))


def by_symbol(out: ScanOutput) -> dict[str, SymbolScan | SymbolScanError]:
    return {r.symbol: r for r in out.results}


def ok(result: SymbolScan | SymbolScanError) -> SymbolScan:
    assert isinstance(result, SymbolScan), result
    return result


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_each_symbol_gets_oracle_metrics_signals_and_blockers(built: Path, server: BinancePublicServer,
                                                              tmp_path: Path) -> None:
    home = copy_of(built, tmp_path)
    # A person closes BTCUSDT and the other l1 positions but ETHUSDT: BTCUSDT is then free to enter, its sector too.
    l1 = [s for s, sector in DEFAULT_SECTORS.items() if sector is Sector.L1 and s != "ETHUSDT"]
    for symbol in sorted(l1):
        if symbol in checkpoint(home)["engine"]["holdings"]:
            sold = trade(TradeInput(symbol=symbol, side="sell"), context(home))
            assert sold.status == "executed"
    if "ETHUSDT" not in checkpoint(home)["engine"]["holdings"]:  # a person opens it: ETHUSDT is then held
        bought = trade(TradeInput(symbol="ETHUSDT", side="buy", quote=Decimal("20")), context(home))
        assert bought.status == "executed", bought.message
    engine = checkpoint(home)["engine"]
    # SOLUSDT is not held: the sector guard kept it out (two other l1 positions were open)
    assert "BTCUSDT" not in engine["holdings"] and "ETHUSDT" in engine["holdings"]
    out = scan(home, server.base_url, ["BTCUSDT", "ETHUSDT", "SOLUSDT"])
    assert out.universe == "argument" and out.mode == "replay"
    results = by_symbol(out)
    assert list(results) == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]

    btc = ok(results["BTCUSDT"])
    assert btc.oracle.ok and btc.oracle.metrics is not None
    assert (btc.oracle.metrics.best_bid, btc.oracle.metrics.best_ask) == (60650.0, 60650.01)
    assert btc.strategies.source == "checkpoint" and btc.strategies.engine_time_ms == engine["now_ms"]
    assert btc.strategies.as_of_ms == engine["features"]["BTCUSDT"]["time_ms"]
    assert btc.strategies.age_ms is not None and btc.strategies.age_ms > 0
    assert btc.strategies.market is not None
    assert float(btc.strategies.market.last_price) == engine["features"]["BTCUSDT"]["last_price"]
    assert btc.entry.allowed and btc.entry.blockers == []  # live data, no position, breakers normal

    eth = ok(results["ETHUSDT"])
    assert not eth.entry.allowed
    assert [(b.rule, b.message) for b in eth.entry.blockers] == [
        (RuleId.ONE_POSITION_PER_SYMBOL, "one position per symbol: ETHUSDT already has an open position")]

    sol = ok(results["SOLUSDT"])  # the 2021 recording: data, but far too old to trade on
    assert sol.oracle.ok and not sol.entry.allowed
    assert any(b.rule is RuleId.DATA_OUTAGE and b.message.startswith("DATA_OUTAGE: SOLUSDT: live market data is stale")
               for b in sol.entry.blockers)


def test_an_unknown_symbol_is_an_error_for_that_symbol_only(built: Path, server: BinancePublicServer) -> None:
    out = scan(built, server.base_url, ["NOPEUSDT", "BTCUSDT"], **FAKE_SECRETS)
    text = out.model_dump_json()
    assert all(secret not in text for secret in FAKE_SECRETS.values())  # planted credentials never show
    results = by_symbol(out)
    unknown = results["NOPEUSDT"]
    assert isinstance(unknown, SymbolScanError) and not unknown.ok
    assert unknown.error.code == "INVALID_SYMBOL"
    assert unknown.error.details["symbol"] == "NOPEUSDT" and unknown.error.details["binance_code"] == -1121
    assert ok(results["BTCUSDT"]).oracle.ok


def test_unreachable_binance_is_a_data_outage_per_symbol_and_blocks_entries(built: Path) -> None:
    out = scan(built, f"http://127.0.0.1:{closed_port()}", ["BTCUSDT", "ETHUSDT"])
    for result in out.results:
        scanned = ok(result)
        assert not scanned.oracle.ok and scanned.oracle.metrics is None
        assert scanned.oracle.error is not None and scanned.oracle.error.code == "DATA_OUTAGE"
        assert not scanned.entry.allowed
        outage = f"DATA_OUTAGE: {scanned.symbol}: no live market data"
        assert any(b.rule is RuleId.DATA_OUTAGE and b.message.startswith(outage) for b in scanned.entry.blockers)
        assert scanned.strategies.source == "checkpoint"  # the engine's own view is still shown


def test_a_home_without_state_still_returns_oracle_results_and_stays_empty(
        tmp_path: Path, server: BinancePublicServer) -> None:
    out = scan(tmp_path, server.base_url)
    assert out.universe == "default" and out.mode == "not started"
    results = by_symbol(out)
    assert list(results) == ["BTCUSDT", "ETHUSDT"]
    btc = ok(results["BTCUSDT"])
    assert btc.oracle.ok and btc.strategies.source == "none" and btc.strategies.signals == []
    assert not btc.entry.allowed and btc.entry.blockers[0].rule is RuleId.ENGINE_UNAVAILABLE
    assert ok(results["ETHUSDT"]).oracle.ok
    assert list(tmp_path.iterdir()) == []


def test_the_universe_comes_from_the_checkpoint_then_the_environment(
        built: Path, tmp_path: Path, server: BinancePublicServer) -> None:
    out = scan(built, server.base_url)
    assert out.universe == "checkpoint"
    assert [r.symbol for r in out.results] == checkpoint(built)["engine"]["symbols"]
    from_env = scan(tmp_path, server.base_url, SCAN_SYMBOLS=" solusdt, BTCUSDT ,solusdt")
    assert from_env.universe == "env" and [r.symbol for r in from_env.results] == ["SOLUSDT", "BTCUSDT"]


def test_a_bad_scan_symbols_setting_is_refused_with_its_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        handle(ScanInput(), context(tmp_path, {"SCAN_SYMBOLS": "BTCUSDT,bad-name"}))
    assert refused.value.details["setting"] == "SCAN_SYMBOLS" and "BAD-NAME" in refused.value.message


def test_scan_never_locks_or_writes_the_home(built: Path, tmp_path: Path, server: BinancePublicServer) -> None:
    home = tmp_path / "h"
    home.mkdir()
    for item in built.iterdir():
        if item.is_file():
            (home / item.name).write_bytes(item.read_bytes())
    with SingleWriterLock(Home(home).lock):  # a running executor holds the lock: scan still answers
        before = snapshot_files(home)
        out = scan(home, server.base_url, ["BTCUSDT"])
        assert snapshot_files(home) == before
    assert ok(out.results[0]).strategies.source == "checkpoint"


@pytest.mark.parametrize("arguments", [
    {"symbols": ["btcusdt"]},
    {"symbols": ["BTC-USDT"]},
    {"symbols": []},
    {"symbols": [f"S{i:02d}USDT" for i in range(21)]},
    {"symbols": "BTCUSDT"},
    {"symbol": ["BTCUSDT"]},
])
def test_input_is_strict(arguments: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ScanInput.model_validate(arguments)


def test_spec_is_read_only_with_described_inputs() -> None:
    assert SPEC.name == "scan" and SPEC.read_only and not SPEC.destructive and SPEC.handler is handle
    schema = ScanInput.model_json_schema()
    assert all(field.get("description") for field in schema["properties"].values())


def test_the_command_line_scans_with_one_error_per_bad_symbol(built: Path, server: BinancePublicServer) -> None:
    code, envelope = run_tool(built, "scan", "--symbols", "BTCUSDT,NOPEUSDT",
                              env={"BINANCE_BASE_URL": server.base_url, **FAKE_SECRETS})
    assert (code, envelope["ok"], envelope["tool"]) == (0, True, "scan")
    results = {r["symbol"]: r for r in envelope["data"]["results"]}
    assert results["BTCUSDT"]["ok"] and results["BTCUSDT"]["oracle"]["ok"]
    assert not results["NOPEUSDT"]["ok"] and results["NOPEUSDT"]["error"]["code"] == "INVALID_SYMBOL"
    assert all(secret not in json.dumps(envelope) for secret in FAKE_SECRETS.values())


def test_the_command_line_refuses_a_bad_symbol_with_its_path(built: Path) -> None:
    code, envelope = run_tool(built, "scan", "--symbols", "BTCUSDT,btc-usdt")
    assert (code, envelope["error"]["code"]) == (2, "INVALID_ARGUMENT")
    assert envelope["error"]["details"]["path"] == "/symbols/1"
