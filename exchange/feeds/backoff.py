"""Reconnect delays: exponential growth with jitter from an injected random generator.

Jitter keeps many clients that lost the same server from reconnecting in lockstep; the generator is
injected so that tests (and replays of an incident) see the same delays for the same seed.
"""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, initial_ms: int = 500, max_ms: int = 30_000, rng: random.Random | None = None) -> None:
        if initial_ms <= 0 or max_ms < initial_ms:
            raise ValueError(f"backoff needs 0 < initial_ms <= max_ms, got {initial_ms}, {max_ms}")
        self.initial_ms = initial_ms
        self.max_ms = max_ms
        self._rng = rng if rng is not None else random.Random()
        self.attempt = 0

    def next_delay_ms(self) -> float:
        """Half the capped exponential delay plus a random part up to the other half."""
        ceiling = min(self.max_ms, self.initial_ms * 2 ** min(self.attempt, 32))
        self.attempt += 1
        return ceiling / 2 + self._rng.random() * ceiling / 2

    def reset(self) -> None:
        self.attempt = 0
