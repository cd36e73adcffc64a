"""A dead notifier against none: does a replay slow down when Telegram and Discord never answer?

    .venv/bin/python bench/replay_dead_notifier.py [--steps N] [--repeat N] [--seed N]

Runs `run --mode replay --synthetic` in-process (as `executor.py run` does), alternately with no notifier and
with Telegram and both Discord webhooks pointed at a loopback server that accepts every connection and never
answers (the alert sender's sends hang until their timeout, then retry). Prints, per variant, the median of:
  - replay: from the start of `run` to the end of the data (every event through the engine and the journal,
    every alert queued in the outbox),
  - whole run: the same plus closing, which gives pending alerts up to ALERT_DRAIN_S to go out (bounded; what
    is left waits in the outbox for the next start),
and the alerts left pending by the hanging variant. Target (issue 14): the replay with a hanging notifier
within 10 % of the one without. This is a benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import socket
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import executor  # noqa: E402
from runtime.runner import Runner  # noqa: E402

NOTIFIER_VARIABLES = ("TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID", "TELEGRAM_API_BASE", "DISCORD_WEBHOOK_EXECUTION",
                      "DISCORD_WEBHOOK_RESEARCH", "ALERTS")


@contextmanager
def hanging_server() -> Iterator[str]:
    """A TCP server on 127.0.0.1 that accepts connections, reads nothing and answers nothing."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=1)
        for conn in held:
            conn.close()
        listener.close()


def one_run(steps: int, seed: int, env: dict[str, str]) -> tuple[float, float, int]:
    """(replay seconds, whole run seconds, alerts left pending) of one replay in a fresh home."""
    marks: dict[str, float] = {}
    original_close = Runner.close

    def timed_close(self: Runner, finished: bool) -> dict[str, object]:
        marks.setdefault("replayed", time.perf_counter())
        return original_close(self, finished)

    saved = {name: os.environ.pop(name) for name in NOTIFIER_VARIABLES if name in os.environ}
    os.environ.update(env)
    Runner.close = timed_close  # type: ignore[method-assign]
    try:
        with tempfile.TemporaryDirectory() as home:
            args = executor.build_parser().parse_args(
                ["run", "--mode", "replay", "--synthetic", "--seed", str(seed), "--steps", str(steps), "--no-view",
                 "--home", home, "--format", "json"])
            started = time.perf_counter()
            result = executor.cmd_run(args)
            ended = time.perf_counter()
            assert result["finished"], result
            with sqlite3.connect(Path(home) / "journal.db") as conn:
                pending = conn.execute("SELECT COUNT(*) FROM alert_outbox WHERE status = 'pending'").fetchone()[0]
    finally:
        Runner.close = original_close  # type: ignore[method-assign]
        for name in env:
            os.environ.pop(name, None)
        os.environ.update(saved)
    return marks["replayed"] - started, ended - started, int(pending)


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=11)
    options = parser.parse_args()
    results: dict[str, list[tuple[float, float, int]]] = {"no notifier": [], "hanging notifier": []}
    with hanging_server() as dead:
        hanging = {"TELEGRAM_BOT_TOKEN": "123:bench", "TELEGRAM_CHAT_ID": "-10042", "TELEGRAM_API_BASE": dead,
                   "DISCORD_WEBHOOK_EXECUTION": f"{dead}/api/webhooks/1/bench",
                   "DISCORD_WEBHOOK_RESEARCH": f"{dead}/api/webhooks/2/bench"}
        one_run(options.steps, options.seed, {})  # warm-up: imports, the first synthetic market
        for _ in range(options.repeat):
            results["no notifier"].append(one_run(options.steps, options.seed, {}))
            results["hanging notifier"].append(one_run(options.steps, options.seed, hanging))
    base = median([r[0] for r in results["no notifier"]])
    print(f"synthetic replay, seed {options.seed}, {options.steps} steps, median of {options.repeat} alternating runs")
    for name, runs in results.items():
        replay, whole = median([r[0] for r in runs]), median([r[1] for r in runs])
        pending = max(r[2] for r in runs)
        print(f"{name:17s} replay {replay:6.2f} s ({(replay / base - 1) * 100:+5.1f} %)   whole run {whole:6.2f} s"
              f"   alerts left pending {pending}")


if __name__ == "__main__":
    main()
