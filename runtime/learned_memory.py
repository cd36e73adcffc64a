"""`memory history|show N|diff N M|rollback N`, and the learned configuration a starting executor resumes from.

A rollback is a person's command: it takes the home's single-writer lock (so it is refused while `run` is running,
whose next publish would overwrite it) and is refused while an entry is in flight, then writes a new version with
the restored content and journals it (`memory_rollbacks`). An entry is in flight when

- an entry order (client id `cx-e-…`) is journaled and not in a final state: not yet filled (or refused); or
- a protective order (an OCO `cx-p-…` or a lone stop `cx-s-…`) is journaled and not yet acknowledged by the
  exchange (PENDING_SEND); or
- the last checkpoint holds an entry the engine still waits on, or a filled position without its protection.

A rollback in such a moment would change the allocations under a decision the engine has not finished.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from core.config import ExecutorConfig, StrategyConfig
from core.errors import ExecutorError
from core.types import OrderStatus, StrategyName
from memory.journal import Journal, MemoryRollback
from memory.versions import LearnedVersions, Version, diff
from runtime.home import Home
from runtime.limits import actor
from runtime.lock import SingleWriterLock

ENTRY_PREFIX = "cx-e-"
PROTECTION_PREFIXES = ("cx-p-", "cx-s-")


class EntryInFlight(ExecutorError):
    code = "ENTRY_IN_FLIGHT"

    def __init__(self, version: int, entries: list[str]) -> None:
        super().__init__(f"memory rollback to version {version} refused: an entry is in flight ({'; '.join(entries)})"
                         "; wait until it is filled and protected (or cancelled), then roll back",
                         version=version, in_flight=entries)


def entries_in_flight(journal: Journal) -> list[str]:
    """What makes an entry in flight now, one line each (empty: none); see the module's definition."""
    found: list[str] = []
    for order in journal.open_orders():
        if order.client_order_id.startswith(ENTRY_PREFIX):
            found.append(f"entry order {order.client_order_id} on {order.symbol} is {order.status.value}, not filled")
        elif order.status is OrderStatus.PENDING_SEND and (order.list_client_id or order.client_order_id).startswith(
                PROTECTION_PREFIXES):
            found.append(f"protective order {order.list_client_id or order.client_order_id} on {order.symbol} is "
                         "not yet acknowledged by the exchange")
    stored = journal.checkpoint()
    engine = stored.document.get("engine", {}) if stored is not None else {}
    for symbol, pending in sorted(engine.get("pending", {}).items()):
        line = f"entry order {pending.get('client_order_id')} on {symbol} is in flight in the last checkpoint"
        if not any(pending.get("client_order_id", "?") in f for f in found):
            found.append(line)
    for symbol, holding in sorted(engine.get("holdings", {}).items()):
        if holding.get("protection_id") is None and not holding.get("exiting"):
            found.append(f"position {holding.get('position_id')} on {symbol} has no protection yet")
    return found


def history(home: Home) -> dict[str, Any]:
    versions = LearnedVersions(home.root)
    rows = versions.history()
    current = next((row["version"] for row in reversed(rows) if row["valid"]), None)
    rollbacks: list[dict[str, Any]] = []
    if home.journal.exists():
        with Journal(home.journal) as journal:
            rollbacks = [_rollback_line(r) for r in journal.memory_rollbacks()]
    return {"folder": str(versions.folder), "current": current, "versions": rows, "rollbacks": rollbacks}


def show(home: Home, number: int) -> dict[str, Any]:
    version = LearnedVersions(home.root).read(number)
    return {**version.summary(), "learned": version.learned}


def compare(home: Home, old: int, new: int) -> dict[str, Any]:
    versions = LearnedVersions(home.root)
    a, b = versions.read(old), versions.read(new)
    return {"from": old, "to": new, "changes": diff(a.learned, b.learned)}


def rollback(home: Home, number: int, wall_ms: int) -> dict[str, Any]:
    """Version `number`'s learned content as a new current version, journaled. Refused (HOME_LOCKED) while `run`
    holds the home, (ENTRY_IN_FLIGHT) while an entry is in flight, and for a version that fails its checks."""
    versions = LearnedVersions(home.root)
    with SingleWriterLock(home.lock), Journal(home.journal) as journal:
        restored = versions.read(number)  # unknown or refused: nothing written
        in_flight = entries_in_flight(journal)
        if in_flight:
            raise EntryInFlight(number, in_flight)
        previous, notices = versions.current()
        with journal.batch():
            written = versions.rollback(restored.number, wall_ms)
            record = MemoryRollback(wall_ms, number, previous.number if previous else None, written.number, actor())
            journal.record_memory_rollback(record)
    return {**written.summary(), "rollback": _rollback_line(record), "notices": notices,
            "message": f"version {written.number} now holds version {number}'s learned configuration; the executor "
                       "uses it from its next start"}


def resume(home: Home, config: ExecutorConfig) -> tuple[ExecutorConfig, Version | None, list[str]]:
    """The config a starting executor trades with, the version it resumes from, and a notice per version file
    skipped (naming it). The learned allocations replace the configured ones; NoValidVersion when versions exist
    and none passes its checks (the executor never starts from an unchecked memory)."""
    version, notices = LearnedVersions(home.root).current()
    if version is None:
        return config, None, notices
    allocation = {StrategyName(name): float(entry["allocation"])
                  for name, entry in version.learned["strategies"].items()}
    if not allocation:
        return config, version, notices
    try:
        strategies = StrategyConfig.model_validate({**config.strategies.model_dump(),
                                                    "allocation": {**config.strategies.allocation, **allocation}})
    except ValidationError as exc:
        notices.append(f"memory version {version.number} ({version.path}): its allocations do not fit the configured "
                       f"strategies ({exc.errors()[0].get('msg')}); trading with the configured mix")
        return config, version, notices
    return config.model_copy(update={"strategies": strategies}), version, notices


def _rollback_line(record: MemoryRollback) -> dict[str, Any]:
    return {"time_ms": record.time_ms, "restored_version": record.restored_version,
            "previous_version": record.previous_version, "new_version": record.new_version, "actor": record.actor}
