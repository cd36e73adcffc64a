"""The report archive in the data directory: `<home>/reports/daily/report_<date>.json|.txt|.png`, and
`<home>/reports/weekly/report_<monday>.…` for the weeks.

Each file is replaced atomically, so a reader (the `report` tool, a notifier) never sees half a report.
A report of a period that had not ended when it was built is rebuilt on the next request; a complete one
is reused as it is.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import date as Date
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from core.errors import InvalidArgument
from core.filters import SymbolRules
from core.types import Position
from memory.files import CorruptMemory, read_json, write_bytes_atomic, write_json_atomic
from memory.journal import Journal
from reports.build import build_report
from reports.model import Report, ReportPeriod
from reports.periods import parse_date, period_bounds, utc_date
from reports.render import render_chart, render_text

REPORTS_DIR = "reports"
PERIOD_DIRS: dict[ReportPeriod, str] = {"day": "daily", "week": "weekly"}


def report_paths(home: Path, period: ReportPeriod, date: Date) -> dict[str, Path]:
    """Where the report of the period containing `date` lives (named after the period's first day)."""
    start_ms, _ = period_bounds(period, date)
    stem = Path(home) / REPORTS_DIR / PERIOD_DIRS[period] / f"report_{utc_date(start_ms).isoformat()}"
    return {"json": stem.with_suffix(".json"), "txt": stem.with_suffix(".txt"), "png": stem.with_suffix(".png")}


def archive_report(home: Path, report: Report, journal: Journal) -> dict[str, Path]:
    """Write the report's JSON, text and (when it has equity snapshots) chart; return the paths written.

    The chart shows the period's equity snapshots from the journal; a period without any gets no PNG
    (and a stale one from an earlier build is removed) rather than an empty picture.
    """
    paths = report_paths(home, report.period, report.day)
    write_json_atomic(paths["json"], report.model_dump(mode="json"))
    write_bytes_atomic(paths["txt"], (render_text(report) + "\n").encode())
    equity = journal.equity_curve(report.start_ms, report.end_ms - 1)
    if equity:
        render_chart(report, equity, paths["png"])
    else:
        paths.pop("png").unlink(missing_ok=True)
    return paths


def get_or_build(
    home: Path,
    journal: Journal,
    period: ReportPeriod,
    date: Date | str,
    *,
    rebuild: bool = False,
    now_ms: int | None = None,
    open_positions: Mapping[str, Position | Mapping[str, Any]] | None = None,
    quote_asset: str = "USDT",
    rules: Mapping[str, SymbolRules] | None = None,
    marks: Mapping[str, Decimal] | None = None,
) -> tuple[Report, dict[str, Path]]:
    """The archived report for `date`, built and archived first when it is missing, partial or unreadable.

    `now_ms` (the wall clock when None) decides whether the period is over; a period that has not begun
    is refused with InvalidArgument.
    """
    day = parse_date(date) if isinstance(date, str) else date
    now = int(time.time() * 1000) if now_ms is None else now_ms
    start_ms, _ = period_bounds(period, day)
    if start_ms > now:
        raise InvalidArgument(f"no report for {day.isoformat()}: that {period} has not begun",
                              field="date", value=day.isoformat())
    if not rebuild:
        archived = _archived(report_paths(home, period, day))
        if archived is not None:
            return archived
    report = build_report(journal, period, day, open_positions=open_positions, quote_asset=quote_asset,
                          rules=rules, marks=marks, now_ms=now)
    return report, archive_report(home, report, journal)


def _archived(paths: dict[str, Path]) -> tuple[Report, dict[str, Path]] | None:
    """A complete archived report with all of its files, or None when it must be (re)built."""
    try:
        data, warning = read_json(paths["json"], expect_object=True)
    except CorruptMemory:
        return None
    if data is None or warning is not None:
        return None
    try:
        report = Report.model_validate(data)
    except ValidationError:
        return None
    if report.partial or not paths["txt"].exists():
        return None
    if report.equity_points == 0:
        paths.pop("png")
    elif not paths["png"].exists():
        return None
    return report, paths
