"""What a person sees of `run` (issue 11 item 5): the live view names the mode and the source, shows progress
with its total, each position at its mark with its unrealized P&L, whole reasons; the summary rounds money to
the quote asset's precision instead of printing 34-digit P&Ls."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT
from tests.runtime.helpers import cli_env, run_cli

RUN = ("run", "--mode", "replay", "--synthetic", "--seed", "7", "--steps", "3000")
MONEY_8 = re.compile(r"^-?\d+\.\d{8}$")


def test_the_summary_rounds_money_to_the_quote_assets_precision(tmp_path: Path) -> None:
    code, envelope, stderr = run_cli(tmp_path / "home", *RUN, "--no-view")
    assert code == 0, stderr[-2000:]
    data = envelope["data"]
    assert data["per_strategy"], "the replay closes trades, so its P&L has digits to round"
    money = [data["equity_end"], data["realized_pnl"], data["fees"], *(s["pnl"] for s in data["per_strategy"].values())]
    assert all(MONEY_8.match(value) for value in money), money  # USDT's quoteAssetPrecision is 8


def test_the_live_view_shows_mode_source_progress_marks_and_whole_reasons(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(REPO_ROOT / "executor.py"), *RUN, "--format", "text"],
                          capture_output=True, text=True, timeout=300, cwd=REPO_ROOT,
                          env={**cli_env(tmp_path / "home"), "COLUMNS": "220"})
    assert done.returncode == 0, done.stderr[-2000:]
    view = done.stderr
    assert re.search(r"│ mode +│ replay +│", view)
    assert re.search(r"│ source +│ synthetic market, seed 7, 10 pairs +│", view)
    assert re.search(r"│ progress +│ 57,229 events · market time 100% of the data \(ends 2023-11-14 \d\d:\d\d UTC\)",
                     view)
    header = next(line for line in view.splitlines() if "symbol" in line and "qty" in line)
    assert "mark" in header and "unrealized P&L" in header
    # Which symbols the replay ends holding is the strategies' business: the first position row is read.
    held = next(line for line in view.splitlines() if re.match(r"│ [A-Z]+USDT +│", line))
    cells = [cell.strip() for cell in held.strip("│").split("│")]
    assert re.fullmatch(r"[+-]\d+\.\d{2,4}", cells[4]) and re.fullmatch(r"\d{1,3}(,\d{3})*\.\d+", cells[3]), cells
    # A long reason wraps onto the panel's next lines: read the panel's lines as one text, borders removed.
    panel = " ".join(line.strip().strip("│").strip() for line in view.splitlines())
    entries = " ".join(panel.split()).split(" ENTER ")[1:]
    assert entries and all(re.search(r"% of equity \d+\.\d{2}\b", entry) and "…" not in entry.split(" ENTER ")[0]
                           for entry in entries), "reasons are whole"
    summary = done.stdout
    assert "realized_pnl" in summary and not re.search(r"\d\.\d{9,}", summary)
