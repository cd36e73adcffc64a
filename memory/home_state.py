"""Where a home's engine state lives, and how start-up notices state that went back in time.

The engine's checkpoint is stored in the journal (`Journal.save_checkpoint`), in the same transaction as
the rows it accounts for. What the journal cannot tell on its own is that it is the journal the home was
using, complete: a deleted `journal.db-wal`, an older copy put back, or a deleted-and-recreated database
all look like a healthy journal. The marker file (`journal.marker.json`, written after every checkpoint
commit) is the witness: it names the journal (`journal_id`) and the generation of its last checkpoint.

At start-up a writer compares the two (`verify_continuity`):
- journal generation ≥ marker generation, same journal id: all is well (the journal may be one commit
  ahead: the marker is written after the commit);
- a marker (or memory files) but no journal, another journal id, or a journal behind the marker: the state
  went back in time. The writer refuses to trade (`STATE_DIVERGED`, naming the file) unless a person says
  to go on from what the journal holds (`run --accept-journal-rollback`), which is journaled.

Homes written by versions that kept the checkpoint in `checkpoint.json` are moved into the journal once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from core.errors import ExecutorError
from memory.files import MemoryStore, read_json, write_json_atomic
from memory.journal import Journal, JournalIdentity, StoredCheckpoint

MARKER_FILE = "journal.marker.json"
LEGACY_CHECKPOINT = MemoryStore.ENGINE_CHECKPOINT
IMPORTED_SUFFIX = ".imported"
# Files that only exist once an engine has saved state in a home: their presence without a journal means
# the journal was lost, not that the home is new.
EVIDENCE_FILES = (MARKER_FILE, MemoryStore.PORTFOLIO_STATE, MemoryStore.PERFORMANCE_METRICS)
ACCEPT_HINT = ("restore journal.db from a backup (`python executor.py backup --out FILE` makes one), or, to go on "
               "from what journal.db holds now, run again with --accept-journal-rollback")


class StateDiverged(ExecutorError):
    """The journal is not the complete journal this home was using: trading on it could duplicate or lose
    orders, so nothing trades until a person decides."""

    code = "STATE_DIVERGED"


@dataclass(frozen=True, slots=True)
class Marker:
    journal_id: str
    generation: int


def marker_path(home: Path) -> Path:
    return home / MARKER_FILE


def read_marker(home: Path) -> tuple[Marker | None, str | None]:
    """The marker and a warning when it had to be read from its previous version."""
    data, warning = read_json(marker_path(home), expect_object=True)
    if data is None:
        return None, warning
    journal_id, generation = data.get("journal_id"), data.get("generation")
    if not isinstance(journal_id, str) or not isinstance(generation, int) or isinstance(generation, bool):
        return None, f"{marker_path(home)} is not a journal marker; it is written again"
    return Marker(journal_id, generation), warning


def write_marker(home: Path, identity: JournalIdentity) -> None:
    write_json_atomic(marker_path(home), {"journal_id": identity.journal_id, "generation": identity.generation})


def check_journal_present(home: Path, journal_path: Path, *, accept_rollback: bool) -> None:
    """Before a writer opens (and so creates) the journal: a home that has saved state needs its journal."""
    if journal_path.exists() or accept_rollback:
        return
    evidence = [name for name in EVIDENCE_FILES if (home / name).exists()]
    if evidence:
        raise StateDiverged(
            f"{journal_path} is missing, but this home has run before ({', '.join(evidence)} exist): its orders, "
            f"fills and checkpoint are gone; {ACCEPT_HINT} (that starts from an empty journal and a fresh engine)",
            file=str(journal_path), evidence=evidence)


def read_checkpoint(home: Path, journal: Journal | None) -> StoredCheckpoint | None:
    """The engine's last checkpoint: from the journal, else (a home of an older version, not yet moved) from
    `checkpoint.json`, read-only. Readers use this; writers call `adopt_legacy_checkpoint` first."""
    stored = journal.checkpoint() if journal is not None else None
    if stored is not None:
        return stored
    document, warning = MemoryStore(home).read_engine_checkpoint()
    if document is None:
        return None
    return StoredCheckpoint(document, 0, _mtime_ms(home / LEGACY_CHECKPOINT), warning)


def adopt_legacy_checkpoint(home: Path, journal: Journal, wall_ms: int) -> str | None:
    """Move an older version's `checkpoint.json` into the journal, once. Returns what a person should read."""
    if journal.checkpoint() is not None:
        return None
    document, warning = MemoryStore(home).read_engine_checkpoint()
    if document is None:
        return None
    journal.save_checkpoint(document, written_ms=wall_ms)
    for name in (LEGACY_CHECKPOINT, LEGACY_CHECKPOINT + ".prev"):
        path = home / name
        if path.exists():
            os.replace(path, path.with_name(name + IMPORTED_SUFFIX))
    moved = f"the checkpoint of {home / LEGACY_CHECKPOINT} now lives in the journal (the file was renamed *.imported)"
    return f"{warning}; {moved}" if warning else moved


def verify_continuity(home: Path, journal: Journal, *, accept_rollback: bool, wall_ms: int) -> list[str]:
    """Compare the journal with the home's marker; raise StateDiverged when it went back in time.

    With `accept_rollback` a person has chosen to go on from what the journal holds: the marker is
    rewritten, the choice is journaled, and the warning says what was given up.
    """
    identity = journal.identity()
    marker, warning = read_marker(home)
    warnings = [warning] if warning else []
    problem = _divergence(home, journal, identity, marker)
    if problem is not None:
        message, details = problem
        if not accept_rollback:
            raise StateDiverged(f"{message}; {ACCEPT_HINT}", **details)
        journal.record_error(wall_ms, "JOURNAL_ROLLBACK_ACCEPTED", f"{message}; accepted by --accept-journal-rollback",
                             details)
        warnings.append(f"{message}; going on from what the journal holds (--accept-journal-rollback)")
    elif marker is None and identity.generation > 0:
        warnings.append(f"{marker_path(home)} was missing; written again from the journal")
    write_marker(home, identity)
    return warnings


def refuse_divergence(home: Path, journal: Journal) -> None:
    """The readers' check (status, scan, report, trade's mode): the same comparison, nothing written."""
    marker, _warning = read_marker(home)
    problem = _divergence(home, journal, journal.identity(), marker)
    if problem is not None:
        message, details = problem
        raise StateDiverged(f"{message}; {ACCEPT_HINT}", **details)


def _divergence(home: Path, journal: Journal, identity: JournalIdentity,
                marker: Marker | None) -> tuple[str, dict[str, object]] | None:
    file = str(journal.path)
    if marker is None:
        if identity.generation == 0 and not journal.has_history():
            evidence = [n for n in EVIDENCE_FILES[1:] if (home / n).exists()]
            if evidence:
                return (f"{file} is empty, but this home has run before ({', '.join(evidence)} exist)",
                        {"file": file, "evidence": evidence})
        return None
    if marker.journal_id != identity.journal_id:
        return (f"{file} is not the journal this home was using (it was replaced or recreated: journal id "
                f"{identity.journal_id}, expected {marker.journal_id})",
                {"file": file, "journal_id": identity.journal_id, "expected_journal_id": marker.journal_id})
    if identity.generation < marker.generation:
        return (f"{file} went back in time: it holds checkpoint {identity.generation}, but this home saved checkpoint "
                f"{marker.generation} (its -wal file was lost, or an older copy was put back)",
                {"file": file, "generation": identity.generation, "expected_generation": marker.generation})
    return None


def _mtime_ms(path: Path) -> int:
    try:
        return os.stat(path).st_mtime_ns // 1_000_000
    except OSError:
        return 0
