"""Versioned memory: every version of the learned configuration, kept, checksummed, never rewritten.

Each version is its own file, `<home>/memory/learned/v000001.json`, `v000002.json`, …; the newest valid one is
the current one. There is no index to keep in step: the file names are the index. A version is written to a
temporary file (mode 0600), fsynced, then hard-linked to its final name, which fails if that name exists, so two
writers can never overwrite each other's version, and a crash (even SIGKILL) at any point leaves either no new
version or a complete one: the previous version stays current. A rollback writes a new version whose learned
content is an earlier version's, exactly; history is never rewritten.

Each file carries an HMAC-SHA256 over its canonical JSON (sorted keys, no spaces), keyed with a random key kept
in `<home>/memory/learned.key` (0600). What it detects: any change to a version by something that does not hold
the key (a hand edit, a tool or agent skill that rewrites memory files, a bad disk, a truncated copy), and a file
renamed or copied to pose as another version (the version number is inside the signed content). What it does
not stop: a program running as the same user can read the key and sign what it likes; the key only makes that
a deliberate attack on this executor rather than an edit. Files hold what was learned (allocations, per-strategy
statistics on returns, Kelly and its basis): never a credential, and the key is never written into a version.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ExecutorError, InvalidArgument
from core.types import StrategyName
from memory.files import MemoryFileError, fsync_folder, json_default, write_temp

FORMAT = 1
LEARNED_DIR = Path("memory") / "learned"
KEY_FILE = Path("memory") / "learned.key"
_NAME = re.compile(r"^v(\d{6,})\.json$")
_FIELDS = frozenset({"format", "version", "written_ms", "reason", "rolled_back_from", "learned", "hmac_sha256"})
MAX_VERSION = 999_999_999


class VersionInvalid(ExecutorError):
    """A version file that fails its checks: the executor never uses it."""

    code = "MEMORY_VERSION_INVALID"

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"memory version {path} is refused: {reason}", file=str(path), reason=reason)
        self.path = path
        self.reason = reason


class NoValidVersion(ExecutorError):
    """Versions exist and none of them passes its checks: a person must look before the executor goes on."""

    code = "MEMORY_CORRUPT"

    def __init__(self, folder: Path, problems: list[str]) -> None:
        super().__init__(f"no version in {folder} passes its checks ({'; '.join(problems)}); the executor will not "
                         "start from an unchecked memory: restore the folder and its key from a backup, or move "
                         "the folder aside to start learning afresh", folder=str(folder), problems=problems)


class UnknownVersion(ExecutorError):
    code = "INVALID_ARGUMENT"

    def __init__(self, number: int, known: list[int]) -> None:
        span = f"{known[0]}..{known[-1]}" if known else "none yet"
        super().__init__(f"memory version {number} does not exist (versions: {span})", version=number,
                         versions=span)


@dataclass(frozen=True)
class Version:
    """One checked version."""

    number: int
    written_ms: int
    reason: str  # "learned" (written by the executor) or "rollback"
    rolled_back_from: int | None  # for a rollback: the version whose content it restores
    learned: dict[str, Any]
    path: Path

    def summary(self) -> dict[str, Any]:
        return {"version": self.number, "written_ms": self.written_ms, "reason": self.reason,
                "rolled_back_from": self.rolled_back_from, "file": str(self.path)}


def parse_version_number(raw: str) -> int:
    """A version number as a person types it: a whole number from 1; InvalidArgument otherwise."""
    text = raw.strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_VERSION:
        raise InvalidArgument(f"memory version {raw!r} is not a version number: a whole number from 1 to "
                              f"{MAX_VERSION}", value=raw)
    return int(text)


def canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, default=json_default, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


def check_learned(learned: Any) -> str | None:
    """Why a learned document cannot be used (None: it can): the shape the executor reads back from it."""
    if not isinstance(learned, dict):
        return "learned is not a JSON object"
    strategies = learned.get("strategies")
    if not isinstance(strategies, dict):
        return "learned.strategies is not a JSON object"
    total = 0.0
    for name, entry in strategies.items():
        try:
            StrategyName(name)
        except (TypeError, ValueError):
            return f"learned.strategies has an invalid strategy name {name!r}"
        allocation = entry.get("allocation") if isinstance(entry, dict) else None
        if isinstance(allocation, bool) or not isinstance(allocation, int | float) or not 0 <= allocation <= 1:
            return f"learned.strategies.{name}.allocation must be a number from 0 to 1"
        total += allocation
    if total > 1 + 1e-9:
        return f"learned allocations sum to {total:.4f}, above 1"
    return None


class LearnedVersions:
    """The versions of one home's learned configuration."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.folder = self.home / LEARNED_DIR
        self.key_path = self.home / KEY_FILE

    # -- reading ---------------------------------------------------------------------------------------

    def numbers(self) -> list[int]:
        """Every version number with a file, ascending (checked or not)."""
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise MemoryFileError(self.folder, "list it", f"{exc.strerror or exc}") from exc
        return sorted(int(m.group(1)) for m in map(_NAME.match, names) if m is not None)

    def path(self, number: int) -> Path:
        return self.folder / f"v{number:06d}.json"

    def read(self, number: int) -> Version:
        """Version `number`, checked; UnknownVersion if it has no file, VersionInvalid if it fails a check."""
        path = self.path(number)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise UnknownVersion(number, self.numbers()) from None
        except OSError as exc:
            raise MemoryFileError(path, "read it", f"{exc.strerror or exc}") from exc
        return self._check(path, number, raw)

    def current(self) -> tuple[Version | None, list[str]]:
        """The newest version that passes its checks, and a notice naming each newer file skipped.
        (None, []) when there is no version yet; NoValidVersion when there are versions and none passes."""
        notices: list[str] = []
        numbers = self.numbers()
        for number in reversed(numbers):
            try:
                version = self.read(number)
            except VersionInvalid as exc:
                notices.append(f"{exc.message}; falling back to the previous version")
                continue
            return version, notices
        if numbers:
            raise NoValidVersion(self.folder, notices)
        return None, []

    def history(self) -> list[dict[str, Any]]:
        """Every version, oldest first, each with its summary or why it is refused."""
        rows: list[dict[str, Any]] = []
        for number in self.numbers():
            try:
                rows.append({**self.read(number).summary(), "valid": True})
            except VersionInvalid as exc:
                rows.append({"version": number, "valid": False, "file": str(exc.path), "refused": exc.reason})
        return rows

    # -- writing ---------------------------------------------------------------------------------------

    def write(self, learned: dict[str, Any], written_ms: int, *, reason: str = "learned",
              rolled_back_from: int | None = None) -> Version:
        """A new version after the newest file. Refuses a learned document that would not read back."""
        problem = check_learned(learned)
        if problem is not None:
            raise MemoryFileError(self.folder, "write a version", problem)
        key = self._key(create=True)
        number = (self.numbers() or [0])[-1] + 1
        body = {"format": FORMAT, "version": number, "written_ms": written_ms, "reason": reason,
                "rolled_back_from": rolled_back_from, "learned": learned}
        try:
            signature = hmac.new(key, canonical(body), hashlib.sha256).hexdigest()
            text = json.dumps({**body, "hmac_sha256": signature}, default=json_default, ensure_ascii=False,
                              indent=2, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise MemoryFileError(self.path(number), "serialise it", str(exc)) from exc
        path = self.path(number)
        self._publish(path, (text + "\n").encode())
        return Version(number, written_ms, reason, rolled_back_from, json.loads(text)["learned"], path)

    def write_if_changed(self, learned: dict[str, Any], written_ms: int) -> Version | None:
        """A new version unless the current one already holds the same content (its time aside)."""
        current, _ = self.current()
        if current is not None and _content(current.learned) == _content(learned):
            return None
        return self.write(learned, written_ms)

    def rollback(self, number: int, written_ms: int) -> Version:
        """A new version whose learned content is version `number`'s, exactly."""
        source = self.read(number)
        return self.write(source.learned, written_ms, reason="rollback", rolled_back_from=number)

    # -- internals -------------------------------------------------------------------------------------

    def _publish(self, path: Path, payload: bytes) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            temp = write_temp(self.folder, path.name, payload)
            try:
                os.link(temp, path)  # never replaces: a version, once written, is never rewritten
            finally:
                temp.unlink(missing_ok=True)
            fsync_folder(self.folder)
        except FileExistsError:
            raise MemoryFileError(path, "write it", "another process wrote this version first; try again") from None
        except OSError as exc:
            raise MemoryFileError(path, "write it", f"{exc.strerror or exc}") from exc

    def _key(self, *, create: bool) -> bytes | None:
        try:
            return bytes.fromhex(self.key_path.read_text().strip())
        except FileNotFoundError:
            if not create:
                return None
        except (OSError, ValueError) as exc:
            raise MemoryFileError(self.key_path, "read the memory key", str(exc)) from exc
        self.key_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(self.key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use that one
            return self._key(create=False)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        fsync_folder(self.key_path.parent)
        return self._key(create=False)

    def _check(self, path: Path, number: int, raw: bytes) -> Version:
        try:
            document = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise VersionInvalid(path, f"not valid JSON ({exc})") from None
        if not isinstance(document, dict) or set(document) != _FIELDS:
            raise VersionInvalid(path, f"not a memory version (fields must be {', '.join(sorted(_FIELDS))})")
        if document["format"] != FORMAT:
            raise VersionInvalid(path, f"format {document['format']!r}, this version reads {FORMAT}")
        key = self._key(create=False)
        if key is None:
            raise VersionInvalid(path, f"its key {self.key_path} is missing, so its checksum cannot be checked")
        claimed = document.pop("hmac_sha256")
        expected = hmac.new(key, canonical(document), hashlib.sha256).hexdigest()
        if not isinstance(claimed, str) or not hmac.compare_digest(claimed, expected):
            raise VersionInvalid(path, "its checksum does not match its content: it was changed by something other "
                                       "than the executor (a hand edit, another program, a bad disk)")
        if document["version"] != number:
            raise VersionInvalid(path, f"it is version {document['version']} under the name of version {number}")
        problem = check_learned(document["learned"])
        if problem is not None:
            raise VersionInvalid(path, problem)
        return Version(number, int(document["written_ms"]), str(document["reason"]), document["rolled_back_from"],
                       document["learned"], path)


def _content(learned: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in json.loads(canonical(learned)).items() if k != "time_ms"}


def diff(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[dict[str, Any]]:
    """Every leaf that differs between two learned documents: its dotted path, the old and the new value."""
    changes: list[dict[str, Any]] = []
    for key in sorted(set(old) | set(new)):
        path = f"{prefix}{key}"
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            changes.extend(diff(a, b, f"{path}."))
        elif a != b or (key in old) != (key in new):
            changes.append({"path": path, "old": a, "new": b})
    return changes
