"""Chat text, the PNG chart, and the archive that builds a report on demand and reuses it afterwards."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import matplotlib
import matplotlib.pyplot
import pytest
from matplotlib.dates import date2num

from core.clock import MS_PER_DAY
from core.errors import InvalidArgument
from core.types import ClampEvent
from memory.journal import Journal
from reports.archive import archive_report, get_or_build, report_paths
from reports.build import build_report
from reports.model import Report, ReportPeriod
from reports.render import TEXT_LIMIT, chart_figure, render_chart, render_text
from tests.reports.scenario import EMPTY_DAY, MON_MS, MONDAY, TUE_MS, TUESDAY, at, equity_value, populate, skip

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
AFTER_TUESDAY = TUE_MS + MS_PER_DAY + 1


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / "journal.db", durable=False) as journal:
        populate(journal)
        yield journal


def test_text_carries_the_key_numbers_and_stays_short(journal: Journal) -> None:
    text = render_text(build_report(journal, "day", TUESDAY))
    assert len(text) < TEXT_LIMIT
    for expected in ("2026-11-17", "10,096.25", "10,090.25", "-6.00", "-0.06%", "-17.57", "3.60", "Trades 2",
                     "1W/1L", "ETHUSDT", "Max DD", "DATA_OUTAGE ×2"):
        assert expected in text, expected


def test_a_day_without_data_shows_no_made_up_figures(journal: Journal) -> None:
    text = render_text(build_report(journal, "day", EMPTY_DAY))
    assert "no snapshots" in text and "Fills: none" in text and "none closed" in text
    assert "0.00" not in text


def test_text_stays_under_the_limit_on_a_very_busy_day(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db", durable=False) as journal:
        for n in range(60):
            journal.record_breaker_event(MON_MS + n, f"breaker_{n}", "tripped", "pause", 5.0, 2.0, "x" * 300)
            journal.record_error(MON_MS + n, f"ERROR_CODE_NUMBER_{n}", "boom", {})
            clamp = ClampEvent(rule=f"a_rather_long_rule_name_{n}", field="quote_amount", requested="2",
                               applied="1", source="config")
            journal.record_decision(skip("BTCUSDT", MON_MS + n, f"reason_{n}: {'y' * 200}", clamps=(clamp,)))
        report = build_report(journal, "day", MONDAY)
    text = render_text(report)
    assert len(text) <= TEXT_LIMIT
    assert text.startswith("📊 Daily report 2026-11-16")
    assert "more breaker event" in text


def test_chart_is_a_real_png_rendered_with_agg(journal: Journal, tmp_path: Path) -> None:
    report = build_report(journal, "day", TUESDAY)
    out = render_chart(report, journal.equity_curve(report.start_ms, report.end_ms - 1), tmp_path / "c" / "t.png")
    assert matplotlib.get_backend().lower() == "agg"
    data = out.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 5_000
    assert [p.name for p in out.parent.iterdir()] == ["t.png"]  # no temporary file left behind


@pytest.mark.parametrize("count", [0, 1, 2, 3, 24])
@pytest.mark.parametrize("period", ["day", "week"])
def test_the_chart_spans_its_period_and_shows_every_point(journal: Journal, period: ReportPeriod, count: int) -> None:
    """Issue 10 item 8: one equity point drew an empty plot with an x-axis from 2022 to 2026."""
    report = build_report(journal, period, TUESDAY)
    equity = [(TUE_MS + 90 * 60_000 + i * 3_600_000, Decimal(10_000) - Decimal(7) * i) for i in range(count)]
    figure = chart_figure(report, equity)
    try:
        top, bottom = figure.axes
        span = (date2num(datetime.fromtimestamp(report.start_ms / 1000, tz=UTC)),
                date2num(datetime.fromtimestamp(report.end_ms / 1000, tz=UTC)))
        assert top.get_xlim() == pytest.approx(span) and bottom.get_xlim() == pytest.approx(span)
        values = [float(v) for _, v in equity]
        if not values:
            assert not top.get_lines() and [t.get_text() for t in top.texts] == ["no equity snapshots in this period"]
            return
        (curve,) = top.get_lines()
        assert list(curve.get_ydata()) == values and curve.get_marker() == "o"
        assert list(curve.get_xdata()) == [datetime.fromtimestamp(ms / 1000, tz=UTC) for ms, _ in equity]
        low, high = top.get_ylim()
        assert low < min(values) <= max(values) < high  # every point inside the plot, none on its edge
        assert high - low <= max(max(values) - min(values), 10_000 * 0.002) * 1.5  # a scale that shows the moves
        dd_low, dd_high = bottom.get_ylim()
        drawdown = -(values[0] - values[-1]) / values[0] * 100.0
        assert dd_high == 0.0 and dd_low < min(drawdown, -0.5)
        assert [round(v, 9) for v in bottom.get_lines()[0].get_ydata()][-1] == pytest.approx(drawdown)
    finally:
        matplotlib.pyplot.close(figure)


def test_archive_writes_json_text_and_chart(journal: Journal, tmp_path: Path) -> None:
    home = tmp_path / "home"
    report = build_report(journal, "day", TUESDAY)
    paths = archive_report(home, report, journal)
    stem = home / "reports/daily/report_2026-11-17"
    assert paths == {kind: stem.with_suffix(f".{kind}") for kind in ("json", "txt", "png")}
    assert Report.model_validate(json.loads(paths["json"].read_text())) == report
    assert paths["txt"].read_text().strip() == render_text(report)
    assert paths["png"].read_bytes().startswith(PNG_SIGNATURE)
    assert not [p for p in paths["json"].parent.iterdir() if p.name.endswith(".tmp")]


def test_get_or_build_generates_on_demand_then_reuses(journal: Journal, tmp_path: Path) -> None:
    home = tmp_path / "home"
    report, paths = get_or_build(home, journal, "day", "2026-11-17", now_ms=AFTER_TUESDAY)
    assert not report.partial and set(paths) == {"json", "txt", "png"}
    stamp = {name: os.stat(path).st_mtime_ns for name, path in paths.items()}
    # New data for Tuesday after the archive: a complete report is reused as archived...
    journal.record_error(at(TUE_MS, 7), "LATE", "late", {})
    again, again_paths = get_or_build(home, journal, "day", date(2026, 11, 17), now_ms=AFTER_TUESDAY + 5)
    assert again == report and again_paths == paths
    assert {name: os.stat(path).st_mtime_ns for name, path in paths.items()} == stamp
    # ...unless a rebuild is asked for.
    rebuilt, _ = get_or_build(home, journal, "day", "2026-11-17", rebuild=True, now_ms=AFTER_TUESDAY + 5)
    assert rebuilt.errors == {"DATA_OUTAGE": 2, "LATE": 1}


def test_a_partial_report_is_rebuilt_on_the_next_request(journal: Journal, tmp_path: Path) -> None:
    home = tmp_path / "home"
    early, _ = get_or_build(home, journal, "day", "2026-11-17", now_ms=at(TUE_MS, 10))
    assert early.partial
    final, _ = get_or_build(home, journal, "day", "2026-11-17", now_ms=AFTER_TUESDAY)
    assert not final.partial and final.trades.count == 2


def test_a_corrupt_or_incomplete_archive_is_rebuilt(journal: Journal, tmp_path: Path) -> None:
    home = tmp_path / "home"
    report, paths = get_or_build(home, journal, "day", "2026-11-17", now_ms=AFTER_TUESDAY)
    paths["json"].write_text("{ half a rep")
    paths["json"].with_name(paths["json"].name + ".prev").unlink(missing_ok=True)
    assert get_or_build(home, journal, "day", "2026-11-17", now_ms=AFTER_TUESDAY)[0] == report
    paths["png"].unlink()
    _, rebuilt = get_or_build(home, journal, "day", "2026-11-17", now_ms=AFTER_TUESDAY)
    assert rebuilt["png"].exists()


def test_a_period_without_equity_has_no_chart(journal: Journal, tmp_path: Path) -> None:
    report, paths = get_or_build(tmp_path / "home", journal, "day", EMPTY_DAY, now_ms=AFTER_TUESDAY + 10 * MS_PER_DAY)
    assert report.equity_points == 0 and set(paths) == {"json", "txt"}
    assert not report_paths(tmp_path / "home", "day", EMPTY_DAY)["png"].exists()
    again, again_paths = get_or_build(tmp_path / "home", journal, "day", EMPTY_DAY,
                                      now_ms=AFTER_TUESDAY + 10 * MS_PER_DAY)
    assert again == report and again_paths == paths


def test_weekly_reports_are_filed_under_their_monday(journal: Journal, tmp_path: Path) -> None:
    report, paths = get_or_build(tmp_path / "home", journal, "week", "2026-11-19", now_ms=MON_MS + 8 * MS_PER_DAY)
    assert report.date == "2026-11-16" and paths["json"].name == "report_2026-11-16.json"
    assert paths["json"].parent.name == "weekly"
    assert report.equity_end == equity_value(47)


def test_future_and_malformed_dates_are_refused(journal: Journal, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="has not begun"):
        get_or_build(tmp_path, journal, "day", "2026-11-19", now_ms=AFTER_TUESDAY)
    with pytest.raises(InvalidArgument, match="YYYY-MM-DD"):
        get_or_build(tmp_path, journal, "day", "17/11/2026", now_ms=AFTER_TUESDAY)
    with pytest.raises(InvalidArgument, match="period"):
        get_or_build(tmp_path, journal, "month", "2026-11-17", now_ms=AFTER_TUESDAY)  # type: ignore[arg-type]


def test_money_in_the_archived_json_keeps_exact_digits(journal: Journal, tmp_path: Path) -> None:
    _, paths = get_or_build(tmp_path, journal, "day", "2026-11-17", now_ms=AFTER_TUESDAY)
    data = json.loads(paths["json"].read_text())
    assert data["realized_pnl"] == "-17.572525" and Decimal(data["fees"]) == Decimal("3.602525")
