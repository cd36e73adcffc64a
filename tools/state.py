"""Read-only views of a data directory, shared by the read-only tools (`scan`, `status`, `report`).

A tool runs beside the executor, not inside it: it reads what the running process last saved (the
checkpoint, the journal, the lock file) and never takes the single-writer lock, never writes the
checkpoint and never writes the journal. The engine it restores is a private copy, used only to ask
questions (`entry_blockers`, equity, breakers); it never sends anything.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from core.config import ExecutorConfig
from core.engine import Engine
from core.errors import ExecutorError
from core.filters import SymbolRules
from core.strategies.registry import StrategySet
from exchange.feeds.errors import UnsupportedSymbol
from exchange.feeds.rules import split_symbol
from memory.database import read_only_uri
from memory.home_state import LEGACY_CHECKPOINT, check_journal_present, read_checkpoint, refuse_divergence
from memory.journal import Journal, JournalUnreadable, StoredCheckpoint
from memory.schema import LATEST_VERSION
from runtime.checkpoint import load_checkpoint
from runtime.home import Home
from runtime.lock import open_lock_file

RUN_HINT = "start the executor first: python executor.py run"


class NoData(ExecutorError):
    """The data directory holds nothing to answer from yet (no journal, no checkpoint)."""

    code = "NO_DATA"


class UnreadableState(ExecutorError):
    """The checkpoint exists and parses as JSON, but is not an engine state this version can read."""

    code = "STATE_UNREADABLE"


class JournalOutdated(ExecutorError):
    """The journal's schema is older than this version's: opening it would migrate it, which is a write."""

    code = "JOURNAL_OUTDATED"


@dataclass(frozen=True)
class SavedEngine:
    """The engine as the executor last checkpointed it, restored for reading."""

    engine: Engine
    source_id: str
    mode: str
    finished: bool
    paper_state: dict[str, Any] | None
    written_ms: int | None  # when the checkpoint was written, wall clock
    warning: str | None  # e.g. the checkpoint was corrupt and its previous version was read
    rules_origin: str


@dataclass(frozen=True)
class EngineProcess:
    """Whether an executor holds the single-writer lock of the home now, and its pid when known."""

    running: bool
    pid: int | None


def money(value: Decimal) -> str:
    """An exact amount as plain digits: Decimal('0E-16') shows as 0.0000000000000000, never in exponent form."""
    return format(value, "f")


def stored_checkpoint(home: Home) -> StoredCheckpoint | None:
    """The home's last checkpoint, read without writing anything: from the journal, or from an older version's
    `checkpoint.json` while its journal has not been migrated yet by a `run`."""
    check_journal_present(home.root, home.journal, accept_rollback=False)
    try:
        with read_journal(home) as journal:
            if journal is not None:
                refuse_divergence(home.root, journal)
            return read_checkpoint(home.root, journal)
    except JournalOutdated:
        return read_checkpoint(home.root, None)


def read_saved_engine(home: Home, config: ExecutorConfig, strategies: StrategySet | None = None) -> SavedEngine | None:
    """The last checkpointed engine of `home` running `strategies` (None: the built-ins with `config`'s settings),
    or None when the executor has never saved one."""
    stored = stored_checkpoint(home)
    if stored is None:
        return None
    checkpoint, warning = stored.document, stored.warning
    # Generation 0: an older version's checkpoint file, not yet moved into the journal (memory.home_state).
    saved = load_checkpoint(checkpoint, home.journal if stored.generation else home.root / LEGACY_CHECKPOINT)
    try:
        source_id = saved.source_id
        rules, origin = _rules_for_reading(checkpoint)
        engine = Engine.from_state(saved.engine_state(), config, rules, strategies)
        paper = saved.paper
    except ExecutorError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UnreadableState(f"the checkpoint in {home.root} is not an engine state this version can read "
                              f"({type(exc).__name__}: {exc})", home=str(home.root)) from None
    return SavedEngine(engine=engine, source_id=source_id, mode=saved.mode.value, finished=saved.finished,
                       paper_state=paper,
                       written_ms=stored.written_ms, warning=warning,
                       rules_origin=origin)


def _rules_for_reading(checkpoint: Mapping[str, Any]) -> tuple[dict[str, SymbolRules], str]:
    """Symbol rules for restoring the engine to read it.

    A checkpoint that carries the exchange's rules (`rules`: symbol → SymbolRules fields) gives them back.
    Without them, each symbol gets rules with no filters: the engine needs rules to exist, and the only
    thing they change in a read-only view is which remainder of a position counts as unsellable dust;
    nothing restored here ever rounds or sends an order.
    """
    saved = checkpoint.get("rules")
    if isinstance(saved, dict) and saved:
        return {s: SymbolRules.model_validate(r) for s, r in saved.items()}, "checkpoint"
    engine = checkpoint["engine"]
    quote = engine["portfolio"].get("quote_asset", "USDT")
    symbols = set(engine["symbols"]) | set(engine.get("features", {}))
    return {s: _unfiltered_rules(s, quote) for s in symbols}, "not in the checkpoint: no filters (read-only view)"


def _unfiltered_rules(symbol: str, quote_asset: str) -> SymbolRules:
    try:
        base, quote = split_symbol(symbol)
    except UnsupportedSymbol:
        base, quote = symbol.removesuffix(quote_asset) or symbol, quote_asset
    return SymbolRules(symbol=symbol, status="TRADING", base_asset=base, quote_asset=quote)


@contextmanager
def read_journal(home: Home, *, may_migrate: bool = False) -> Iterator[Journal | None]:
    """The home's journal opened for reading, or None when there is none yet (it is never created here).

    `Journal` migrates an old schema when it opens one, which is a write. The version is read first
    through a read-only SQLite connection: an outdated journal raises JournalOutdated unless the caller
    accepts the migration (`may_migrate`; safe beside a running executor, migrations are atomic).
    """
    path = home.journal
    if not path.exists():
        yield None
        return
    version = _schema_version(path)
    if version < LATEST_VERSION and not may_migrate:
        raise JournalOutdated(f"the journal {path} has schema version {version}, older than {LATEST_VERSION}; "
                              f"{RUN_HINT} (it migrates the journal), then ask again",
                              path=str(path), version=version, expected=LATEST_VERSION)
    # A home this process may not write (another user's service, a read-only mount) is read without writing.
    journal = Journal(path, read_only=not os.access(home.root, os.W_OK))
    try:
        yield journal
    finally:
        journal.close()


def _schema_version(path: Path) -> int:
    try:
        conn = sqlite3.connect(read_only_uri(path), uri=True)
    except sqlite3.Error as exc:
        raise NoData(f"the journal {path} cannot be opened: {exc}", path=str(path)) from None
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        raise JournalUnreadable(path, str(exc)) from None
    finally:
        conn.close()


def engine_process(home: Home) -> EngineProcess:
    """Whether an executor is running on `home` now, without ever getting in its way.

    The pid written in the lock file is checked first: a dead pid means no executor (the kernel freed
    its lock). Only for a live pid (or none written) is the lock probed, with a non-blocking SHARED
    flock that is released at once: it fails exactly while an executor holds its exclusive lock, and a
    pid reused by an unrelated process does not hold it.
    """
    try:
        fd = open_lock_file(home.lock, os.O_RDONLY)
    except FileNotFoundError:
        return EngineProcess(running=False, pid=None)
    try:
        pid = _pid_in(os.read(fd, 200))
        if pid is not None and not _alive(pid):
            return EngineProcess(running=False, pid=None)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return EngineProcess(running=True, pid=pid)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return EngineProcess(running=False, pid=None)
    finally:
        os.close(fd)


def _pid_in(content: bytes) -> int | None:
    """runtime.lock writes `pid <n>`."""
    words = content.decode(errors="replace").split()
    if len(words) == 2 and words[0] == "pid" and words[1].isdigit():
        return int(words[1])
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


class RegimeView(BaseModel):
    """A symbol's market regime in the engine's last saved state (core.regime: hourly, from ADX, ATR %,
    Bollinger width and 24 h momentum)."""

    regime: str | None = Field(description="strong_trend, volatile_trend, tight_range, choppy, transitional; None "
                               "while the indicators warm up (about 27 hours of bars)")
    confidence: float | None = Field(description="0.5 on a threshold, 1.0 far from every threshold")
    hour_ms: int | None = Field(description="start of the completed UTC hour the regime describes")
    adx: float | None = None
    atr_pct: float | None = None
    bollinger_width_pct: float | None = None
    momentum_pct: float | None = None


def regime_view(engine: Engine, symbol: str) -> RegimeView:
    tracker = engine.regimes.get(symbol)
    reading = tracker.reading if tracker is not None else None
    if reading is None:
        return RegimeView(regime=None, confidence=None, hour_ms=None)
    return RegimeView(**reading.as_dict())
