"""Typed errors of the journal. Each names the journal file and, where SQLite spoke, what it said."""

from __future__ import annotations

from pathlib import Path

from core.errors import ExecutorError


class JournalError(ExecutorError):
    """Base of the journal's errors."""

    code = "JOURNAL_ERROR"


class JournalWriteError(JournalError):
    """A write the journal could not make durable: disk full, read-only file, I/O error, lock held too long.

    Nothing of the failed write (or of the batch it belonged to) was saved; the journal is still readable.
    """

    code = "JOURNAL_WRITE_FAILED"

    def __init__(self, path: Path, operation: str, sqlite_message: str, sqlite_code: str | None) -> None:
        hint = _HINTS.get(sqlite_code or "", "")
        super().__init__(
            f"journal {path}: could not {operation}: SQLite said {sqlite_message!r}"
            f"{f' ({sqlite_code})' if sqlite_code else ''}; nothing of this write was saved{hint}",
            path=str(path),
            operation=operation,
            sqlite_message=sqlite_message,
            sqlite_code=sqlite_code,
        )
        self.path = path
        self.sqlite_code = sqlite_code


_HINTS = {
    "SQLITE_FULL": " (free disk space in the data directory, then restart)",
    "SQLITE_READONLY": " (the journal file or its folder is not writable by this process)",
    "SQLITE_BUSY": " (another process holds the journal's write lock)",
    "SQLITE_IOERR": " (the disk reported an I/O error)",
}


class JournalUnreadable(JournalError):
    """The journal file cannot be opened or read as a journal (not a database, corrupt, unreadable)."""

    code = "JOURNAL_UNREADABLE"

    def __init__(self, path: Path, sqlite_message: str) -> None:
        super().__init__(
            f"journal {path} cannot be read: {sqlite_message}; nothing trades on it: restore it from a backup "
            "(`python executor.py backup --out FILE` makes one) or move it aside", path=str(path),
            sqlite_message=sqlite_message)
        self.path = path


class JournalTooNew(JournalError):
    """The journal was migrated by a newer version of the executor; an older one must not write to it."""

    code = "JOURNAL_SCHEMA_TOO_NEW"

    def __init__(self, path: Path, found: int, supported: int) -> None:
        super().__init__(
            f"journal {path} has schema version {found}, newer than the {supported} this version understands; "
            "upgrade the executor instead of writing to it",
            path=str(path),
            value=found,
            limit=supported,
        )


class ClientIdConflict(JournalError):
    """A client order id already journaled for a different order: two orders must never share one."""

    code = "CLIENT_ID_CONFLICT"

    def __init__(self, client_order_id: str, symbol: str, journaled: str, requested: str) -> None:
        super().__init__(
            f"{symbol}: client order id {client_order_id} is already journaled for a different order "
            f"(journaled {journaled}; now {requested})",
            symbol=symbol,
            client_order_id=client_order_id,
            journaled=journaled,
            requested=requested,
        )


class OrderNotJournaled(JournalError):
    """An update for an order the journal never recorded: journal the order (intent) first."""

    code = "ORDER_NOT_JOURNALED"

    def __init__(self, client_order_id: str) -> None:
        super().__init__(f"order {client_order_id} is not in the journal", client_order_id=client_order_id)


class CommandStateError(JournalError):
    """A command moved against its life cycle (queued → claimed → done), e.g. completed twice."""

    code = "COMMAND_STATE_INVALID"

    def __init__(self, command_id: int, status: str | None, wanted: str) -> None:
        found = "unknown" if status is None else status
        super().__init__(
            f"command {command_id} cannot be {wanted}: it is {found}",
            command_id=command_id,
            value=found,
        )
