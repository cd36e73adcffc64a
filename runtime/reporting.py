"""The report sender: a background thread that sends the due daily and weekly reports by the run's own clock.

The clock is the wall clock for paper (reports at 09:00 UTC for the day before) and the engine's time for a
replay, which sends each day's report as soon as the replay passes that UTC day's end (and each week's as it
passes Monday 00:00 UTC), from the data's first day on. The engine only hands the thread its time: building a
report (a chart) and a slow or dead notifier never hold up trading. What each service received is remembered
by `reports.dispatch` (`reports/sent.json`), so a restarted run never sends a report twice to the same service.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from datetime import date as Date

from core.filters import SymbolRules
from memory.journal import Journal
from memory.journal_errors import JournalError
from reports.dispatch import send_due_reports
from reports.model import ReportPeriod
from reports.notify import Notifier
from reports.schedule import next_daily_run_ms
from runtime.home import Home
from tools.spec import wall_clock_ms

log = logging.getLogger(__name__)

REPLAY_HOUR_UTC = 0  # a replay's day is over, and its report due, the moment its engine passes midnight UTC


class ReportSender:
    """Sends the reports due by the latest time `advance` was given, on its own thread and journal connection."""

    def __init__(self, home: Home, notifiers: Sequence[Notifier], rules: Mapping[str, SymbolRules], *,
                 hour_utc: int, first_day: Date | None) -> None:
        self._home = home
        self._notifiers = list(notifiers)
        self._rules = dict(rules)
        self._hour_utc = hour_utc
        self._first_day = first_day
        self._next_ms = 0  # the clock time of the next check; 0: at once (a start-up catches up)
        self._target_ms: int | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._finishing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="report-sender", daemon=True)
        self.sent: list[tuple[str, ReportPeriod, str]] = []  # (service, period, date), in order of delivery
        self.warnings: list[str] = []

    def start(self) -> ReportSender:
        if self._notifiers:
            self._thread.start()
        return self

    def advance(self, clock_ms: int) -> None:
        """The run's clock reached `clock_ms`, and every journal row before it is committed; cheap when no
        report can be due yet, so the engine may call it for every event."""
        if clock_ms < self._next_ms:
            return
        with self._lock:
            if self._target_ms is None or clock_ms > self._target_ms:
                self._target_ms = clock_ms
        self._wake.set()

    def stop(self, idle_s: float) -> None:
        """Let the thread send what is due, waiting while it keeps delivering; give up once `idle_s` seconds
        pass without a delivery (a notifier that hangs), leaving the rest for the next start."""
        if not self._thread.is_alive():
            return
        self._finishing.set()
        self._wake.set()
        delivered = -1
        while self._thread.is_alive() and len(self.sent) != delivered:
            delivered = len(self.sent)
            self._thread.join(timeout=idle_s)

    def _run(self) -> None:
        try:
            journal = Journal(self._home.journal)
        except JournalError as exc:
            log.error("report sender cannot open the journal: %s", exc)
            return
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                with self._lock:
                    target, self._target_ms = self._target_ms, None
                if target is not None:
                    self._send(journal, target)
                elif self._finishing.is_set():
                    return
        finally:
            journal.close()

    def _send(self, journal: Journal, clock_ms: int) -> None:
        self._next_ms = next_daily_run_ms(clock_ms, self._hour_utc)
        result = send_due_reports(self._home.root, journal, self._notifiers, clock_ms, hour_utc=self._hour_utc,
                                  rules=self._rules, first_day=self._first_day,
                                  on_sent=lambda *sent: self.sent.append(sent))
        self.warnings.extend(result.warnings + [f.message for f in result.failures])
        wall_ms = wall_clock_ms()
        for failure in result.failures:  # journaled, so that `status` shows a report that did not arrive
            journal.record_error(wall_ms, failure.code, failure.message, failure.details)
        if self._finishing.is_set():
            self._wake.set()  # look once more: a last time may have come in while this one was sent
