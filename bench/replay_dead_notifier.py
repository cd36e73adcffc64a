"""A dead notifier against none: does a replay slow down when Telegram and Discord never answer?

    .venv/bin/python bench/replay_dead_notifier.py [--steps N] [--repeat N] [--seed N]

Runs `run --mode replay --synthetic` in-process (as `executor.py run` does), in turn with no notifier, with
Telegram and both Discord webhooks pointed at a loopback server that answers at once, and at one that accepts
every connection and never answers (every send hangs until its timeout, then retries). A notifier costs the
replay its alerts queued in the journal and the daily reports built (charts) on the report thread: the answering
variant shows that cost, the hanging one what a dead service adds. Prints, per variant, the median of:
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


@contextmanager
def answering_server() -> Iterator[str]:
    """Telegram's `{"ok": true}` to every /bot… call, a webhook's 204 to everything else, at once."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = b'{"ok": true, "result": {}}' if self.path.startswith("/bot") else b""
            self.send_response(200 if body else 204)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def notifier_env(base: str) -> dict[str, str]:
    return {"TELEGRAM_BOT_TOKEN": "123:bench", "TELEGRAM_CHAT_ID": "-10042", "TELEGRAM_API_BASE": base,
            "DISCORD_WEBHOOK_EXECUTION": f"{base}/api/webhooks/1/bench",
            "DISCORD_WEBHOOK_RESEARCH": f"{base}/api/webhooks/2/bench"}


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
    results: dict[str, list[tuple[float, float, int]]] = {"no notifier": [], "answering notifier": [],
                                                          "hanging notifier": []}
    with hanging_server() as dead, answering_server() as alive:
        variants = {"no notifier": {}, "answering notifier": notifier_env(alive),
                    "hanging notifier": notifier_env(dead)}
        one_run(options.steps, options.seed, {})  # warm-up: imports, the first synthetic market
        for _ in range(options.repeat):
            for name, env in variants.items():
                results[name].append(one_run(options.steps, options.seed, env))
    base = median([r[0] for r in results["no notifier"]])
    print(f"synthetic replay, seed {options.seed}, {options.steps} steps, median of {options.repeat} alternating runs")
    for name, runs in results.items():
        replay, whole = median([r[0] for r in runs]), median([r[1] for r in runs])
        pending = max(r[2] for r in runs)
        print(f"{name:18s} replay {replay:6.2f} s ({(replay / base - 1) * 100:+5.1f} %)   whole run {whole:6.2f} s"
              f"   alerts left pending {pending}")


if __name__ == "__main__":
    main()
