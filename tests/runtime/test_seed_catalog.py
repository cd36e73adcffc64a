"""`strategies list` names the seed strategies a home has not enabled, and lists them as registered once its
strategies.json names them."""

from __future__ import annotations

import json
from pathlib import Path

from runtime.home import Home
from runtime.strategy_catalog import catalog


def test_the_catalog_lists_seed_strategies_as_not_enabled_until_strategies_json_names_one(tmp_path: Path) -> None:
    home = Home(tmp_path / "home").ensure()
    listed = catalog(home)
    assert [s["name"] for s in listed["not_enabled"]] == ["regime_atr", "pattern_echo"]
    assert "strategies.json" in listed["not_enabled"][0]["enable"]
    (home.root / "strategies.json").write_text(json.dumps({"allocation": {"momentum": 0.2, "regime_atr": 0.0}}))
    listed = catalog(home)
    assert [s["name"] for s in listed["not_enabled"]] == ["pattern_echo"]
    regime = next(s for s in listed["strategies"] if s["name"] == "regime_atr")
    assert regime["allocation"] == 0.0 and regime["origin"]["kind"] == "built-in"
    assert regime["config"]["stop_atr"]["choppy"] == 2.5
