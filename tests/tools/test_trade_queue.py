"""One engine, many callers: while `run` is active, trade and control requests go through the journal's
command queue and the running engine executes each exactly once."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.runtime.helpers import saved_checkpoint, start_cli
from tests.tools.test_trade_support import SEED, SYMBOLS, context, operator_orders
from tools.control import KillInput, PauseInput, ResumeInput, handle_kill, handle_pause, handle_resume
from tools.trade import TradeInput, handle

pytestmark = pytest.mark.slow
# Paced so it stays alive for the whole test; a checkpoint soon after start tells the tools the mode.
RUN = ("run", "--mode", "replay", "--synthetic", "--seed", str(SEED), "--steps", "200000", "--symbols", SYMBOLS,
       "--balance", "100", "--no-view", "--speed", "20", "--checkpoint-every", "20")


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    home = tmp_path / "home"
    proc = start_cli(home, *RUN)
    try:
        deadline = time.monotonic() + 60
        while saved_checkpoint(home) is None:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "run wrote no checkpoint"
            time.sleep(0.05)
        yield home, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)


def test_requests_to_a_running_engine_execute_once_through_the_queue(
        running: tuple[Path, subprocess.Popen[str]]) -> None:
    home, proc = running
    ctx = context(home)

    first = handle(TradeInput(symbol="ETHUSDT", side="buy", quote=Decimal("10"), request_id="queued-1"), ctx)
    assert first.executed_by == "running engine" and first.status == "executed", first.message
    entries = [o for o in first.orders if o.side == "BUY"]
    assert len(entries) == 1 and entries[0].status == "FILLED"
    assert first.protection is not None and first.protection.kind == "oco"

    again = handle(TradeInput(symbol="ETHUSDT", side="buy", quote=Decimal("10"), request_id="queued-1"), ctx)
    assert again.executed_by == "stored answer" and again.orders == first.orders

    paused = handle_pause(PauseInput(symbol="BTCUSDT", minutes=60), ctx)
    assert paused.executed_by == "running engine"
    assert any(b.rule == "pause.symbol" for b in paused.entry_blockers["BTCUSDT"])
    resumed = handle_resume(ResumeInput(symbol="BTCUSDT"), ctx)
    assert not any("paused" in b.message for b in resumed.entry_blockers["BTCUSDT"])

    killed = handle_kill(KillInput(), ctx)
    assert killed.executed_by == "running engine" and killed.kill_switch and killed.kill_flag_file
    assert (home / "KILL").exists()
    refused = handle(TradeInput(symbol="BTCUSDT", side="buy", quote=Decimal("10")), ctx)
    assert refused.status == "skipped" and refused.executed_by == "running engine"
    assert any(r.rule == "control.kill_switch" for r in refused.decision.reasons)  # type: ignore[union-attr]

    assert [o[1:4] for o in operator_orders(home) if o[2] == "BUY"] == [("ETHUSDT", "BUY", "MARKET")], \
        "exactly one entry order for the one executed request"
    assert proc.poll() is None, "the engine must still be running"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    final = json.loads(out.strip().splitlines()[-1])
    assert final["ok"], err[-2000:]
    assert final["data"]["kill_switch"] is True
