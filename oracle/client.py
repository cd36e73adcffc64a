"""A small pool of ``python -m oracle --serve`` workers behind a blocking, thread-safe API.

Guarantees: every call returns an ``OracleResult`` (a document or a typed error) within its deadline
plus ``grace_s``; it never raises and never hangs. A worker that exits is replaced; a worker that
misses a deadline by more than ``grace_s`` is considered wedged (the worker enforces the same
deadline itself, so a healthy one always answers in time), killed and replaced. Requests it still
held fail with a typed error.

    with OracleClient(workers=4) as oracle:
        results = oracle.analyse_many(["BTCUSDT", "ETHUSDT"], deadline_s=3.0)
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from oracle.errors import OracleError
from oracle.model import RESULT_ADAPTER, OracleResult
from oracle.service import DEFAULT_DEPTH, MAX_BATCH_REQUESTS

log = logging.getLogger("oracle.client")

_STOP = object()
# Workers that died before their ready line, in a row: past this the environment is broken (a missing
# dependency, a wrong interpreter) and waiting out the deadline would only hide why.
MAX_START_FAILURES = 3
# The folder that holds the `oracle` package. A worker imports the package from here whatever the caller's
# working directory (an agent's exec tool and an MCP host start us anywhere): see `worker_command`.
PACKAGE_PARENT = Path(__file__).resolve().parent.parent


def worker_command(base_url: str | None = None) -> list[str]:
    """The argv of a `python -m oracle --serve` worker. `-P` keeps the working directory off the worker's
    `sys.path`, so a folder named `oracle` wherever we were started can never be imported instead of ours."""
    argv = [sys.executable, "-P", "-m", "oracle", "--serve"]
    return argv if base_url is None else [*argv, "--base-url", base_url]


# What a worker inherits from the caller's environment: what Python, TLS and the locale need, and the oracle's own
# settings. Nothing else: the executor's environment holds exchange keys, bot tokens and LLM keys, and a worker
# that fetches public order books needs none of them (a crash dump or a debug log of the worker cannot leak them).
_INHERITED_NAMES = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "TZ", "TMPDIR", "TEMP", "TMP", "SYSTEMROOT", "VIRTUAL_ENV",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "PYTHONPATH", "PYTHONHOME", "PYTHONDONTWRITEBYTECODE", "PYTHONHASHSEED",
    "PYTHONPYCACHEPREFIX", "PYTHONUTF8", "PYTHONIOENCODING", "BINANCE_BASE_URL",
})
_INHERITED_PREFIXES = ("LC_", "ORACLE_")


def inherited_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The part of `env` a worker may see (`_INHERITED_NAMES`, `LC_*`, `ORACLE_*`)."""
    return {name: value for name, value in env.items()
            if name in _INHERITED_NAMES or name.startswith(_INHERITED_PREFIXES)}


def worker_environment(env: Mapping[str, str]) -> dict[str, str]:
    """`env` with PACKAGE_PARENT first on PYTHONPATH (the caller's own entries kept after it), so the worker
    finds this package from any working directory, from an environment that names no path at all, and
    before any other `oracle` on the caller's path."""
    inherited = [entry for entry in env.get("PYTHONPATH", "").split(os.pathsep) if entry]
    return {**env, "PYTHONPATH": os.pathsep.join([str(PACKAGE_PARENT), *inherited])}


class _Worker:
    """One subprocess, a writer thread (a wedged worker cannot block callers on a full pipe) and
    a reader thread that routes answers to the waiting futures by request id."""

    def __init__(self, argv: list[str], env: Mapping[str, str], on_event: Any) -> None:
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=dict(env))
        self.ready = threading.Event()
        self.pending: dict[int, Future[OracleResult]] = {}
        self.failure = OracleError("DATA_OUTAGE", "oracle worker exited", {"reason": "worker_exited"})
        self._lock = threading.Lock()
        self._killed = False
        self._outbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._on_event = on_event
        self._reader = threading.Thread(target=self._read, name=f"oracle-read-{self.proc.pid}", daemon=True)
        self._writer = threading.Thread(target=self._write, name=f"oracle-write-{self.proc.pid}", daemon=True)
        self._reader.start()
        self._writer.start()

    @property
    def alive(self) -> bool:
        return not self._killed and self.proc.poll() is None

    def send(self, request_id: int, payload: Mapping[str, Any]) -> Future[OracleResult]:
        future: Future[OracleResult] = Future()
        with self._lock:
            if not self.alive:
                future.set_result(self.failure.to_result(request_id))
                return future
            self.pending[request_id] = future
        self._outbox.put(json.dumps({**payload, "id": request_id}).encode() + b"\n")
        return future

    def send_batch(self, request_ids: list[int], symbols: list[str],
                   payload: Mapping[str, Any]) -> list[Future[OracleResult]]:
        """One batch line; each symbol's answer comes back on its own line under its own id."""
        futures: list[Future[OracleResult]] = [Future() for _ in request_ids]
        with self._lock:
            if not self.alive:
                for request_id, future in zip(request_ids, futures, strict=True):
                    future.set_result(self.failure.to_result(request_id))
                return futures
            self.pending.update(zip(request_ids, futures, strict=True))
        items = [{"id": i, "symbol": s} for i, s in zip(request_ids, symbols, strict=True)]
        self._outbox.put(json.dumps({**payload, "kind": "batch", "requests": items}).encode() + b"\n")
        return futures

    def forget(self, request_id: int) -> None:
        with self._lock:
            self.pending.pop(request_id, None)

    def kill(self, failure: OracleError) -> None:
        with self._lock:
            self.failure = failure
            self._killed = True
        self.proc.kill()

    def close(self, failure: OracleError, timeout_s: float) -> None:
        """End of input lets the worker finish in-flight requests; kill it if it takes too long."""
        self.failure = failure
        self._outbox.put(_STOP)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout_s)
        self._writer.join(timeout_s)

    def _write(self) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        try:
            while (item := self._outbox.get()) is not _STOP:
                stdin.write(item)
                stdin.flush()
        except OSError:  # the worker is gone; the reader fails what it held
            pass
        finally:
            with contextlib.suppress(OSError):
                stdin.close()

    def _read(self) -> None:
        stdout = self.proc.stdout
        assert stdout is not None
        for line in stdout:
            self._route(line)
        code = self.proc.wait()
        with self._lock:
            orphans, self.pending = self.pending, {}
        details = {**self.failure.details, "exit_code": code}
        for request_id, future in orphans.items():
            future.set_result(OracleError(self.failure.code, self.failure.message, details)
                              .to_result(request_id))
        self._outbox.put(_STOP)
        self._on_event(self, "exited")

    def _route(self, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            log.error("oracle worker %s printed a non-JSON line: %.200r", self.proc.pid, line)
            return
        if isinstance(message, dict) and message.get("event") == "ready":
            self.ready.set()
            self._on_event(self, "ready")
            return
        request_id = message.get("id") if isinstance(message, dict) else None
        with self._lock:
            future = self.pending.pop(request_id, None) if isinstance(request_id, int) else None
        if future is None:
            log.error("oracle worker %s answered an unknown request: %.200r", self.proc.pid, line)
            return
        try:
            future.set_result(RESULT_ADAPTER.validate_python(message))
        except ValidationError as exc:
            future.set_result(OracleError("DATA_OUTAGE", "oracle worker sent a malformed document",
                                          {"reason": "malformed_answer", "errors": exc.error_count()})
                              .to_result(request_id))


_Sent = tuple[_Worker, int, "Future[OracleResult]"]


class OracleClient:
    """Pool of oracle workers. Thread-safe; use as a context manager for a clean shutdown."""

    def __init__(
        self,
        workers: int = 4,
        *,
        deadline_s: float = 5.0,
        grace_s: float = 1.0,
        base_url: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.deadline_s = deadline_s
        self.grace_s = grace_s
        self._argv = worker_command(base_url)
        self._env = worker_environment({**inherited_environment(os.environ), **(env or {})})
        self._ids = itertools.count(1)
        self._cond = threading.Condition()
        self._closed = False
        self._start_failures = 0
        self._workers = [self._spawn() for _ in range(max(1, workers))]

    def __enter__(self) -> OracleClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def wait_ready(self, timeout_s: float = 15.0) -> bool:
        """Block until every worker has started (imports done); False on timeout."""
        end = time.monotonic() + timeout_s
        with self._cond:
            return self._cond.wait_for(
                lambda: all(w.ready.is_set() for w in self._workers), max(0.0, end - time.monotonic())
            )

    def analyse(self, symbol: str, *, depth: int = DEFAULT_DEPTH, deadline_s: float | None = None) -> OracleResult:
        """Live analysis of one symbol from Binance public REST."""
        return self.request({"symbol": symbol, "depth": depth}, deadline_s)

    def analyse_many(
        self, symbols: Iterable[str], *, depth: int = DEFAULT_DEPTH, deadline_s: float | None = None
    ) -> dict[str, OracleResult]:
        """All symbols in parallel under ONE shared deadline; keyed by the symbol as given.

        The symbols are spread over the ready workers, one batch line per worker, so each worker
        fetches the 24hr and bookTicker tickers of its share in one call each (a share of one symbol
        is an ordinary single request)."""
        deadline = time.monotonic() + (deadline_s or self.deadline_s)
        unique = list(dict.fromkeys(symbols))
        if not unique:
            return {}
        workers = self._ready(deadline)
        if isinstance(workers, OracleError):
            return {s: workers.to_result() for s in unique}
        shares = min(len(workers), len(unique))
        sent: dict[str, _Sent] = {}
        for worker, start in zip(workers, range(shares), strict=False):
            sent.update(self._send_share(worker, unique[start::shares], depth, deadline))
        return {s: self._await(sent[s], deadline) for s in unique}

    def _send_share(self, worker: _Worker, share: list[str], depth: int, deadline: float) -> dict[str, _Sent]:
        sent: dict[str, _Sent] = {}
        for start in range(0, len(share), MAX_BATCH_REQUESTS):
            chunk = share[start:start + MAX_BATCH_REQUESTS]
            ids = [next(self._ids) for _ in chunk]
            remaining_ms = max(1, int((deadline - time.monotonic()) * 1000))
            if len(chunk) == 1:
                futures = [worker.send(ids[0], {"symbol": chunk[0], "depth": depth, "deadline_ms": remaining_ms})]
            else:
                futures = worker.send_batch(ids, chunk, {"depth": depth, "deadline_ms": remaining_ms})
            sent.update({s: (worker, i, f) for s, i, f in zip(chunk, ids, futures, strict=True)})
        return sent

    def analyse_snapshot(
        self,
        symbol: str,
        snapshot: Mapping[str, Any],
        *,
        as_of_ms: int | None = None,
        deadline_s: float | None = None,
    ) -> OracleResult:
        """Analyse given data (Binance REST depth shape, optionally "trades"/"ticker") with no network."""
        return self.request({"symbol": symbol, "snapshot": dict(snapshot), "as_of_ms": as_of_ms}, deadline_s)

    def request(self, payload: Mapping[str, Any], deadline_s: float | None = None) -> OracleResult:
        """Any request line (see ``oracle.service.Request``); ``id`` and ``deadline_ms`` are set here."""
        deadline = time.monotonic() + (deadline_s or self.deadline_s)
        return self._await(self._submit(payload, deadline), deadline)

    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            workers = list(self._workers)
        closed = OracleError("DATA_OUTAGE", "oracle client closed", {"reason": "client_closed"})
        for worker in workers:
            worker.close(closed, timeout_s=2.0)

    # -- internals -------------------------------------------------------------------------------

    def _spawn(self) -> _Worker:
        return _Worker(self._argv, self._env, self._on_worker_event)

    def _on_worker_event(self, worker: _Worker, event: str) -> None:
        """Reader threads report here. A worker that had been healthy is replaced at once; one that
        died while starting is replaced on the next call (no respawn storm when startup is broken)."""
        with self._cond:
            if event == "ready":
                self._start_failures = 0
            if event == "exited" and worker.ready.is_set() and not self._closed and worker in self._workers:
                log.warning("oracle worker %s exited (%s); replacing it", worker.proc.pid, worker.failure.message)
                self._workers[self._workers.index(worker)] = self._spawn()
            self._cond.notify_all()

    def _pick(self, deadline: float) -> _Worker | OracleError:
        ready = self._ready(deadline)
        return ready if isinstance(ready, OracleError) else ready[0]

    def _ready(self, deadline: float) -> list[_Worker] | OracleError:
        """The ready workers, least busy first; waits for one until the deadline."""
        with self._cond:
            while True:
                if self._closed:
                    return OracleError("DATA_OUTAGE", "oracle client closed", {"reason": "client_closed"})
                for i, worker in enumerate(self._workers):
                    if not worker.alive and not worker.ready.is_set():
                        self._start_failures += 1
                        if self._start_failures >= MAX_START_FAILURES:
                            return OracleError(
                                "DATA_OUTAGE", f"oracle workers exit while starting ({self._start_failures} in a "
                                f"row, last exit code {worker.proc.returncode}); their error is on stderr",
                                {"reason": "worker_start_failed", "exit_code": worker.proc.returncode})
                        self._workers[i] = self._spawn()
                ready = [w for w in self._workers if w.ready.is_set() and w.alive]
                if ready:
                    return sorted(ready, key=lambda w: len(w.pending))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return OracleError("DEADLINE", "no oracle worker became ready before the deadline",
                                       {"reason": "no_worker_ready"})
                self._cond.wait(min(remaining, 0.5))

    def _submit(self, payload: Mapping[str, Any], deadline: float) -> _Sent | OracleError:
        worker = self._pick(deadline)
        if isinstance(worker, OracleError):
            return worker
        request_id = next(self._ids)
        remaining_ms = max(1, int((deadline - time.monotonic()) * 1000))
        return worker, request_id, worker.send(request_id, {**payload, "deadline_ms": remaining_ms})

    def _await(self, sent: _Sent | OracleError, deadline: float) -> OracleResult:
        if isinstance(sent, OracleError):
            return sent.to_result()
        worker, request_id, future = sent
        try:
            return future.result(timeout=max(0.0, deadline - time.monotonic()) + self.grace_s)
        except FutureTimeout:
            if future.done():
                return future.result()
            worker.forget(request_id)
            hung = OracleError("DEADLINE", "oracle worker did not answer in time; it was killed and replaced",
                               {"reason": "worker_hung", "pid": worker.proc.pid})
            worker.kill(hung)
            return hung.to_result(request_id)
