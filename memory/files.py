"""The memory files of a data directory, written so that a crash or a full disk never loses them.

A write goes to a temporary file in the same folder, is fsynced, and replaces the current file by
rename; the current file is first kept as `<name>.prev` (a hard link, so the current name never stops
existing). At every instant the file holds either the old or the new content. A corrupt file (a bad
disk, a hand edit gone wrong) falls back to `.prev` with a warning; if both are corrupt the read raises
CorruptMemory: never a silent reset to defaults, never a crash with a traceback.

Decimals are written as strings (exact digits); they read back as strings.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from core.errors import ExecutorError

PREV_SUFFIX = ".prev"


class CorruptMemory(ExecutorError):
    """A memory file and its previous version are both unreadable; a person must look before we go on."""

    code = "MEMORY_CORRUPT"

    def __init__(self, path: Path, error: str, prev_error: str) -> None:
        super().__init__(
            f"memory file {path} is corrupt ({error}) and so is its previous version "
            f"{_prev_path(path).name} ({prev_error}); move them aside to start afresh, or restore a backup",
            path=str(path),
            error=error,
            prev_error=prev_error,
        )
        self.path = path


class MemoryFileError(ExecutorError):
    """A memory file could not be written or read for a reason other than its content (disk, permissions)."""

    code = "MEMORY_FILE_ERROR"

    def __init__(self, path: Path, operation: str, reason: str) -> None:
        super().__init__(f"memory file {path}: could not {operation}: {reason}", path=str(path), operation=operation)
        self.path = path


def write_json_atomic(path: Path, data: Any) -> None:
    """Replace `path` with `data` as JSON, keeping the current content as `<name>.prev`.

    Serialising happens before the disk is touched, so unserialisable data changes nothing.
    """
    try:
        text = json.dumps(data, default=json_default, ensure_ascii=False, indent=2, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise MemoryFileError(path, "serialise its data", str(exc)) from exc
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        temp = write_temp(folder, path.name, (text + "\n").encode())
        try:
            _keep_previous(path)
            os.replace(temp, path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        fsync_folder(folder)
    except OSError as exc:
        raise MemoryFileError(path, "write it", f"{exc.strerror or exc}") from exc


def write_bytes_atomic(path: Path, payload: bytes) -> None:
    """Replace `path` with `payload`: a reader sees the old content or the new, never half of either
    (temporary file beside it, fsync, rename, fsync of the folder). No `.prev` is kept: for derived files
    such as a report's text and chart, which can be rebuilt."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        temp = write_temp(folder, path.name, payload)
        try:
            os.replace(temp, path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        fsync_folder(folder)
    except OSError as exc:
        raise MemoryFileError(path, "write it", f"{exc.strerror or exc}") from exc


def read_json(path: Path, *, expect_object: bool = False) -> tuple[Any | None, str | None]:
    """(data, warning). Missing (and no `.prev`) → (None, None). Corrupt → `.prev`'s data with a warning
    naming the file and the error. Both corrupt → CorruptMemory. `expect_object` counts a top level
    that is not a JSON object as corrupt.
    """
    data, error = _load(path, expect_object)
    if error is None:
        return data, None
    prev = _prev_path(path)
    prev_data, prev_error = _load(prev, expect_object)
    if error is _MISSING:
        if prev_error is _MISSING:
            return None, None
        if prev_error is None:
            return prev_data, f"memory file {path} is missing; using its previous version {prev.name}"
        raise CorruptMemory(path, "missing", prev_error)
    if prev_error is None:
        return prev_data, f"memory file {path} is corrupt ({error}); using its previous version {prev.name}"
    raise CorruptMemory(path, error, "missing" if prev_error is _MISSING else prev_error)


_MISSING = "missing"


def _load(path: Path, expect_object: bool) -> tuple[Any | None, str | None]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, _MISSING
    except OSError as exc:
        raise MemoryFileError(path, "read it", f"{exc.strerror or exc}") from exc
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8: {exc.reason} at byte {exc.start}"
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    if expect_object and not isinstance(data, dict):
        return None, f"expected a JSON object, found {type(data).__name__}"
    return data, None


def write_temp(folder: Path, name: str, payload: bytes) -> Path:
    """`payload` in a new durable temp file of `folder` (0600, fsynced), for the caller to move or link into place."""
    fd, temp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def _keep_previous(path: Path) -> None:
    """Make `<name>.prev` the current content, unless the current file is itself corrupt (then the
    existing `.prev`, the last good version, is kept)."""
    if not path.exists():
        return
    if _load(path, expect_object=False)[1] is not None:
        return
    prev = _prev_path(path)
    link = prev.with_name(f".{prev.name}.{os.getpid()}.link")
    link.unlink(missing_ok=True)
    try:
        os.link(path, link)
    except OSError:
        # A file system without hard links: a copy, made durable before it replaces `.prev`.
        link = write_temp(path.parent, prev.name, path.read_bytes())
    os.replace(link, prev)


def fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _prev_path(path: Path) -> Path:
    return path.with_name(path.name + PREV_SUFFIX)


def json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a finite number")
        return format(value, "f")
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


class MemoryStore:
    """The memory files of one data directory (EXECUTOR_HOME): what the executor learned and where it was."""

    PERFORMANCE_METRICS = "performance_metrics.json"
    PORTFOLIO_STATE = "portfolio_state.json"
    ENGINE_CHECKPOINT = "checkpoint.json"
    HISTORY_DIR = "history"

    def __init__(self, home: Path) -> None:
        self.home = Path(home)

    def read_performance_metrics(self) -> tuple[dict[str, Any] | None, str | None]:
        return self._read(self.PERFORMANCE_METRICS)

    def write_performance_metrics(self, data: dict[str, Any]) -> None:
        self._write(self.PERFORMANCE_METRICS, data)

    def read_portfolio_state(self) -> tuple[dict[str, Any] | None, str | None]:
        return self._read(self.PORTFOLIO_STATE)

    def write_portfolio_state(self, data: dict[str, Any]) -> None:
        self._write(self.PORTFOLIO_STATE, data)

    def read_engine_checkpoint(self) -> tuple[dict[str, Any] | None, str | None]:
        return self._read(self.ENGINE_CHECKPOINT)

    def write_engine_checkpoint(self, data: dict[str, Any]) -> None:
        self._write(self.ENGINE_CHECKPOINT, data)

    def append_history(self, record: dict[str, Any]) -> None:
        """Append one JSON line to `history/YYYY-MM.jsonl`, the month (UTC) of `record["time_ms"]`.

        The time comes from the record, never the wall clock, so a replay files its lessons under the
        month it replayed. A torn last line left by a crash is closed off first so it spoils only itself.
        """
        time_ms = record.get("time_ms")
        if not isinstance(time_ms, int) or isinstance(time_ms, bool):
            raise MemoryFileError(self.home / self.HISTORY_DIR, "append a history record", "it needs an int time_ms")
        path = self.history_path(time_ms)
        try:
            line = json.dumps(record, default=json_default, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise MemoryFileError(path, "serialise a history record", str(exc)) from exc
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                lead = b"" if _ends_with_newline(fd) else b"\n"
                os.write(fd, lead + line.encode() + b"\n")
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise MemoryFileError(path, "append a history record", f"{exc.strerror or exc}") from exc

    def read_history(self, time_ms: int) -> tuple[list[dict[str, Any]], list[str]]:
        """The records of the month containing `time_ms`, and a warning per line that could not be read."""
        path = self.history_path(time_ms)
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return [], []
        except OSError as exc:
            raise MemoryFileError(path, "read it", f"{exc.strerror or exc}") from exc
        records: list[dict[str, Any]] = []
        warnings: list[str] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                warnings.append(f"{path} line {number} skipped: {exc.msg}")
                continue
            if isinstance(record, dict):
                records.append(record)
            else:
                warnings.append(f"{path} line {number} skipped: not a JSON object")
        return records, warnings

    def history_path(self, time_ms: int) -> Path:
        month = datetime.fromtimestamp(time_ms / 1000, tz=UTC).strftime("%Y-%m")
        return self.home / self.HISTORY_DIR / f"{month}.jsonl"

    def _read(self, name: str) -> tuple[dict[str, Any] | None, str | None]:
        return read_json(self.home / name, expect_object=True)

    def _write(self, name: str, data: dict[str, Any]) -> None:
        write_json_atomic(self.home / name, data)


def _ends_with_newline(fd: int) -> bool:
    size = os.fstat(fd).st_size
    return size == 0 or os.pread(fd, 1, size - 1) == b"\n"
