"""`status --format text` and `scan --format text` as a person reads them in a chat (issue 11 item 5).

Run as subprocesses on a replayed home: the important lines come first and are never hidden behind detail,
times are UTC, numbers are rounded for reading and never cut, and scan shows every symbol's entry decision
with every blocker the JSON answer has.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.tools.test_cli_support import closed_loopback_url, prepare_home, run_executor
from tools.cli import LINE_LIMIT, TEXT_LIMIT, render_text

EPOCH_MS = re.compile(r"\b1[6-9]\d{11}\b")
LONG_DECIMAL = re.compile(r"\d\.\d{9,}")
MORE = re.compile(r"^… \d+ more line\(s\): `(status|scan) --format json` has everything$")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A replayed home with ten protected positions, then paused and killed by hand."""
    home = prepare_home(tmp_path_factory.mktemp("chat") / "home")
    for call in (("pause", "--minutes", "30"), ("kill",)):
        assert run_executor(home, *call, "--format", "json").returncode == 0
    return home


def _flat(text: str) -> str:
    return " ".join(text.split())


def _readable(text: str) -> None:
    lines = text.splitlines()
    assert 0 < len(text) <= TEXT_LIMIT
    assert all(len(line) <= 3 * LINE_LIMIT for line in lines)
    assert not EPOCH_MS.search(text), "times are UTC, not epoch milliseconds"
    assert not LONG_DECIMAL.search(text), "numbers are rounded for reading"
    assert all("…" not in line for line in lines if not MORE.match(line)), "nothing is cut mid-value"


def test_status_text_puts_breakers_kill_switch_and_pnl_first(home: Path) -> None:
    done = run_executor(home, "status", "--format", "text")
    assert done.returncode == 0, done.stderr
    text = done.stdout.strip()
    _readable(text)
    lines = text.splitlines()
    assert lines[0] == "status: ok"
    assert lines[1].startswith("replay · finished · engine time 2023-11-14 22:38 UTC · saved ")
    assert re.fullmatch(r"Equity 9,998\.37 USDT · cash 8,590\.41 USDT · 7 open position\(s\)", lines[2])
    assert lines[3].startswith("Today's P&L")
    assert lines[4] == "Breakers: normal · entries allowed"
    assert lines[5] == "Kill switch: ON (manual)"
    assert re.fullmatch(r"Paused: all entries until \d{4}-\d\d-\d\d \d\d:\d\d UTC", lines[6])
    data = json.loads(run_executor(home, "status", "--format", "json").stdout)["data"]
    eth = next(p for p in data["positions"] if p["symbol"] == "ETHUSDT")
    assert eth["avg_entry"].startswith("3403.2232232232")  # JSON keeps every digit
    # The stop is where the exchange's trailing stop triggers now (the highest price since placement less the delta).
    assert ("- ETHUSDT 0.0698301 @ 3,403.2232 · mark 3,399.66 · uPnL -0.2488 · stop 3,389.6964 / tp 3,410.02 · "
            "protected (oco)") in lines


def test_status_text_drops_whole_lines_of_detail_and_says_how_to_see_all(home: Path) -> None:
    data = json.loads(run_executor(home, "status", "--format", "json").stdout)["data"]
    crowded = copy.deepcopy(data)
    crowded["positions"] = crowded["positions"] * 4
    crowded["notes"] = ["the checkpoint is older than the journal's last order: " + "x " * 150]
    text = render_text({"ok": True, "tool": "status", "data": crowded})
    _readable(text)
    lines = text.splitlines()
    assert MORE.match(lines[-1])
    assert any(line.startswith("Kill switch: ON") for line in lines)
    assert any(line.startswith("Note: the checkpoint is older") for line in lines)
    shown = [line for line in lines if line.startswith("- ")]
    assert 0 < len(shown) < 40 and all(line.endswith("protected (oco)") for line in shown)


@pytest.fixture(scope="module")
def status_data(home: Path) -> dict:
    return json.loads(run_executor(home, "status", "--format", "json").stdout)["data"]


@settings(max_examples=60)
@given(pnl=st.decimals(min_value=-10**9, max_value=10**9, allow_nan=False, allow_infinity=False, places=30),
       positions=st.integers(min_value=0, max_value=60), note=st.text(max_size=600))
def test_any_status_fits_one_message_with_its_essentials(status_data: dict, pnl, positions: int, note: str) -> None:
    data = copy.deepcopy(status_data)
    data["pnl_today"].update(pnl=str(pnl), pnl_pct=0.5, from_equity="10000", from_ms=1_700_000_000_000)
    data["positions"] = (data["positions"] * 6)[:positions]
    data["notes"] = [note]
    text = render_text({"ok": True, "tool": "status", "data": data})
    assert len(text) <= TEXT_LIMIT and all(len(line) <= 3 * LINE_LIMIT for line in text.splitlines())
    for essential in ("Breakers: ", "Kill switch: ON", "Today's P&L (2023-11-14 UTC): "):
        assert essential in text
    assert not LONG_DECIMAL.search(text.split("Note:")[0])


def test_scan_text_shows_each_decision_with_every_blocker(home: Path) -> None:
    # two symbols: with the sector guard's blocker, a third one's lines would push the prices past the text limit
    symbols, closed = "BTCUSDT,FOOUSDT", closed_loopback_url()
    text = run_executor(home, "scan", "--symbols", symbols, "--format", "text", BINANCE_BASE_URL=closed).stdout.strip()
    _readable(text)
    data = json.loads(run_executor(home, "scan", "--symbols", symbols, "--format", "json",
                                   BINANCE_BASE_URL=closed).stdout)["data"]
    flat = _flat(text)
    for result in data["results"]:
        assert f"{result['symbol']}: entry would be REFUSED now" in text
        for blocker in result["entry"]["blockers"]:
            assert _flat(blocker["message"]) in flat, blocker
    assert "kill switch is on (manual)" in flat or "Every symbol is blocked by" in text
    assert "BTCUSDT: engine's last price 64,995.18" in text
