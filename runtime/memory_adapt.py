"""`memory adapt`: one adjustment of the strategy mix on a person's demand, on a stopped engine.

Locked (refused with HOME_LOCKED while `run` holds the home: the running engine adapts by itself once per UTC day),
refused while an entry is in flight (as a rollback is), journaled (the engine's `strategy_mix` notice), written as
a memory version with reason "adapt" and alerted like the daily adjustments. Not an agent tool: it can raise a
strategy's share of new entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.adaptive import AdaptTrigger
from core.config import ExecutorConfig
from memory.journal import Journal
from memory.versions import LearnedVersions
from reports.notify import Notifier
from runtime.alerting import AlertOutbox
from runtime.commands import DirectSession
from runtime.home import Home
from runtime.learned_memory import ADAPT, EntryInFlight, alert_adjustment, entries_in_flight
from runtime.lock import SingleWriterLock
from runtime.settings import AlertRoutes


def adapt_now(home: Home, config: ExecutorConfig, wall_ms: int, notifiers: Sequence[Notifier] = (),
              routes: AlertRoutes | None = None) -> dict[str, Any]:
    """`memory adapt`: one adjustment of the stopped engine's mix now, written as a version (reason "adapt") and
    journaled with the engine's `strategy_mix` notice. Refused (HOME_LOCKED) while `run` holds the home, and
    (ENTRY_IN_FLIGHT) while an entry is in flight; the running engine adapts by itself each UTC day."""
    versions = LearnedVersions(home.root)
    with SingleWriterLock(home.lock), Journal(home.journal) as journal:
        in_flight = entries_in_flight(journal)
        if in_flight:
            raise EntryInFlight(None, in_flight)
        previous, notices = versions.current()
        with journal.batch():  # the restore's reconciliation, the adjustment's notice and the checkpoint: all or none
            session = DirectSession(home, config, journal, wall_ms)
            adjustment = session.engine.adapt(AdaptTrigger.ON_DEMAND)
            session.save(wall_ms)
        session.publish()
        written = versions.write(session.engine.learned, session.engine.now_ms, reason=ADAPT)
        with journal.batch():
            alert_adjustment(AlertOutbox(journal, notifiers, routes or {}), written)
    return {**written.summary(), "previous_version": previous.number if previous else None,
            "changed": adjustment.changed, "adaptation": adjustment.as_dict(), "notices": notices,
            "message": (f"version {written.number} holds the adjusted mix; the executor uses it from its next start"
                        if adjustment.changed else f"version {written.number} records the evidence; no share "
                        "moved (see each strategy's role)")}
