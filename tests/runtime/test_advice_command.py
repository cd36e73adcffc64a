"""Advice reaches the engine only as an "advice" command in the journal queue, and only tightens what follows."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from core.config import load_config
from core.types import Advice, AdviceAction
from memory.journal import CommandStatus, Journal
from runtime.advice import advice_key, advice_submitter, queue_advice
from runtime.commands import CommandKind, NotStarted, submit
from runtime.home import Home
from tests.runtime.helpers import query
from tests.tools.test_trade_support import checkpoint, copy_home, make_replayed_home, operator_orders
from tools.spec import wall_clock_ms

CONFIG = load_config(env={})
HOUR_MS = 3_600_000
BUY = {"symbol": "ETHUSDT", "side": "buy", "quote": "10"}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_replayed_home(tmp_path_factory.mktemp("replayed") / "home")


@pytest.fixture
def home(template: Path, tmp_path: Path) -> Home:
    return Home.resolve(copy_home(template, tmp_path / "home"))


def engine_ms(home: Home) -> int:
    return int(checkpoint(home.root)["engine"]["now_ms"])


def advice(home: Home, action: AdviceAction, life_ms: int = HOUR_MS, **fields: object) -> Advice:
    """Advice issued at the replayed engine's own time (a replay engine acts at its market time)."""
    now = engine_ms(home)
    return Advice.model_validate({"source": "scout:test", "symbol": "ETHUSDT", "action": action,
                                  "issued_ms": now, "expires_ms": now + life_ms, **fields})


def trade(home: Home, kind: str, key: str, quote: str = "10") -> dict[str, object]:
    return submit(home, CONFIG, kind, {**BUY, "quote": quote}, key, wall_clock_ms, poll_s=0.02).data


def test_queued_veto_is_applied_checkpointed_and_skips_the_manual_buy_and_its_preview(home: Home) -> None:
    veto = advice(home, AdviceAction.VETO, reason="conflicting signals")
    command_id = advice_submitter(home, wall_clock_ms)(veto)
    assert queue_advice(home, veto, wall_clock_ms()) == command_id  # the same advice is one command
    with Journal(home.journal) as journal:
        row = journal.command(command_id)
    assert row is not None and row.kind == CommandKind.ADVICE and row.status is CommandStatus.QUEUED

    preview = trade(home, "preview", "p-1")  # the queue is answered in order: the advice first
    assert preview["would_execute"] is False
    assert [c["rule"] for c in preview["decision"]["clamps"]] == ["advice.veto"]
    bought = trade(home, "trade", "b-1")
    assert bought["decision"]["action"] == "skip" and operator_orders(home.root) == []

    with Journal(home.journal) as journal:
        done = journal.command(command_id)
    assert done is not None and done.status is CommandStatus.DONE and done.result is not None
    assert done.result["ok"] and done.result["data"]["applied"] is True
    saved = checkpoint(home.root)["engine"]["advice"]
    assert [Advice.model_validate(a) for a in saved] == [veto]
    db = home.journal
    assert query(db, "SELECT rule, source FROM clamps WHERE symbol = 'ETHUSDT'") == [("advice.veto", "scout:test")] * 1
    assert query(db, "SELECT code FROM errors WHERE code = 'ADVICE_APPLIED'") == [("ADVICE_APPLIED",)]


def test_shrink_advice_shrinks_the_manual_buy(home: Home) -> None:
    plain = Decimal(trade(home, "preview", "p-2", quote="20")["decision"]["quote_amount"])
    queue_advice(home, advice(home, AdviceAction.SHRINK, size_multiplier=0.5), wall_clock_ms())
    bought = trade(home, "trade", "b-2", quote="20")
    assert bought["decision"]["action"] == "enter"
    assert Decimal(bought["decision"]["quote_amount"]) == plain / 2
    assert [o[2] for o in operator_orders(home.root)] == ["BUY"]


def test_pause_advice_goes_into_the_controls(home: Home) -> None:
    pause = advice(home, AdviceAction.PAUSE, pause_minutes=30)
    queue_advice(home, pause, wall_clock_ms())
    trade(home, "preview", "p-3")
    controls = checkpoint(home.root)["engine"]["controls"]
    assert controls["paused_symbols"] == {"ETHUSDT": pause.issued_ms + 30 * 60_000}


def test_expired_advice_is_not_applied(home: Home) -> None:
    stale = advice(home, AdviceAction.VETO).model_copy(
        update={"issued_ms": engine_ms(home) - 2 * HOUR_MS, "expires_ms": engine_ms(home) - HOUR_MS})
    command_id = queue_advice(home, stale, wall_clock_ms())
    assert trade(home, "preview", "p-4")["would_execute"] is True
    with Journal(home.journal) as journal:
        row = journal.command(command_id)
    assert row is not None and row.result is not None and row.result["data"]["applied"] is False
    assert checkpoint(home.root)["engine"]["advice"] == []


def test_advice_for_an_unwatched_symbol_is_refused(home: Home) -> None:
    other = advice(home, AdviceAction.VETO, symbol="SOLUSDT")
    command_id = queue_advice(home, other, wall_clock_ms())
    trade(home, "preview", "p-5")
    with Journal(home.journal) as journal:
        row = journal.command(command_id)
    assert row is not None and row.result is not None and row.result["ok"] is False
    assert row.result["error"]["code"] == "INVALID_SYMBOL"  # not among the exchange rules of this home


def test_no_engine_no_advice(tmp_path: Path) -> None:
    now = wall_clock_ms()
    piece = Advice(source="scout:test", action=AdviceAction.SKIP, issued_ms=now, expires_ms=now + 1)
    with pytest.raises(NotStarted):
        queue_advice(Home.resolve(tmp_path / "empty"), piece, now)
    assert advice_key(piece).startswith("advice:")
