"""An asyncio event loop on a daemon thread: the fake servers run on it while the synchronous clients under test
(the Binance SDK's REST client, openai's sync client) call them from the test's own thread."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Coroutine
from typing import Any

START_STOP_TIMEOUT_S = 10


class LoopThread:
    def __init__(self, name: str) -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._loop is not None

    def start(self, serve: Coroutine[Any, Any, None]) -> None:
        """Start the loop and run `serve` (which binds the server) on it; returns once it has."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name=self._name, daemon=True)
        self._thread.start()
        self.run(serve)

    def run(self, work: Coroutine[Any, Any, Any]) -> Any:
        """Run `work` on the loop and wait for its result."""
        assert self._loop is not None, f"{self._name} is not running"
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=START_STOP_TIMEOUT_S)

    def stop(self, shutdown: Coroutine[Any, Any, None]) -> None:
        """Run `shutdown` on the loop, then stop and close it (nothing when it is not running)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            shutdown.close()
            return
        self.run(shutdown)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=START_STOP_TIMEOUT_S)
        loop.close()
        self._loop = self._thread = None


def serve_until_signalled(stop: Callable[[], None]) -> None:
    """Block until SIGINT or SIGTERM, then call `stop`: how a fake started by hand (`python -m …`) runs."""
    stopping = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    stopping.wait()
    stop()
