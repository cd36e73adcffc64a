"""Binance reports the other leg of an executed (or triggered) OCO as EXPIRED, not CANCELED: the engine, the
journal and what reads the journal must treat that leg as done. Driven through the real pump, paper exchange and
journal (the Desk of test_protection_gaps); nothing of our own is mocked."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from core.types import OrderStatus, OrderType
from tests.runtime.test_protection_gaps import Desk, _enter_at_100


def _legs(desk: Desk) -> dict[OrderType, OrderStatus]:
    holding = next(iter(desk.journal.orders()))
    assert holding.type is OrderType.MARKET  # the entry
    lists = {o.list_client_id for o in desk.journal.orders() if o.list_client_id}
    assert len(lists) == 1
    return {o.type: o.status for o in desk.journal.oco_legs(lists.pop())}


def _protected(tmp_path: Path) -> Desk:
    desk = Desk(tmp_path, {"AAAUSDT": 100.0})
    desk.bars({"AAAUSDT": (100, 100, 100, 100)})
    _enter_at_100(desk, "AAAUSDT")
    desk.bars({"AAAUSDT": (100, 100.2, 99.8, 100)})  # the entry fills at this open and is protected
    assert desk.engine.holdings["AAAUSDT"].protection_kind == "oco"
    return desk


def test_take_profit_fills_and_the_expired_stop_leg_closes_the_position_cleanly(tmp_path: Path) -> None:
    desk = _protected(tmp_path)
    desk.bars({"AAAUSDT": (100.5, 103, 100.4, 102.5)})  # through the 2 % take-profit at 102
    assert _legs(desk) == {OrderType.LIMIT_MAKER: OrderStatus.FILLED, OrderType.STOP_LOSS_LIMIT: OrderStatus.EXPIRED}
    assert desk.journal.open_orders() == [] and desk.exchange.open_orders() == []
    assert desk.engine.portfolio.position("AAAUSDT") is None and "AAAUSDT" not in desk.engine.holdings
    assert [price for _, price, _ in desk.sells("AAAUSDT")] == [Decimal("102")]
    assert desk.codes() == []  # no FOREIGN_ORDER, no unknown state: the EXPIRED leg was expected


def test_stop_triggers_and_the_expired_take_profit_is_final_in_the_journal(tmp_path: Path) -> None:
    desk = _protected(tmp_path)
    desk.bars({"AAAUSDT": (99.8, 99.9, 99.2, 99.5)})  # through the stop at 99.30, above its 99.10 limit
    assert _legs(desk) == {OrderType.LIMIT_MAKER: OrderStatus.EXPIRED, OrderType.STOP_LOSS_LIMIT: OrderStatus.FILLED}
    assert desk.journal.open_orders() == [] and desk.exchange.open_orders() == []
    assert desk.engine.portfolio.position("AAAUSDT") is None
    assert [price for _, price, _ in desk.sells("AAAUSDT")] == [Decimal("99.3")]
