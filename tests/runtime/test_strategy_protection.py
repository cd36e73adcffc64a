"""A plugin's optional parts, through the real pump, paper exchange and journal: its own trailing ladder
(`Protection.trailing_*`), a fixed stop (`Protection.trailing`), a take-profit net of fees
(`Protection.take_profit_net_of_fees`) and its own exit rule (`SymbolStrategy.exit_reason`)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from core.config import load_config
from core.engine import Engine
from core.events import Bar
from core.portfolio import Portfolio
from core.strategies.base import Protection, StrategySettings, SymbolStrategy, SymbolView, gross_take_profit_pct
from core.strategies.registry import Candidate, Origin, OriginKind, StrategySet
from core.strategies.scoring import long_signal
from core.types import Signal, StrategyName
from exchange.feeds.rules import offline_rules
from exchange.paper import PaperExchange
from memory.journal import Journal
from runtime.pump import Pump

SYMBOL = "AAAUSDT"
FIVE_MIN = 300_000
START = 1_609_459_200_000


class FirstBarConfig(StrategySettings):
    trailing_start_pct: float | None = None
    exit_below: float = Field(default=0.0, ge=0)
    trailing: bool = True
    net_of_fees: bool = False


class FirstBar(SymbolStrategy[FirstBarConfig]):
    """Buys on the first bar with a price (+5 % / −2 %); exits when the price falls below `exit_below`."""

    name: ClassVar[StrategyName] = StrategyName("first_bar")
    config_model = FirstBarConfig

    def fires(self, features: SymbolView, config: FirstBarConfig) -> bool:
        return features.last_price is not None

    def signal(self, features: SymbolView, config: FirstBarConfig, now_ms: int) -> Signal | None:
        assert features.last_price is not None
        return long_signal(features.symbol, self.name, 0.5, features.last_price, Decimal("5"), Decimal("2"), now_ms,
                           "first bar")

    def exit_reason(self, features: SymbolView, config: FirstBarConfig) -> str | None:
        price = features.last_price
        return f"fell below {config.exit_below}" if price is not None and price < config.exit_below else None

    def protection(self, config: FirstBarConfig) -> Protection:
        start = config.trailing_start_pct
        return Protection(take_profit_pct=Decimal("5"), stop_loss_pct=Decimal("2"), trailing_start_pct=start,
                          trailing_step_pct=start, trailing=config.trailing,
                          take_profit_net_of_fees=config.net_of_fees)


class Rig:
    def __init__(self, tmp: Path, settings: dict[str, object]) -> None:
        config = load_config({"strategies": {"allocation": {"first_bar": 0.5}, "first_bar": settings}})
        strategies = StrategySet.resolve(config.strategies, [
            Candidate(FirstBar, Origin(OriginKind.IMPORT_PATH, "tests:FirstBar"))])
        rules = offline_rules({SYMBOL: 100.0})
        balances = {"USDT": Decimal(10_000)}
        self.engine = Engine(config, rules, Portfolio("USDT", balances), [SYMBOL], START, strategies)
        tmp.mkdir(parents=True, exist_ok=True)
        self.journal = Journal(tmp / "journal.db", durable=False)
        self.pump = Pump(self.engine, PaperExchange(rules, balances), self.journal)
        self.t = START

    def bar(self, close: float) -> None:
        self.pump.handle(Bar(SYMBOL, self.t, self.t + FIVE_MIN - 1, close, close * 1.0001, close * 0.9999, close, 1e3))
        self.t += FIVE_MIN


def test_a_strategy_trailing_ladder_of_its_own_moves_the_stop_sooner(tmp_path: Path) -> None:
    own, default = Rig(tmp_path / "own", {"trailing_start_pct": 0.5}), Rig(tmp_path / "default", {})
    for rig in (own, default):
        rig.bar(100.0)  # the entry
        rig.bar(100.0)  # filled and protected
        holding = rig.engine.holdings[SYMBOL]
        entry = holding.entry_price
        rig.bar(float(entry) * 1.007)  # +0.7 %: past the plugin's 0.5 % rung, short of the default 1 %
    assert own.engine.holdings[SYMBOL].stop_price >= own.engine.holdings[SYMBOL].entry_price
    assert default.engine.holdings[SYMBOL].stop_price < default.engine.holdings[SYMBOL].entry_price


def test_a_strategy_exit_rule_closes_its_position_at_market(tmp_path: Path) -> None:
    rig = Rig(tmp_path, {"exit_below": 99.5})
    rig.bar(100.0)
    rig.bar(100.0)
    assert SYMBOL in rig.engine.holdings
    rig.bar(99.6)  # above the exit level, above the stop: held
    assert SYMBOL in rig.engine.holdings and not rig.engine.holdings[SYMBOL].exiting
    rig.bar(99.4)  # below the plugin's exit level, still above the 2 % stop
    rig.bar(99.4)
    assert SYMBOL not in rig.engine.holdings
    exits = [o for o in rig.journal.orders() if o.client_order_id.startswith("cx-x-")]
    assert len(exits) == 1 and exits[0].status == "FILLED"


def test_a_strategy_with_a_fixed_stop_keeps_it_where_it_was_placed(tmp_path: Path) -> None:
    fixed, trailing = Rig(tmp_path / "fixed", {"trailing": False}), Rig(tmp_path / "trailing", {})
    placed: dict[str, Decimal] = {}
    for name, rig in (("fixed", fixed), ("trailing", trailing)):
        rig.bar(100.0)  # the entry
        rig.bar(100.0)  # filled and protected
        placed[name] = rig.engine.holdings[SYMBOL].stop_price
        for step in range(1, 5):
            rig.bar(100.0 * (1 + step / 100))  # up to +4 %, short of the 5 % take-profit
    held = fixed.engine.holdings[SYMBOL]
    assert held.stop_price == placed["fixed"] and held.trailing_delta is None
    stops = [o for o in fixed.journal.orders() if o.type == "STOP_LOSS_LIMIT"]
    assert len(stops) == 1 and stops[0].trailing_delta is None and stops[0].stop_price == placed["fixed"]
    assert trailing.engine.holdings[SYMBOL].stop_price > placed["trailing"]


def test_a_take_profit_net_of_fees_sits_where_the_round_trip_nets_the_target(tmp_path: Path) -> None:
    net, gross = Rig(tmp_path / "net", {"net_of_fees": True}), Rig(tmp_path / "gross", {})
    prices = {}
    for name, rig in (("net", net), ("gross", gross)):
        rig.bar(100.0)
        rig.bar(100.0)
        fill = rig.journal.fills()[0].price
        take_profit = next(o for o in rig.journal.orders() if o.type == "LIMIT_MAKER").price
        prices[name] = (fill, take_profit)
    fill, take_profit = prices["net"]
    fee = net.engine.config.risk.fee_rate
    tick = net.engine.rules[SYMBOL].tick_size
    wanted = fill * (1 + gross_take_profit_pct(Decimal("5"), fee) / 100)
    assert wanted <= take_profit < wanted + tick  # rounded up to the tick
    assert take_profit * (1 - fee) / (fill * (1 + fee)) - 1 >= Decimal("0.05")
    fill, take_profit = prices["gross"]
    assert fill * Decimal("1.05") <= take_profit < fill * Decimal("1.05") + tick
