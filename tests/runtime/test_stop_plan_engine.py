"""A Signal's stop plan, followed by the engine through the real pump, paper exchange and journal: the initial stop,
breakeven plus both fees at +1.5 %, then a trail at the plan's distance from +2.5 %, each a fixed stop the engine
re-places (never the exchange's trailing delta, even where the symbol allows one), and the plan survives a
checkpoint."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

from core.config import load_config
from core.engine import Engine
from core.events import Bar
from core.portfolio import Portfolio
from core.stop_plan import StopPlan, breakeven_price
from core.strategies.base import StrategySettings, SymbolStrategy, SymbolView
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
PLAN = StopPlan(trail_distance_pct=Decimal("1"))


class PlannedOnce(SymbolStrategy[StrategySettings]):
    """Fires on the third bar it sees, with a 2 % stop, a 10 % take-profit and PLAN."""

    name: ClassVar[StrategyName] = StrategyName("planned_once")
    config_model = StrategySettings

    def __init__(self) -> None:
        self.bars = 0

    def on_bar(self, bar: Bar, config: StrategySettings) -> None:
        self.bars += 1

    def fires(self, features: SymbolView, config: StrategySettings) -> bool:
        return self.bars == 3

    def signal(self, features: SymbolView, config: StrategySettings, now_ms: int) -> Signal | None:
        assert features.last_price is not None
        return long_signal(features.symbol, self.name, 1.0, features.last_price, Decimal(10), Decimal(2), now_ms,
                           "third bar", stop_plan=PLAN)

    def state(self) -> dict[str, int]:
        return {"bars": self.bars}

    def restore(self, state: object, config: StrategySettings) -> None:
        self.bars = int(state["bars"])  # type: ignore[index]


class PlainOnce(PlannedOnce):
    """The same entry without a plan."""

    def signal(self, features: SymbolView, config: StrategySettings, now_ms: int) -> Signal | None:
        assert features.last_price is not None
        return long_signal(features.symbol, self.name, 1.0, features.last_price, Decimal(10), Decimal(2), now_ms,
                           "third bar, no plan")


class Rig:
    def __init__(self, tmp: Path, strategy: type[PlannedOnce] = PlannedOnce) -> None:
        self.strategy = strategy
        self.config = load_config({"strategies": {"allocation": {"planned_once": 1.0}}})
        self.rules = offline_rules({SYMBOL: 100.0})
        assert self.rules[SYMBOL].allow_trailing_stop, "the symbol allows trailing stops: the plan must not use them"
        balances = {"USDT": Decimal(10_000)}
        self.engine = Engine(self.config, self.rules, Portfolio("USDT", balances), [SYMBOL], START, self.strategies())
        self.exchange = PaperExchange(self.rules, balances)
        self.journal = Journal(tmp / "journal.db", durable=False)
        self.pump = Pump(self.engine, self.exchange, self.journal)
        self.t = START
        self.price = 100.0

    def strategies(self) -> StrategySet:
        return StrategySet.resolve(self.config.strategies,
                                   [Candidate(self.strategy, Origin(OriginKind.IMPORT_PATH, "test:PlannedOnce"))])

    def bar(self, change_pct: float) -> None:
        open_, close = self.price, self.price * (1 + change_pct / 100)
        low = min(open_, close) * 0.9999
        self.pump.handle(Bar(SYMBOL, self.t, self.t + FIVE_MIN - 1, open_, max(open_, close), low, close, 1000.0))
        self.t += FIVE_MIN
        self.price = close


def test_the_engine_moves_a_planned_stop_to_breakeven_then_trails_it_with_fixed_stops(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    for _ in range(4):
        rig.bar(0.0)
    holding = rig.engine.holdings[SYMBOL]
    assert holding.stop_plan is not None and holding.ladder_only and holding.trailing_delta is None
    fill = Decimal(holding.stop_plan["fill"])
    assert holding.stop_price <= fill * Decimal("0.98") * Decimal("1.0001")  # the Signal's own 2 % stop
    rig.bar(1.0)  # +1.0 %: nothing moves yet
    assert holding.stop_price < fill
    rig.bar(0.6)  # +1.6 %: breakeven plus both fees
    breakeven = breakeven_price(fill, rig.config.risk.fee_rate)
    assert breakeven <= holding.stop_price < fill * Decimal("1.01")
    assert holding.stop_price * (1 - rig.config.risk.fee_rate) >= fill * (1 + rig.config.risk.fee_rate)
    rig.bar(1.5)  # about +3.1 %: trailing 1 % below the high
    high = Decimal(repr(holding.high))
    assert holding.stop_price >= high * Decimal("0.99") and holding.stop_price < high
    assert holding.trailing_delta is None, "a fixed stop the engine re-places, not an exchange trailing stop"
    stop_orders = [o for o in rig.journal.orders() if o.client_order_id.startswith("cx-p-")]
    assert len(stop_orders) >= 3  # the first protection, breakeven, the trail

    saved = json.loads(json.dumps(rig.engine.to_state()))
    restored = Engine.from_state(saved, rig.config, rig.rules, rig.strategies())
    assert restored.holdings[SYMBOL].stop_plan == holding.stop_plan
    assert restored.holdings[SYMBOL].next_rung == holding.next_rung


def test_a_signal_without_a_plan_keeps_the_exchange_trailing_stop(tmp_path: Path) -> None:
    """The plan changes nothing for the others: a plain signal on the same symbol is trailed by the exchange."""
    rig = Rig(tmp_path, PlainOnce)
    for _ in range(4):
        rig.bar(0.0)
    holding = rig.engine.holdings[SYMBOL]
    assert holding.stop_plan is None and holding.trailing_delta is not None
