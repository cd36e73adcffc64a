"""The alert sender: a background thread that drains the journal's outbox to the notifiers.

It never blocks trading: it has its own journal connection, holds the write lock only for the one-row
updates that settle a send, and the engine never waits for it (a notifier that hangs only delays alerts).
Per service, pending alerts go out oldest first, as many as fit one message (a burst is one message), at
at the pace of the notifier (`reports.pacing`: Telegram one message a second per chat and 20 a minute per group,
a Discord webhook one message per 0.4 s). Each send goes
through the notifier's own retries (429 `retry_after` honoured, 5xx and network errors backed off); a send
that still fails is retried by the outbox after `RETRY_BACKOFF_S` (doubling), and after
`memory.outbox.MAX_ATTEMPTS` failed sends its alerts are marked failed so the ones behind them go out.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from memory.journal import Journal
from memory.journal_errors import JournalError
from reports.alerts import FORMATS, batch_message
from reports.delivery import NotifyError
from reports.notify import Notifier

log = logging.getLogger(__name__)

BATCH_ROWS = 50
RETRY_BACKOFF_S = 5.0
MAX_BACKOFF_S = 300.0
IDLE_POLL_S = 0.25


class OutboxSender:
    def __init__(self, journal_path: Path, notifiers: Sequence[Notifier], *, retry_backoff_s: float = RETRY_BACKOFF_S,
                 wall_ms: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        self._path = journal_path
        self._retry_backoff_s = retry_backoff_s
        self._notifiers = [n for n in notifiers if n.service in FORMATS]
        self._wall_ms = wall_ms
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-sender", daemon=True)
        self._draining_until: float | None = None

    def start(self) -> OutboxSender:
        if self._notifiers:
            self._thread.start()
        return self

    def stop(self, drain_s: float) -> None:
        """Give pending alerts up to `drain_s` seconds to go out, then stop; what is left stays in the outbox
        for the next start."""
        if not self._thread.is_alive():
            return
        deadline = time.monotonic() + drain_s
        self._draining_until = deadline
        self._wake.set()
        self._thread.join(timeout=drain_s)
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=0.5)

    def _run(self) -> None:
        try:
            journal = Journal(self._path)
        except JournalError as exc:
            log.error("alert sender cannot open the journal: %s", exc)
            return
        failures: dict[str, int] = {}
        try:
            while not self._stop.is_set():
                sent_any = False
                for notifier in self._notifiers:
                    if self._stop.is_set():
                        break
                    sent_any |= self._send_one(journal, notifier, failures)
                if self._draining_until is not None and not sent_any and not self._has_due(journal):
                    return  # drained: nothing left that is due
                if not sent_any:
                    self._wake.wait(IDLE_POLL_S)
                    self._wake.clear()
        finally:
            journal.close()

    def _has_due(self, journal: Journal) -> bool:
        now = self._wall_ms()
        return any(journal.outbox.due(n.service, now, 1) for n in self._notifiers)

    def _send_one(self, journal: Journal, notifier: Notifier, failures: dict[str, int]) -> bool:
        service = notifier.service
        if notifier.pace.wait_s(time.monotonic()) > 0:
            return False  # not yet: the other services are not held up while this one waits its turn
        rows = journal.outbox.due(service, self._wall_ms(), BATCH_ROWS)
        if not rows:
            return False
        body, count = batch_message(service, [r.payload for r in rows])
        ids = [r.id for r in rows[:count]]
        notifier.pace.note(time.monotonic())
        try:
            notifier.send_alert(body)
        except NotifyError as failure:
            failures[service] = failures.get(service, 0) + 1
            backoff = min(MAX_BACKOFF_S, self._retry_backoff_s * 2 ** (failures[service] - 1))
            journal.outbox.mark_attempt_failed(ids, failure.message, self._wall_ms() + int(backoff * 1000))
            log.warning("%s", failure.message)
            return False
        failures[service] = 0
        journal.outbox.mark_sent(ids, self._wall_ms())
        return True
