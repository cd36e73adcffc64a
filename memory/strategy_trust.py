"""Which strategy files of a home a person trusted: their pinned SHA-256, in the home's journal.

`<home>/strategies/FILE.py` is code that would run beside the trading keys, and other agent skills are known
to write into folders that are not theirs: a file is loaded only while its digest is the one pinned here by
`executor.py strategies trust FILE` (a person's command, never an agent tool). Every pin is kept in
`trusted_strategy_changes` with who made it and when.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from memory.database import Database, read_since
from memory.schema import TRUSTED_STRATEGIES_VERSION


@dataclass(frozen=True, slots=True)
class TrustedFile:
    file: str  # the name inside <home>/strategies/
    sha256: str
    trusted_ms: int
    actor: str


class TrustStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def pin(self, file: str, sha256: str, *, actor: str, time_ms: int) -> TrustedFile | None:
        """Pin `file` at `sha256`; returns the pin it replaced (None: the file was not trusted before)."""
        with self._db.write("trust a strategy file") as conn:
            old = _pins(conn).get(file)
            conn.execute("INSERT OR REPLACE INTO trusted_strategies (file, sha256, trusted_ms, actor)"
                         " VALUES (?, ?, ?, ?)", (file, sha256, time_ms, actor))
            conn.execute("INSERT INTO trusted_strategy_changes (time_ms, file, old_sha256, new_sha256, actor)"
                         " VALUES (?, ?, ?, ?, ?)", (time_ms, file, None if old is None else old.sha256, sha256, actor))
            return old

    def pins(self) -> dict[str, TrustedFile]:
        return self._db.read("read the trusted strategy files", _pins)


def read_trusted(path: Path) -> dict[str, TrustedFile]:
    """The pins of the journal at `path`, read without writing anything: no journal, or one from before strategy
    files could be trusted, trusts none ({})."""
    return read_since(path, TRUSTED_STRATEGIES_VERSION, "read the trusted strategy files", _pins, {})


def _pins(conn: sqlite3.Connection) -> dict[str, TrustedFile]:
    rows = conn.execute("SELECT file, sha256, trusted_ms, actor FROM trusted_strategies ORDER BY file").fetchall()
    return {row[0]: TrustedFile(row[0], row[1], row[2], row[3]) for row in rows}
