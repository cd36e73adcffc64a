"""A journal writer to be SIGKILLed by test_crash (run as python -m tests.memory.crash_writer_process).

Each round i: inside one batch, 100 decisions, then the order intent cx-test-i (which commits the batch so
far and prints "intent cx-test-i" once it returned), then 100 more decisions. With `--block-at N` it stops
inside round N's batch, after the intent, and waits on stdin until it is killed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from memory.journal import Journal
from tests.memory.factories import decision, limit_buy

ROUNDS = 5_000
HALF = 100


def main(path: str, block_at: int | None) -> None:
    journal = Journal(Path(path))
    for i in range(1, ROUNDS + 1):
        with journal.batch():
            for _ in range(HALF):
                journal.record_decision(decision(i))
            order = limit_buy(i)
            journal.record_order_intent(order, time_ms=i, strategy="momentum", position_id=None, reason="crash test")
            print(f"intent {order.client_order_id}", flush=True)
            for _ in range(HALF):
                journal.record_decision(decision(i))
            if i == block_at:
                print("blocked mid-batch", flush=True)
                sys.stdin.readline()
    print("finished", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[2] == "--block-at" else None)
