"""`backtest --reports`: one archived daily report per simulated UTC day, equal to what `report` builds for it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.runtime.helpers import run_cli
from tests.runtime.test_replay_reports import DAILY, _candles

pytestmark = pytest.mark.slow


def test_backtest_reports_archives_every_simulated_day_as_the_report_tool_builds_it(tmp_path: Path) -> None:
    data = _candles(tmp_path / "data")
    code, envelope, stderr = run_cli(tmp_path / "home", "backtest", "--data", str(data), "--reports")
    assert code == 0, (envelope, stderr[-3000:])
    out = Path(envelope["data"]["journal"]).parent
    folder = out / "reports" / "daily"
    assert envelope["data"]["reports"] == str(folder) and envelope["data"]["trades"] > 0
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"report_{day}.{kind}" for day in DAILY for kind in ("json", "txt", "png"))
    # The same journal in a home with no archive: `report` builds each day afresh.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    shutil.copy(out / "journal.db", fresh / "journal.db")
    for day in DAILY:
        code, answer, stderr = run_cli(fresh, "report", "--date", day)
        assert code == 0, (answer, stderr[-3000:])
        built = Path(answer["data"]["files"]["json"])
        assert built.parent == fresh / "reports" / "daily"
        archived = json.loads((folder / f"report_{day}.json").read_text())
        assert archived == json.loads(built.read_text()) and archived["partial"] is False
        assert (folder / f"report_{day}.txt").read_text() == Path(answer["data"]["files"]["txt"]).read_text()
    assert sum(json.loads((folder / f"report_{d}.json").read_text())["fills"] for d in DAILY) > 0
