"""Write-ahead order intents, OCO legs, order updates and fills: idempotent, exact, never regressing."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.types import OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from memory.journal import ClientIdConflict, Journal, OrderNotJournaled
from tests.memory.factories import fill, limit_buy, market_buy_quote, protective_oco


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / "journal.db") as journal:
        yield journal


def _intent(journal: Journal, order, time_ms: int = 1_000) -> bool:
    return journal.record_order_intent(order, time_ms=time_ms, strategy="momentum", position_id="pos-1",
                                       reason="signal")


def test_intent_is_pending_send_and_visible_to_another_connection_before_send(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with Journal(path) as writer, Journal(path) as reader:
        assert _intent(writer, limit_buy(1)) is True
        row = reader.order("cx-test-1")
    assert row is not None
    assert row.status is OrderStatus.PENDING_SEND
    assert row.executed_qty == Decimal(0) and row.cum_quote == Decimal(0)
    assert (row.strategy, row.position_id, row.reason, row.created_ms) == ("momentum", "pos-1", "signal", 1_000)
    assert row.time_ms == row.created_ms == row.updated_ms
    assert row.to_request() == limit_buy(1)


def test_intent_inside_a_batch_is_committed_before_it_returns(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with Journal(path) as writer, Journal(path) as reader, writer.batch():
        writer.record_equity(1, Decimal(100), Decimal(100), Decimal(0))
        _intent(writer, limit_buy(1))
        assert reader.order("cx-test-1") is not None
        writer.record_equity(2, Decimal(101), Decimal(100), Decimal(1))
        assert [t for t, _ in reader.equity_curve()] == [1]
    with Journal(path) as reader:
        assert [t for t, _ in reader.equity_curve()] == [1, 2]


def test_same_client_id_twice_is_one_row(journal: Journal) -> None:
    assert _intent(journal, limit_buy(1)) is True
    assert _intent(journal, limit_buy(1), time_ms=2_000) is False
    assert len(journal.orders()) == 1
    assert journal.order("cx-test-1").created_ms == 1_000  # type: ignore[union-attr]
    assert journal.counts()["orders"] == 1


def test_same_client_id_for_a_different_order_is_a_conflict(journal: Journal) -> None:
    _intent(journal, limit_buy(1, quantity="0.001"))
    with pytest.raises(ClientIdConflict) as raised:
        _intent(journal, limit_buy(1, quantity="0.002"))
    assert raised.value.details["client_order_id"] == "cx-test-1"
    assert journal.order("cx-test-1").quantity == Decimal("0.001")  # type: ignore[union-attr]


def test_equal_decimals_with_other_digits_are_the_same_order(journal: Journal) -> None:
    assert _intent(journal, limit_buy(1, quantity="0.001")) is True
    assert _intent(journal, limit_buy(1, quantity="0.00100")) is False


def test_oco_journals_the_list_and_both_legs(journal: Journal) -> None:
    oco = protective_oco(1)
    assert _intent(journal, oco) is True
    assert _intent(journal, oco) is False
    legs = journal.oco_legs(oco.list_client_id)
    assert [leg.client_order_id for leg in legs] == [oco.take_profit_client_id, oco.stop_client_id]
    take_profit, stop = legs
    assert (take_profit.type, take_profit.price, take_profit.quantity) == (
        OrderType.LIMIT_MAKER, oco.take_profit_price, oco.quantity)
    assert (stop.type, stop.stop_price, stop.price, stop.time_in_force) == (
        OrderType.STOP_LOSS_LIMIT, oco.stop_price, oco.stop_limit_price, TimeInForce.GTC)
    assert all(leg.list_client_id == oco.list_client_id and leg.side is Side.SELL for leg in legs)
    assert journal.oco_request(oco.list_client_id) == oco
    assert {row.client_order_id for row in journal.open_orders()} == {oco.take_profit_client_id, oco.stop_client_id}


def test_oco_whose_leg_id_is_taken_is_refused_whole(journal: Journal) -> None:
    oco = protective_oco(1)
    taken = OrderRequest(client_order_id=oco.stop_client_id, symbol="BTCUSDT", side=Side.SELL,
                         type=OrderType.MARKET, quantity=Decimal("0.001"))
    _intent(journal, taken)
    with pytest.raises(ClientIdConflict):
        _intent(journal, oco)
    assert journal.oco_request(oco.list_client_id) is None
    assert journal.oco_legs(oco.list_client_id) == []
    assert journal.counts()["orders"] == 1


def test_open_orders_are_the_non_final_ones_including_pending_send(journal: Journal) -> None:
    for n in range(1, 5):
        _intent(journal, limit_buy(n), time_ms=n)
    journal.update_order("cx-test-1", status=OrderStatus.NEW, executed_qty=Decimal(0), cum_quote=Decimal(0),
                         time_ms=10)
    journal.update_order("cx-test-2", status=OrderStatus.FILLED, executed_qty=Decimal("0.001"),
                         cum_quote=Decimal("50.00001"), time_ms=11)
    journal.update_order("cx-test-3", status=OrderStatus.PARTIALLY_FILLED, executed_qty=Decimal("0.0005"),
                         cum_quote=Decimal("25"), time_ms=12)
    assert [(row.client_order_id, row.status) for row in journal.open_orders()] == [
        ("cx-test-1", OrderStatus.NEW),
        ("cx-test-3", OrderStatus.PARTIALLY_FILLED),
        ("cx-test-4", OrderStatus.PENDING_SEND),
    ]
    done = journal.order("cx-test-2")
    assert done is not None and done.is_final and done.cum_quote == Decimal("50.00001") and done.updated_ms == 11


def test_a_stale_update_does_not_move_an_order_backwards(journal: Journal) -> None:
    _intent(journal, limit_buy(1))
    journal.update_order("cx-test-1", status=OrderStatus.FILLED, executed_qty=Decimal("0.001"),
                         cum_quote=Decimal("50"), time_ms=20, reason="ws executionReport")
    journal.update_order("cx-test-1", status=OrderStatus.NEW, executed_qty=Decimal(0), cum_quote=Decimal(0),
                         time_ms=19, reason="late REST answer")
    journal.update_order("cx-test-1", status=OrderStatus.PARTIALLY_FILLED, executed_qty=Decimal("0.0005"),
                         cum_quote=Decimal("25"), time_ms=19)
    row = journal.order("cx-test-1")
    assert row is not None
    assert (row.status, row.executed_qty, row.last_reason) == (OrderStatus.FILLED, Decimal("0.001"),
                                                               "ws executionReport")
    history = journal.order_updates("cx-test-1")
    assert [(entry["status"], entry["applied"]) for entry in history] == [
        ("PENDING_SEND", True), ("FILLED", True), ("NEW", False), ("PARTIALLY_FILLED", False)]


def test_a_later_fill_moves_a_wrongly_final_order_on(journal: Journal) -> None:
    _intent(journal, limit_buy(1))
    journal.update_order("cx-test-1", status=OrderStatus.EXPIRED, executed_qty=Decimal(0), cum_quote=Decimal(0),
                         time_ms=5)
    journal.update_order("cx-test-1", status=OrderStatus.FILLED, executed_qty=Decimal("0.001"),
                         cum_quote=Decimal("50"), time_ms=6)
    assert journal.order("cx-test-1").status is OrderStatus.FILLED  # type: ignore[union-attr]


def test_update_of_an_order_never_journaled_raises(journal: Journal) -> None:
    with pytest.raises(OrderNotJournaled) as raised:
        journal.update_order("cx-ghost", status=OrderStatus.NEW, executed_qty=Decimal(0), cum_quote=Decimal(0),
                             time_ms=1)
    assert raised.value.code == "ORDER_NOT_JOURNALED"
    assert journal.counts()["order_updates"] == 0


def test_fills_are_idempotent_on_symbol_and_trade_id(journal: Journal) -> None:
    assert journal.record_fill(fill(7), position_id="pos-1") is True
    assert journal.record_fill(fill(7), position_id="pos-1") is False
    assert journal.record_fill(fill(8, time_ms=2_000), position_id=None) is True
    rows = journal.fills()
    assert [(row.trade_id, row.position_id) for row in rows] == [(7, "pos-1"), (8, None)]
    assert rows[0].to_fill() == fill(7)
    assert [row.trade_id for row in journal.fills(since_ms=1_500)] == [8]


def test_orders_since_filters_on_creation_time(journal: Journal) -> None:
    _intent(journal, limit_buy(1), time_ms=100)
    _intent(journal, market_buy_quote(2), time_ms=200)
    assert [row.client_order_id for row in journal.orders(since_ms=150)] == ["cx-mkt-2"]
    market = journal.order("cx-mkt-2")
    assert market is not None and market.quote_order_qty == Decimal("25.5") and market.quantity is None


money = st.decimals(min_value=Decimal("1E-8"), max_value=Decimal("1E+9"), allow_nan=False, allow_infinity=False,
                    places=8)


@pytest.fixture(scope="module")
def shared_journal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Journal]:
    with Journal(tmp_path_factory.mktemp("money") / "journal.db", durable=False) as journal:
        yield journal


_example_ids = itertools.count()


@given(quantity=money, price=money, executed=money, quote=money)
def test_money_round_trips_exactly(shared_journal: Journal, quantity: Decimal, price: Decimal, executed: Decimal,
                                   quote: Decimal) -> None:
    client_id = f"cx-prop-{next(_example_ids)}"
    order = OrderRequest(client_order_id=client_id, symbol="BTCUSDT", side=Side.BUY, type=OrderType.LIMIT,
                         quantity=quantity, price=price, time_in_force=TimeInForce.GTC)
    shared_journal.record_order_intent(order, time_ms=1, strategy=None, position_id=None, reason="p")
    shared_journal.update_order(client_id, status=OrderStatus.PARTIALLY_FILLED, executed_qty=executed,
                                cum_quote=quote, time_ms=2)
    row = shared_journal.order(client_id)
    assert row is not None
    assert (row.quantity, row.price, row.executed_qty, row.cum_quote) == (quantity, price, executed, quote)
    assert row.to_request() == order


def test_a_refused_intent_inside_a_batch_leaves_the_batch_intact(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with Journal(path) as journal:
        _intent(journal, limit_buy(1, quantity="0.001"))
        with journal.batch():
            journal.record_fill(fill(1), position_id=None)
            with pytest.raises(ClientIdConflict):
                _intent(journal, limit_buy(1, quantity="0.002"))
            with pytest.raises(OrderNotJournaled):
                journal.update_order("cx-ghost", status=OrderStatus.NEW, executed_qty=Decimal(0),
                                     cum_quote=Decimal(0), time_ms=1)
            journal.record_fill(fill(2), position_id=None)
    with Journal(path) as reopened:
        assert [row.trade_id for row in reopened.fills()] == [1, 2]
