"""A separate process that claims and completes commands until the queue is empty (run by test_commands).

Usage: python -m tests.memory.claimer_process JOURNAL_PATH NAME. Prints "ready", waits for a line on stdin,
then claims; prints the claimed ids as one JSON list at the end.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from memory.journal import Journal


def main(path: str, name: str) -> None:
    claimed: list[int] = []
    with Journal(Path(path)) as journal:
        print("ready", flush=True)
        sys.stdin.readline()
        while batch := journal.claim_commands(limit=2):
            for command in batch:
                claimed.append(command.id)
                journal.complete_command(command.id, {"by": name}, time_ms=command.created_ms + 1)
    print(json.dumps(claimed), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
