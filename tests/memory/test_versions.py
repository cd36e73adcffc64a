"""Versioned memory: kept, checksummed, rolled back exactly, and never trusted after an edit."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from core.errors import InvalidArgument
from memory.files import MemoryFileError
from memory.versions import (
    LearnedVersions,
    NoValidVersion,
    UnknownVersion,
    VersionInvalid,
    diff,
    parse_version_number,
)
from tests.conftest import REPO_ROOT


def learned(scalping: float, momentum: float = 0.25, time_ms: int = 1_000, trades: int = 0) -> dict[str, Any]:
    return {"time_ms": time_ms, "strategies": {
        "scalping": {"allocation": scalping, "trades": trades, "sizing_kelly": 0.05, "kelly_basis": "prior 0.10"},
        "momentum": {"allocation": momentum, "trades": 0, "sizing_kelly": 0.05, "kelly_basis": "prior 0.10"}}}


def test_each_version_is_kept_and_reads_back(tmp_path: Path) -> None:
    versions = LearnedVersions(tmp_path)
    assert versions.current() == (None, [])
    first = versions.write(learned(0.7), 10)
    second = versions.write(learned(0.5), 20)
    assert (first.number, second.number) == (1, 2)
    assert versions.read(1).learned == learned(0.7) and versions.read(2).learned == learned(0.5)
    current, notices = versions.current()
    assert current is not None and current.number == 2 and notices == []
    assert [row["version"] for row in versions.history()] == [1, 2]


def test_files_are_private_and_hold_no_key(tmp_path: Path) -> None:
    versions = LearnedVersions(tmp_path)
    version = versions.write(learned(0.7), 10)
    assert stat.S_IMODE(version.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(versions.key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(versions.folder.stat().st_mode) == 0o700
    key = versions.key_path.read_text().strip()
    assert len(key) == 64 and key not in version.path.read_text()


def test_rollback_restores_an_earlier_version_exactly(tmp_path: Path) -> None:
    versions = LearnedVersions(tmp_path)
    versions.write(learned(0.7, time_ms=5), 5)
    versions.write(learned(0.4, time_ms=9, trades=12), 9)
    back = versions.rollback(1, 99)
    assert back.number == 3 and back.reason == "rollback" and back.rolled_back_from == 1
    current, _ = versions.current()
    assert current is not None and current.number == 3
    assert current.learned == versions.read(1).learned == learned(0.7, time_ms=5)
    assert versions.read(2).learned == learned(0.4, time_ms=9, trades=12)  # history is never rewritten


def test_a_write_with_the_same_content_adds_no_version(tmp_path: Path) -> None:
    versions = LearnedVersions(tmp_path)
    assert versions.write_if_changed(learned(0.7, time_ms=1), 1) is not None
    assert versions.write_if_changed(learned(0.7, time_ms=2), 2) is None  # only the time moved
    assert versions.write_if_changed(learned(0.7, time_ms=3, trades=1), 3) is not None
    assert versions.numbers() == [1, 2]


def _three(tmp_path: Path) -> LearnedVersions:
    versions = LearnedVersions(tmp_path)
    for share in (0.7, 0.6, 0.5):
        versions.write(learned(share), 1)
    return versions


def test_a_corrupted_newest_file_falls_back_to_the_previous_with_a_notice_naming_it(tmp_path: Path) -> None:
    versions = _three(tmp_path)
    path = versions.path(3)
    path.write_bytes(path.read_bytes()[:40])
    current, notices = versions.current()
    assert current is not None and current.number == 2 and current.learned == learned(0.6)
    assert len(notices) == 1 and str(path) in notices[0] and "not valid JSON" in notices[0]
    assert versions.write_if_changed(learned(0.1), 5).number == 4  # the damaged number is never reused


def test_a_hand_edited_file_is_refused_and_falls_back(tmp_path: Path) -> None:
    versions = _three(tmp_path)
    path = versions.path(3)
    document = json.loads(path.read_text())
    document["learned"]["strategies"]["scalping"]["allocation"] = 0.75
    path.write_text(json.dumps(document, indent=2))
    with pytest.raises(VersionInvalid) as caught:
        versions.read(3)
    assert "checksum does not match" in caught.value.message and str(path) in caught.value.message
    current, notices = versions.current()
    assert current is not None and current.number == 2 and "checksum" in notices[0]
    rows = versions.history()
    assert rows[2]["valid"] is False and "checksum" in rows[2]["refused"]


def test_an_older_version_copied_over_a_newer_name_is_refused(tmp_path: Path) -> None:
    versions = _three(tmp_path)
    versions.path(3).write_bytes(versions.path(1).read_bytes())
    with pytest.raises(VersionInvalid, match="version 1 under the name of version 3"):
        versions.read(3)


def test_without_its_key_no_version_is_trusted(tmp_path: Path) -> None:
    versions = _three(tmp_path)
    versions.key_path.unlink()
    with pytest.raises(NoValidVersion) as caught:
        versions.current()
    assert caught.value.code == "MEMORY_CORRUPT" and "key" in caught.value.message


def test_every_version_invalid_refuses_to_start_from_memory(tmp_path: Path) -> None:
    versions = _three(tmp_path)
    for number in (1, 2, 3):
        versions.path(number).write_text("{}")
    with pytest.raises(NoValidVersion):
        versions.current()


def test_a_learned_document_that_would_not_read_back_is_not_written(tmp_path: Path) -> None:
    versions = LearnedVersions(tmp_path)
    with pytest.raises(MemoryFileError):
        versions.write({"time_ms": 1, "strategies": {"scalping": {"allocation": 0.8}, "momentum": {"allocation": 0.4}}},
                       1)
    with pytest.raises(MemoryFileError):
        versions.write({"strategies": {"not a name!": {"allocation": 0.1}}}, 1)
    assert versions.numbers() == []


@pytest.mark.parametrize("raw", ["0", "-1", "1e9", "abc", "", "1.5", "1000000000", " "])
def test_bad_version_numbers_are_refused(raw: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_version_number(raw)


def test_an_unknown_version_names_the_versions_that_exist(tmp_path: Path) -> None:
    versions = _three(tmp_path)
    with pytest.raises(UnknownVersion, match=r"versions: 1\.\.3"):
        versions.read(4)


def test_diff_lists_each_changed_leaf() -> None:
    assert diff(learned(0.7), learned(0.5, trades=3)) == [
        {"path": "strategies.scalping.allocation", "old": 0.7, "new": 0.5},
        {"path": "strategies.scalping.trades", "old": 0, "new": 3}]
    assert diff(learned(0.7), learned(0.7)) == []


WRITER = """
import sys
from memory.versions import LearnedVersions
versions = LearnedVersions(sys.argv[1])
i = 0
print("ready", flush=True)
while True:
    i += 1
    versions.write({"time_ms": i, "strategies": {"scalping": {"allocation": (i % 100) / 100, "pad": "x" * 20000}}}, i)
"""


@pytest.mark.parametrize("delay_s", [0.05, 0.2, 0.5])
def test_sigkill_mid_write_leaves_a_complete_current_version(tmp_path: Path, delay_s: float) -> None:
    """A writer killed at an arbitrary moment: every version file is complete and valid, the newest is current."""
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    time.sleep(delay_s)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    versions = LearnedVersions(tmp_path)
    numbers = versions.numbers()
    for number in numbers:
        versions.read(number)  # raises if any version is partial
    current, notices = versions.current()
    assert notices == []
    assert (current is None) == (not numbers)
    if current is not None:
        assert current.number == numbers[-1]
