"""`status` over homes built by running the real engine (a seeded synthetic replay), read-only.

The helpers at the top (`replayed_home`, `context`, `snapshot_files`) are shared with the scan and report
tests: every state here is produced by `runtime.runner`, never written by hand, except where a test edits
a copy to reach a state a short replay does not (a cancelled protective order, a pause).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.config import load_config
from core.portfolio import Portfolio
from executor import run_executor
from memory.journal import Journal
from runtime.home import Home
from runtime.lock import SingleWriterLock
from runtime.settings import check_settings
from tests.conftest import REPO_ROOT
from tests.runtime.helpers import replace_checkpoint, saved_checkpoint
from tools.spec import ToolContext
from tools.state import engine_process, money
from tools.status import SPEC, ErrorLine, StatusInput, StatusOutput, handle
from tools.validation import invoke, scrub_secrets

# Seed 3 over 2900 s of synthetic market: nine open positions, each under a working OCO, and one hourly
# equity point (2023-11-14 23:00 UTC) in the journal.
SEED = 3
STEPS = 2900
REPLAY_DAY = "2023-11-14"
FAKE_SECRETS = {
    "BINANCE_API_KEY": "fake-binance-key-4f1a9c2e",
    "BINANCE_API_SECRET": "fake-binance-secret-77d0b3",
    "TELEGRAM_BOT_TOKEN": "fake-telegram-token-c0ffee",
}


def replayed_home(root: Path, *, steps: int = STEPS, kill_flag: bool = False) -> Path:
    """A home after `executor.py run --mode replay --synthetic --seed 3` (in-process, the same runner)."""
    home = Home(root).ensure()
    if kill_flag:
        home.kill_flag.write_text("kill requested by a test\n")
    args = argparse.Namespace(mode="replay", home=str(root), data=None, synthetic=True, seed=SEED, steps=steps,
                              symbols=None, speed=None, no_view=True, format="json", balance=Decimal(10_000),
                              checkpoint_every=5_000, exchange_info=None, accept_journal_rollback=False,
                              stop_at_ms=None)
    summary = run_executor(args, lambda _home: load_config(env={}), check_settings({}))
    assert summary["finished"], summary
    return root


def context(root: Path, env: Mapping[str, str] | None = None, now_ms: int | None = None) -> ToolContext:
    """A tool context on `root`, with only the environment given (no ambient credentials)."""
    clock = (lambda: now_ms) if now_ms is not None else (lambda: int(time.time() * 1000))
    return ToolContext(home=Home(root), config=load_config(env={}), env=dict(env or {}), now_ms=clock)


def run_tool(home: Path, *args: str, env: Mapping[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    """`python executor.py ARGS --home HOME --format json` as a user runs it: (exit code, the one envelope)."""
    clean = {k: v for k, v in os.environ.items() if k not in FAKE_SECRETS and not k.startswith("BINANCE_")}
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "executor.py"), *args, "--home", str(home),
                           "--format", "json"], capture_output=True, text=True, timeout=120, cwd=REPO_ROOT,
                          env={**clean, **(env or {})})
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one JSON envelope, got {proc.stdout!r}; stderr {proc.stderr[-2000:]}"
    return proc.returncode, json.loads(lines[0])


def snapshot_files(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under `root` with its mtime and content: equal before and after means nothing was written."""
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(root.rglob("*")) if p.is_file() and not p.name.endswith(("-wal", "-shm"))}


def shared_replayed_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The replayed home, built once per test session even across xdist workers (under a file lock).

    Shared: tests must not change it; the ones that write (edits, report files) work on a copy.
    """
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the workers' common folder
    target, done = root / "replayed-home", root / "replayed-home.done"
    with (root / "replayed-home.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(target, ignore_errors=True)
            replayed_home(target)
            done.touch()
    return target


def copy_of(home: Path, into: Path) -> Path:
    copy = into / "h"
    shutil.copytree(home, copy)
    return copy


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_replayed_home(tmp_path_factory)


@pytest.fixture
def home(built: Path, tmp_path: Path) -> Path:
    """A private copy of the replayed home, free to edit."""
    return copy_of(built, tmp_path)


def status(root: Path, env: Mapping[str, str] | None = None) -> StatusOutput:
    return handle(StatusInput(), context(root, env))


def checkpoint(root: Path) -> dict[str, Any]:
    document = saved_checkpoint(root)
    assert document is not None
    return document


def edit_checkpoint(root: Path, change: Any) -> None:
    data = checkpoint(root)
    change(data)
    replace_checkpoint(root, data)


def test_a_home_with_no_state_is_not_started_and_stays_empty(tmp_path: Path) -> None:
    out = status(tmp_path)
    assert out.mode == "not started" and not out.running and out.pid is None
    assert out.equity is None and out.positions == [] and out.breakers is None
    assert out.pnl_today.pnl is None and out.pnl_today.note
    assert not out.kill_switch.engaged and out.llm is None and out.last_errors == []
    assert [s.strategy for s in out.strategy_mix] == ["scalping", "momentum", "stat_arb"]
    assert list(tmp_path.iterdir()) == []  # no journal, no checkpoint, no lock file created


def test_positions_are_listed_with_their_working_protection(built: Path) -> None:
    out = status(built)
    engine = checkpoint(built)["engine"]
    assert out.mode == "replay" and out.finished and not out.running
    assert out.source_id == f"synthetic:{SEED}::{STEPS}" and out.engine_time_ms == engine["now_ms"]
    assert {p.symbol for p in out.positions} == set(engine["holdings"])
    # How many the replay ends holding is the strategies' business (4 since the stops trail on the exchange).
    assert out.positions, "the replay must end holding positions for this test to check anything"
    open_ids = {o["list_client_id"] for o in checkpoint(built)["paper"]["orders"]
                if o["status"] in ("NEW", "PARTIALLY_FILLED")}
    for position in out.positions:
        holding = engine["holdings"][position.symbol]
        assert Decimal(position.stop_price) == Decimal(holding["stop_price"])
        assert Decimal(position.take_profit_price) == Decimal(holding["take_profit_price"])
        assert position.protection_id == holding["protection_id"] and position.protection_kind == "oco"
        assert position.protection_id in open_ids and position.protection_open is True
        assert Decimal(position.stop_price) < Decimal(position.mark) < Decimal(position.take_profit_price)
    assert not any("without a working protective order" in n for n in out.notes)


def test_money_is_exact_strings_that_add_up(built: Path) -> None:
    out = status(built)
    assert out.equity is not None and out.cash is not None
    portfolio = Portfolio.from_dict(checkpoint(built)["engine"]["portfolio"])
    marks = portfolio.last_marks()
    marked = sum((Decimal(p.quantity) * Decimal(p.mark) for p in out.positions), Decimal(0))
    dust = sum((q * Decimal(repr(marks[s])) for s, q in portfolio.dust_amounts().items()), Decimal(0))
    assert Decimal(out.equity) == Decimal(out.cash) + marked + dust  # exact: cash + positions + dust at mark
    for text in (out.equity, out.cash, *(p.quantity for p in out.positions)):
        assert "E" not in text and Decimal(text).is_finite()


def test_breakers_and_todays_pnl_from_the_journal(built: Path) -> None:
    out = status(built)
    assert out.breakers is not None
    assert (out.breakers.level, out.breakers.entries_allowed, out.breakers.size_multiplier) == ("normal", True, 1.0)
    with sqlite3.connect(built / "journal.db") as conn:
        first_ms, first = conn.execute("SELECT time_ms, equity FROM equity ORDER BY time_ms LIMIT 1").fetchone()
    assert out.pnl_today.day == REPLAY_DAY and out.pnl_today.from_ms == first_ms
    assert Decimal(out.pnl_today.pnl) == Decimal(out.equity) - Decimal(first)
    assert out.pnl_today.pnl_pct == pytest.approx(float((Decimal(out.equity) / Decimal(first) - 1) * 100))


def test_strategy_mix_and_data_health(built: Path) -> None:
    out = status(built)
    mix = {s.strategy: s for s in out.strategy_mix}
    assert mix["scalping"].allocation == 0.70 and mix["momentum"].allocation == 0.25
    pnls = checkpoint(built)["engine"]["pnls"]
    for name, line in mix.items():
        assert line.closed_trades == len(pnls[name]) and line.wins + line.losses <= line.closed_trades
    engine = checkpoint(built)["engine"]
    assert [d.symbol for d in out.data_health] == engine["symbols"]
    assert all(d.outage is None and d.age_ms is not None and d.age_ms < 60_000 for d in out.data_health)


def test_a_cancelled_protective_order_is_reported_not_open(home: Path) -> None:
    victim = sorted(checkpoint(home)["engine"]["holdings"])[0]

    def cancel(data: dict[str, Any]) -> None:
        for order in data["paper"]["orders"]:
            if order["symbol"] == victim:
                order["status"] = "CANCELED"

    edit_checkpoint(home, cancel)
    out = status(home)
    by_symbol = {p.symbol: p for p in out.positions}
    assert by_symbol[victim].protection_open is False
    assert all(p.protection_open for s, p in by_symbol.items() if s != victim)
    assert any(victim in n and "without a working protective order" in n for n in out.notes)


def test_pauses_and_outages_in_force_are_shown(home: Path) -> None:
    now = checkpoint(home)["engine"]["now_ms"]

    def pause(data: dict[str, Any]) -> None:
        data["engine"]["controls"]["paused_symbols"] = {"ETHUSDT": now + 3_600_000, "SOLUSDT": now - 1}
        data["engine"]["outages"] = {"XRPUSDT": "no book update for 90 s"}

    edit_checkpoint(home, pause)
    out = status(home)
    assert out.pauses.symbols == {"ETHUSDT": now + 3_600_000}  # an expired pause is not shown
    assert out.pauses.all_paused_until_ms is None
    assert {d.symbol: d.outage for d in out.data_health}["XRPUSDT"] == "no book update for 90 s"


def test_kill_switch_shown_after_a_kill_flag(tmp_path: Path) -> None:
    root = replayed_home(tmp_path / "killed", steps=300, kill_flag=True)
    out = status(root)
    assert out.kill_switch.engaged and out.kill_switch.by == "manual" and out.kill_switch.flag_file


def test_a_kill_flag_not_yet_applied_is_reported_as_pending(home: Path) -> None:
    Home(home).kill_flag.write_text("kill\n")
    out = status(home)
    assert not out.kill_switch.engaged and out.kill_switch.flag_file
    assert out.kill_switch.note is not None and "when the executor starts" in out.kill_switch.note


def test_llm_health_and_the_last_five_errors(home: Path) -> None:
    with Journal(home / "journal.db") as journal:
        journal.record_llm_call(1, "scout", "gemma-2-2b", 100, 20, 900, True, "BTCUSDT looks calm")
        journal.record_llm_call(2, "analyzer", "deepseek-chat", 300, 50, 12_000, False, "timeout after 12 s")
        later = 2_000_000_000_000  # after every row the replay wrote (e.g. a strategy sized out)
        for i in range(7):
            journal.record_error(later + i, "DATA_OUTAGE", f"error number {i}", {"symbol": "BTCUSDT"})
    out = status(home)
    assert out.llm is not None and (out.llm.calls, out.llm.failures) == (2, 1)
    assert out.llm.last_call is not None and out.llm.last_call["model"] == "deepseek-chat"
    assert [e.message for e in out.last_errors] == [f"error number {i}" for i in range(2, 7)]


def test_planted_secrets_never_appear_in_the_output(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Journal(home / "journal.db") as journal:  # a secret in a form the journal's patterns do not catch
        later = 2_000_000_000_000  # after every row the replay wrote, so that it is among the last errors shown
        journal.record_error(later, "EXCHANGE_REJECTED", f"upstream echoed {FAKE_SECRETS['BINANCE_API_KEY']}", {})
        journal.record_llm_call(6, "scout", "m", None, None, 1, True, f"saw {FAKE_SECRETS['TELEGRAM_BOT_TOKEN']}")
    for name, value in FAKE_SECRETS.items():
        monkeypatch.setenv(name, value)
    text = json.dumps(invoke(SPEC, {}, lambda: context(home, FAKE_SECRETS)))  # the gate every front end passes
    assert "upstream echoed" in text
    for secret in FAKE_SECRETS.values():
        assert secret not in text


def test_status_reads_without_writing_or_locking(home: Path) -> None:
    with SingleWriterLock(Home(home).lock):  # an executor holding the home does not stop a status read
        before = snapshot_files(home)
        out = status(home)
        assert snapshot_files(home) == before
    assert out.mode == "replay" and out.running


def test_running_is_the_lock_being_held_now(home: Path) -> None:
    code = ("import sys, time; from pathlib import Path; from runtime.lock import SingleWriterLock\n"
            "with SingleWriterLock(Path(sys.argv[1])):\n    print('locked', flush=True); sys.stdin.read()\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(Home(home).lock)], cwd=REPO_ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        out = status(home)
        assert out.running and out.pid == holder.pid
    finally:
        holder.communicate(timeout=30)
    stopped = status(home)  # the lock file remains, with the pid of a process that is gone
    assert not stopped.running and stopped.pid is None
    assert f"pid {holder.pid}" in Home(home).lock.read_text()


def test_a_live_pid_without_the_lock_is_not_running(home: Path) -> None:
    Home(home).lock.write_text(f"pid {os.getpid()}")  # a reused pid: alive, but holding nothing
    assert engine_process(Home(home)).running is False


def test_spec_is_read_only_and_input_is_strict() -> None:
    assert SPEC.name == "status" and SPEC.read_only and SPEC.handler is handle
    with pytest.raises(ValueError):
        StatusInput.model_validate({"verbose": True})


@pytest.fixture(autouse=True)
def _no_ambient_credentials(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in FAKE_SECRETS:
        monkeypatch.delenv(name, raising=False)
    yield


def test_the_command_line_answers_the_same_status_without_leaking_secrets(built: Path) -> None:
    code, envelope = run_tool(built, "status", env=FAKE_SECRETS)
    assert (code, envelope["ok"], envelope["tool"]) == (0, True, "status")
    assert envelope["data"] == json.loads(status(built).model_dump_json())
    for secret in FAKE_SECRETS.values():
        assert secret not in json.dumps(envelope)


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_money_is_plain_digits_with_the_exact_value(value: Decimal) -> None:
    text = money(value)
    assert "E" not in text.upper() and Decimal(text) == value


@given(secret=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=8, max_size=80),
       before=st.text(max_size=20), after=st.text(max_size=20))
def test_a_credential_from_the_environment_is_masked_wherever_it_appears(secret: str, before: str,
                                                                         after: str) -> None:
    output = ErrorLine(time_ms=1, code="X", message=f"{before}{secret}{after}", details={"deep": [secret]})
    hidden = ErrorLine.model_validate(scrub_secrets(output.model_dump(mode="json"),
                                                    {"BINANCE_API_SECRET": secret, "PATH": "/usr/bin"}))
    assert secret not in hidden.model_dump_json() and secret not in hidden.message
