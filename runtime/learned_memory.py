"""`memory history|show N|diff N M|rollback N`, and the learned configuration a starting executor resumes from.

A rollback is a person's command: it takes the home's single-writer lock (so it is refused while `run` is running,
whose next publish would overwrite it) and is refused while an entry is in flight, then writes a new version with
the restored content and journals it (`memory_rollbacks`). An entry is in flight when

- an entry order (client id `cx-e-…`) is journaled and not in a final state: not yet filled (or refused); or
- a protective order (an OCO `cx-p-…` or a lone stop `cx-s-…`) is journaled and not yet acknowledged by the
  exchange (PENDING_SEND); or
- the last checkpoint holds an entry the engine still waits on, or a filled position without its protection.

A rollback in such a moment would change the allocations under a decision the engine has not finished.

The adaptive mix (`core.adaptive`) adjusts the allocations in the engine, once per UTC day of engine time; the
engine's learned document (the mix in force and the evidence of the adjustment that made it) is a memory
version from the publish after the checkpoint that holds it (`publish_learned`), stamped with the engine time of
the adjustment, so that a run cut into pieces by restarts writes the same versions as one that is not. A
`memory adapt` is the same adjustment on a person's demand, on a stopped engine: locked, refused while an entry
is in flight, journaled, written as a version with reason "adapt". Which mix a starting engine takes when its
checkpoint and memory disagree is `settle_learned`'s rule.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from core.config import ExecutorConfig, StrategyConfig
from core.engine import Engine
from core.errors import ExecutorError
from core.research import StrategyMixChange
from core.types import OrderStatus, StrategyName
from memory.journal import Journal, MemoryRollback
from memory.versions import LearnedVersions, Version, diff
from runtime.alerting import AlertOutbox
from runtime.home import Home
from runtime.limits import actor
from runtime.lock import SingleWriterLock

LEARNED = "learned"  # a version `run` wrote from its engine
ADAPT = "adapt"  # a version a person's `memory adapt` wrote
ROLLBACK = "rollback"

ENTRY_PREFIX = "cx-e-"
PROTECTION_PREFIXES = ("cx-p-", "cx-s-")


class EntryInFlight(ExecutorError):
    code = "ENTRY_IN_FLIGHT"

    def __init__(self, version: int | None, entries: list[str]) -> None:
        what = "memory adapt" if version is None else f"memory rollback to version {version}"
        super().__init__(f"{what} refused: an entry is in flight ({'; '.join(entries)}); wait until it is filled "
                         "and protected (or cancelled), then try again", version=version, in_flight=entries)


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
    # A strategy the configuration switches off stays off, whatever memory holds.
    allocation = {StrategyName(name): float(entry["allocation"]) if config.strategies.allocation.get(name, 1.0) > 0
                  else 0.0 for name, entry in version.learned["strategies"].items()}
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


def learned_mix(learned: dict[str, Any]) -> dict[StrategyName, float]:
    """The allocations a learned document holds."""
    return {StrategyName(name): float(entry["allocation"]) for name, entry in learned["strategies"].items()}


def settle_learned(engine: Engine, version: Version | None, restarted: bool) -> list[str]:
    """Make a starting engine's learned document and its mix agree with memory; a notice when it had to choose.

    - memory has no version, or the same content: nothing to do;
    - memory's newest version is a person's (`memory rollback`, `memory adapt`) or the engine is new: memory wins,
      and the engine takes its document (its mix is already memory's: `resume`);
    - memory's newest version is `run`'s own and the engine comes from a checkpoint: the checkpoint is newer (a
      version is written after the checkpoint that holds it commits, so only a crash in between leaves memory
      behind); the engine's mix wins and the next publish writes it as a version."""
    if version is None or _same(version.learned, engine.learned):
        return []
    if version.reason != LEARNED or not restarted:
        engine.learned = version.learned
        return []
    engine.set_allocation(learned_mix(engine.learned))
    return [f"memory version {version.number} is older than the checkpoint's strategy mix (a stop between the "
            "checkpoint and the memory write): resuming with the checkpoint's mix, written as the next version"]


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return diff(a, b) == []


def publish_learned(versions: LearnedVersions, learned: dict[str, Any]) -> Version | None:
    """The engine's learned document as a new version when it differs from the current one, stamped with the
    engine time of the adjustment it records (never the wall clock: replays write the same versions)."""
    return versions.write_if_changed(learned, int(learned["time_ms"]))


def mix_change(version: Version) -> StrategyMixChange | None:
    """The change of mix a version records, for the `strategy_mix` alert (None: its adjustment changed nothing)."""
    adaptation = version.learned.get("adaptation")
    if not adaptation or not adaptation.get("changed"):
        return None

    def shares(mix: dict[str, float]) -> tuple[tuple[StrategyName, Decimal], ...]:
        return tuple((StrategyName(k), Decimal(repr(v)).quantize(Decimal("0.0001"))) for k, v in sorted(mix.items()))

    reason = f"{adaptation['trigger']} adjustment ({adaptation['method']})"
    return StrategyMixChange(version.written_ms, version.number, shares(adaptation["before"]),
                             shares(adaptation["after"]), reason)


def alert_adjustment(outbox: AlertOutbox, version: Version) -> int:
    """Queue the `strategy_mix` alert of a version that changed the mix (0: it did not, or it was queued)."""
    change = mix_change(version)
    return 0 if change is None else outbox.strategy_mix(change)


def mix_in_force(home: Home, configured: dict[StrategyName, float], learned: dict[str, Any] | None) -> tuple[
        dict[StrategyName, float], str]:
    """The mix an engine of the home trades with (or would resume with), and where it comes from: the engine's
    own (`learned`, from its checkpoint) while memory's newest version is `run`'s, memory's after a person's
    rollback or adapt, the configured mix before anything was learned. Reads only."""
    try:
        version, _ = LearnedVersions(home.root).current()
    except ExecutorError as exc:
        return dict(configured), f"configured (memory unreadable: {exc.message})"
    if version is not None and (learned is None or version.reason != LEARNED):
        mix = {n: 0.0 if configured.get(n, 1.0) <= 0 else w for n, w in learned_mix(version.learned).items()}
        return {**configured, **mix}, f"memory version {version.number} ({version.reason})"
    if learned is not None:
        adaptation = learned.get("adaptation")
        origin = "configured" if not adaptation else f"adapted {adaptation['trigger']}"
        return {**configured, **learned_mix(learned)}, f"engine checkpoint ({origin})"
    return dict(configured), "configured"
