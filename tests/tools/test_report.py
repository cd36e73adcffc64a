"""`report` over a replayed home's journal: archived files, reuse, on-demand build, typed refusals."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.clock import utc_text
from core.config import load_config
from core.errors import InvalidArgument
from memory.journal import Journal
from runtime.backtest import run_backtest
from runtime.sources import synthetic_source
from tests.runtime.helpers import replace_checkpoint
from tests.tools.test_status import (
    FAKE_SECRETS,
    REPLAY_DAY,
    SEED,
    checkpoint,
    context,
    copy_of,
    run_tool,
    shared_replayed_home,
    snapshot_files,
)
from tools.report import SPEC, ReportInput, ReportOutput, handle
from tools.state import NoData

# Wall clock for the tests: the day after the replayed day, so that it is "yesterday".
NOW_MS = int(datetime(2023, 11, 15, 12, 0, tzinfo=UTC).timestamp() * 1000)
YEARS_LATER_MS = int(datetime(2026, 12, 10, 12, 0, tzinfo=UTC).timestamp() * 1000)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_replayed_home(tmp_path_factory)


@pytest.fixture
def home(built: Path, tmp_path: Path) -> Iterator[Path]:
    yield copy_of(built, tmp_path)


@pytest.fixture(scope="module")
def backtest_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic backtest's output folder from 2023-11-14 22:13 to 11-15 00:43 UTC: its journal ends with the
    finished engine's checkpoint."""
    out = tmp_path_factory.mktemp("backtest") / "run"
    run_backtest(synthetic_source(SEED, None, 9_000), load_config(env={}), out, quote_balance=Decimal(10_000))
    return out


def report(root: Path, now_ms: int = NOW_MS, env: dict[str, str] | None = None, **args: str) -> ReportOutput:
    return handle(ReportInput(**args), context(root, env, now_ms=now_ms))


def test_the_report_is_archived_and_its_paths_returned(home: Path) -> None:
    out = report(home, date=REPLAY_DAY)
    assert (out.period, out.date, out.partial) == ("day", REPLAY_DAY, False)
    folder = home / "reports" / "daily"
    assert out.files == {kind: str(folder / f"report_{REPLAY_DAY}.{kind}") for kind in ("json", "txt", "png")}
    assert all(Path(path).stat().st_size > 0 for path in out.files.values())
    assert Path(out.files["png"]).read_bytes().startswith(b"\x89PNG")
    assert out.text == Path(out.files["txt"]).read_text().rstrip("\n")
    archived = json.loads(Path(out.files["json"]).read_text())
    assert out.numbers.fills == archived["fills"] > 0
    assert out.numbers.realized_pnl == archived["realized_pnl"] and out.numbers.fees == archived["fees"]
    assert out.numbers.trades == archived["trades"]["count"]
    assert out.notes == archived["notes"]


def test_a_second_call_reuses_the_archive(home: Path) -> None:
    first = report(home, date=REPLAY_DAY)
    written = snapshot_files(home / "reports")
    second = report(home, date=REPLAY_DAY)
    assert second == first
    assert snapshot_files(home / "reports") == written  # not rebuilt: same bytes, same mtimes


def test_a_finished_replay_defaults_to_the_period_its_data_ends_in_whatever_the_wall_clock(home: Path) -> None:
    """Issue 10 item 8: the default was yesterday by the wall clock, an empty report for a replay of 2023."""
    engine_ms = checkpoint(home)["engine"]["now_ms"]
    assert utc_text(engine_ms) == "2023-11-14 23:01 UTC"
    out = report(home, now_ms=YEARS_LATER_MS)
    assert (out.period, out.date, out.partial) == ("day", REPLAY_DAY, False) and out.numbers.fills > 0
    assert (out.chosen.by, out.chosen.clock, out.chosen.home_time_ms) == ("run_end", "engine", engine_ms)
    assert out.chosen.summary == ("day 2023-11-14 (UTC): the last day with data, by this finished replay's time "
                                  "(2023-11-14 23:01 UTC)")
    week = report(home, now_ms=YEARS_LATER_MS, period="week")
    assert (week.date, week.chosen.by, week.numbers.fills) == ("2023-11-13", "run_end", out.numbers.fills)
    assert week.chosen.summary.startswith("week 2023-11-13 to 2023-11-19 (UTC): the last week with data, by")
    asked = report(home, now_ms=YEARS_LATER_MS, date=REPLAY_DAY)
    assert asked.chosen.by == "requested" and asked.chosen.summary == "day 2023-11-14 (UTC): as requested"


def test_a_replay_not_finished_reports_by_its_engine_time(home: Path) -> None:
    stopped = checkpoint(home)
    stopped["finished"] = False  # as if stopped by hand at 23:01 engine time: its day is not over
    replace_checkpoint(home, stopped)
    out = report(home, now_ms=YEARS_LATER_MS)
    assert (out.date, out.chosen.by, out.chosen.clock) == ("2023-11-13", "latest_complete", "engine")
    assert "the latest complete day by this replay's time (2023-11-14 23:01 UTC)" in out.chosen.summary
    current = report(home, now_ms=YEARS_LATER_MS, date=REPLAY_DAY)
    assert current.partial and "the period is not over: figures up to 2023-11-14 23:01 UTC" in current.notes
    with pytest.raises(InvalidArgument) as refused:
        report(home, now_ms=YEARS_LATER_MS, date="2023-11-15")  # long past by the wall clock, not by the replay's
    assert refused.value.details["field"] == "date" and "this replay's time" in refused.value.message


def test_a_live_data_home_reports_by_the_wall_clock(home: Path) -> None:
    paper = checkpoint(home)
    paper["mode"] = "paper"
    replace_checkpoint(home, paper)
    out = report(home)
    assert (out.date, out.chosen.by, out.chosen.clock, out.chosen.home_time_ms) == (
        REPLAY_DAY, "latest_complete", "wall", NOW_MS)
    assert "by the wall clock (2023-11-15 12:00 UTC)" in out.chosen.summary


def test_a_backtest_folder_reports_by_its_finished_engine_time(backtest_home: Path) -> None:
    out = report(backtest_home, now_ms=YEARS_LATER_MS)
    assert (out.date, out.chosen.by, out.chosen.clock) == ("2023-11-15", "run_end", "engine")
    assert utc_text(out.chosen.home_time_ms) == "2023-11-15 00:43 UTC"
    assert out.chosen.summary == ("day 2023-11-15 (UTC): the last day with data, by this finished replay's time "
                                  "(2023-11-15 00:43 UTC)")
    assert out.numbers.equity_end is not None and "png" in out.files


def test_a_journal_without_a_checkpoint_reports_by_its_last_equity_point(backtest_home: Path,
                                                                           tmp_path: Path) -> None:
    """An older backtest folder: its journal holds no engine checkpoint."""
    older = tmp_path / "older"
    shutil.copytree(backtest_home, older)
    with sqlite3.connect(older / "journal.db") as conn:
        conn.execute("DELETE FROM engine_checkpoint")
    conn.close()
    with Journal(older / "journal.db") as journal:
        last_ms = journal.equity_curve()[-1][0]
    assert utc_text(last_ms).startswith("2023-11-15 00:")
    out = report(older, now_ms=YEARS_LATER_MS)
    assert (out.date, out.chosen.by, out.chosen.clock, out.chosen.home_time_ms) == (
        "2023-11-15", "run_end", "journal", last_ms)
    assert out.chosen.summary == ("day 2023-11-15 (UTC): the last day with data, by this journal's last equity "
                                  f"point ({utc_text(last_ms)})")


def test_a_week_report_is_named_after_its_monday(home: Path) -> None:
    out = report(home, period="week", date=REPLAY_DAY)
    assert out.date == "2023-11-13" and out.files["json"].endswith("reports/weekly/report_2023-11-13.json")
    assert out.partial  # the week of 2023-11-13 had not ended at NOW_MS
    engine = checkpoint(home)["engine"]
    archived = json.loads(Path(out.files["json"]).read_text())
    assert {p["symbol"] for p in archived["open_positions"]} == set(engine["holdings"])


def test_a_period_without_equity_points_has_no_chart(home: Path) -> None:
    out = report(home, date="2023-11-13")
    assert set(out.files) == {"json", "txt"} and out.numbers.fills == 0
    assert out.numbers.equity_start is None and out.numbers.pnl is None  # missing stays missing


@pytest.mark.parametrize("date", ["2023-11-16", "2999-01-01"])
def test_a_future_date_is_an_invalid_argument_naming_the_field(home: Path, date: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        report(home, date=date)
    assert refused.value.code == "INVALID_ARGUMENT" and refused.value.details["field"] == "date"
    assert not (home / "reports" / "daily").exists() or not any((home / "reports" / "daily").iterdir())


@pytest.mark.parametrize("date", ["2023-13-01", "2023-02-30", "14/11/2023", "2023-11-14T00:00", ""])
def test_a_malformed_date_is_refused_by_the_input_model(date: str) -> None:
    with pytest.raises(ValidationError) as refused:
        ReportInput(date=date)
    assert refused.value.errors()[0]["loc"] == ("date",)


@pytest.mark.parametrize("arguments", [{"period": "month"}, {"period": "day", "extra": 1}, {"date": 20231114}])
def test_other_bad_input_is_refused(arguments: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ReportInput.model_validate(arguments)


def test_a_home_without_a_journal_says_run_first(tmp_path: Path) -> None:
    with pytest.raises(NoData) as refused:
        report(tmp_path, date=REPLAY_DAY)
    assert refused.value.code == "NO_DATA" and "python executor.py run" in refused.value.message
    assert refused.value.details["hint"] == "python executor.py run"
    assert list(tmp_path.iterdir()) == []  # no journal created, no report written


def test_the_report_writes_only_report_files(home: Path) -> None:
    before = snapshot_files(home)
    report(home, date=REPLAY_DAY)
    after = snapshot_files(home)
    assert {k: v for k, v in after.items() if not k.startswith("reports/")} == before


def test_planted_secrets_never_appear_in_the_output(home: Path) -> None:
    with Journal(home / "journal.db") as journal:
        journal.record_error(1_699_990_000_000, "NOTIFY_FAILED", f"echo {FAKE_SECRETS['TELEGRAM_BOT_TOKEN']}", {})
    text = report(home, env=FAKE_SECRETS, date=REPLAY_DAY).model_dump_json()
    for secret in FAKE_SECRETS.values():
        assert secret not in text


def test_spec_is_read_only_with_described_inputs() -> None:
    assert SPEC.name == "report" and SPEC.read_only and SPEC.handler is handle
    schema = ReportInput.model_json_schema()
    assert all(field.get("description") for field in schema["properties"].values())
    assert schema["properties"]["period"]["enum"] == ["day", "week"]


def test_the_command_line_builds_the_report_and_refuses_a_malformed_date(home: Path) -> None:
    code, envelope = run_tool(home, "report", "--date", REPLAY_DAY)
    assert (code, envelope["ok"]) == (0, True)
    assert all(Path(path).exists() for path in envelope["data"]["files"].values())
    code, malformed = run_tool(home, "report", "--date", "2023-13-01")
    assert (code, malformed["error"]["code"]) == (2, "INVALID_ARGUMENT")
    assert malformed["error"]["details"]["path"] == "/date"


def test_the_command_line_says_no_data_on_a_fresh_home(tmp_path: Path) -> None:
    code, envelope = run_tool(tmp_path / "fresh", "report", "--date", REPLAY_DAY)
    assert (code, envelope["ok"], envelope["error"]["code"]) == (1, False, "NO_DATA")
    assert "python executor.py run" in envelope["error"]["message"]
