"""Issue 12: exchange-native trailing protection. Where the symbol allows trailing stops, the protective OCO's stop
leg carries `belowTrailingDelta` and the exchange (here the paper simulator, which runs Binance's trailing-stop
rules) trails it: the engine sends nothing while the price rises. Elsewhere the engine's ladder cancels and
re-places the OCO. Driven through the real pump, paper exchange and journal; nothing of our own is mocked."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.engine import Engine
from core.filters import TrailingDeltaBounds
from core.risk.trailing import trailing_trigger
from core.types import OrderType
from tests.runtime.test_protection_gaps import FIVE_MIN, CrossingWatch, Desk

D = Decimal
RISE_THEN_FALL = ((100, 101, 100, 101), (101, 102.5, 101, 102.5), (102.5, 104, 102.5, 104), (104, 104, 102, 102.5))


def _protected(desk: Desk, sl: str = "0.7") -> None:
    desk.bars({"AAAUSDT": (100, 100, 100, 100)})
    desk.buy("AAAUSDT", "1000", "10", sl)
    desk.bars({"AAAUSDT": (100, 100, 100, 100)})  # the entry fills at this open and is protected


def _lists(desk: Desk) -> list[str]:
    return sorted({o.list_client_id for o in desk.journal.orders() if o.list_client_id})


def _stop_legs(desk: Desk) -> list[int | None]:
    return [o.trailing_delta for o in desk.journal.orders() if o.type is OrderType.STOP_LOSS_LIMIT]


def test_rise_then_fall_exits_at_the_exchange_trailed_stop_with_no_replacement(tmp_path: Path) -> None:
    desk = Desk(tmp_path, {"AAAUSDT": 100.0}, exchange_trailing=True)
    _protected(desk)
    holding = desk.engine.holdings["AAAUSDT"]
    # sl 0.7 % is tighter than the 1 % ladder distance: 70 BIPS, trailing from the last price 100 (trigger 99.30).
    assert (holding.trailing_delta, holding.stop_price) == (70, D("99.3"))
    assert _stop_legs(desk) == [70]
    stop_leg = next(o for o in desk.exchange.open_orders("AAAUSDT") if o.order_type == "STOP_LOSS_LIMIT")
    assert stop_leg.stop_price is None and stop_leg.price == D("99.10")  # the leg's fixed floor
    for bar in RISE_THEN_FALL[:3]:
        desk.bars({"AAAUSDT": bar})
        assert len(_lists(desk)) == 1, "a rising price re-placed the OCO"
    assert holding.stop_price == trailing_trigger(D("104"), 70)  # the engine's mirror of the exchange trigger
    desk.bars({"AAAUSDT": RISE_THEN_FALL[3]})
    sells = desk.sells("AAAUSDT")
    assert len(sells) == 1 and sells[0][0].endswith("-sl"), sells  # the one OCO's stop leg, no market exit
    assert trailing_trigger(D("104"), 70) == D("103.272")
    assert sells[0][1] == D("103.27")  # triggered at 103.272, taken at the tick below
    assert desk.engine.portfolio.position("AAAUSDT") is None and len(_lists(desk)) == 1
    assert not [o for o in desk.journal.orders() if o.client_order_id.startswith("cx-x-")]
    assert "STOP_GAPPED" not in desk.codes()


def test_symbol_without_trailing_stops_uses_the_ladder(tmp_path: Path) -> None:
    desk = Desk(tmp_path, {"AAAUSDT": 100.0})  # allowTrailingStop false
    _protected(desk)
    assert desk.engine.holdings["AAAUSDT"].trailing_delta is None
    for bar in RISE_THEN_FALL[:3]:
        desk.bars({"AAAUSDT": bar})
    # +1 %, +2.5 %, +4 %: the ladder moved the stop to breakeven, +1 %, +3 %, each move a new OCO.
    assert len(_lists(desk)) == 4 and _stop_legs(desk) == [None] * 4
    assert desk.engine.holdings["AAAUSDT"].stop_price == D("103")
    desk.bars({"AAAUSDT": RISE_THEN_FALL[3]})
    assert [price for _, price, _ in desk.sells("AAAUSDT")] == [D("103")]


@pytest.mark.parametrize(("bounds", "expected"), [
    (TrailingDeltaBounds(min_above=10, max_above=2000, min_below=100, max_below=2000), None),  # 70 below min: ladder
    (TrailingDeltaBounds(min_above=10, max_above=2000, min_below=10, max_below=50), 50),  # lowered to max: tighter
])
def test_the_filter_bounds_decide_between_exchange_trail_and_ladder(tmp_path: Path, bounds: TrailingDeltaBounds,
                                                                    expected: int | None) -> None:
    desk = Desk(tmp_path, {"AAAUSDT": 100.0}, exchange_trailing=True)
    desk.rules["AAAUSDT"] = desk.rules["AAAUSDT"].model_copy(update={"trailing_delta": bounds})
    desk.exchange._rules["AAAUSDT"] = desk.rules["AAAUSDT"]
    _protected(desk)
    assert desk.engine.holdings["AAAUSDT"].trailing_delta == expected
    assert _stop_legs(desk) == [expected]


def test_a_refused_trailing_oco_falls_back_to_a_fixed_stop_and_the_ladder(tmp_path: Path) -> None:
    """The engine believes the symbol trails, the exchange says it does not (-2010): a lone fixed stop, then the
    ladder: never a position left without protection, never two trails."""
    desk = Desk(tmp_path, {"AAAUSDT": 100.0}, exchange_trailing=True)
    desk.exchange._rules["AAAUSDT"] = desk.rules["AAAUSDT"].model_copy(update={"allow_trailing_stop": False})
    _protected(desk)
    holding = desk.engine.holdings["AAAUSDT"]
    assert (holding.protection_kind, holding.trailing_delta, holding.stop_floor) == ("stop", None, None)
    assert holding.stop_trigger == float(holding.stop_price)
    assert holding.ladder_only
    desk.bars({"AAAUSDT": RISE_THEN_FALL[0]})
    assert holding.protection_kind == "oco" and holding.stop_price == D("100")
    assert _stop_legs(desk) == [70, None, None]  # the refused trailing leg, the lone stop, the ladder's OCO


def test_checkpoint_keeps_the_exchange_trail(tmp_path: Path) -> None:
    desk = Desk(tmp_path, {"AAAUSDT": 100.0}, exchange_trailing=True)
    _protected(desk)
    desk.bars({"AAAUSDT": RISE_THEN_FALL[0]})
    restored = Engine.from_state(desk.engine.to_state(), desk.engine.config, desk.rules)
    holding = restored.holdings["AAAUSDT"]
    assert (holding.trailing_delta, holding.stop_floor, holding.high) == (70, D("99.10"), 101.0)
    assert holding.stop_trigger == 99.1  # a gap is judged against the floor, not the mirrored trigger


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moves=st.lists(st.tuples(st.floats(-4.0, 4.0), st.floats(0.0, 3.0), st.floats(0.0, 3.0)),
                      min_size=3, max_size=20))
def test_property_the_exchange_trailed_stop_never_loosens_and_is_never_ridden(
        tmp_path_factory: pytest.TempPathFactory, moves: list[tuple[float, float, float]]) -> None:
    """Any path of gaps, wicks and bodies: one OCO per position (no re-placement), its stop never moves down,
    and a position whose trailed trigger was crossed is gone or exiting within a cycle."""
    desk = Desk(tmp_path_factory.mktemp("p"), {"AAAUSDT": 100.0}, exchange_trailing=True)
    watch = CrossingWatch(desk)
    price = 100.0
    watch.step("AAAUSDT", price, price, price, price)
    stops: dict[str, Decimal] = {}
    for gap, up, down in moves:
        desk.t += FIVE_MIN
        engine = desk.engine
        if "AAAUSDT" not in engine.holdings and "AAAUSDT" not in engine.pending:
            if engine.entry_blockers("AAAUSDT"):
                engine.reset_kill()
            engine.request_entry("AAAUSDT", D(200), D("3"), D("1"), desk.t)
            desk.pump.flush()
        o = max(price * (1 + gap / 100), 1.0)
        c = max(o * (1 + (up - down) / 100), 1.0)
        h, low = max(o, c) * (1 + up / 200), min(o, c) * (1 - down / 200)
        watch.step("AAAUSDT", o, h, low, c)
        holding = engine.holdings.get("AAAUSDT")
        if holding is not None and holding.protection_kind == "oco":
            assert holding.trailing_delta == 100
            assert holding.stop_price >= stops.get(holding.position_id, holding.stop_price)
            stops[holding.position_id] = holding.stop_price
        price = c
    per_position: dict[str | None, set[str]] = {}
    for order in desk.journal.orders():
        if order.list_client_id:
            per_position.setdefault(order.position_id, set()).add(order.list_client_id)
    assert all(len(lists) == 1 for lists in per_position.values()), per_position
