"""``--serve``: a persistent worker speaking JSON lines on stdin/stdout.

Protocol: the worker first prints ``{"event": "ready", "pid": N, "schema_version": "..."}``, then
answers each request line (``oracle.service.Request``) with one ``OracleResult`` line echoing its
``id``. Requests run concurrently on one asyncio loop, so answers may come out of order. A line that
is not a JSON object, or does not match the schema, gets an INVALID_REQUEST line (``id`` echoed when
it could be read). On end of input the worker finishes in-flight requests and exits 0.

A batch line (``oracle.service.BatchRequest``: ``{"kind": "batch", "requests": [{"id": 1, "symbol":
"BTCUSDT"}, ...], "depth": 100, "deadline_ms": 3000}``) gets one ordinary answer line per item, each
echoing the item's ``id``. A batch line that does not match the schema gets one INVALID_REQUEST line
per item id it could read (one line without an id when it could read none).

Test hooks (only when the environment has ``ORACLE_TEST_HOOKS=1``; otherwise these kinds are
ordinary invalid requests): ``{"kind": "test-hang", "seconds": S}`` blocks the worker's whole
event loop for S seconds (a wedged worker), ``{"kind": "test-crash", "exit_code": N}`` exits the
process at once. They exist so the client's kill-and-replace path can be tested for real.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import IO, Any

from pydantic import ValidationError

from oracle.errors import OracleError
from oracle.fetch import Fetcher
from oracle.model import SCHEMA_VERSION, OracleResult, dump_line
from oracle.service import BatchRequest, Request, handle, handle_batch, invalid_request

TEST_HOOKS_ENV = "ORACLE_TEST_HOOKS"
MAX_LINE_BYTES = 16 * 1024 * 1024
_TOO_LONG = b"\x00too-long"


def _read_line(stream: IO[bytes]) -> bytes | None:
    """One request line (None at end of input); an over-long line is drained and flagged."""
    line = stream.readline(MAX_LINE_BYTES + 1)
    if not line:
        return None
    if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
        while (rest := stream.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
            pass
        return _TOO_LONG
    return line


class Worker:
    def __init__(self, fetcher: Fetcher, out: IO[bytes], test_hooks: bool) -> None:
        self.fetcher = fetcher
        self.out = out
        self.test_hooks = test_hooks

    def emit(self, payload: OracleResult | dict[str, Any]) -> None:
        text = json.dumps(payload) if isinstance(payload, dict) else dump_line(payload)
        self.out.write(text.encode() + b"\n")
        self.out.flush()

    async def respond(self, line: bytes) -> None:
        if line is _TOO_LONG:
            self.emit(OracleError("INVALID_REQUEST", f"request line longer than {MAX_LINE_BYTES} bytes")
                      .to_result())
            return
        try:
            raw = json.loads(line)
        except ValueError:
            self.emit(OracleError("INVALID_REQUEST", "request line is not JSON",
                                  {"line": line[:200].decode(errors="replace")}).to_result())
            return
        if not isinstance(raw, dict):
            self.emit(OracleError("INVALID_REQUEST", "request must be a JSON object").to_result())
            return
        raw_id = raw.get("id")
        request_id = raw_id if isinstance(raw_id, int | str) and not isinstance(raw_id, bool) else None
        if self.test_hooks and raw.get("kind") in ("test-hang", "test-crash"):
            self._test_hook(raw)
        if raw.get("kind") == "batch":
            await self._batch(raw)
            return
        try:
            request = Request.model_validate(raw)
        except ValidationError as exc:
            self.emit(invalid_request(exc, request_id))
            return
        self.emit(await handle(request, self.fetcher))

    async def _batch(self, raw: dict[str, Any]) -> None:
        try:
            batch = BatchRequest.model_validate(raw)
        except ValidationError as exc:
            items = raw.get("requests")
            ids = [item.get("id") for item in items if isinstance(item, dict)] if isinstance(items, list) else []
            ids = [i for i in ids if isinstance(i, int | str) and not isinstance(i, bool)]
            for request_id in ids or [None]:
                self.emit(invalid_request(exc, request_id))
            return
        await handle_batch(batch, self.fetcher, self.emit)

    @staticmethod
    def _test_hook(raw: dict[str, Any]) -> None:
        if raw["kind"] == "test-crash":
            os._exit(int(raw.get("exit_code", 3)))
        time.sleep(float(raw.get("seconds", 3600)))  # deliberately blocks the event loop

    async def serve(self, stdin: IO[bytes]) -> None:
        loop = asyncio.get_running_loop()
        self.emit({"event": "ready", "pid": os.getpid(), "schema_version": SCHEMA_VERSION})
        tasks: set[asyncio.Task[None]] = set()
        while (line := await loop.run_in_executor(None, _read_line, stdin)) is not None:
            task = asyncio.create_task(self.respond(line))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)
        await self.fetcher.aclose()


async def serve(base_url: str) -> None:
    """Run the worker on this process's stdin/stdout until end of input."""
    worker = Worker(Fetcher(base_url), sys.stdout.buffer, os.environ.get(TEST_HOOKS_ENV) == "1")
    await worker.serve(sys.stdin.buffer)
