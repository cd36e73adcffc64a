"""Writes two large contents in turn to one memory file until killed (run by test_files).

Usage: python -m tests.memory.atomic_writer_process PATH. Prints "wrote N" after each write.
"""

from __future__ import annotations

import sys
from pathlib import Path

from memory.files import write_json_atomic

WRITES = 10_000


def content(version: str) -> dict[str, object]:
    return {"version": version, "rows": [{"symbol": "BTCUSDT", "weight": version * 40, "n": n} for n in range(2_000)]}


def main(path: str) -> None:
    for n in range(WRITES):
        write_json_atomic(Path(path), content("AB"[n % 2]))
        print(f"wrote {n}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
