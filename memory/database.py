"""The journal's SQLite connection: pragmas, transactions, batches, and SQLite errors turned into typed ones.

One connection, in autocommit mode, with every write transaction opened by `BEGIN IMMEDIATE`, which
takes the write lock up front: a deferred transaction that later upgrades can fail with SQLITE_BUSY
without waiting, while an immediate one waits up to `busy_timeout` for another process (a tool
enqueueing a command) to finish. WAL lets readers in other processes see the last commit while we write.

`synchronous=FULL` makes each commit wait for the WAL to reach the disk: an order intent that returned
is on disk before the order is sent. `durable=False` (replays and backtests, where a power cut costs
nothing real) uses NORMAL, which still survives a crash of the process, only not of the machine.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from memory.journal_errors import JournalTooNew, JournalUnreadable, JournalWriteError
from memory.schema import LATEST_VERSION, apply_migrations, schema_version

BUSY_TIMEOUT_MS = 10_000
T = TypeVar("T")


def read_since(path: Path, version: int, what: str, query: Callable[[sqlite3.Connection], T], empty: T) -> T:
    """`query` on the journal at `path`, read without writing anything; `empty` when there is no journal or it is
    older than `version` (the schema that holds what is read). A process that only reads (a tool) must not migrate
    the journal of a home another version may be running. JournalUnreadable names `what` was being read."""
    if not path.exists():
        return empty
    try:
        conn = sqlite3.connect(read_only_uri(path), uri=True)
    except sqlite3.Error as exc:
        raise JournalUnreadable(path, str(exc)) from exc
    try:
        conn.row_factory = sqlite3.Row
        if int(conn.execute("PRAGMA user_version").fetchone()[0]) < version:
            return empty
        return query(conn)
    except sqlite3.DatabaseError as exc:
        raise JournalUnreadable(path, f"{what}: {exc}") from exc
    finally:
        conn.close()


def read_only_uri(path: Path) -> str:
    """An SQLite URI that reads `path` without writing anything, even in a folder this process may not write.

    A WAL database read with `mode=ro` needs its `-shm` file, which a reader in a read-only folder cannot
    create. When the folder is not writable and there is no `-wal` file (every commit is in the main file),
    `immutable=1` reads the main file as it is; otherwise `mode=ro` reads the WAL a writer keeps there.
    """
    uri = f"{path.resolve().as_uri()}?mode=ro"
    wal = path.with_name(path.name + "-wal")
    if not os.access(path.parent, os.W_OK) and not wal.exists():
        uri += "&immutable=1"
    return uri


class Database:
    def __init__(self, path: Path, *, durable: bool = True, max_size_bytes: int | None = None,
                 read_only: bool = False) -> None:
        """`read_only`: open for reading only (`read_only_uri`): no pragma that writes, no migration; every
        write fails. For views of a home this process may not write."""
        self.path = path
        self._lock = threading.RLock()
        self._batch_depth = 0
        self._batch_broken = False
        try:
            self._conn = sqlite3.connect(
                read_only_uri(path) if read_only else path, isolation_level=None, check_same_thread=False,
                timeout=BUSY_TIMEOUT_MS / 1000, uri=read_only,
            )
        except sqlite3.Error as exc:
            raise JournalUnreadable(path, str(exc)) from exc
        try:
            if read_only:
                self._conn.row_factory = sqlite3.Row
                self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
                return
            self._configure(durable, max_size_bytes)
            self._migrate()
        except BaseException:
            self._conn.close()
            raise

    def _configure(self, durable: bool, max_size_bytes: int | None) -> None:
        conn = self._conn
        conn.row_factory = sqlite3.Row
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
            mode = _switch_to_wal(conn)
            conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
            conn.execute("PRAGMA foreign_keys = ON")
            if max_size_bytes is not None:
                page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
                conn.execute(f"PRAGMA max_page_count = {max(1, max_size_bytes // page_size):d}")
        except sqlite3.DatabaseError as exc:
            raise JournalUnreadable(self.path, str(exc)) from exc
        if str(mode).lower() != "wal":
            raise JournalUnreadable(self.path, f"could not switch to WAL mode (journal_mode is {mode})")

    def _migrate(self) -> None:
        try:
            found = schema_version(self._conn)
        except sqlite3.DatabaseError as exc:
            raise JournalUnreadable(self.path, str(exc)) from exc
        if found > LATEST_VERSION:
            raise JournalTooNew(self.path, found, LATEST_VERSION)
        try:
            apply_migrations(self._conn)
        except sqlite3.DatabaseError as exc:
            raise _write_error(self.path, "migrate the schema", exc) from exc

    @contextmanager
    def write(self, operation: str, *, commit_now: bool = False) -> Iterator[sqlite3.Connection]:
        """One write: its own transaction, or part of the open batch.

        An exception raised inside the block before it changed anything (a conflict found by a check)
        leaves the batch as it was; any other failure inside a batch (an SQLite error such as a full
        disk, or an exception after rows were written) rolls the whole batch back, so nothing is ever
        half-written. `commit_now` makes the write durable before returning even inside a batch (the
        batch's earlier rows commit with it and the batch goes on in a new transaction): an order intent
        must be on disk before the order leaves the process.
        """
        with self._lock:
            if self._batch_broken:
                raise JournalWriteError(
                    self.path, operation, "an earlier write in this batch failed and the batch was rolled back", None
                )
            in_batch = self._batch_depth > 0
            if not in_batch:
                self._sql(operation, in_batch, "BEGIN IMMEDIATE")
            changes_before = self._conn.total_changes
            try:
                yield self._conn
            except sqlite3.Error as exc:
                self._rollback_all(in_batch)
                raise _write_error(self.path, operation, exc) from exc
            except BaseException:
                if not in_batch or self._conn.total_changes != changes_before:
                    self._rollback_all(in_batch)
                raise
            if not in_batch or commit_now:
                self._sql(operation, in_batch, "COMMIT")
            if in_batch and commit_now:
                self._sql(operation, in_batch, "BEGIN IMMEDIATE")

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Many writes, one transaction: all of them are saved at the end of the block, or none."""
        with self._lock:
            if self._batch_depth == 0:
                try:
                    self._conn.execute("BEGIN IMMEDIATE")
                except sqlite3.Error as exc:
                    raise _write_error(self.path, "start a batch", exc) from exc
                self._batch_broken = False
            self._batch_depth += 1
            try:
                yield
            except BaseException:
                self._batch_depth -= 1
                if self._batch_depth == 0:
                    self._end_broken_batch()
                else:
                    # The outer batch cannot keep half of a failed inner one: it is refused as a whole.
                    self._batch_broken = True
                raise
            self._batch_depth -= 1
            if self._batch_depth == 0:
                if self._batch_broken:
                    self._end_broken_batch()
                    raise JournalWriteError(self.path, "commit a batch", "a write in this batch failed", None)
                try:
                    self._conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    self._end_broken_batch()
                    raise _write_error(self.path, "commit a batch", exc) from exc

    def read(self, operation: str, query: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            try:
                return query(self._conn)
            except sqlite3.DatabaseError as exc:
                raise JournalUnreadable(self.path, f"{operation}: {exc}") from exc

    def fetch_all(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        return self.read(sql.split()[0].lower(), lambda conn: conn.execute(sql, params).fetchall())

    def fetch_one(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        return self.read(sql.split()[0].lower(), lambda conn: conn.execute(sql, params).fetchone())

    def backup_to(self, target: Path) -> None:
        """An online copy of the database into `target` (SQLite's backup API: one consistent snapshot)."""
        with self._lock:
            try:
                destination = sqlite3.connect(target)
            except sqlite3.Error as exc:
                raise _write_error(target, "open the backup file", exc) from exc
            try:
                self._conn.backup(destination)
                destination.execute("PRAGMA journal_mode = DELETE")
            except sqlite3.Error as exc:
                raise _write_error(target, "write the backup", exc) from exc
            finally:
                destination.close()

    def close(self) -> None:
        with self._lock:
            if self._batch_depth:
                self._end_broken_batch()
                self._batch_depth = 0
            self._conn.close()

    def _sql(self, operation: str, in_batch: bool, statement: str) -> None:
        try:
            self._conn.execute(statement)
        except sqlite3.Error as exc:
            self._rollback_all(in_batch)
            raise _write_error(self.path, operation, exc) from exc

    def _rollback_all(self, in_batch: bool) -> None:
        if in_batch:
            self._batch_broken = True
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def _end_broken_batch(self) -> None:
        self._batch_broken = False
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")


def _write_error(path: Path, operation: str, exc: sqlite3.Error) -> JournalWriteError:
    return JournalWriteError(path, operation, str(exc), getattr(exc, "sqlite_errorname", None))


def _switch_to_wal(conn: sqlite3.Connection) -> str:
    """`PRAGMA journal_mode = WAL`, retried while the database is busy. SQLite answers SQLITE_BUSY at once, without
    its busy handler, when another connection is switching a fresh file to WAL at the same moment: processes
    opening a new journal together (a run and a tool) must wait for each other, not call the journal unreadable."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)
