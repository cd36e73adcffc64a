"""Issue 9, Protection item 1: a stop-limit gapped through its limit must not leave a position unprotected.

The paper simulator keeps Binance's semantics (a triggered STOP_LOSS_LIMIT whose limit the market is already
past rests unfilled); the engine must notice at the end of that cycle, cancel the protection and sell at
market. Driven through the real pump, paper exchange and journal; nothing of our own is mocked.
"""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.config import ExecutorConfig
from core.engine import Engine
from core.events import Bar, Book, TradePrint
from core.portfolio import Portfolio
from core.types import DecisionAction, OrderStatus, Side
from exchange.feeds.rules import offline_rules
from exchange.paper import PaperExchange
from memory.journal import Journal
from runtime.pump import Pump
from tests.conftest import fixture_path

FIVE_MIN = 300_000
START = 1_609_459_200_000  # 2021-01-01 00:00 UTC
# Momentum and scalping are given no allocation: these tests decide every entry themselves.
MANUAL_ONLY = ExecutorConfig.model_validate({"strategies": {"allocation": {"scalping": 0.0, "momentum": 0.0,
                                                                           "stat_arb": 0.0}}})


class Desk:
    """An engine, the paper exchange (no fee, no slippage: the numbers of the issue) and a journal.

    The symbols take no trailing stops unless `exchange_trailing`: these tests are about fixed stops moved by the
    engine's ladder (tests/runtime/test_exchange_trailing.py drives the exchange's own trailing)."""

    def __init__(self, tmp: Path, prices: dict[str, float], *, cash: int = 10_000,
                 fee: Decimal = Decimal(0), config: ExecutorConfig = MANUAL_ONLY,
                 exchange_trailing: bool = False) -> None:
        rules = offline_rules(prices)
        self.rules = rules if exchange_trailing else {
            s: r.model_copy(update={"allow_trailing_stop": False, "trailing_delta": None}) for s, r in rules.items()}
        balances = {"USDT": Decimal(cash)}
        self.symbols = sorted(prices)
        self.engine = Engine(config, self.rules, Portfolio("USDT", balances), self.symbols, START)
        self.exchange = PaperExchange(self.rules, balances, fee_rate=fee)
        tmp.mkdir(parents=True, exist_ok=True)
        self.journal = Journal(tmp / "journal.db", durable=False)
        self.pump = Pump(self.engine, self.exchange, self.journal)
        self.t = START

    def bar(self, symbol: str, open_: float, high: float, low: float, close: float) -> None:
        self.pump.handle(Bar(symbol, self.t, self.t + FIVE_MIN - 1, open_, high, low, close, 1000.0))

    def bars(self, rows: dict[str, tuple[float, float, float, float]]) -> None:
        """One 5-minute step: a bar for each symbol given."""
        for symbol, (o, h, low, c) in rows.items():
            self.bar(symbol, o, h, low, c)
        self.t += FIVE_MIN

    def buy(self, symbol: str, quote: str, tp: str, sl: str) -> None:
        decision = self.engine.request_entry(symbol, Decimal(quote), Decimal(tp), Decimal(sl), self.t)
        assert decision.action is DecisionAction.ENTER, decision.reasons
        self.pump.flush()

    def sells(self, symbol: str) -> list[tuple[str, Decimal, Decimal]]:
        """(client order id, price, quantity) of every SELL fill on `symbol`."""
        return [(f.client_order_id, f.price, f.quantity) for f in self.journal.fills()
                if f.symbol == symbol and f.side is Side.SELL]

    def codes(self) -> list[str]:
        return [e["code"] for e in self.journal.errors()]


def _enter_at_100(desk: Desk, symbol: str) -> None:
    """1000 USDT at 100 with stop 99.30 / limit 99.10 (sl 0.7 %, the default 0.2 % stop-limit buffer)."""
    desk.buy(symbol, "1000", "2", "0.7")


def test_item1_gapped_stop_is_cancelled_and_sold_at_the_next_price(tmp_path: Path) -> None:
    """The issue's scenario: without the fix the position rides from 100 to 80 with its stop leg still NEW."""
    desk = Desk(tmp_path, {"AAAUSDT": 100.0})
    desk.bars({"AAAUSDT": (100, 100, 100, 100)})
    _enter_at_100(desk, "AAAUSDT")
    desk.bars({"AAAUSDT": (100, 100.2, 99.8, 100)})  # the entry fills at this open and is protected
    holding = desk.engine.holdings["AAAUSDT"]
    assert (holding.stop_price, holding.protection_kind) == (Decimal("99.30"), "oco")
    stop_leg = next(o for o in desk.exchange.open_orders("AAAUSDT") if o.order_type == "STOP_LOSS_LIMIT")
    assert stop_leg.price == Decimal("99.10")
    for open_, close in ((98.9, 95.0), (95.0, 90.0), (90.0, 85.0), (85.0, 80.0), (80.0, 80.0)):
        desk.bars({"AAAUSDT": (open_, open_, close, close)})
    assert desk.engine.portfolio.position("AAAUSDT") is None
    assert "AAAUSDT" not in desk.engine.holdings
    sells = desk.sells("AAAUSDT")
    assert len(sells) == 1 and sells[0][0].startswith("cx-x-"), sells  # one market exit, the stop never filled
    # Seen at the end of the gap bar, sold at the next open: the first price a candle replay can act on.
    assert sells[0][1] == Decimal("95")
    assert desk.exchange.open_orders("AAAUSDT") == []
    assert desk.exchange.get_order("AAAUSDT", stop_leg.client_order_id).status is OrderStatus.CANCELED
    assert "STOP_GAPPED" in desk.codes()
    assert desk.exchange.balances().get("AAA", (Decimal(0), Decimal(0))) == (Decimal(0), Decimal(0))


def test_item1_stop_filled_in_its_bar_is_not_also_exited(tmp_path: Path) -> None:
    """A bar that crosses the trigger above the limit fills the stop in the simulator: no STOP_GAPPED, no sell."""
    desk = Desk(tmp_path, {"AAAUSDT": 100.0})
    desk.bars({"AAAUSDT": (100, 100, 100, 100)})
    _enter_at_100(desk, "AAAUSDT")
    desk.bars({"AAAUSDT": (100, 100.2, 99.8, 100)})
    desk.bars({"AAAUSDT": (99.5, 99.6, 99.2, 99.4)})  # low 99.2 crosses 99.30; open above the 99.10 limit
    desk.bars({"AAAUSDT": (99.4, 99.5, 99.3, 99.4)})
    sells = desk.sells("AAAUSDT")
    assert [s[0].startswith("cx-p-") for s in sells] == [True], sells  # the OCO's stop leg, once
    assert sells[0][1] == Decimal("99.30")
    assert "STOP_GAPPED" not in desk.codes()


def test_item1_crash_through_the_kill_switch_sells_every_position(tmp_path: Path) -> None:
    """Five positions, a crash from 100 to 82 in gaps, the kill switch on: every position is sold."""
    symbols = {f"{c}{c}{c}USDT": 100.0 for c in "ABCDE"}
    desk = Desk(tmp_path, symbols, cash=10_000)
    desk.bars({s: (100, 100, 100, 100) for s in symbols})
    for symbol in symbols:
        _enter_at_100(desk, symbol)
    desk.bars({s: (100, 100.1, 99.9, 100) for s in symbols})
    assert len(desk.engine.holdings) == 5
    desk.engine.kill()
    desk.pump.flush()
    for open_ in (98.9, 96.0, 93.0, 90.0, 87.0, 84.0, 82.0):
        desk.bars({s: (open_, open_, open_ - 3 if open_ > 82 else 82, open_ - 3 if open_ > 82 else 82)
                   for s in symbols})
    assert desk.engine.controls.killed
    assert desk.engine.holdings == {}
    for symbol in symbols:
        assert desk.engine.portfolio.position(symbol) is None
        sells = desk.sells(symbol)
        assert len(sells) == 1 and sells[0][1] == Decimal("96"), sells
    assert desk.codes().count("STOP_GAPPED") == 5
    assert desk.engine.portfolio.cash > Decimal(9_700)  # lost about 4 % of 5 × 1000, not 18 %


def test_item1_gap_in_trade_prints_exits_at_the_next_print(tmp_path: Path) -> None:
    desk = Desk(tmp_path, {"AAAUSDT": 100.0})
    t = [START]

    def trade(price: float) -> None:
        t[0] += 1_000
        desk.pump.handle(TradePrint("AAAUSDT", t[0], price, 1.0, False))

    trade(100.0)
    desk.t = t[0]
    _enter_at_100(desk, "AAAUSDT")
    trade(100.0)  # a bookless market order meets the next print
    assert desk.engine.holdings["AAAUSDT"].protection_id is not None
    for price in (98.9, 98.85, 95.0, 90.0, 80.0):
        trade(price)
    assert desk.engine.portfolio.position("AAAUSDT") is None
    sells = desk.sells("AAAUSDT")
    assert len(sells) == 1 and sells[0][1] == Decimal("98.85"), sells
    assert "STOP_GAPPED" in desk.codes()


def test_item1_gap_in_the_book_exits_into_the_bid(tmp_path: Path) -> None:
    """Books alone never trigger a Binance stop (it watches trades): the bid through the stop is the crossing."""
    desk = Desk(tmp_path, {"AAAUSDT": 100.0})
    t = [START]

    def book(bid: float) -> None:
        t[0] += 1_000
        desk.pump.handle(Book("AAAUSDT", t[0], ((bid, 50.0), (bid - 0.5, 50.0)),
                              ((bid + 0.01, 50.0), (bid + 0.5, 50.0))))

    book(100.0)
    desk.t = t[0]
    _enter_at_100(desk, "AAAUSDT")
    assert desk.engine.holdings["AAAUSDT"].protection_id is not None
    for bid in (99.9, 98.9, 95.0, 80.0):
        book(bid)
    assert desk.engine.portfolio.position("AAAUSDT") is None
    sells = desk.sells("AAAUSDT")
    assert len(sells) == 1 and sells[0][1] == Decimal("98.9"), sells
    assert "STOP_GAPPED" in desk.codes()


def test_item1_stop_filled_concurrently_is_not_sold_twice(tmp_path: Path) -> None:
    """The stop filled on the exchange but its report is still in flight when the engine sees the crossing:
    the cancel is refused (-2011), and the engine must not size a sell from stale books (that would oversell)."""
    desk = Desk(tmp_path, {"AAAUSDT": 100.0})
    desk.bars({"AAAUSDT": (100, 100, 100, 100)})
    _enter_at_100(desk, "AAAUSDT")
    desk.bars({"AAAUSDT": (100, 100.2, 99.8, 100)})
    bar = Bar("AAAUSDT", desk.t, desk.t + FIVE_MIN - 1, 99.5, 99.6, 99.2, 99.4, 1000.0)
    in_flight: list = []
    desk.exchange.on_bar(bar, in_flight.extend)  # the stop fills on the exchange; nobody is told yet
    assert any(r.fill is not None for r in in_flight)
    desk.engine.on_bar(bar)  # the engine sees the crossing with the position still on its books
    desk.pump.flush()
    assert "CANCEL_REJECTED" in desk.codes()
    assert not [o for o in desk.journal.orders() if o.client_order_id.startswith("cx-x-")], "no exit sized blind"
    desk.pump.deliver(in_flight)  # the fill arrives
    desk.t += FIVE_MIN
    desk.bars({"AAAUSDT": (99.4, 99.5, 99.0, 99.1)})
    assert desk.engine.portfolio.position("AAAUSDT") is None
    assert len(desk.sells("AAAUSDT")) == 1
    assert desk.exchange.balances().get("AAA", (Decimal(0), Decimal(0))) == (Decimal(0), Decimal(0))


# ----- the property, on scripted paths and on real candles ----------------------------------------------


class CrossingWatch:
    """Checks, bar after bar, that no position is held with its stop crossed for more than one cycle."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.owed: dict[str, str] = {}  # symbol -> position id crossed last cycle: must be gone this cycle
        self.crossings = 0

    def step(self, symbol: str, o: float, h: float, low: float, c: float) -> None:
        engine = self.desk.engine
        before = engine.holdings.get(symbol)
        stop_before = (before.position_id, before.stop_price) if before is not None else None
        self.desk.bar(symbol, o, h, low, c)
        after = engine.holdings.get(symbol)
        owed = self.owed.pop(symbol, None)
        if after is None:
            return
        assert after.position_id != owed, f"{symbol} {owed} still held a cycle after its stop was crossed"
        if stop_before is not None and stop_before[0] == after.position_id and Decimal(repr(low)) <= stop_before[1]:
            self.crossings += 1
            assert after.exiting, f"{symbol} held at {low} below its stop {stop_before[1]} with no exit in flight"
            self.owed[symbol] = after.position_id


def _reenter(desk: Desk, symbol: str, sl: str) -> None:
    """Hold a position nearly all the time (a person resetting the breakers, so that the rule keeps being tried)."""
    engine = desk.engine
    if symbol not in engine.holdings and symbol not in engine.pending:
        if engine.entry_blockers(symbol):
            engine.reset_kill()
        desk.engine.request_entry(symbol, Decimal(200), Decimal("3"), Decimal(sl), desk.t)
        desk.pump.flush()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moves=st.lists(st.tuples(st.floats(-6.0, 4.0), st.floats(0.0, 3.0), st.floats(0.0, 3.0)),
                      min_size=3, max_size=25))
def test_item1_property_no_position_rides_a_crossed_stop(tmp_path_factory: pytest.TempPathFactory,
                                                         moves: list[tuple[float, float, float]]) -> None:
    """Any path of gaps (open vs previous close), wicks and bodies: a crossed stop is exited within a cycle."""
    desk = Desk(tmp_path_factory.mktemp("p"), {"AAAUSDT": 100.0})
    watch = CrossingWatch(desk)
    price = 100.0
    watch.step("AAAUSDT", price, price, price, price)
    for gap, up, down in moves:
        desk.t += FIVE_MIN
        _reenter(desk, "AAAUSDT", "1")
        o = max(price * (1 + gap / 100), 1.0)
        c = max(o * (1 + (up - down) / 100), 1.0)
        h, low = max(o, c) * (1 + up / 200), min(o, c) * (1 - down / 200)
        watch.step("AAAUSDT", o, h, low, c)
        price = c


@pytest.mark.slow
def test_item1_real_5m_candles_never_ride_a_crossed_stop(tmp_path: Path) -> None:
    """The real SOL/USDT 5m candles (Dec 2020 – Jul 2021, with real gaps), a position held with a tight stop
    nearly all the time: no position is ever held with its trigger crossed for more than one cycle."""
    path = fixture_path("candles", "binance_spot_5m_nfi", "SOL_USDT-5m.json.gz")
    rows = json.loads(gzip.decompress(path.read_bytes()))
    # A stop-limit 0.01 % under its trigger: the real gaps of this pair (a tick or a few at ~2 USDT) go past it.
    config = MANUAL_ONLY.model_copy(update={"risk": MANUAL_ONLY.risk.model_copy(
        update={"stop_limit_buffer_pct": Decimal("0.01")})})
    desk = Desk(tmp_path, {"SOLUSDT": float(rows[0][1])}, fee=Decimal("0.001"), config=config)
    watch = CrossingWatch(desk)
    for ms, o, h, low, c, _v in rows[:20_000]:
        desk.t = int(ms)
        _reenter(desk, "SOLUSDT", "0.2")  # 0.2 % under the fill: where 0.3 % under the break-even sat
        watch.step("SOLUSDT", float(o), float(h), float(low), float(c))
    assert watch.crossings >= 5, "the data must exercise the rule"
    assert "STOP_GAPPED" in desk.codes()
