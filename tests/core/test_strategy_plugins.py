"""The strategy plugin interface and registry (issue 15): names, settings keyed by name, read-only views, and the
safe wrapper (a strategy that raises is silenced with a notice, the others go on)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

import pytest
from pydantic import Field

from core.config import ExecutorConfig, StrategyConfig, load_config
from core.engine import Engine, Notice
from core.errors import ConfigError
from core.events import Bar
from core.features import PairSpread, SymbolFeatures
from core.portfolio import Portfolio
from core.strategies.base import ReadOnlyPair, ReadOnlySymbol, StrategySettings, SymbolStrategy, SymbolView
from core.strategies.guard import StrategyFault, checked_signal
from core.strategies.registry import BUILT_INS, Candidate, Origin, OriginKind, StrategySet
from core.strategies.scoring import long_signal
from core.types import DecisionAction, InvalidStrategyName, Signal, StrategyName
from exchange.feeds.rules import offline_rules

SYMBOL = "AAAUSDT"
FIVE_MIN = 300_000
START = 1_609_459_200_000


class EveryBarConfig(StrategySettings):
    raise_after: int = Field(default=1_000_000, ge=0)


class EveryBar(SymbolStrategy[EveryBarConfig]):
    """Fires on every bar with a price; raises once it has been asked `raise_after` times."""

    name: ClassVar[StrategyName] = StrategyName("every_bar")
    config_model = EveryBarConfig
    calls: ClassVar[int] = 0

    def fires(self, features: SymbolView, config: EveryBarConfig) -> bool:
        type(self).calls += 1
        if type(self).calls > config.raise_after:
            raise ZeroDivisionError("division by zero in the plugin")
        return features.last_price is not None

    def signal(self, features: SymbolView, config: EveryBarConfig, now_ms: int) -> Signal | None:
        assert features.last_price is not None
        return long_signal(features.symbol, self.name, 0.5, features.last_price, Decimal("1"), Decimal("1"), now_ms,
                           "every bar")


class Watching(SymbolStrategy[StrategySettings]):
    """Never fires; counts how often it is asked (it must go on being asked after another strategy faulted)."""

    name: ClassVar[StrategyName] = StrategyName("watching")
    config_model = StrategySettings
    calls: ClassVar[int] = 0

    def fires(self, features: SymbolView, config: StrategySettings) -> bool:
        type(self).calls += 1
        return False

    def signal(self, features: SymbolView, config: StrategySettings, now_ms: int) -> Signal | None:
        return None


class Writer(SymbolStrategy[StrategySettings]):
    """Tries to change the features it is shown."""

    name: ClassVar[StrategyName] = StrategyName("writer")
    config_model = StrategySettings

    def fires(self, features: SymbolView, config: StrategySettings) -> bool:
        features.last_price = 1.0  # type: ignore[misc]
        return False

    def signal(self, features: SymbolView, config: StrategySettings, now_ms: int) -> Signal | None:
        return None


def _origin(where: str) -> Origin:
    return Origin(OriginKind.IMPORT_PATH, where)


def _engine(config: ExecutorConfig, *extra: type) -> Engine:
    strategies = StrategySet.resolve(config.strategies, [Candidate(cls, _origin(cls.__name__)) for cls in extra])
    rules = offline_rules({SYMBOL: 100.0})
    return Engine(config, rules, Portfolio("USDT", {"USDT": Decimal(10_000)}), [SYMBOL], START, strategies)


def _bars(engine: Engine, count: int, start: int = 0) -> None:
    for i in range(start, start + count):
        t = START + i * FIVE_MIN
        price = 100.0 * (1.002 ** i)
        engine.on_market(Bar(SYMBOL, t, t + FIVE_MIN - 1, price / 1.002, price * 1.0005, price / 1.003, price, 1e3))


def test_a_name_is_a_validated_value_object() -> None:
    name = StrategyName("my_cross_2")
    assert name == "my_cross_2" and {name: 1}["my_cross_2"] == 1 and name.value == "my_cross_2"
    for bad in ("", "X", "Momentum", "9lives", "a-b", "a" * 41, "manual"):
        with pytest.raises(InvalidStrategyName):
            StrategyName(bad)


def test_built_ins_are_ordinary_plugins_with_settings_keyed_by_name() -> None:
    config = load_config({"strategies": {"momentum": {"min_rise_pct": 1.3}, "allocation": {"momentum": 0.5}}})
    strategies = StrategySet.resolve(config.strategies)
    assert strategies.names == ("scalping", "momentum", "stat_arb")
    assert {c.origin.kind for c in BUILT_INS} == {OriginKind.BUILT_IN}
    assert strategies.config_of("momentum").min_rise_pct == 1.3  # type: ignore[attr-defined]
    assert config.strategies.allocation == {"momentum": 0.5}


@pytest.mark.parametrize(("values", "setting"), [
    ({"momentum": {"min_rise_pct": -1}}, "strategies.momentum.min_rise_pct"),
    ({"momentum": {"typo": 1}}, "strategies.momentum.typo"),
    ({"nobody": {"x": 1}}, "strategies.nobody"),
    ({"allocation": {"nobody": 0.1}}, "strategies.allocation.nobody"),
])
def test_settings_a_strategy_refuses_or_nobody_owns_are_named(values: dict[str, object], setting: str) -> None:
    with pytest.raises(ConfigError) as err:
        StrategySet.resolve(StrategyConfig.model_validate(values))
    assert err.value.setting == setting


def test_a_second_strategy_of_the_same_name_is_refused() -> None:
    class Impostor(EveryBar):
        name: ClassVar[StrategyName] = StrategyName("momentum")

    with pytest.raises(ConfigError, match="already registered"):
        StrategySet.resolve(StrategyConfig(), [Candidate(Impostor, _origin("x:Impostor"))])


def test_something_that_is_not_a_strategy_class_is_refused() -> None:
    with pytest.raises(ConfigError, match="not a strategy class"):
        StrategySet.resolve(StrategyConfig(), [Candidate(dict, _origin("builtins:dict"))])


def test_views_are_read_only() -> None:
    features = SymbolFeatures(SYMBOL, 3)
    view = ReadOnlySymbol(features)
    features.last_price = 5.0
    assert view.last_price == 5.0
    with pytest.raises(AttributeError):
        view.last_price = 6.0  # type: ignore[misc]
    with pytest.raises(AttributeError):
        view._source = features  # type: ignore[misc]
    pair = ReadOnlyPair(PairSpread("AAAUSDT", "BBBUSDT", 10))
    with pytest.raises(AttributeError):
        pair.z = 3.0  # type: ignore[misc]


def test_a_strategy_signals_under_its_own_name_on_its_own_symbol_only() -> None:
    signal = long_signal(SYMBOL, StrategyName("momentum"), 0.5, 100.0, Decimal(1), Decimal(1), 0, "x")
    assert checked_signal("momentum", (SYMBOL,), signal) is signal
    with pytest.raises(StrategyFault, match="own name"):
        checked_signal("every_bar", (SYMBOL,), signal)
    with pytest.raises(StrategyFault, match="not asked about"):
        checked_signal("momentum", ("BBBUSDT",), signal)
    with pytest.raises(StrategyFault, match="not a Signal"):
        checked_signal("momentum", (SYMBOL,), "buy!")


def test_a_plugin_that_raises_is_silenced_with_one_notice_and_the_others_go_on() -> None:
    EveryBar.calls = Watching.calls = 0
    config = load_config({"strategies": {"every_bar": {"raise_after": 3},
                                         "allocation": {"momentum": 0.5, "every_bar": 0.5}}})
    engine = _engine(config, EveryBar, Watching)
    _bars(engine, 40)
    faults = [r for r in engine.records if isinstance(r, Notice) and r.kind == "strategy_fault"]
    assert len(faults) == 1
    assert "every_bar raised ZeroDivisionError" in faults[0].message and "silenced" in faults[0].message
    assert set(engine.faulted) == {"every_bar"}
    calls, watched = EveryBar.calls, Watching.calls
    _bars(engine, 40, start=40)
    assert EveryBar.calls == calls  # silenced: never asked again
    assert Watching.calls == watched + 40  # the others go on, bar after bar
    decisions = [r.strategy for r in engine.records if type(r).__name__ == "Decision"]
    assert decisions.count("every_bar") == 1  # it decided once, before it raised


def test_the_same_plugin_without_faults_trades_like_a_built_in() -> None:
    EveryBar.calls = 0
    config = load_config({"strategies": {"allocation": {"every_bar": 0.5}}})
    engine = _engine(config, EveryBar)
    _bars(engine, 5)
    entries = [r for r in engine.records if type(r).__name__ == "Decision" and r.strategy == "every_bar"]
    assert len(entries) == 1 and entries[0].action is DecisionAction.ENTER
    assert not engine.faulted


def test_a_plugin_is_handed_views_it_cannot_change() -> None:
    engine = _engine(ExecutorConfig(), Writer)
    _bars(engine, 3)
    assert engine.features[SYMBOL].last_price == pytest.approx(100.0 * 1.002 ** 2)
    assert "writer raised AttributeError" in engine.faulted["writer"]
    assert "read-only" in engine.faulted["writer"]


class RisingCloses(SymbolStrategy[StrategySettings]):
    """Keeps its own state: per symbol, how many closes in a row rose. Fires on the fifth rising close."""

    name: ClassVar[StrategyName] = StrategyName("rising_closes")
    config_model = StrategySettings

    def __init__(self) -> None:
        self.run: dict[str, list[float]] = {}  # symbol -> [closes in a row that rose, last close]

    def on_bar(self, bar: Bar, config: StrategySettings) -> None:
        count, last = self.run.get(bar.symbol, [0, 0.0])
        self.run[bar.symbol] = [count + 1 if bar.close > last else 0, bar.close]

    def fires(self, features: SymbolView, config: StrategySettings) -> bool:
        return self.run.get(features.symbol, [0, 0.0])[0] == 5

    def signal(self, features: SymbolView, config: StrategySettings, now_ms: int) -> Signal | None:
        assert features.last_price is not None
        return long_signal(features.symbol, self.name, 0.5, features.last_price, Decimal("1"), Decimal("1"), now_ms,
                           f"{self.run[features.symbol][0]} rising closes")

    def state(self) -> dict[str, object]:
        return {"run": self.run}

    def restore(self, state: Mapping[str, Any], config: StrategySettings) -> None:
        self.run = {symbol: [int(v[0]), float(v[1])] for symbol, v in state["run"].items()}


class Amnesic(RisingCloses):
    """Cannot take its state back."""

    name: ClassVar[StrategyName] = StrategyName("amnesic")

    def restore(self, state: Mapping[str, Any], config: StrategySettings) -> None:
        raise ValueError("no memory")


def _signal_times(engine: Engine, name: str) -> list[int]:
    return [r.time_ms for r in engine.records if type(r).__name__ == "Decision" and r.strategy == name]


def test_a_stateful_plugin_sees_each_bar_before_its_rule_and_resumes_its_state_from_a_checkpoint() -> None:
    config = load_config({"strategies": {"allocation": {"rising_closes": 0.5}}})
    whole = _engine(config, RisingCloses)
    _bars(whole, 20)
    entered = _signal_times(whole, "rising_closes")
    assert entered == [START + 4 * FIVE_MIN + FIVE_MIN - 1]  # the fifth bar: its own count, updated first
    first = _engine(config, RisingCloses)
    _bars(first, 3)
    saved = first.to_state()
    assert saved["strategy_state"] == {"rising_closes": {"run": {SYMBOL: [3, pytest.approx(100.0 * 1.002 ** 2)]}}}
    strategies = StrategySet.resolve(config.strategies, [Candidate(RisingCloses, _origin("RisingCloses"))])
    resumed = Engine.from_state(saved, config, offline_rules({SYMBOL: 100.0}), strategies)
    _bars(resumed, 17, start=3)
    assert _signal_times(resumed, "rising_closes") == entered  # a restart decides as the uninterrupted run
    fresh = _engine(config, RisingCloses)  # without its state, the count would start again: no entry at bar 5
    _bars(fresh, 17, start=3)
    assert _signal_times(fresh, "rising_closes") != entered


def test_a_plugin_that_cannot_take_its_state_back_is_silenced_not_trusted() -> None:
    config = load_config({"strategies": {"allocation": {"amnesic": 0.5}}})
    engine = _engine(config, Amnesic)
    _bars(engine, 3)
    strategies = StrategySet.resolve(config.strategies, [Candidate(Amnesic, _origin("Amnesic"))])
    resumed = Engine.from_state(engine.to_state(), config, offline_rules({SYMBOL: 100.0}), strategies)
    assert "amnesic raised ValueError" in resumed.faulted["amnesic"]
    _bars(resumed, 17, start=3)
    assert _signal_times(resumed, "amnesic") == []


def test_the_state_of_a_strategy_not_loaded_now_is_kept_for_when_it_is_again() -> None:
    config = load_config({"strategies": {"allocation": {"rising_closes": 0.5}}})
    engine = _engine(config, RisingCloses)
    _bars(engine, 3)
    saved = engine.to_state()["strategy_state"]
    built_ins_only = Engine.from_state(engine.to_state(), ExecutorConfig(), offline_rules({SYMBOL: 100.0}))
    assert built_ins_only.to_state()["strategy_state"] == saved  # e.g. a kill run while its file was untrusted
