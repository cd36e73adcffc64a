"""Issue 10 items 4 and 7: an entry's take-profit and stop are the documented distances from its average fill
price, checked against that fill (the latest trade), and the protective OCO is stamped with the time of the
cycle it was placed in. Driven through the real pump, paper exchange (candle mode) and journal.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from core.config import ExecutorConfig
from core.engine import Engine
from core.events import Bar
from core.filters import round_to_step
from core.portfolio import Portfolio
from core.types import DecisionAction, OrderType
from exchange.feeds.rules import offline_rules
from exchange.paper import PaperExchange
from memory.journal import Journal
from runtime.pump import Pump

FIVE_MIN = 300_000
START = 1_609_459_200_000  # 2021-01-01 00:00 UTC
SYMBOL, OTHER = "AAAUSDT", "BBBUSDT"


class Rig:
    def __init__(self, tmp: Path) -> None:
        # No trailing stops: the distances checked here are those of a fixed stop (an exchange-trailed stop leg has
        # no stop price; tests/runtime/test_exchange_trailing.py covers it).
        self.rules = {s: r.model_copy(update={"allow_trailing_stop": False, "trailing_delta": None})
                      for s, r in offline_rules({SYMBOL: 100.0, OTHER: 50.0}).items()}
        balances = {"USDT": Decimal(10_000)}
        self.engine = Engine(ExecutorConfig(), self.rules, Portfolio("USDT", balances), [SYMBOL, OTHER], START)
        self.exchange = PaperExchange(self.rules, balances)
        self.journal = Journal(tmp / "journal.db", durable=False)
        self.pump = Pump(self.engine, self.exchange, self.journal)

    def bar(self, symbol: str, open_ms: int, open_: float, close: float | None = None) -> None:
        """A quiet bar: its range stays well inside the stop and take-profit of an entry made at its open."""
        close = open_ if close is None else close
        self.pump.handle(Bar(symbol, open_ms, open_ms + FIVE_MIN - 1, open_, max(open_, close) * 1.001,
                             min(open_, close) * 0.999, close, 1000.0))

    def buy(self, quote: str, tp: str, sl: str, now_ms: int) -> None:
        decision = self.engine.request_entry(SYMBOL, Decimal(quote), Decimal(tp), Decimal(sl), now_ms)
        assert decision.action is DecisionAction.ENTER, decision.reasons
        self.pump.flush()

    def entry_fill_price(self) -> Decimal:
        fills = [f for f in self.journal.fills() if f.client_order_id.startswith("cx-e-")]
        assert fills
        return sum((f.price * f.quantity for f in fills), Decimal(0)) / sum((f.quantity for f in fills), Decimal(0))

    def oco_legs(self) -> dict[OrderType, object]:
        return {o.type: o for o in self.journal.orders() if o.list_client_id is not None}


def _up(price: Decimal, rig: Rig) -> Decimal:
    return round_to_step(price, rig.rules[SYMBOL].tick_size, "up")


def test_take_profit_and_stop_are_the_documented_distances_from_the_average_fill(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.bar(SYMBOL, START, 100.0)
    rig.buy("500", "1.5", "0.8", START + FIVE_MIN - 1)
    rig.bar(SYMBOL, START + FIVE_MIN, 100.37)  # the entry fills at this open
    fill = rig.entry_fill_price()
    legs = rig.oco_legs()
    take_profit, stop = legs[OrderType.LIMIT_MAKER], legs[OrderType.STOP_LOSS_LIMIT]
    # Rounded up to the tick (the stop tighter), never measured from the fee-inclusive break-even.
    assert stop.stop_price == _up(fill * Decimal("0.992"), rig)  # type: ignore[attr-defined]
    assert take_profit.price == _up(fill * Decimal("1.015"), rig)  # type: ignore[attr-defined]
    enter = [d for d in rig.journal.decisions(limit=100) if d["action"] == "enter"]
    assert len(enter) == 1 and enter[0]["entry_client_order_id"].startswith("cx-e-")
    # The decision row holds the prices actually sent, not those planned at the reference price of 100.
    assert (Decimal(enter[0]["take_profit_price"]), Decimal(enter[0]["stop_price"])) == (
        take_profit.price, stop.stop_price)  # type: ignore[attr-defined]


def test_after_a_gap_up_entry_the_oco_is_checked_against_the_fill_and_protects(tmp_path: Path) -> None:
    """The entry fills at an open 3 % above the last close. Its stop (0.8 % under the fill) is above that close:
    checked against the close, the OCO looked invalid and the position was sold at once; Binance checks the last
    trade, which is the fill."""
    rig = Rig(tmp_path)
    rig.bar(SYMBOL, START, 100.0)
    rig.buy("500", "1.5", "0.8", START + FIVE_MIN - 1)
    rig.bar(SYMBOL, START + FIVE_MIN, 103.0)
    legs = rig.oco_legs()
    assert set(legs) == {OrderType.LIMIT_MAKER, OrderType.STOP_LOSS_LIMIT}
    assert not [o for o in rig.journal.orders() if o.client_order_id.startswith("cx-x-")], "sold at once"
    assert SYMBOL in rig.engine.holdings and rig.engine.holdings[SYMBOL].protection_kind == "oco"
    assert not [e for e in rig.journal.errors(START) if e["code"] == "PROTECTION_FAILED"]


def test_the_oco_is_stamped_with_the_cycle_it_was_placed_in(tmp_path: Path) -> None:
    """Bars of several symbols share an open time; a replay hands the engine one symbol's whole bar before the
    next symbol's. The entry on AAAUSDT fills at its bar's open, and its OCO is placed in that same cycle: its
    time is that open, not the close of BBBUSDT's bar the engine saw just before."""
    rig = Rig(tmp_path)
    rig.bar(SYMBOL, START, 100.0)
    rig.bar(OTHER, START, 50.0)
    rig.buy("500", "1.5", "0.8", START + FIVE_MIN - 1)
    rig.bar(OTHER, START + FIVE_MIN, 50.0)  # moves the engine's clock to this bar's close
    rig.bar(SYMBOL, START + FIVE_MIN, 100.0)
    fills = [f for f in rig.journal.fills() if f.client_order_id.startswith("cx-e-")]
    assert {f.time_ms for f in fills} == {START + FIVE_MIN}
    legs = rig.oco_legs().values()
    assert legs and {o.created_ms for o in legs} == {START + FIVE_MIN}  # type: ignore[attr-defined]
