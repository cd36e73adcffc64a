"""Sending the reports that are due: schedule → archive → every notifier, remembering what each one got.

What was sent is kept per service and per period in `<home>/reports/sent.json` (written atomically), so a
Telegram outage does not make Discord receive the same report twice, and a service that failed gets its
missed reports, oldest first, on the next call. A service stops at its first failure to keep its reports
in order. The runtime calls `send_due_reports` at start-up and at every `next_daily_run_ms` of its clock: the
wall clock for paper, the engine's time for a replay (which then passes `first_day`, the data's first day).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date as Date
from pathlib import Path
from typing import Any

from core.filters import SymbolRules
from core.types import Position
from memory.files import read_json, write_json_atomic
from memory.journal import Journal
from reports.archive import REPORTS_DIR, get_or_build
from reports.delivery import NotifyError
from reports.model import Report, ReportPeriod
from reports.notify import Notifier
from reports.render import render_text
from reports.schedule import DEFAULT_HOUR_UTC, due_reports, due_since, due_weekly_reports

SENT_FILE = "sent.json"
_DUE: dict[ReportPeriod, Callable[[str | None, int, int], list[Date]]] = {
    "day": due_reports,
    "week": due_weekly_reports,
}


@dataclass(slots=True)
class DispatchResult:
    sent: list[tuple[str, ReportPeriod, str]] = field(default_factory=list)  # (service, period, date)
    failures: list[NotifyError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def sent_path(home: Path) -> Path:
    """The file that remembers, per period and service, the last report delivered."""
    return Path(home) / REPORTS_DIR / SENT_FILE


def last_sent(home: Path) -> tuple[dict[str, dict[str, str]], str | None]:
    """Service → period → the date of the last report it received (read-only), and a warning when the file had
    to be read from its previous version."""
    state, warning = read_json(sent_path(home), expect_object=True)
    by_service: dict[str, dict[str, str]] = {}
    for period in _DUE:
        for service, day in dict((state or {}).get(period) or {}).items():
            by_service.setdefault(str(service), {})[period] = str(day)
    return by_service, warning


def send_due_reports(
    home: Path,
    journal: Journal,
    notifiers: Sequence[Notifier],
    now_ms: int,
    *,
    periods: Sequence[ReportPeriod] = ("day", "week"),
    hour_utc: int = DEFAULT_HOUR_UTC,
    open_positions: Mapping[str, Position | Mapping[str, Any]] | None = None,
    quote_asset: str = "USDT",
    rules: Mapping[str, SymbolRules] | None = None,
    first_day: Date | None = None,
    on_sent: Callable[[str, ReportPeriod, str], None] | None = None,
) -> DispatchResult:
    """Build (or reuse) and send every due report to every notifier that has not had it yet.

    `rules` are the symbols' rules the engine trades under: without them a report cannot tell dust from an open
    position, and counts no trade as closed. With `first_day` (a replay) every due report from that day on is
    sent (`schedule.due_since`), none before it; without it, the latest ones (`schedule.due_reports`).
    `on_sent(service, period, date)` is called after each delivery."""
    result = DispatchResult()
    state_path = sent_path(home)
    state, warning = read_json(state_path, expect_object=True)
    if warning:
        result.warnings.append(warning)
    sent: dict[str, dict[str, str]] = {p: dict((state or {}).get(p) or {}) for p in periods}
    built: dict[tuple[ReportPeriod, Date], tuple[Report, dict[str, Path]]] = {}

    def report_for(period: ReportPeriod, day: Date) -> tuple[Report, dict[str, Path]]:
        if (period, day) not in built:
            built[(period, day)] = get_or_build(home, journal, period, day, now_ms=now_ms,
                                                open_positions=open_positions, quote_asset=quote_asset,
                                                rules=rules)
        return built[(period, day)]

    def due(period: ReportPeriod, last: str | None) -> list[Date]:
        if first_day is not None:
            return due_since(period, last, first_day, now_ms, hour_utc)
        return _DUE[period](last, now_ms, hour_utc)

    for period in periods:
        for notifier in notifiers:
            for day in due(period, sent[period].get(notifier.service)):
                report, paths = report_for(period, day)
                try:
                    notifier.send(render_text(report), paths.get("png"))
                except NotifyError as failure:
                    result.failures.append(failure)
                    break
                sent[period][notifier.service] = day.isoformat()
                write_json_atomic(state_path, {**(state or {}), **sent})
                result.sent.append((notifier.service, period, day.isoformat()))
                if on_sent is not None:
                    on_sent(notifier.service, period, day.isoformat())
    return result
