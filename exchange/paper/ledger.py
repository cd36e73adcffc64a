"""Account balances with Binance's free/locked split, and the locks that open orders hold.

Each lock belongs to a key (one order, or one order list whose legs share a single lock, as an OCO
locks its quantity once). Amounts are exact `Decimal`s; nothing here rounds.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

ZERO = Decimal(0)


class Ledger:
    def __init__(self, free: Mapping[str, Decimal]) -> None:
        for asset, amount in free.items():
            if amount < ZERO:
                raise ValueError(f"starting balance of {asset} is negative: {amount}")
        self._free: dict[str, Decimal] = {asset: Decimal(amount) for asset, amount in free.items()}
        self._locked: dict[str, Decimal] = dict.fromkeys(self._free, ZERO)
        self._locks: dict[str, tuple[str, Decimal]] = {}

    def free(self, asset: str) -> Decimal:
        return self._free.get(asset, ZERO)

    def locked_by(self, key: str) -> Decimal:
        held = self._locks.get(key)
        return held[1] if held else ZERO

    def lock(self, key: str, asset: str, amount: Decimal) -> None:
        """Move `amount` of `asset` from free to locked under `key`. The caller checked `free` first."""
        if amount > self.free(asset):
            raise ValueError(f"lock of {amount} {asset} exceeds free {self.free(asset)}")
        if key in self._locks:
            raise ValueError(f"lock {key} already held")
        self._free[asset] = self.free(asset) - amount
        self._locked[asset] = self._locked.get(asset, ZERO) + amount
        self._locks[key] = (asset, amount)

    def unlock(self, key: str, amount: Decimal) -> None:
        """Return up to `amount` of a lock to free (the part of an order that filled or went away)."""
        held = self._locks.get(key)
        if held is None:
            return
        asset, remaining = held
        moved = min(amount, remaining)
        self._locked[asset] -= moved
        self._free[asset] = self.free(asset) + moved
        self._locks[key] = (asset, remaining - moved)

    def release(self, key: str) -> None:
        """Return the whole remaining lock to free and forget the key."""
        held = self._locks.pop(key, None)
        if held is not None:
            asset, remaining = held
            self._locked[asset] -= remaining
            self._free[asset] = self.free(asset) + remaining

    def debit(self, asset: str, amount: Decimal) -> None:
        if amount > self.free(asset):
            raise ValueError(f"debit of {amount} {asset} exceeds free {self.free(asset)}")
        self._free[asset] = self.free(asset) - amount

    def credit(self, asset: str, amount: Decimal) -> None:
        self._free[asset] = self.free(asset) + amount
        self._locked.setdefault(asset, ZERO)

    def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        return {asset: (self._free.get(asset, ZERO), self._locked.get(asset, ZERO))
                for asset in sorted(self._free.keys() | self._locked.keys())}

    def to_state(self) -> dict[str, Any]:
        return {
            "free": {a: str(v) for a, v in sorted(self._free.items())},
            "locked": {a: str(v) for a, v in sorted(self._locked.items())},
            "locks": {k: [asset, str(v)] for k, (asset, v) in sorted(self._locks.items())},
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Ledger:
        ledger = cls({})
        ledger._free = {a: Decimal(v) for a, v in state["free"].items()}
        ledger._locked = {a: Decimal(v) for a, v in state["locked"].items()}
        ledger._locks = {k: (asset, Decimal(v)) for k, (asset, v) in state["locks"].items()}
        return ledger
