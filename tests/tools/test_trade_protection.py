"""Issue 9, Protection item 3 through the trade tool: wide stops are refused, a failed protection is told."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

import runtime.session
from runtime.commands import checkpoint_rules
from runtime.venues import restore_exchange
from tests.tools.test_trade_support import checkpoint, context
from tools.trade import TradeInput, handle


def test_item3_trade_pct_12_sl_95_is_refused_not_bought_and_sold(home: Path) -> None:
    out = handle(TradeInput(symbol="ETHUSDT", side="buy", pct=Decimal("12"), sl=Decimal("95")), context(home))
    assert out.status == "skipped" and out.orders == [] and out.fills == []
    assert "MAX_STOP_LOSS_PCT=10" in out.message and "95" in out.message
    assert "ETHUSDT" not in checkpoint(home)["engine"]["holdings"]


def test_item3_a_protection_that_fails_after_the_fill_is_said_with_the_exit(home: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The exchange refuses the OCO (not allowed on the symbol) and then the lone stop (not an order type it
    takes): no protection can be placed and the position is sold. The answer must say so, not "executed … stop
    X" with protection null. The exchange's rules changed after the executor read them (the gate refuses a symbol
    it knows cannot carry a stop), so only the venue is given the new rules."""
    eth = checkpoint_rules(checkpoint(home))["ETHUSDT"].model_copy(
        update={"oco_allowed": False, "order_types": frozenset({"LIMIT", "LIMIT_MAKER", "MARKET"})})

    def changed_on_the_exchange(kind, state, rules, account=None):  # type: ignore[no-untyped-def]
        return restore_exchange(kind, state, {**rules, "ETHUSDT": eth}, account)

    monkeypatch.setattr(runtime.session, "restore_exchange", changed_on_the_exchange)
    out = handle(TradeInput(symbol="ETHUSDT", side="buy", quote=Decimal("10")), context(home))
    assert out.status == "executed" and out.protection is None
    assert out.protection_failed is not None and "stop refused" in out.protection_failed
    assert out.exit_order is not None and out.exit_order.side == "SELL" and out.exit_order.type == "MARKET"
    assert "NOT PROTECTED" in out.message and out.exit_order.client_order_id in out.message
    assert "ETHUSDT" not in checkpoint(home)["engine"]["holdings"]


def test_item4_a_stop_of_a_hundredth_of_a_percent_is_measured_from_the_fill_and_protects(home: Path) -> None:
    """Issue 10 item 4: take-profit and stop are the asked distances from the entry's average fill price, checked
    against that fill (the latest trade), so a stop 0.01 % under it protects instead of selling at once."""
    out = handle(TradeInput(symbol="ETHUSDT", side="buy", quote=Decimal("10"), sl=Decimal("0.01")), context(home))
    assert out.protection is not None and out.protection_failed is None and out.exit_order is None
    buys = [f for f in out.fills if f.side == "BUY"]
    fill = sum((f.price * f.quantity for f in buys), Decimal(0)) / sum((f.quantity for f in buys), Decimal(0))
    tick = Decimal("0.01")
    assert fill * Decimal("0.9999") <= out.protection.stop_price < fill * Decimal("0.9999") + tick
    assert out.protection.take_profit_price is not None
    assert fill * Decimal("1.015") <= out.protection.take_profit_price < fill * Decimal("1.015") + tick
    assert out.decision is not None  # the decision records the prices sent, not the ones planned at the reference
    assert (out.decision.stop_price, out.decision.take_profit_price) == (out.protection.stop_price,
                                                                         out.protection.take_profit_price)


def test_item3_a_protected_buy_has_no_failure_fields(home: Path) -> None:
    out = handle(TradeInput(symbol="ETHUSDT", side="buy", quote=Decimal("10")), context(home))
    assert out.protection is not None and out.protection_failed is None and out.exit_order is None
    assert "NOT PROTECTED" not in out.message
