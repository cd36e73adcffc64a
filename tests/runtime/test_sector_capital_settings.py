"""The sector and capital settings are checked by name before a `run` or `backtest` touches the home."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.sectors import DEFAULT_SECTORS, Sector
from runtime.settings import check_settings
from tests.runtime.helpers import run_cli


@pytest.mark.parametrize(("variable", "value"), [("SECTOR_MAP", "SOLUSDT=stocks"), ("SECTOR_MAP", "SOLUSDT"),
                                                 ("CAPITAL_RULE", "all_in"), ("BASE_DEPLOY_PCT", "NaN"),
                                                 ("BASE_DEPLOY_PCT", "150"), ("MAX_POSITIONS_PER_SECTOR", "-1")])
def test_a_bad_value_is_refused_by_name_before_the_home_is_touched(tmp_path: Path, variable: str,
                                                                   value: str) -> None:
    home = tmp_path / "home"
    code, answer, _ = run_cli(home, "backtest", "--synthetic", "--steps", "10", **{variable: value})
    assert code == 2 and answer["error"]["code"] == "INVALID_CONFIG", answer
    assert answer["error"]["details"]["setting"] == variable
    assert not (home / "journal.db").exists()


def test_the_sector_map_reaches_the_start_settings() -> None:
    assert check_settings({}).sector_map == dict(DEFAULT_SECTORS)
    assert check_settings({"SECTOR_MAP": "SOLUSDT=meme"}).sector_map["SOLUSDT"] is Sector.MEME


def test_a_tool_environment_cannot_switch_the_capital_rule(tmp_path: Path) -> None:
    from core.config import CapitalRule
    from runtime.home import Home
    from runtime.limits import limits_for_tool

    limits = limits_for_tool(Home.resolve(str(tmp_path / "home")).ensure(), {"CAPITAL_RULE": "base_plus_profits",
                                                                             "BASE_DEPLOY_PCT": "20"})
    assert limits.risk.capital_rule is CapitalRule.OFF and limits.risk.base_deploy_pct == 20.0
    [line] = [line for line in limits.lines() if line["field"] == "capital_rule"]
    assert "cannot be changed by a tool's environment" in line["ignored"]
