"""Opening a home's state for writing and saving it: one way for `run` and for a tool that acts directly.

A writer (holding the single-writer lock) opens the journal only after checking that it is the complete
journal the home was using (`memory.home_state`), restores the engine from the checkpoint the journal
holds, and saves the checkpoint inside the same journal transaction as the rows it accounts for. Only
after that transaction commits are the marker and the derived memory files written.

The kill switch survives anything that can go back: the `KILL` file and the journal's own kill rows are
authoritative at start-up, and every kill the engine engages (by hand or by the drawdown breaker) leaves
the `KILL` file, removed only by the person's reset.
"""

from __future__ import annotations

from core.engine import Engine, Notice, Record
from core.risk.breakers import BreakerEvent, BreakerLevel
from memory.home_state import (
    adopt_legacy_checkpoint,
    check_journal_present,
    refuse_divergence,
    verify_continuity,
    write_marker,
)
from memory.journal import Journal
from runtime.home import Home
from runtime.pump import Pump
from runtime.reconcile import compare_with_exchange, ensure_protected, reconcile_orders


def open_journal_for_writing(home: Home, *, accept_rollback: bool, wall_ms: int) -> tuple[Journal, list[str]]:
    """The home's journal, checked to be the one it was using (raises StateDiverged otherwise), with an
    older version's checkpoint file moved into it. Returns the journal and what a person should read."""
    check_journal_present(home.root, home.journal, accept_rollback=accept_rollback)
    journal = Journal(home.journal)
    try:
        return journal, prepare_journal(home, journal, accept_rollback=accept_rollback, wall_ms=wall_ms)
    except BaseException:
        journal.close()
        raise


def refuse_diverged_journal(home: Home, *, accept_rollback: bool) -> None:
    """The continuity check alone, before anything else writes to the journal (the home's stored limits)."""
    check_journal_present(home.root, home.journal, accept_rollback=accept_rollback)
    if home.journal.exists() and not accept_rollback:
        with Journal(home.journal) as journal:
            refuse_divergence(home.root, journal)


def prepare_journal(home: Home, journal: Journal, *, accept_rollback: bool, wall_ms: int) -> list[str]:
    """An open journal made ready for a writer: an older version's checkpoint file moved in, continuity with the
    home's marker verified (raises StateDiverged). Returns what a person should read."""
    warnings: list[str] = []
    moved = adopt_legacy_checkpoint(home.root, journal, wall_ms)
    if moved:
        warnings.append(moved)
    warnings.extend(verify_continuity(home.root, journal, accept_rollback=accept_rollback, wall_ms=wall_ms))
    return warnings


def kill_is_recorded(home: Home, journal: Journal) -> bool:
    """The kill switch is on if the `KILL` file exists or the journal says it was engaged and not reset."""
    return home.kill_flag.exists() or journal.kill_engaged()


def engage_recorded_kill(home: Home, journal: Journal, engine: Engine) -> None:
    if kill_is_recorded(home, journal) and not engine.controls.killed:
        engine.kill()


def leave_kill_flag(home: Home, record: Record) -> None:
    """Called for every record the engine produces: a kill engaged leaves the `KILL` file behind."""
    manual = isinstance(record, Notice) and record.kind == "kill"
    breaker = (isinstance(record, BreakerEvent) and record.level is BreakerLevel.KILLED
               and record.transition == "tripped")
    if manual or breaker:
        home.kill_flag.touch(exist_ok=True)


def reconcile_at_start(home: Home, journal: Journal, pump: Pump, replay_after_ms: int | None) -> list[str]:
    """What every writer does before it acts (Invariant 5): the journal takes the exchange's view of its open
    orders, the engine is compared with the exchange's open orders and balances (StateDiverged when they
    differ), every held position gets working protection, and a recorded kill is engaged. Returns what a
    person should read."""
    engine, exchange = pump.engine, pump.exchange
    notes = reconcile_orders(journal, exchange, engine, replay_after_ms=replay_after_ms)
    notes.extend(compare_with_exchange(journal, exchange, engine))
    notes.extend(ensure_protected(engine, exchange))
    engage_recorded_kill(home, journal, engine)
    pump.flush()
    return notes


def publish_marker(home: Home, journal: Journal) -> None:
    """After a checkpoint committed: the marker records the journal's new generation."""
    write_marker(home.root, journal.identity())
