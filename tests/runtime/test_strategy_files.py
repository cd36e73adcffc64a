"""A home's own strategy files are loaded only once a person trusted them (issue 15): `strategies trust FILE` pins
the file's SHA-256 in the journal; a new or changed file is refused with the command that trusts it.
`STRATEGIES=pkg.module:Class` adds classes by import path. `strategies list|show` say where each came from,
from any working directory."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.config import ExecutorConfig, StrategyConfig
from core.engine import Engine
from core.errors import ConfigError
from core.portfolio import Portfolio
from core.strategies.registry import OriginKind
from exchange.feeds.rules import offline_rules
from runtime.home import Home
from runtime.strategy_catalog import catalog, trust
from runtime.strategy_loader import StrategyFileRefused, home_config, load_strategies
from tests.tools.test_cli_support import EXECUTOR

CROSS = '''
from decimal import Decimal
from typing import ClassVar

from core.strategies.base import StrategySettings, SymbolStrategy, SymbolView
from core.strategies.scoring import long_signal
from core.types import Signal, StrategyName


class MyRiseConfig(StrategySettings):
    min_rise_pct: float = 0.5


class MyRise(SymbolStrategy[MyRiseConfig]):
    name: ClassVar[StrategyName] = StrategyName("my_rise")
    config_model = MyRiseConfig
    summary: ClassVar[str] = "a rise over the momentum window"

    def fires(self, features: SymbolView, config: MyRiseConfig) -> bool:
        rise = features.momentum_pct
        return rise is not None and rise > config.min_rise_pct and features.last_price is not None

    def signal(self, features: SymbolView, config: MyRiseConfig, now_ms: int) -> Signal | None:
        if not self.fires(features, config):
            return None
        return long_signal(features.symbol, self.name, 0.5, features.last_price, Decimal("1"), Decimal("1"),
                           now_ms, "rise")
'''


def _home(tmp_path: Path) -> Home:
    home = Home(tmp_path / "home").ensure()
    (home.root / "strategies").mkdir()
    return home


def _loaded(home: Home, env: dict[str, str] | None = None) -> Any:
    return load_strategies(home, env or {}, StrategyConfig())


def test_a_new_file_is_refused_until_trusted_and_refused_again_after_a_one_byte_edit(tmp_path: Path) -> None:
    home = _home(tmp_path)
    path = home.root / "strategies" / "my_rise.py"
    path.write_text(CROSS)
    first = _loaded(home)
    assert "my_rise" not in first.strategies.names
    assert [r.file for r in first.refused] == ["my_rise.py"]
    assert "is new" in first.refused[0].reason and "strategies trust" in first.refused[0].reason

    pinned = trust(home, Path("my_rise.py"), 1_000)
    assert pinned["strategies"] == ["my_rise"] and pinned["previous_sha256"] is None
    trusted = _loaded(home)
    assert "my_rise" in trusted.strategies.names and not trusted.refused
    origin = trusted.strategies.by_name["my_rise"].origin
    assert origin.kind is OriginKind.TRUSTED_FILE and origin.sha256 == pinned["sha256"]

    path.write_bytes(path.read_bytes().replace(b"0.5", b"0.4", 1))  # one byte
    edited = _loaded(home)
    assert "my_rise" not in edited.strategies.names
    assert "changed since it was trusted" in edited.refused[0].reason
    assert pinned["sha256"] in edited.refused[0].reason and "strategies trust" in edited.refused[0].reason

    again = trust(home, path, 2_000)
    assert again["previous_sha256"] == pinned["sha256"]
    assert "my_rise" in _loaded(home).strategies.names


def test_only_files_of_the_home_strategy_folder_can_be_trusted(tmp_path: Path) -> None:
    home = _home(tmp_path)
    outside = tmp_path / "elsewhere.py"
    outside.write_text(CROSS)
    with pytest.raises(StrategyFileRefused, match="directly in"):
        trust(home, outside, 1_000)


def test_a_file_that_defines_no_strategy_is_not_pinned(tmp_path: Path) -> None:
    home = _home(tmp_path)
    (home.root / "strategies" / "empty.py").write_text("X = 1\n")
    with pytest.raises(StrategyFileRefused, match="defines no strategy class"):
        trust(home, Path("empty.py"), 1_000)
    assert "empty.py" in [r.file for r in _loaded(home).refused]


def test_strategies_by_import_path(tmp_path: Path) -> None:
    home = _home(tmp_path)
    loaded = _loaded(home, {"STRATEGIES": "tests.core.test_strategy_plugins:Watching"})
    assert loaded.strategies.by_name["watching"].origin.kind is OriginKind.IMPORT_PATH
    for bad, reason in (("no_colon", "pkg.module:Class"), ("tests.nowhere:X", "cannot import"),
                        ("tests.core.test_strategy_plugins:Nope", "has no Nope")):
        with pytest.raises(ConfigError, match=reason):
            _loaded(home, {"STRATEGIES": bad})


def test_home_settings_file_keys_allocations_settings_and_the_manual_section(tmp_path: Path) -> None:
    home = _home(tmp_path)
    (home.root / "strategies.json").write_text(json.dumps({
        "allocation": {"momentum": 0.4}, "momentum": {"min_rise_pct": 1.1},
        "manual": {"take_profit_pct": "2.5", "stop_loss_pct": "1.2"}}))
    config = home_config(home, ExecutorConfig().risk)
    assert config.manual.take_profit_pct == Decimal("2.5") and config.manual.stop_loss_pct == Decimal("1.2")
    loaded = load_strategies(home, {}, config.strategies)
    assert loaded.strategies.config_of("momentum").min_rise_pct == 1.1  # type: ignore[attr-defined]
    assert catalog(home, "momentum")["strategy"]["allocation"] == 0.4
    assert catalog(home, "momentum")["strategy"]["fixed_stake"] is None
    (home.root / "strategies.json").write_text(json.dumps({"allocation": {}, "fixed_stake": {"momentum": "100"}}))
    assert catalog(home, "momentum")["strategy"]["fixed_stake"] == "100"
    (home.root / "strategies.json").write_text(json.dumps({"fixed_stake": {"nobody": "100"}}))
    with pytest.raises(ConfigError, match=r"fixed_stake\.nobody"):
        catalog(home, "momentum")
    (home.root / "strategies.json").write_text(json.dumps({"manual": {"stop_loss_pct": "-1"}}))
    with pytest.raises(ConfigError, match="stop_loss_pct"):
        home_config(home, ExecutorConfig().risk)


def test_a_checkpoint_from_before_plugins_restores_stat_arbs_spread() -> None:
    rules = offline_rules({"BTCUSDT": 40_000.0, "ETHUSDT": 2_000.0})
    engine = Engine(ExecutorConfig(), rules, Portfolio("USDT", {"USDT": Decimal(1000)}), ["BTCUSDT", "ETHUSDT"], 0)
    for i in range(300):
        engine.pairs["stat_arb"].on_bar("BTCUSDT", i, 40_000.0 + i, None)
        engine.pairs["stat_arb"].on_bar("ETHUSDT", i, 40_000.0 + i, 2_000.0 + (i % 7))
    state = engine.to_state()
    track = state.pop("pairs")["stat_arb"]
    old = {**state, "pair": track["spread"], "pair_bar_ms": track["bar_ms"],
           "live_signals": [["BTCUSDT", "stat_arb"]], "pnls": {"momentum": [], "stat_arb": [1.0]}}
    restored = Engine.from_state(json.loads(json.dumps(old)), ExecutorConfig(), rules)
    assert restored.pairs["stat_arb"].spread.z == engine.pairs["stat_arb"].spread.z is not None
    assert restored.pnls["stat_arb"] == [1.0]


def test_strategies_list_and_show_from_any_directory(tmp_path: Path) -> None:
    home = _home(tmp_path)
    (home.root / "strategies" / "my_rise.py").write_text(CROSS)

    def run(*args: str) -> dict[str, Any]:
        done = subprocess.run([sys.executable, str(EXECUTOR), "strategies", *args, "--home", str(home.root)],
                              cwd="/", capture_output=True, text=True, timeout=120, check=False)
        return json.loads(done.stdout)

    listed = run("list")["data"]
    assert [s["name"] for s in listed["strategies"]] == ["scalping", "momentum", "stat_arb"]
    assert listed["refused_files"][0]["file"] == "my_rise.py"
    trusted = run("trust", str(home.root / "strategies" / "my_rise.py"))["data"]
    shown = run("show", "my_rise")["data"]["strategy"]
    assert shown["origin"] == {"kind": "trusted file", "where": str(home.root / "strategies" / "my_rise.py"),
                               "sha256": trusted["sha256"]}
    assert shown["config_schema"]["properties"]["min_rise_pct"]["default"] == 0.5
    missing = run("show", "nobody")
    assert missing["ok"] is False and missing["error"]["code"] == "INVALID_ARGUMENT"
