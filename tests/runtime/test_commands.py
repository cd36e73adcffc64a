"""runtime.commands: the queue is answered once, and every unknown outcome is reported as unknown."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from core.config import load_config
from core.errors import ExecutorError
from memory.home_state import marker_path
from memory.journal import CommandRow, CommandStatus, Journal
from runtime.checkpoint_mode import checkpoint_mode
from runtime.commands import (
    CommandFailed,
    DirectSession,
    EngineNotRunning,
    Outcome,
    QueueTimeout,
    ResultUnknown,
    StateUnreadable,
    checkpoint_rules,
    execute,
    submit,
)
from runtime.home import Home
from runtime.lock import SingleWriterLock
from runtime.sources import synthetic_source
from tests.runtime.helpers import replace_checkpoint
from tests.tools.test_trade_support import SEED, SYMBOLS, checkpoint, copy_home, make_replayed_home, operator_orders
from tools.spec import wall_clock_ms

CONFIG = load_config(env={})
BUY = {"symbol": "ETHUSDT", "side": "buy", "quote": "10"}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_replayed_home(tmp_path_factory.mktemp("replayed") / "home")


@pytest.fixture
def home(template: Path, tmp_path: Path) -> Home:
    return Home.resolve(copy_home(template, tmp_path / "home"))


def _submit(home: Home, kind: str, payload: dict[str, object], key: str, wait_s: float = 30.0) -> Outcome:
    return submit(home, CONFIG, kind, payload, key, wall_clock_ms, wait_s=wait_s, poll_s=0.02)


def _row(home: Home, key: str) -> CommandRow:
    with Journal(home.journal) as journal:
        row = journal.command_by_key(key)
    assert row is not None, f"no command {key}"
    return row


def _error_code(home: Home, key: str) -> str:
    result = _row(home, key).result
    assert result is not None and not result["ok"], result
    return str(result["error"]["code"])


def test_a_command_a_dead_engine_claimed_is_reported_interrupted_and_not_run_again(home: Home) -> None:
    with Journal(home.journal) as journal:
        journal.enqueue_command("trade", BUY, "claimed-then-died", time_ms=1)
        assert [c.idempotency_key for c in journal.claim_commands()] == ["claimed-then-died"]
    with pytest.raises(CommandFailed) as raised:
        _submit(home, "trade", BUY, "claimed-then-died")
    assert raised.value.code == "COMMAND_INTERRUPTED" and "unknown" in raised.value.message
    assert operator_orders(home.root) == []
    with pytest.raises(CommandFailed):  # asked again: the same answer, still nothing executed
        _submit(home, "trade", BUY, "claimed-then-died")
    assert operator_orders(home.root) == []


def test_a_request_nobody_waits_for_any_more_is_not_executed(home: Home) -> None:
    with Journal(home.journal) as journal:
        journal.enqueue_command("trade", {**BUY, "expires_ms": 5}, "stale", time_ms=1)
    _submit(home, "pause", {"minutes": 5}, "drains-the-queue")
    row = _row(home, "stale")
    assert row.status is CommandStatus.DONE and _error_code(home, "stale") == "REQUEST_EXPIRED"
    assert operator_orders(home.root) == []


def test_an_unparseable_command_is_answered_with_a_typed_error_and_the_rest_run(home: Home) -> None:
    with Journal(home.journal) as journal:
        journal.enqueue_command("bogus", {}, "bogus-kind", time_ms=1)
        journal.enqueue_command("trade", {"symbol": "ETHUSDT", "side": "buy", "quote": "-3"}, "bad-amount", time_ms=2)
    out = _submit(home, "trade", BUY, "good")
    assert out.data["decision"]["action"] == "enter"
    assert _error_code(home, "bogus-kind") == "INVALID_ARGUMENT"
    assert _error_code(home, "bad-amount") == "INVALID_ARGUMENT"


def test_no_engine_taking_the_request_in_time_withdraws_it(home: Home) -> None:
    # the lock: an engine that holds the home but never answers
    with SingleWriterLock(home.lock), pytest.raises(QueueTimeout) as raised:
        _submit(home, "trade", BUY, "never-taken", wait_s=0.3)
    assert "nothing was done" in raised.value.message
    assert _error_code(home, "never-taken") == "QUEUE_TIMEOUT"
    _submit(home, "pause", {"minutes": 5}, "later")  # a later engine does not execute the withdrawn request
    assert operator_orders(home.root) == []


def test_a_request_taken_but_not_answered_is_unknown_never_done(home: Home) -> None:
    stop = threading.Event()

    def engine_that_hangs() -> None:
        with Journal(home.journal) as journal:
            while not stop.is_set() and not journal.claim_commands():
                time.sleep(0.01)

    with SingleWriterLock(home.lock):
        hanging = threading.Thread(target=engine_that_hangs)
        hanging.start()
        try:
            with pytest.raises(ResultUnknown) as raised:
                _submit(home, "trade", BUY, "taken-not-answered", wait_s=1.0)
        finally:
            stop.set()
            hanging.join()
    assert "status" in raised.value.message
    assert _row(home, "taken-not-answered").status is CommandStatus.CLAIMED


def test_when_the_engine_stops_while_we_wait_the_request_runs_here(home: Home) -> None:
    lock = SingleWriterLock(home.lock).acquire()

    def engine_that_stops() -> None:
        with Journal(home.journal) as journal:
            while journal.command_by_key("outlives-the-engine") is None:
                time.sleep(0.01)
        lock.release()

    stopping = threading.Thread(target=engine_that_stops)
    stopping.start()
    try:
        out = _submit(home, "trade", BUY, "outlives-the-engine")
    finally:
        stopping.join()
        lock.release()
    assert out.executed_by == "this process" and out.data["decision"]["action"] == "enter"
    assert len(operator_orders(home.root)) == 1


def test_a_preview_changes_nothing_in_the_engine(home: Home) -> None:
    with Journal(home.journal) as journal, SingleWriterLock(home.lock):
        session = DirectSession(home, CONFIG, journal, wall_clock_ms())
        before = session.engine.to_state()
        answer = execute(session.engine, session.pump, "preview", BUY, session.engine.now_ms)
        assert answer["would_execute"] is True and answer["decision"]["action"] == "enter"
        assert session.engine.to_state() == before
        assert session.engine.commands == [] and session.engine.records == []
    assert operator_orders(home.root) == []


def test_a_live_account_is_only_traded_by_its_running_engine(home: Home) -> None:
    state = checkpoint(home.root)
    replace_checkpoint(home.root, {**state, "mode": "live"})
    with pytest.raises(EngineNotRunning) as raised:
        _submit(home, "preview", BUY, "live-preview")
    assert raised.value.code == "ENGINE_NOT_RUNNING"
    with Journal(home.journal) as journal:
        assert journal.command_by_key("live-preview") is None, "nothing may be queued for an engine that is not there"


def test_the_mode_and_rules_come_from_the_checkpoint(home: Home) -> None:
    state = checkpoint(home.root)
    assert checkpoint_mode(state) == "replay"
    assert checkpoint_mode({"source_id": "paper:BTCUSDT"}) == "paper"
    assert checkpoint_mode({"source_id": "something else"}) == "unknown"
    assert checkpoint_mode({**state, "mode": "testnet"}) == "testnet"
    assert checkpoint_rules(state) == synthetic_source(SEED, SYMBOLS.split(",")).rules
    stored = {s: r.model_dump(mode="json") for s, r in checkpoint_rules(state).items()}
    assert checkpoint_rules({"source_id": "paper:X", "rules": stored}) == checkpoint_rules(state)
    with pytest.raises(StateUnreadable):
        checkpoint_rules({"source_id": "paper:BTCUSDT"})


def test_a_refused_command_is_a_typed_error_in_the_caller(home: Home) -> None:
    with pytest.raises(ExecutorError) as raised:
        _submit(home, "trade", {"symbol": "BTCUSDT", "side": "sell"}, "sell-nothing")
    assert raised.value.code == "NO_POSITION" and raised.value.details == {"symbol": "BTCUSDT"}


def test_an_engine_that_dies_before_its_first_checkpoint_leaves_no_request_waiting(home: Home) -> None:
    with Journal(home.journal) as journal, journal.batch():
        journal._db._conn.execute("DELETE FROM engine_checkpoint")
    marker_path(home.root).unlink()  # an engine that never saved a checkpoint never wrote the marker either
    lock = SingleWriterLock(home.lock).acquire()

    def engine_that_dies() -> None:
        with Journal(home.journal) as journal:
            while journal.command_by_key("orphan") is None:
                time.sleep(0.01)
        lock.release()

    dying = threading.Thread(target=engine_that_dies)
    dying.start()
    try:
        with pytest.raises(ExecutorError) as raised:
            _submit(home, "trade", BUY, "orphan")
    finally:
        dying.join()
        lock.release()
    assert raised.value.code == "NOT_STARTED"
    assert _error_code(home, "orphan") == "NOT_STARTED", "the request must be closed, not left queued"
