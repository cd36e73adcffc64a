"""Run one `executor.py` command in this process and die (os._exit(137), as SIGKILL would) at the Nth write
boundary: just before and just after every journal COMMIT, before every memory-file write, and before every
request that reaches the exchange. `CRASH_AT=N`; a run that gets past every boundary exits normally.

Used by tests/runtime/test_state_integrity.py: not a test module itself.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from typing import Any

from exchange.paper import PaperExchange
from memory import database, files

CRASH_AT = int(os.environ["CRASH_AT"])
_seen = 0


def boundary() -> None:
    global _seen
    _seen += 1
    if _seen == CRASH_AT:
        os._exit(137)


class _Connection:
    """An sqlite3 connection whose COMMITs are crash points."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        object.__setattr__(self, "_conn", conn)

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql.strip().upper() != "COMMIT":
            return self._conn.execute(sql, *args)
        boundary()
        cursor = self._conn.execute(sql, *args)
        boundary()
        return cursor

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._conn, name, value)


def _patch() -> None:
    original_init = database.Database.__init__

    def init(self: database.Database, *args: Any, **kwargs: Any) -> None:
        connect = sqlite3.connect

        def crashing_connect(*a: Any, **k: Any) -> Any:
            return _Connection(connect(*a, **k))

        database.sqlite3.connect = crashing_connect  # type: ignore[assignment]
        try:
            original_init(self, *args, **kwargs)
        finally:
            database.sqlite3.connect = connect  # type: ignore[assignment]

    database.Database.__init__ = init  # type: ignore[method-assign]

    original_write = files.write_json_atomic

    def write(*args: Any, **kwargs: Any) -> None:
        boundary()
        original_write(*args, **kwargs)

    files.write_json_atomic = write  # type: ignore[assignment]
    for name in ("place_order", "place_oco", "cancel_order", "cancel_order_list"):
        method = getattr(PaperExchange, name)

        def crossing(self: PaperExchange, *args: Any, _method: Any = method, **kwargs: Any) -> Any:
            boundary()
            return _method(self, *args, **kwargs)

        setattr(PaperExchange, name, crossing)


if __name__ == "__main__":
    _patch()
    import memory.home_state  # binds write_json_atomic at import: patched above, before this import

    assert memory.home_state.write_json_atomic is files.write_json_atomic
    import executor

    sys.exit(executor.main(sys.argv[1:]))
