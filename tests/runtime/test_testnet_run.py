"""`python executor.py run --mode testnet` as a person runs it (a subprocess, from another folder, its own
EXECUTOR_HOME) against the loopback Binance: market data from its streams, orders through the real SDK, the
user-data stream over its WebSocket API. Then SIGKILL at random points and restarts, judged from the loopback
server's own ledger and the journal: no order lost, none duplicated, every position protected."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from decimal import Decimal
from functools import partial
from pathlib import Path

import pytest

from memory.journal import Journal
from memory.rows import CommandStatus
from runtime.home import Home
from tests.conftest import REPO_ROOT
from tests.fakes.binance import FakeBinance
from tests.fakes.binance.__main__ import BTCUSDT, START_PRICE
from tests.fakes.binance.market import Market
from tests.fakes.binance_support import ed25519_key_pair, key_file
from tests.runtime.helpers import cli_env, query, run_cli, saved_checkpoint
from tools.state import engine_process

pytestmark = pytest.mark.slow  # subprocesses and kills: part of `make test`, not of a quick `-m "not slow"` run

SYMBOL = "BTCUSDT"
KEY, SECRET = "loopback-testnet-key-0001", "loopback-testnet-secret-0001"
WAIT_S = 30.0


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    market = Market({SYMBOL: BTCUSDT}, {SYMBOL: START_PRICE}, seed=3, volatility_bps=1.0)
    with FakeBinance({SYMBOL: BTCUSDT}, {"USDT": Decimal(10_000)}, api_key=KEY, api_secret=SECRET, market=market,
                     market_interval_s=0.05) as server:
        yield server


@pytest.fixture
def ed25519_fake() -> Iterator[FakeBinance]:
    """The loopback testnet with an Ed25519 API key registered (its public key) instead of an HMAC secret."""
    market = Market({SYMBOL: BTCUSDT}, {SYMBOL: START_PRICE}, seed=3, volatility_bps=1.0)
    with FakeBinance({SYMBOL: BTCUSDT}, {"USDT": Decimal(10_000)}, api_key=KEY, public_key=ed25519_key_pair()[1],
                     market=market, market_interval_s=0.05) as server:
        yield server


def loopback_env(fake: FakeBinance) -> dict[str, str]:
    return {"BINANCE_TESTNET_API_KEY": KEY, "BINANCE_TESTNET_API_SECRET": SECRET, "BINANCE_BASE_URL": fake.rest_url,
            "BINANCE_WS_API_URL": fake.ws_api_url, "BINANCE_STREAM_URL": fake.stream_url}


def start_run(home: Path, cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """`run --mode testnet` from `cwd` (not the repository), output to files so a killed run leaves them."""
    return subprocess.Popen([sys.executable, str(REPO_ROOT / "executor.py"), "run", "--mode", "testnet", "--symbols",
                             SYMBOL, "--no-view", "--format", "json"], cwd=cwd, env=cli_env(home, **env),
                            stdout=(cwd / "run.out").open("a"), stderr=(cwd / "run.err").open("a"), text=True)


def wait_for(what: str, done: Callable[[], bool], proc: subprocess.Popen[str] | None = None,
             cwd: Path | None = None) -> None:
    deadline = time.monotonic() + WAIT_S
    while not done():
        if proc is not None and proc.poll() is not None:
            errors = (cwd / "run.err").read_text()[-3000:] if cwd is not None else ""
            pytest.fail(f"the run ended (exit {proc.returncode}) before {what}: {errors}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def generation(home: Path) -> int:
    """The generation of the home's checkpoint (0 before the first): every checkpoint saved adds one."""
    if not (home / "journal.db").exists():
        return 0
    try:
        rows = query(home / "journal.db", "SELECT generation FROM engine_checkpoint WHERE id = 1")
    except sqlite3.Error:  # being created
        return 0
    return int(rows[0][0]) if rows else 0


def published(home: Path) -> int:
    """When the derived memory files were last written (ns, 0 before): `run` writes them once its start-up
    (reconciliation and protection) is saved, and never while an order intent is being made durable."""
    metrics = home / "performance_metrics.json"
    return metrics.stat().st_mtime_ns if metrics.exists() else 0


def start_and_wait(home: Path, cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """A run started and past its start-up: it holds the home and published the checkpoint that ends the start-up
    reconciliation (its signal handlers are in place from then on)."""
    before, last = generation(home), published(home)
    proc = start_run(home, cwd, env)
    wait_for("the start-up reconciliation", lambda: engine_process(Home.resolve(str(home))).pid == proc.pid
             and generation(home) > before and published(home) > last, proc, cwd)
    checkpoint = saved_checkpoint(home)
    assert checkpoint is not None and checkpoint["mode"] == "testnet"
    return proc


def buy(home: Path, env: dict[str, str], quote: str) -> tuple[str, list[str]]:
    """An agent's buy in testnet: a preview with a code (two-phase, always), returns the confirming command."""
    code, preview, stderr = run_cli(home, "trade", "--symbol", SYMBOL, "--side", "buy", "--quote", quote, **env)
    assert code == 0, (preview, stderr[-2000:])
    assert preview["data"]["status"] == "preview" and preview["data"]["orders"] == []
    confirmation = preview["data"]["confirmation"]["code"]
    return confirmation, ["trade", "--symbol", SYMBOL, "--side", "buy", "--quote", quote, "--confirm", confirmation]


def held(fake: FakeBinance) -> tuple[Decimal, Decimal]:
    """(free, locked) BTC of the loopback account."""
    return fake.venue.balances().get("BTC", (Decimal(0), Decimal(0)))


def protected(fake: FakeBinance) -> bool:
    """Every BTC the account holds (beyond what cannot be sold) sits in an open SELL OCO on the exchange."""
    free, locked = held(fake)
    sells = [o for o in fake.venue.open_orders(SYMBOL) if o.last.side.value == "SELL"]
    return free < BTCUSDT.min_qty and (locked == 0 or all(o.list_id != -1 for o in sells))


def test_run_testnet_trades_through_the_adapter_and_protects_every_position(fake: FakeBinance,
                                                                             tmp_path: Path) -> None:
    trade_and_protect(fake, tmp_path, loopback_env(fake))
    assert fake.session_logons == 0  # an HMAC key subscribes with userDataStream.subscribe.signature


def test_run_testnet_with_an_ed25519_key_signs_with_it_and_takes_fills_over_a_logged_on_session(
        ed25519_fake: FakeBinance, tmp_path: Path) -> None:
    private = ed25519_key_pair()[0]
    env = {k: v for k, v in loopback_env(ed25519_fake).items() if k != "BINANCE_TESTNET_API_SECRET"}
    env["BINANCE_TESTNET_PRIVATE_KEY_FILE"] = str(key_file(tmp_path, private))
    trade_and_protect(ed25519_fake, tmp_path, env)
    assert ed25519_fake.session_logons >= 1
    outputs = (tmp_path / "elsewhere" / "run.err").read_text() + (tmp_path / "elsewhere" / "run.out").read_text()
    assert private.strip().splitlines()[1] not in outputs


def trade_and_protect(fake: FakeBinance, tmp_path: Path, env: dict[str, str]) -> None:
    """A run started, an agent's buy confirmed and filled, the position protected by an OCO, the run stopped:
    the exchange's ledger, the journal and the checkpoint agree, and no key is printed."""
    home, cwd = tmp_path / "home", tmp_path / "elsewhere"
    cwd.mkdir()
    proc = start_and_wait(home, cwd, env)
    try:
        _, confirm = buy(home, env, "150")
        code, executed, stderr = run_cli(home, *confirm, **env)
        assert code == 0 and executed["data"]["status"] == "executed", (executed, stderr[-2000:])
        wait_for("the entry's fill", lambda: held(fake)[1] > 0, proc, cwd)
        wait_for("the OCO", lambda: protected(fake), proc, cwd)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=WAIT_S)
    assert proc.returncode == 0, (cwd / "run.err").read_text()[-3000:]
    summary = json.loads((cwd / "run.out").read_text().strip().splitlines()[-1])["data"]
    assert summary["mode"] == "testnet" and summary["open_positions"][SYMBOL]["protected_by"]
    ledger = fake.venue.ledger()
    entry = [o for o in ledger if o.last.side.value == "BUY"]
    assert len(entry) == 1 and entry[0].last.status.value == "FILLED"
    legs = [o for o in ledger if o.list_id != -1]
    assert {o.last.order_type.value for o in legs} == {"LIMIT_MAKER", "STOP_LOSS_LIMIT"}
    assert sum(o.last.orig_qty for o in legs) == 2 * held(fake)[1]  # both legs cover all that is held
    journaled = {row[0]: row[1] for row in query(home / "journal.db", "SELECT client_order_id, status FROM orders")}
    assert {o.wire_id for o in ledger} <= set(journaled)
    checkpoint = saved_checkpoint(home)
    assert checkpoint is not None and checkpoint["venue"] == "binance" and "paper" not in checkpoint
    assert KEY not in (cwd / "run.err").read_text() and SECRET not in (cwd / "run.err").read_text()


def queue_trade(home: Path, side: str, key: str) -> int:
    """Queue a trade for the running engine as the trade tool does once a person confirmed it (the command queue),
    without waiting for its answer: the run is about to be killed."""
    payload = {"symbol": SYMBOL, "side": side, **({"quote": "100"} if side == "buy" else {})}
    with Journal(home / "journal.db") as journal:
        return journal.enqueue_command("trade", payload, key, int(time.time() * 1000))


def taken(home: Path, command_id: int) -> bool:
    """The running engine claimed the command (it is executing it, or has)."""
    rows = query(home / "journal.db", "SELECT status FROM commands WHERE id = ?", command_id)
    return bool(rows) and rows[0][0] != CommandStatus.QUEUED.value


def refused_for_now(home: Path, command_id: int) -> bool:
    """The engine answered the buy without an order (no market price yet right after start: DATA_OUTAGE)."""
    ((status, result),) = query(home / "journal.db", "SELECT status, result_json FROM commands WHERE id = ?",
                                command_id)
    return status == CommandStatus.DONE.value and not json.loads(result).get("data", {}).get("orders")


def buy_taken(home: Path, proc: subprocess.Popen[str], cwd: Path, key: str) -> None:
    """Queue a buy and return once the engine is executing it (asked again while it has no price yet)."""
    for attempt in range(60):
        command_id = queue_trade(home, "buy", f"{key}-{attempt}")
        wait_for("the run to take the buy", partial(taken, home, command_id), proc, cwd)
        if not refused_for_now(home, command_id):
            return
        time.sleep(0.25)
    pytest.fail("the run never had a price to buy at")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_at_random_points_loses_and_duplicates_nothing(fake: FakeBinance, tmp_path: Path, seed: int) -> None:
    """kill -9 of `run --mode testnet` at random moments: while a buy it took is on its way (entry, fill, OCO), then
    during the restarted run's start-up (its imports, or its reconciliation with the account); after a last
    restart the loopback exchange's own ledger and the journal agree order for order, and every position is
    protected by the end of the start-up, before the first market event."""
    rng = random.Random(seed)
    home, cwd, env = tmp_path / "home", tmp_path / "elsewhere", loopback_env(fake)
    cwd.mkdir()
    proc = start_and_wait(home, cwd, env)
    buy_taken(home, proc, cwd, f"{seed}-buy")
    time.sleep(rng.uniform(0.0, 0.3))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=WAIT_S)
    proc = start_run(home, cwd, env)
    time.sleep(rng.uniform(0.5, 4.0))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=WAIT_S)
    proc = start_and_wait(home, cwd, env)
    try:
        assert protected(fake)  # by the end of the start-up, before the first market event is handled
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=WAIT_S)
    assert proc.returncode == 0, (cwd / "run.err").read_text()[-3000:]
    ledger = fake.venue.ledger()
    assert query(home / "journal.db", "SELECT COUNT(*) FROM orders WHERE side = 'BUY'")[0][0] == 1  # one entry
    duplicated = [cid for cid, n in Counter(o.wire_id for o in ledger).items() if n > 1]
    assert duplicated == []
    journaled = {row[0]: (row[1], row[2]) for row in
                 query(home / "journal.db", "SELECT client_order_id, status, last_reason FROM orders")}
    lost = [o.wire_id for o in ledger if o.wire_id not in journaled]
    assert lost == []
    on_exchange = {o.wire_id: o.last.status.value for o in ledger}
    for client_id, (status, reason) in journaled.items():
        if client_id in on_exchange:
            assert status == on_exchange[client_id], (client_id, status, on_exchange[client_id])
        else:  # journaled, never received by the exchange: closed as such, never left pending
            assert status == "EXPIRED" and reason is not None and "never reached" in reason, (client_id, status)
    assert protected(fake)
