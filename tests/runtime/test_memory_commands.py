"""`memory history|show|diff|rollback` on the real command line, from another folder, on a home a real run wrote;
and a starting executor resuming from the newest valid memory version."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.types import OrderRequest, OrderType, Side
from memory.journal import Journal
from memory.versions import LearnedVersions, VersionInvalid
from runtime.learned_memory import entries_in_flight
from runtime.lock import SingleWriterLock
from tests.conftest import REPO_ROOT
from tests.runtime.helpers import cli_env, query, replace_checkpoint, saved_checkpoint

RUN = ("run", "--mode", "replay", "--synthetic", "--seed", "7", "--steps", "2500", "--no-view",
       "--checkpoint-every", "500")
SECRETS = {"BINANCE_API_KEY": "k3yABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijkl",
           "BINANCE_API_SECRET": "s3cretABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefgh",
           "DEEPSEEK_API_KEY": "sk-deepseekSECRET0123456789abcdef"}


def executor(home: Path, cwd: Path, *args: str, fmt: str = "json", **env: str) -> tuple[int, Any]:
    """One command, run from `cwd` (not the repository): (exit code, the envelope, or the text for --format text)."""
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "executor.py"), *args, "--home", str(home), "--format",
                           fmt], capture_output=True, text=True, timeout=300, cwd=cwd, env=cli_env(home, **env))
    return proc.returncode, json.loads(proc.stdout) if fmt == "json" else proc.stdout


@pytest.fixture(scope="module")
def ran_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("ran") / "home"
    cwd = tmp_path_factory.mktemp("cwd")
    code, answer = executor(home, cwd, *RUN, **SECRETS)
    assert code == 0, answer
    # 42 minutes of market: no UTC midnight, so no daily adjustment; the run wrote the configured mix as version 1.
    assert answer["data"]["memory_version"] == 1, answer["data"]
    for _ in range(2):  # two adjustments on demand: versions 2 and 3, with their evidence
        code, answer = executor(home, cwd, "memory", "adapt", **SECRETS)
        assert code == 0, answer
    return home


@pytest.fixture
def home(ran_home: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "home"
    shutil.copytree(ran_home, copy)
    return copy


def test_memory_files_are_private_and_hold_no_secret(ran_home: Path) -> None:
    folder = ran_home / "memory"
    key = (folder / "learned.key").read_text().strip()
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert len(files) >= 4
    for path in files:
        assert oct(path.stat().st_mode & 0o777) == "0o600", path
        if path.name != "learned.key":
            text = path.read_text()
            assert key not in text
            for secret in SECRETS.values():
                assert secret not in text and secret[:12] not in text, (path, secret)


def test_history_show_diff_from_another_folder(home: Path, tmp_path: Path) -> None:
    code, answer = executor(home, tmp_path, "memory", "history")
    assert code == 0 and answer["ok"], answer
    data = answer["data"]
    numbers = [row["version"] for row in data["versions"]]
    assert numbers == list(range(1, len(numbers) + 1)) and data["current"] == numbers[-1]
    code, shown = executor(home, tmp_path, "memory", "show", "2")
    assert code == 0 and shown["data"]["learned"] == LearnedVersions(home).read(2).learned
    code, changed = executor(home, tmp_path, "memory", "diff", "1", str(numbers[-1]))
    assert code == 0 and changed["data"]["changes"], changed
    code, text = executor(home, tmp_path, "memory", "history", fmt="text")
    assert code == 0 and f"current version: {numbers[-1]}" in text and "  v1  " in text
    code, text = executor(home, tmp_path, "memory", "diff", "1", "2", fmt="text")
    assert code == 0 and text.startswith("version 1 -> 2:")


def test_rollback_restores_exactly_and_is_journaled(home: Path, tmp_path: Path) -> None:
    versions = LearnedVersions(home)
    last = versions.numbers()[-1]
    code, answer = executor(home, tmp_path, "memory", "rollback", "2")
    assert code == 0 and answer["ok"], answer
    assert answer["data"]["version"] == last + 1 and answer["data"]["rolled_back_from"] == 2
    current, _ = versions.current()
    assert current is not None and current.number == last + 1 and current.learned == versions.read(2).learned
    assert query(home / "journal.db", "SELECT restored_version, previous_version, new_version FROM "
                                      "memory_rollbacks") == [(2, last, last + 1)]
    code, text = executor(home, tmp_path, "memory", "history", fmt="text")
    assert f"version 2 restored as version {last + 1} (was {last})" in text


@pytest.mark.parametrize("bad", ["0", "-1", "1e9", "abc"])
@pytest.mark.parametrize("action", ["show", "diff", "rollback"])
def test_bad_version_numbers_exit_2(home: Path, tmp_path: Path, action: str, bad: str) -> None:
    args = ("memory", action, bad, "1") if action == "diff" else ("memory", action, bad)
    code, answer = executor(home, tmp_path, *args)
    assert code == 2 and answer["error"]["code"] == "INVALID_ARGUMENT" and bad in answer["error"]["message"]


def test_an_unknown_version_exits_2_and_writes_nothing(home: Path, tmp_path: Path) -> None:
    before = LearnedVersions(home).numbers()
    code, answer = executor(home, tmp_path, "memory", "rollback", "999999")
    assert code == 2 and "does not exist" in answer["error"]["message"]
    assert LearnedVersions(home).numbers() == before


def test_rollback_refused_while_run_holds_the_home(home: Path, tmp_path: Path) -> None:
    before = LearnedVersions(home).numbers()
    with SingleWriterLock(home / "executor.lock"):
        code, answer = executor(home, tmp_path, "memory", "rollback", "1")
    assert code == 1 and answer["error"]["code"] == "HOME_LOCKED", answer
    assert LearnedVersions(home).numbers() == before


def test_rollback_refused_with_an_entry_order_not_filled(home: Path, tmp_path: Path) -> None:
    before = LearnedVersions(home).numbers()
    with Journal(home / "journal.db") as journal:
        journal.record_order_intent(OrderRequest(client_order_id="cx-e-test-1", symbol="BTCUSDT", side=Side.BUY,
                                                 type=OrderType.MARKET, quote_order_qty=Decimal("100")),
                                    time_ms=1, strategy="scalping", position_id="pos-1", reason="test")
    code, answer = executor(home, tmp_path, "memory", "rollback", "1")
    assert code == 1 and answer["error"]["code"] == "ENTRY_IN_FLIGHT", answer
    assert "cx-e-test-1" in answer["error"]["message"] and "not filled" in answer["error"]["message"]
    assert LearnedVersions(home).numbers() == before
    assert query(home / "journal.db", "SELECT count(*) FROM memory_rollbacks") == [(0,)]


def test_a_position_without_protection_in_the_checkpoint_is_in_flight(home: Path) -> None:
    document = saved_checkpoint(home)
    assert document is not None
    document["engine"]["holdings"] = {"BTCUSDT": {"position_id": "pos-9", "protection_id": None, "exiting": False}}
    replace_checkpoint(home, document)
    with Journal(home / "journal.db") as journal:
        found = entries_in_flight(journal)
    assert found == ["position pos-9 on BTCUSDT has no protection yet"]


def test_a_start_resumes_from_the_newest_valid_version_and_names_the_file_it_skipped(tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    versions = LearnedVersions(home)
    versions.write({"time_ms": 1, "strategies": {"scalping": {"allocation": 0.5}, "momentum": {"allocation": 0.3},
                                                 "stat_arb": {"allocation": 0.1}}}, 1)
    edited = versions.write({"time_ms": 2, "strategies": {"scalping": {"allocation": 0.2}}}, 2)
    document = json.loads(edited.path.read_text())
    document["learned"]["strategies"]["scalping"]["allocation"] = 0.9
    edited.path.write_text(json.dumps(document))
    os.chmod(edited.path, 0o600)
    code, answer = executor(home, tmp_path, *RUN)
    assert code == 0, answer
    data = answer["data"]
    assert data["resumed_memory_version"] == 1
    assert any(str(edited.path) in w and "checksum" in w for w in data["warnings"]), data["warnings"]
    current, notices = versions.current()
    # No UTC midnight in the run: nothing adjusted, so the version it resumed from stays current, with its mix.
    assert current is not None and current.number == data["memory_version"] == 1
    assert {k: v["allocation"] for k, v in current.learned["strategies"].items()} == {
        "scalping": 0.5, "momentum": 0.3, "stat_arb": 0.1}
    assert notices == [f"{VersionInvalid(edited.path, 'x').message.split(' is refused')[0]} is refused: its "
                       "checksum does not match its content: it was changed by something other than the executor (a "
                       "hand edit, another program, a bad disk); falling back to the previous version"]
    code, status = executor(home, tmp_path, "status")
    lines = {line["strategy"]: line for line in status["data"]["strategy_mix"]}
    assert lines["momentum"]["allocation"] == 0.3 and lines["momentum"]["configured_allocation"] == 0.25
    assert lines["momentum"]["allocation_source"] == "engine checkpoint (configured)"


def test_memory_is_not_an_agent_tool(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "executor.py"), "tools", "--format", "jsonschema"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path, check=True)
    assert not any("memory" in name or "rollback" in name for name in json.loads(proc.stdout))


def test_a_tool_that_restores_the_stopped_engine_journals_the_version_it_skipped(home: Path, tmp_path: Path) -> None:
    versions = LearnedVersions(home)
    newest = versions.path(versions.numbers()[-1])
    document = json.loads(newest.read_text())
    document["learned"]["strategies"]["scalping"]["allocation"] = 0.05
    newest.write_text(json.dumps(document))
    code, answer = executor(home, tmp_path, "pause", "--minutes", "5")
    assert code == 0, answer
    code, status = executor(home, tmp_path, "status")
    errors = [e for e in status["data"]["last_errors"] if e["code"] == "MEMORY_VERSION_INVALID"]
    assert errors and str(newest) in errors[0]["message"] and "checksum" in errors[0]["message"]


def test_adapt_on_demand_writes_a_journaled_version_that_status_shows(home: Path, tmp_path: Path) -> None:
    versions = LearnedVersions(home)
    before = versions.numbers()
    code, answer = executor(home, tmp_path, "memory", "adapt")
    assert code == 0 and answer["ok"], answer
    data = answer["data"]
    assert data["version"] == before[-1] + 1 and data["reason"] == "adapt" and data["previous_version"] == before[-1]
    adaptation = data["adaptation"]
    assert adaptation["trigger"] == "on_demand" and set(adaptation["evidence"]) == {"scalping", "momentum", "stat_arb"}
    written = versions.read(data["version"]).learned
    assert written["adaptation"] == adaptation and written["strategies"]["scalping"]["allocation"] == (
        adaptation["after"]["scalping"])
    notices = query(home / "journal.db", "SELECT message FROM errors WHERE code = 'STRATEGY_MIX'")
    assert len(notices) == 3 and "on_demand" in notices[-1][0]  # the fixture's two, and this one
    code, status = executor(home, tmp_path, "status")
    lines = status["data"]["strategy_mix"]
    assert {line["allocation_source"] for line in lines} == {f"memory version {data['version']} (adapt)"}
    code, text = executor(home, tmp_path, "memory", "adapt", fmt="text")
    assert code == 0 and f"version {data['version'] + 1}" in text and "  scalping: " in text


def test_adapt_refused_while_run_holds_the_home(home: Path, tmp_path: Path) -> None:
    before = LearnedVersions(home).numbers()
    with SingleWriterLock(home / "executor.lock"):
        code, answer = executor(home, tmp_path, "memory", "adapt")
    assert code == 1 and answer["error"]["code"] == "HOME_LOCKED", answer
    assert LearnedVersions(home).numbers() == before
