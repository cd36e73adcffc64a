"""Issue 9, items 8, 10 and 12: a home's risk limits are its own, and a bad risk setting is named cleanly.

Every case runs `executor.py` as a subprocess from `/` with a fresh `--home`, as a person or an agent's
exec tool would, and reads the envelope, the exit code and the journal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from core.config import ENV_SETTINGS
from tests.runtime.helpers import query
from tests.tools.test_cli_support import EXECUTOR

RISK_PREFIXES = ("MAX_", "DAILY_", "WEEKLY_", "DRAWDOWN_", "KELLY_")
REPLAY = ("run", "--mode", "replay", "--synthetic", "--seed", "3", "--steps", "300", "--symbols", "BTCUSDT,ETHUSDT",
          "--balance", "100", "--no-view")
BUY_20_PCT = ("trade", "--symbol", "BTCUSDT", "--side", "buy", "--pct", "20")


def cli(home: Path, *args: str, **env: str) -> tuple[int, dict[str, Any]]:
    """`python executor.py ARGS --home HOME --format json` from `/`, with no risk setting but those given."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(RISK_PREFIXES) and k != "EXECUTOR_HOME"}
    done = subprocess.run([sys.executable, str(EXECUTOR), *args, "--home", str(home), "--format", "json"], cwd="/",
                          env={**base, **env}, capture_output=True, text=True, timeout=300, check=False)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, (done.stdout, done.stderr[-2000:])
    return done.returncode, json.loads(lines[0])


def position_cap(document: dict[str, Any]) -> str:
    """The quote amount the position-size rule allowed in a trade's answer."""
    clamps = [c for c in document["data"]["decision"]["clamps"] if c["rule"] == "risk.max_position_size_pct"]
    assert clamps, document
    return str(clamps[0]["applied"])


def limit(document: dict[str, Any], setting: str) -> dict[str, Any]:
    return next(line for line in document["data"]["limits"] if line["setting"] == setting)


def test_item8_tool_env_cannot_loosen_stored_limits(tmp_path: Path) -> None:
    home = tmp_path / "home"
    code, answer = cli(home, "config", "set", "MAX_POSITION_SIZE_PCT", "5")
    assert code == 0 and answer["data"]["changes"][0]["new"] == 5.0, answer
    code, answer = cli(home, *REPLAY)  # started without the variable: the stored 5 stays
    assert code == 0, answer
    code, answer = cli(home, *BUY_20_PCT, MAX_POSITION_SIZE_PCT="25")
    assert code == 0, answer
    assert position_cap(answer) == "5.00", "5% of the 100 USDT equity, not the agent's 25%"
    code, status = cli(home, "status", MAX_POSITION_SIZE_PCT="25")
    line = limit(status, "MAX_POSITION_SIZE_PCT")
    assert (line["value"], line["source"]) == (5.0, "config set") and "not stricter" in line["ignored"]


def test_item8_the_service_env_at_run_start_is_the_homes_limit(tmp_path: Path) -> None:
    """The issue's reproduction: MAX_POSITION_SIZE_PCT=5 set for the service, `run` stopped, then `trade`."""
    home = tmp_path / "home"
    code, answer = cli(home, *REPLAY, MAX_POSITION_SIZE_PCT="5")
    assert code == 0, answer
    code, answer = cli(home, *BUY_20_PCT)
    assert code == 0 and position_cap(answer) == "5.00", answer
    code, answer = cli(home, *BUY_20_PCT, MAX_POSITION_SIZE_PCT="25")
    assert code == 0 and position_cap(answer) == "5.00", answer
    code, status = cli(home, "status")
    assert limit(status, "MAX_POSITION_SIZE_PCT")["source"] == "run start"
    assert limit(status, "DAILY_LOSS_LIMIT_PCT")["source"] == "default"


def test_item8_a_tool_env_can_tighten_and_status_says_so(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert cli(home, *REPLAY, MAX_POSITION_SIZE_PCT="20")[0] == 0
    code, answer = cli(home, *BUY_20_PCT, MAX_POSITION_SIZE_PCT="6")
    assert code == 0 and position_cap(answer) == "6.00", answer
    code, status = cli(home, "status", MAX_POSITION_SIZE_PCT="6", FEE_RATE="0")
    line = limit(status, "MAX_POSITION_SIZE_PCT")
    assert (line["value"], line["source"]) == (6.0, "tightened by environment (MAX_POSITION_SIZE_PCT)")
    assert limit(status, "fee_rate")["value"] == "0.001"


def test_item8_run_start_and_config_set_are_journaled_changes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert cli(home, "config", "set", "MAX_POSITION_SIZE_PCT", "5")[0] == 0
    assert cli(home, *REPLAY, MAX_POSITION_SIZE_PCT="8")[0] == 0  # a person's start with the variable set
    assert cli(home, "config", "set", "max_open_positions", "3")[0] == 0
    code, shown = cli(home, "config", "show")
    assert code == 0
    assert (limit(shown, "MAX_POSITION_SIZE_PCT")["source"], limit(shown, "MAX_OPEN_POSITIONS")["value"]) == \
        ("run start", 3)
    rows = query(home / "journal.db", "SELECT name, old_json, new_json, source, actor, time_ms FROM "
                                      "risk_setting_changes WHERE name IN ('max_position_size_pct', "
                                      "'max_open_positions') ORDER BY id")
    assert [r[:4] for r in rows] == [("max_position_size_pct", None, "5.0", "config set"),
                                     ("max_position_size_pct", "5.0", "8.0", "run start"),
                                     ("max_open_positions", None, "10", "default"),
                                     ("max_open_positions", "10", "3", "config set")]
    assert all(r[4] and r[5] > 0 for r in rows), "who and when"
    assert [h["setting"] for h in shown["data"]["history"]].count("MAX_POSITION_SIZE_PCT") == 2


def test_item8_config_set_refuses_bad_input_with_exit_2_and_stores_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    code, answer = cli(home, "config", "set", "MAX_LEVERAGE", "3")
    assert code == 2 and answer["error"]["code"] == "INVALID_CONFIG"
    assert "MAX_POSITION_SIZE_PCT" in answer["error"]["details"]["known"]
    assert "MAX_POSITION_SIZE_PCT" in answer["error"]["message"]
    for name, value, bound in [("MAX_POSITION_SIZE_PCT", "40", 25.0), ("MAX_POSITION_SIZE_PCT", "nan", None),
                               ("DRAWDOWN_KILL_PCT", "6", 7.0), ("max_open_positions", "2.5", None)]:
        code, answer = cli(home, "config", "set", name, value)
        assert code == 2 and answer["error"]["code"] == "INVALID_CONFIG", answer
        assert answer["error"]["details"]["setting"] == name.upper()
        assert answer["error"]["details"].get("limit") == bound
    assert query(home / "journal.db", "SELECT count(*) FROM risk_setting_changes") == [(0,)]


def test_item8_config_is_never_an_agent_tool(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(EXECUTOR), "tools", "--format", "jsonschema"], cwd="/",
                          capture_output=True, text=True, timeout=60, check=True)
    assert not any("config" in name for name in json.loads(done.stdout))


@pytest.mark.parametrize(("variable", "value"), [(v, ("nan", "inf", "-inf", "NaN")[i % 4])
                                                 for i, v in enumerate(ENV_SETTINGS)])
def test_item10_nan_or_inf_in_a_risk_setting_is_named_with_exit_2(tmp_path: Path, variable: str, value: str) -> None:
    code, answer = cli(tmp_path / "home", "status", **{variable: value})
    assert code == 2, answer
    assert answer["error"]["code"] == "INVALID_CONFIG"
    assert answer["error"]["details"]["setting"] == variable
    assert answer["error"]["details"]["value"] == value


def test_item10_nan_at_run_start_is_named_before_the_home_is_touched(tmp_path: Path) -> None:
    home = tmp_path / "home"
    code, answer = cli(home, *REPLAY, DAILY_LOSS_LIMIT_PCT="nan")
    assert code == 2 and answer["error"]["details"]["setting"] == "DAILY_LOSS_LIMIT_PCT", answer
    assert not home.exists()


@pytest.mark.parametrize("command", [("status",), REPLAY])
def test_item12_drawdown_kill_below_pause_names_DRAWDOWN_KILL_PCT(tmp_path: Path, command: tuple[str, ...]) -> None:
    code, answer = cli(tmp_path / "home", *command, DRAWDOWN_KILL_PCT="5")
    assert code == 2, answer
    assert answer["error"]["code"] == "INVALID_CONFIG"
    assert answer["error"]["details"]["setting"] == "DRAWDOWN_KILL_PCT"
    assert answer["error"]["details"]["limit"] == 7.0, "the pause level it must stay above"


def test_item8_reading_the_limits_never_stops_kill_on_a_damaged_home(tmp_path: Path) -> None:
    """Regression guard (passes on the old code too): the limits are read before any tool runs, and a journal
    that cannot be read must still let `kill` create the kill flag."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "journal.db").write_text("not a database")
    code, answer = cli(home, "kill")
    assert code == 1 and answer["error"]["code"] == "JOURNAL_UNREADABLE"
    assert (home / "KILL").exists()
