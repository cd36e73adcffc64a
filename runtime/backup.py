"""`backup --out FILE`: one consistent copy of a home's journal, taken while `run` may be writing.

During a run most of the journal sits in `journal.db-wal`; a copy of `journal.db` alone loses it. SQLite's
online backup API copies the database as one snapshot, and the checkpoint lives in the journal, so the copy
holds everything needed to resume: orders, fills, decisions, commands and the engine's state.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from core.errors import ExecutorError, InvalidArgument
from memory.database import read_only_uri
from memory.journal import Journal
from runtime.home import Home


class NothingToBackUp(ExecutorError):
    code = "NO_DATA"


class BackupFailed(ExecutorError):
    code = "BACKUP_FAILED"


def backup_home(home: Home, out: Path) -> dict[str, Any]:
    """Write the copy to a temporary file beside `out`, check that it opens as a journal, then rename it."""
    target = out.expanduser().resolve()
    if target.exists():
        raise InvalidArgument(f"--out {target} already exists; choose a new file (a backup never overwrites one)",
                              field="out", path=str(target))
    if not target.parent.is_dir():
        raise InvalidArgument(f"--out {target}: the folder {target.parent} does not exist", field="out",
                              path=str(target))
    if not home.journal.exists():
        raise NothingToBackUp(f"no journal in {home.root} to back up", home=str(home.root))
    temp = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        with Journal(home.journal) as journal:
            journal.backup_to(temp)
        summary = _verify(temp)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    return {"home": str(home.root), "backup": str(target), "bytes": target.stat().st_size,
            **summary,
            "restore": f"stop run, then copy {target} to {home.journal} (and delete journal.db-wal and "
                       "journal.db-shm beside it); run again with --accept-journal-rollback when the backup is older "
                       "than the home's last checkpoint"}


def _verify(copy: Path) -> dict[str, Any]:
    """Read the copy back (a plain connection: it stays one self-contained file, no -wal beside it)."""
    conn = sqlite3.connect(read_only_uri(copy), uri=True)
    try:
        check = conn.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise BackupFailed(f"the backup {copy} does not read back: {check}", path=str(copy))
        journal_id = conn.execute("SELECT journal_id FROM journal_identity").fetchone()[0]
        generation = conn.execute("SELECT COALESCE(MAX(generation), 0) FROM engine_checkpoint").fetchone()[0]
        orders = conn.execute("SELECT count(*) FROM orders").fetchone()[0]
        fills = conn.execute("SELECT count(*) FROM fills").fetchone()[0]
    except sqlite3.Error as exc:
        raise BackupFailed(f"the backup {copy} does not read back: {exc}", path=str(copy)) from None
    finally:
        conn.close()
    return {"journal_id": journal_id, "checkpoint_generation": generation, "orders": orders, "fills": fills}
