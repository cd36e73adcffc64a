"""Issue 9, Protection item 2: trailing builds and checks the replacement OCO before it cancels the working one."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from core.events import TradePrint
from tests.runtime.test_protection_gaps import START, Desk


def _trades(desk: Desk) -> Callable[[float], None]:
    t = [START]

    def trade(price: float) -> None:
        t[0] += 1_000
        desk.t = t[0]
        desk.pump.handle(TradePrint("AAAUSDT", t[0], price, 1.0, False))

    return trade


def test_item2_unplaceable_replacement_keeps_the_working_oco(tmp_path: Path) -> None:
    """A print exactly at the take-profit (touching it does not fill a maker) reaches a trailing rung; the
    replacement would need a take-profit above the last price and cannot be placed. The old OCO must stay
    working; before the fix it was cancelled first and the position was sold for want of protection."""
    desk = Desk(tmp_path, {"AAAUSDT": 100.0})
    trade = _trades(desk)
    trade(100.0)
    desk.buy("AAAUSDT", "1000", "2", "0.7")
    trade(100.0)  # the entry fills; OCO take-profit 102, stop 99.30
    working = desk.engine.holdings["AAAUSDT"].protection_id
    trade(101.0)  # rung 1: the stop moves to breakeven, a new OCO replaces the old one
    moved = desk.engine.holdings["AAAUSDT"]
    assert moved.protection_id != working and moved.stop_price == Decimal("100.00")
    trade(102.0)  # rung 2 wants stop 101, but take-profit 102 is not above the last price 102
    holding = desk.engine.holdings["AAAUSDT"]
    assert holding.protection_id == moved.protection_id and not holding.exiting
    assert holding.stop_price == Decimal("100.00")
    assert {o.list_client_id for o in desk.exchange.open_orders("AAAUSDT")} == {moved.protection_id}
    assert not [o for o in desk.journal.orders() if o.client_order_id.startswith("cx-x-")]
    assert "TRAIL_SKIPPED" in desk.codes()


def test_item2_new_stop_through_the_market_exits_directly(tmp_path: Path) -> None:
    """A bar whose high reaches a rung but closes under the new stop: no replacement is tried, the working OCO is
    cancelled and the position sold at market, said as such."""
    desk = Desk(tmp_path, {"AAAUSDT": 100.0})
    desk.bars({"AAAUSDT": (100, 100, 100, 100)})
    desk.buy("AAAUSDT", "1000", "3", "0.7")
    desk.bars({"AAAUSDT": (100, 100.2, 99.8, 100)})
    oco = desk.engine.holdings["AAAUSDT"].protection_id
    desk.bars({"AAAUSDT": (100, 101.5, 99.5, 99.9)})  # rung 1 (breakeven 100) is above the close 99.9
    holding = desk.engine.holdings["AAAUSDT"]
    assert holding.exiting and holding.protection_id is None
    protections = {o.list_client_id for o in desk.journal.orders() if o.list_client_id}
    assert protections == {oco}, "no replacement OCO is sent for a stop already through the market"
    assert "STOP_THROUGH_MARKET" in desk.codes() and "PROTECTION_FAILED" not in desk.codes()
    desk.bars({"AAAUSDT": (99.9, 100, 99.8, 99.9)})
    assert desk.engine.portfolio.position("AAAUSDT") is None
    assert [s[1] for s in desk.sells("AAAUSDT")] == [Decimal("99.9")]
