"""pause, resume, kill and the command-line-only kill reset, on an engine restored from a real replay."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.errors import ExecutorError
from tests.runtime.helpers import query
from tests.tools.test_trade_support import checkpoint, context
from tools.control import (
    KILL_SPEC,
    PAUSE_SPEC,
    RESET_SPEC,
    RESUME_SPEC,
    SPECS,
    KillInput,
    KillResetInput,
    PauseInput,
    ResumeInput,
    handle_kill,
    handle_kill_reset,
    handle_pause,
    handle_resume,
)
from tools.trade import TradeInput, handle

T0 = 1_800_000_000_000


def _buy(symbol: str) -> TradeInput:
    return TradeInput(symbol=symbol, side="buy", quote=Decimal("10"))


def test_pause_blocks_entries_on_the_symbol_and_resume_lifts_it(home: Path) -> None:
    ctx = context(home, now_ms=lambda: T0)  # one minute: the refused trade asked again is a new request
    paused = handle_pause(PauseInput(symbol="BTCUSDT", minutes=90), ctx)
    assert paused.executed_by == "this process"
    assert paused.paused_until_ms == paused.engine_time_ms + 90 * 60_000
    assert any(b.rule == "pause.symbol" and b.message.startswith("paused: BTCUSDT paused until")
               for b in paused.entry_blockers["BTCUSDT"])
    assert checkpoint(home)["engine"]["controls"]["paused_symbols"] == {"BTCUSDT": paused.paused_until_ms}

    refused = handle(_buy("BTCUSDT"), ctx)
    assert refused.status == "skipped" and refused.decision is not None
    assert any(r.rule == "pause.symbol" and r.message.startswith("paused: BTCUSDT") for r in refused.decision.reasons)
    assert handle(_buy("ETHUSDT"), ctx).status == "executed", "a pause of one symbol leaves the others alone"

    resumed = handle_resume(ResumeInput(symbol="BTCUSDT"), ctx)
    assert resumed.entry_blockers == {"BTCUSDT": []} and resumed.paused_symbols == {}
    assert handle(_buy("BTCUSDT"), ctx).status == "executed"


def test_pause_of_everything_blocks_every_symbol_until_resumed(home: Path) -> None:
    ctx = context(home)
    paused = handle_pause(PauseInput(minutes=5), ctx)
    assert paused.symbol is None and paused.all_paused_until_ms == paused.engine_time_ms + 5 * 60_000
    assert set(paused.entry_blockers) == {"BTCUSDT", "ETHUSDT"}
    assert all(any(b.rule == "control.pause_all" for b in blockers) for blockers in paused.entry_blockers.values())
    resumed = handle_resume(ResumeInput(), ctx)
    assert resumed.all_paused_until_ms == 0 and resumed.entry_blockers == {"BTCUSDT": [], "ETHUSDT": []}


def test_a_pause_asked_again_after_a_resume_in_the_same_minute_pauses_again(home: Path) -> None:
    ctx = context(home, now_ms=lambda: T0)
    handle_pause(PauseInput(symbol="ETHUSDT", minutes=30), ctx)
    handle_resume(ResumeInput(symbol="ETHUSDT"), ctx)
    again = handle_pause(PauseInput(symbol="ETHUSDT", minutes=30), ctx)
    assert again.executed_by == "this process" and "ETHUSDT" in again.paused_symbols
    assert query(home / "journal.db", "SELECT count(*) FROM commands WHERE kind = 'pause'") == [(2,)]


def test_pausing_an_unknown_symbol_is_a_typed_error(home: Path) -> None:
    with pytest.raises(ExecutorError) as raised:
        handle_pause(PauseInput(symbol="NOPEUSDT", minutes=5), context(home))
    assert raised.value.code == "INVALID_SYMBOL"


def test_kill_creates_the_flag_file_engages_the_switch_and_reset_undoes_both(home: Path) -> None:
    ctx = context(home)
    killed = handle_kill(KillInput(), ctx)
    assert killed.kill_switch and killed.kill_flag_file and (home / "KILL").exists()
    assert all(any(b.rule == "control.kill_switch" and b.message == "kill switch is on (manual)" for b in blockers)
               for blockers in killed.entry_blockers.values())
    assert checkpoint(home)["engine"]["controls"]["killed"] is True
    assert query(home / "journal.db", "SELECT count(*) FROM errors WHERE code = 'KILL'") == [(1,)]
    assert handle(_buy("ETHUSDT"), ctx).status == "skipped"

    reset = handle_kill_reset(KillResetInput(yes_i_understand=True), ctx)
    assert not reset.kill_switch and not reset.kill_flag_file and not (home / "KILL").exists()
    assert checkpoint(home)["engine"]["controls"]["killed"] is False
    assert handle(_buy("ETHUSDT"), ctx).status == "executed"


def test_a_kill_flag_left_by_an_earlier_kill_is_honoured_by_the_next_direct_request(home: Path) -> None:
    (home / "KILL").touch()
    out = handle(_buy("ETHUSDT"), context(home))
    assert out.status == "skipped" and out.decision is not None
    assert any(r.rule == "control.kill_switch" for r in out.decision.reasons)


@pytest.mark.parametrize("minutes", [0, 10_081, -5])
def test_pause_minutes_outside_one_minute_to_one_week_are_refused(minutes: int) -> None:
    with pytest.raises(ValidationError):
        PauseInput(minutes=minutes)


def test_the_kill_reset_needs_the_explicit_confirmation_flag() -> None:
    with pytest.raises(ValidationError):
        KillResetInput.model_validate({})
    with pytest.raises(ValidationError):
        KillResetInput.model_validate({"yes_i_understand": False})


def test_only_the_controls_that_loosen_risk_are_destructive_and_only_the_reset_is_hidden() -> None:
    assert SPECS == (PAUSE_SPEC, RESUME_SPEC, KILL_SPEC, RESET_SPEC)
    assert [(s.name, s.agent_facing) for s in SPECS] == [("pause", True), ("resume", True), ("kill", True),
                                                         ("kill_reset", False)]
    assert [s.name for s in SPECS if s.destructive] == ["resume", "kill_reset"]
    assert all(s.idempotent and not s.read_only and not s.open_world for s in SPECS)
    for spec in SPECS:
        for name, field in spec.input_model.model_fields.items():
            assert field.description, f"{spec.name}.{name} needs a description"
