"""Memory files: atomic replacement, `.prev` fallback with a warning, CorruptMemory when both are bad."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memory.files import CorruptMemory, MemoryFileError, MemoryStore, read_json, write_json_atomic
from tests.conftest import REPO_ROOT
from tests.memory.atomic_writer_process import content


def test_missing_file_reads_as_nothing(tmp_path: Path) -> None:
    assert read_json(tmp_path / "learned_config.json") == (None, None)


def test_write_then_read_and_the_previous_version_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    write_json_atomic(path, {"v": 1})
    assert not (tmp_path / "state.json.prev").exists()
    write_json_atomic(path, {"v": 2, "equity": Decimal("1000.10")})
    assert read_json(path) == ({"v": 2, "equity": "1000.10"}, None)
    assert json.loads((tmp_path / "state.json.prev").read_text()) == {"v": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.json.prev"]


@pytest.mark.parametrize("damage", [b"", b'{"v": 2, "equity": "10', b"\xff\xfe not utf-8", b"[1, 2"])
def test_corrupt_file_falls_back_to_prev_with_a_warning(tmp_path: Path, damage: bytes) -> None:
    path = tmp_path / "state.json"
    write_json_atomic(path, {"v": 1})
    write_json_atomic(path, {"v": 2})
    path.write_bytes(damage)
    data, warning = read_json(path)
    assert data == {"v": 1}
    assert warning is not None and str(path) in warning and "corrupt" in warning and "state.json.prev" in warning


def test_both_corrupt_raises_corrupt_memory_naming_both(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("{oops")
    (tmp_path / "state.json.prev").write_text("")
    with pytest.raises(CorruptMemory) as raised:
        read_json(path)
    assert raised.value.code == "MEMORY_CORRUPT"
    assert str(path) in raised.value.message and "state.json.prev" in raised.value.message
    assert "invalid JSON" in raised.value.details["error"]


def test_corrupt_without_prev_raises_rather_than_resetting(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("{oops")
    with pytest.raises(CorruptMemory):
        read_json(path)


def test_missing_file_with_a_prev_uses_it_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    write_json_atomic(path, {"v": 1})
    write_json_atomic(path, {"v": 2})
    path.unlink()
    data, warning = read_json(path)
    assert data == {"v": 1} and warning is not None and "missing" in warning


def test_writing_over_a_corrupt_file_keeps_the_last_good_prev(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    write_json_atomic(path, {"v": 1})
    write_json_atomic(path, {"v": 2})
    path.write_text("{torn")
    write_json_atomic(path, {"v": 3})
    assert read_json(path) == ({"v": 3}, None)
    assert json.loads((tmp_path / "state.json.prev").read_text()) == {"v": 1}


def test_unserialisable_data_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    write_json_atomic(path, {"v": 1})
    for bad in ({"v": object()}, {"v": float("nan")}, {"v": Decimal("NaN")}):
        with pytest.raises(MemoryFileError):
            write_json_atomic(path, bad)
    assert read_json(path) == ({"v": 1}, None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_a_failed_rename_leaves_the_old_content_and_no_temp_file(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "state.json"
    write_json_atomic(path, {"v": 1})
    real_replace = os.replace

    def replace_fails_for_the_main_file(src: Any, dst: Any) -> None:
        if Path(dst) == path:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_fails_for_the_main_file)
    with pytest.raises(MemoryFileError) as raised:
        write_json_atomic(path, {"v": 2})
    assert "No space left on device" in raised.value.message and str(path) in raised.value.message
    monkeypatch.undo()
    assert read_json(path) == ({"v": 1}, None)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_writer_killed_at_any_moment_leaves_the_old_or_the_new_content(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.json"
    versions = {json.dumps(content(v), sort_keys=True) for v in "AB"}
    for kill_after in (1, 4, 9):
        child = subprocess.Popen([sys.executable, "-m", "tests.memory.atomic_writer_process", str(path)],
                                 cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None
            for line in child.stdout:
                if line.strip() == f"wrote {kill_after}":
                    break
            child.send_signal(signal.SIGKILL)
        finally:
            child.kill()
            child.wait(timeout=30)
        data, warning = read_json(path)
        assert warning is None
        assert json.dumps(data, sort_keys=True) in versions
        assert json.dumps(json.loads((tmp_path / "checkpoint.json.prev").read_text()), sort_keys=True) in versions


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
    | st.decimals(allow_nan=False, allow_infinity=False, places=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


def _as_written(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, list):
        return [_as_written(item) for item in value]
    if isinstance(value, dict):
        return {key: _as_written(item) for key, item in value.items()}
    return value


@pytest.fixture(scope="module")
def round_trip_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("round_trip") / "memory.json"


@settings(max_examples=100)
@given(data=json_values)
def test_round_trip_of_json_data_with_decimals_as_strings(round_trip_path: Path, data: Any) -> None:
    path = round_trip_path
    write_json_atomic(path, data)
    assert read_json(path) == (_as_written(data), None)
    if isinstance(data, Decimal):
        assert Decimal(read_json(path)[0]) == data


def test_memory_store_files_and_names(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path / "home")
    store.write_performance_metrics({"sharpe": 1.2})
    store.write_portfolio_state({"cash": Decimal("1000")})
    store.write_engine_checkpoint({"last_event_ms": 1_700_000_000_000})
    assert store.read_performance_metrics() == ({"sharpe": 1.2}, None)
    assert store.read_portfolio_state() == ({"cash": "1000"}, None)
    assert store.read_engine_checkpoint() == ({"last_event_ms": 1_700_000_000_000}, None)
    assert store.read_engine_checkpoint() == store.read_engine_checkpoint()
    assert sorted(p.name for p in (tmp_path / "home").iterdir()) == [
        "checkpoint.json", "performance_metrics.json", "portfolio_state.json"]


def test_memory_store_counts_a_non_object_as_corrupt(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path)
    store.write_portfolio_state({"cash": "1"})
    store.write_portfolio_state({"cash": "2"})
    (tmp_path / "portfolio_state.json").write_text("[1, 2]")
    data, warning = store.read_portfolio_state()
    assert data == {"cash": "1"} and warning is not None and "expected a JSON object" in warning


def test_history_goes_to_the_month_of_the_record(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path)
    jan_31, feb_1 = 1_706_745_599_000, 1_706_745_600_000  # 2024-01-31T23:59:59Z, 2024-02-01T00:00:00Z
    store.append_history({"time_ms": jan_31, "lesson": "widen stop", "value": Decimal("1.5")})
    store.append_history({"time_ms": feb_1, "lesson": "tighten"})
    assert (tmp_path / "history" / "2024-01.jsonl").read_text().splitlines() == [
        json.dumps({"time_ms": jan_31, "lesson": "widen stop", "value": "1.5"}, ensure_ascii=False)]
    assert store.read_history(feb_1) == ([{"time_ms": feb_1, "lesson": "tighten"}], [])


def test_a_torn_history_line_spoils_only_itself(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path)
    store.append_history({"time_ms": 0, "n": 1})
    with store.history_path(0).open("a") as handle:
        handle.write('{"time_ms": 0, "n": 2')
    store.append_history({"time_ms": 0, "n": 3})
    records, warnings = store.read_history(0)
    assert [record["n"] for record in records] == [1, 3]
    assert len(warnings) == 1 and "line 2" in warnings[0]


def test_history_needs_the_time_of_the_record(tmp_path: Path) -> None:
    with pytest.raises(MemoryFileError):
        MemoryStore(tmp_path).append_history({"lesson": "no time"})
