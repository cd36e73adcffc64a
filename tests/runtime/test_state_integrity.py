"""Issue 9, state that cannot silently go back in time: a crash at any write boundary, a journal that went
back, an exchange that disagrees, a kill switch that must survive all of it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.filters import rules_from_exchange_info
from exchange.feeds.synthetic import SyntheticMarket
from exchange.paper import PaperExchange
from tests.conftest import REPO_ROOT
from tests.runtime.helpers import cli_env, query, replace_checkpoint, run_cli, saved_checkpoint, start_cli
from tests.tools.test_trade_support import SEED, SYMBOLS, copy_home, make_replayed_home

pytestmark = pytest.mark.slow
RULES = rules_from_exchange_info(SyntheticMarket(seed=SEED, symbols=SYMBOLS.split(",")).exchange_info())
BUY = ("trade", "--symbol", "BTCUSDT", "--side", "buy", "--quote", "10", "--request-id", "crash-buy")
KILL = ("kill",)
SELL = ("trade", "--symbol", "BTCUSDT", "--side", "sell", "--request-id", "crash-sell")
CRASHED = 137


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_replayed_home(tmp_path_factory.mktemp("integrity") / "home")


@pytest.fixture(scope="module")
def holding_template(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with one protected BTCUSDT position, for the crash tests of an exit."""
    home = copy_home(template, tmp_path_factory.mktemp("holding") / "home")
    code, envelope, stderr = run_cli(home, *BUY)
    assert code == 0 and envelope["data"]["status"] == "executed", (envelope, stderr[-2000:])
    return home


def _crash_at(home: Path, boundary: int, command: tuple[str, ...]) -> int:
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "tests" / "runtime" / "crash_at_boundary.py"), *command,
                           "--format", "json"], capture_output=True, text=True, timeout=120,
                          env=cli_env(home, CRASH_AT=str(boundary), PYTHONPATH=str(REPO_ROOT)), cwd="/")
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return proc.returncode


def _assert_consistent(home: Path) -> dict[str, Any]:
    """Orders, fills, positions and protection agree between the journal, the checkpoint and the exchange."""
    document = saved_checkpoint(home)
    assert document is not None
    paper = PaperExchange.from_state(document["paper"], RULES)
    orders = query(home / "journal.db", "SELECT client_order_id, symbol, status, executed_qty FROM orders")
    for client_id, symbol, status, executed in orders:
        view = paper.get_order(symbol, client_id)
        if view is None:
            assert status in ("EXPIRED", "REJECTED"), f"{client_id} is {status} in the journal, unknown to the exchange"
            assert Decimal(executed) == 0
        else:
            assert (status, Decimal(executed)) == (view.status.value, view.executed_qty), client_id
        filled = query(home / "journal.db", "SELECT quantity FROM fills WHERE client_order_id = ?", client_id)
        assert sum((Decimal(q) for (q,) in filled), Decimal(0)) == Decimal(executed), f"fills of {client_id} lost"
    engine = document["engine"]
    balances = {a: Decimal(v) for a, v in engine["portfolio"]["balances"].items()}
    for asset, (free, locked) in paper.balances().items():
        assert balances.get(asset, Decimal(0)) == free + locked, asset
    working = {o.list_client_id or o.client_order_id for o in paper.open_orders()}
    for symbol, holding in engine["holdings"].items():
        assert holding["exiting"] or holding["protection_id"] in working, f"{symbol} is held unprotected"
    return engine


@pytest.mark.parametrize("command", [BUY, SELL, KILL], ids=["buy-and-protect", "exit", "kill"])
def test_item5_a_crash_at_any_write_boundary_leaves_journal_and_checkpoint_agreeing(
        command: tuple[str, ...], template: Path, holding_template: Path, tmp_path: Path) -> None:
    source = holding_template if command is SELL else template
    boundary = 0
    while True:
        boundary += 1
        assert boundary < 100, "the command never got past its write boundaries"
        home = copy_home(source, tmp_path / f"crash-{boundary}")
        code = _crash_at(home, boundary, command)
        # The next command on the home restarts it: reconcile, compare with the exchange, protect.
        code_after, envelope, stderr = run_cli(home, "pause", "--symbol", "ETHUSDT", "--minutes", "1")
        assert code_after == 0, (boundary, envelope, stderr[-2000:])
        engine = _assert_consistent(home)
        if command is KILL:
            assert engine["controls"]["killed"] is True, f"the kill was lost by a crash at boundary {boundary}"
        key = command[-1] if "--request-id" in command else None
        results = query(home / "journal.db", "SELECT status, result_json FROM commands WHERE idempotency_key = ?", key)
        for status, result in results:
            assert status == "done", (boundary, status)
            answer = json.loads(result)
            if answer["ok"] and command is BUY and answer["data"]["orders"]:
                assert "BTCUSDT" in engine["holdings"], f"a buy answered as done left no position ({boundary})"
            if answer["ok"] and command is SELL:
                assert "BTCUSDT" not in engine["holdings"] or engine["holdings"]["BTCUSDT"]["exiting"]
        if code != CRASHED:
            assert code == 0
            shutil.rmtree(home)
            break
        shutil.rmtree(home)
    assert boundary > 5, "the crash points must cover the whole command"


def test_item4_an_older_journal_put_back_is_refused_then_accepted_by_a_person(template: Path, tmp_path: Path) -> None:
    home = copy_home(template, tmp_path / "home")
    code, envelope, _ = run_cli(home, "backup", "--out", str(tmp_path / "before.db"))
    assert code == 0 and envelope["data"]["checkpoint_generation"] > 0, envelope
    code, envelope, _ = run_cli(home, *BUY)
    assert code == 0 and envelope["data"]["status"] == "executed", envelope
    (home / "journal.db").unlink()
    shutil.copy(tmp_path / "before.db", home / "journal.db")

    for command in (("status",), BUY, ("run", "--mode", "replay", "--synthetic", "--seed", str(SEED), "--steps", "300",
                                       "--symbols", SYMBOLS, "--balance", "100", "--no-view")):
        code, envelope, _ = run_cli(home, *command)
        assert code == 1 and envelope["error"]["code"] == "STATE_DIVERGED", (command, envelope)
        assert envelope["error"]["details"]["file"] == str(home / "journal.db")
        assert "went back in time" in envelope["error"]["message"]


def test_item4_a_backup_taken_during_a_run_holds_everything(tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc = start_cli(home, "run", "--mode", "replay", "--synthetic", "--seed", "11", "--steps", "2400", "--no-view",
                     "--speed", "40", "--checkpoint-every", "200")
    try:
        deadline = time.monotonic() + 120
        while not query_count(home) or saved_checkpoint(home) is None:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.1)
        code, envelope, stderr = run_cli(home, "backup", "--out", str(tmp_path / "copy.db"))
        assert code == 0, (envelope, stderr[-2000:])
    finally:
        proc.terminate()
        proc.communicate(timeout=60)
    copied = query(tmp_path / "copy.db", "SELECT count(*) FROM orders")[0][0]
    assert copied == envelope["data"]["orders"] and copied > 0
    assert query(tmp_path / "copy.db", "SELECT count(*) FROM engine_checkpoint") == [(1,)]
    assert not (tmp_path / "copy.db-wal").exists(), "a backup is one self-contained file"


def query_count(home: Path) -> int:
    try:
        return int(query(home / "journal.db", "SELECT count(*) FROM orders")[0][0])
    except Exception:  # not created yet
        return 0


def test_item4_an_exchange_that_disagrees_with_the_engine_is_refused(template: Path, tmp_path: Path) -> None:
    home = copy_home(template, tmp_path / "home")
    document = saved_checkpoint(home)
    assert document is not None
    free = document["paper"]["ledger"]["free"]
    free["BTC"] = str(Decimal(free.get("BTC", "0")) + Decimal("0.5"))  # BTC the engine does not know it holds
    replace_checkpoint(home, document)
    code, envelope, stderr = run_cli(home, *BUY)
    assert code == 1 and envelope["error"]["code"] == "STATE_DIVERGED", (envelope, stderr[-2000:])
    assert "BTC" in envelope["error"]["details"]["balances"]


def test_item6_an_engaged_kill_switch_survives_a_rollback_to_before_it(template: Path, tmp_path: Path) -> None:
    home = copy_home(template, tmp_path / "home")
    code, envelope, _ = run_cli(home, "backup", "--out", str(tmp_path / "before-kill.db"))
    assert code == 0, envelope
    code, envelope, _ = run_cli(home, "kill")
    assert code == 0 and envelope["data"]["kill_switch"] is True, envelope
    (home / "journal.db").unlink()
    shutil.copy(tmp_path / "before-kill.db", home / "journal.db")
    code, envelope, _ = run_cli(home, "run", "--mode", "replay", "--synthetic", "--seed", str(SEED), "--steps",
                                     "300", "--symbols", SYMBOLS, "--balance", "100", "--no-view",
                                     "--accept-journal-rollback")
    # The replay had finished before the kill: the rollback is accepted, the finished replay is not run again.
    assert envelope["error"]["code"] == "REPLAY_FINISHED", envelope
    code, envelope, _ = run_cli(home, "status")
    assert code == 0 and envelope["data"]["kill_switch"]["flag_file"] is True, envelope
    code, envelope, _ = run_cli(home, *BUY)
    assert envelope["data"]["status"] == "skipped", envelope
    assert any(r["rule"] == "control.kill_switch" for r in envelope["data"]["decision"]["reasons"])
    after = saved_checkpoint(home)
    assert after is not None and after["engine"]["controls"]["killed"] is True
