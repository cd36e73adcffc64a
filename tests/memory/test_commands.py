"""The command queue: a retried request is one command, executed once, never claimed twice."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from memory.journal import CommandStateError, CommandStatus, Journal
from tests.conftest import REPO_ROOT


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / "journal.db") as journal:
        yield journal


def test_a_retried_key_returns_the_same_id_and_runs_once(journal: Journal) -> None:
    first = journal.enqueue_command("trade", {"symbol": "BTCUSDT", "quote": "25"}, "req-42", time_ms=1)
    retried = journal.enqueue_command("trade", {"symbol": "BTCUSDT", "quote": "25"}, "req-42", time_ms=2)
    assert retried == first
    claimed = journal.claim_commands()
    assert [(c.id, c.kind, c.payload, c.status) for c in claimed] == [
        (first, "trade", {"symbol": "BTCUSDT", "quote": "25"}, CommandStatus.CLAIMED)]
    journal.complete_command(first, {"ok": True}, time_ms=3)
    assert journal.enqueue_command("trade", {"symbol": "BTCUSDT", "quote": "25"}, "req-42", time_ms=4) == first
    assert journal.claim_commands() == []
    done = journal.command(first)
    assert done is not None
    assert (done.status, done.result, done.completed_ms, done.created_ms) == (CommandStatus.DONE, {"ok": True}, 3, 1)


def test_claims_are_oldest_first_and_limited(journal: Journal) -> None:
    ids = [journal.enqueue_command("pause", {"n": n}, f"k{n}", time_ms=n) for n in range(5)]
    assert [c.id for c in journal.claim_commands(limit=2)] == ids[:2]
    assert [c.id for c in journal.claim_commands(limit=10)] == ids[2:]


def test_completing_twice_or_unclaimed_or_unknown_raises(journal: Journal) -> None:
    queued = journal.enqueue_command("resume", {}, "a", time_ms=1)
    with pytest.raises(CommandStateError):
        journal.complete_command(queued, {"ok": True}, time_ms=2)
    journal.claim_commands()
    journal.complete_command(queued, {"ok": True}, time_ms=2)
    with pytest.raises(CommandStateError) as raised:
        journal.complete_command(queued, {"ok": False}, time_ms=3)
    assert raised.value.details["value"] == "done"
    assert journal.command(queued).result == {"ok": True}  # type: ignore[union-attr]
    with pytest.raises(CommandStateError):
        journal.complete_command(999, {}, time_ms=3)
    assert journal.command(999) is None


def test_claimed_but_never_completed_commands_are_listed_not_reissued(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with Journal(path) as engine:
        command_id = engine.enqueue_command("kill", {}, "k", time_ms=1)
        engine.claim_commands()
    with Journal(path) as restarted:
        assert restarted.claim_commands() == []
        assert [c.id for c in restarted.claimed_commands()] == [command_id]


def test_two_connections_in_threads_never_claim_the_same_command(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with Journal(path) as producer, producer.batch():
        for n in range(200):
            producer.enqueue_command("noop", {"n": n}, f"key-{n}", time_ms=n)
    results: dict[str, list[int]] = {"a": [], "b": []}
    start = threading.Barrier(2)

    def claim_all(name: str) -> None:
        with Journal(path) as journal:
            start.wait()
            while batch := journal.claim_commands(limit=3):
                results[name].extend(command.id for command in batch)

    threads = [threading.Thread(target=claim_all, args=(name,)) for name in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not set(results["a"]) & set(results["b"])
    assert sorted(results["a"] + results["b"]) == list(range(1, 201))


def test_two_processes_never_claim_the_same_command(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with Journal(path) as producer, producer.batch():
        for n in range(300):
            producer.enqueue_command("noop", {"n": n}, f"key-{n}", time_ms=n)
    children = [
        subprocess.Popen([sys.executable, "-m", "tests.memory.claimer_process", str(path), name], cwd=REPO_ROOT,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for name in ("one", "two")
    ]
    try:
        for child in children:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        claimed = [json.loads(child.communicate(timeout=60)[0]) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
    assert all(child.returncode == 0 for child in children)
    assert not set(claimed[0]) & set(claimed[1])
    assert sorted(claimed[0] + claimed[1]) == list(range(1, 301))
    with Journal(path) as journal:
        assert {journal.command(n).status for n in range(1, 301)} == {CommandStatus.DONE}  # type: ignore[union-attr]
