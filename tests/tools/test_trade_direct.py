"""trade with no engine running: this process takes the lock, restores the engine, trades, saves."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.errors import ExecutorError
from runtime.commands import NotStarted
from tests.tools.test_trade_support import (
    checkpoint,
    context,
    operator_orders,
    order_count,
    paper_exchange,
)
from tools.control import KillInput, handle_kill
from tools.trade import SPEC, TradeInput, handle


def test_a_buy_executes_is_journaled_checkpointed_and_protected_by_an_oco(home: Path) -> None:
    before = order_count(home)
    out = handle(TradeInput(symbol="ETHUSDT", side="buy", quote=Decimal("10"), request_id="direct-1"), context(home))

    assert out.status == "executed" and out.executed_by == "this process" and out.mode == "replay"
    assert out.decision is not None and out.decision.action == "enter"
    assert out.decision.quote_amount <= Decimal("10")
    entry = [o for o in out.orders if o.side == "BUY"]
    assert len(entry) == 1 and entry[0].status == "FILLED" and out.fills
    assert out.protection is not None and out.protection.kind == "oco"

    journaled = operator_orders(home)
    assert [o[0] for o in journaled] == [entry[0].client_order_id]
    assert order_count(home) == before + 3  # the entry and the two legs of its OCO

    engine = checkpoint(home)["engine"]
    assert "ETHUSDT" in engine["holdings"]
    assert engine["holdings"]["ETHUSDT"]["protection_id"] == out.protection.id
    working = {o.list_client_id for o in paper_exchange(home).open_orders("ETHUSDT")}
    assert out.protection.id in working, "the position's OCO must be working on the paper exchange"


def test_a_retried_request_returns_the_stored_answer_and_places_nothing(home: Path) -> None:
    ctx = context(home)
    first = handle(TradeInput(symbol="BTCUSDT", side="buy", quote=Decimal("11"), request_id="retry-me"), ctx)
    count = order_count(home)
    again = handle(TradeInput(symbol="BTCUSDT", side="buy", quote=Decimal("11"), request_id="retry-me"), ctx)
    assert again.executed_by == "stored answer"
    assert again.orders == first.orders and again.decision == first.decision
    assert order_count(home) == count


def test_the_default_request_id_makes_an_immediate_retry_the_same_request(home: Path) -> None:
    ctx = context(home, now_ms=lambda: 1_800_000_000_000)
    first = handle(TradeInput(symbol="BTCUSDT", side="buy", quote=Decimal("11")), ctx)
    again = handle(TradeInput(symbol="BTCUSDT", side="buy", quote=Decimal("11")), ctx)
    assert first.request_id == again.request_id and again.executed_by == "stored answer"
    assert len(operator_orders(home)) == 1


def test_an_oversized_quote_is_clamped_to_the_position_cap_and_the_clamp_is_listed(home: Path) -> None:
    out = handle(TradeInput(symbol="ETHUSDT", side="buy", quote=Decimal("100000")), context(home))
    assert out.status == "executed" and out.decision is not None
    rules = [c.rule for c in out.decision.clamps]
    assert "risk.max_position_size_pct" in rules
    cap = next(c for c in out.decision.clamps if c.rule == "risk.max_position_size_pct")
    assert Decimal(cap.requested) == Decimal("100000") and Decimal(cap.applied) <= Decimal("12")
    assert out.decision.quote_amount <= Decimal(cap.applied)
    assert "risk.max_position_size_pct" in out.message


def test_a_percent_of_equity_is_sized_from_the_engine_equity(home: Path) -> None:
    out = handle(TradeInput(symbol="ETHUSDT", side="buy", pct=Decimal("10")), context(home))
    assert out.requested_quote is not None and Decimal("9") < out.requested_quote <= Decimal("10.1")
    assert out.status == "executed"


def test_a_trade_while_killed_is_refused_with_the_reason_and_places_nothing(home: Path) -> None:
    ctx = context(home)
    handle_kill(KillInput(), ctx)
    before = order_count(home)
    out = handle(TradeInput(symbol="ETHUSDT", side="buy", quote=Decimal("10")), ctx)
    assert out.status == "skipped" and out.orders == []
    assert out.decision is not None and any(r.rule == "control.kill_switch" for r in out.decision.reasons)
    assert "kill switch" in out.message
    assert order_count(home) == before


def test_a_sell_without_a_position_is_a_clean_typed_error(home: Path) -> None:
    before = order_count(home)
    with pytest.raises(ExecutorError) as raised:
        handle(TradeInput(symbol="BTCUSDT", side="sell"), context(home))
    assert raised.value.code == "NO_POSITION" and raised.value.details["symbol"] == "BTCUSDT"
    assert order_count(home) == before


def test_a_sell_closes_the_position_and_cancels_its_protection(home: Path) -> None:
    ctx = context(home)
    bought = handle(TradeInput(symbol="ETHUSDT", side="buy", quote=Decimal("10")), ctx)
    assert bought.protection is not None
    sold = handle(TradeInput(symbol="ETHUSDT", side="sell"), ctx)
    assert sold.status == "executed"
    exits = [o for o in sold.orders if o.side == "SELL" and o.type == "MARKET"]
    assert len(exits) == 1 and exits[0].status == "FILLED"
    assert {o.status for o in sold.orders if o.list_client_id == bought.protection.id} == {"CANCELED"}
    assert "ETHUSDT" not in checkpoint(home)["engine"]["holdings"]
    assert paper_exchange(home).open_orders("ETHUSDT") == []
    entry_ids = {o.client_order_id for o in bought.orders if o.side == "BUY"}
    assert not entry_ids & {o.client_order_id for o in sold.orders}, "the answer lists what the sell changed only"
    assert [f.side for f in sold.fills] == ["SELL"] * len(sold.fills) and sold.fills


def test_money_in_the_answer_is_exact_digits_without_exponents(home: Path) -> None:
    out = handle(TradeInput(symbol="BTCUSDT", side="buy", quote=Decimal("10")), context(home))
    document = out.model_dump(mode="json")
    texts = [document["decision"]["quantity"], *(f["commission"] for f in document["fills"]),
             *(o["quantity"] or o["quote_order_qty"] for o in document["orders"])]
    assert texts and all(isinstance(t, str) and "E" not in t.upper() for t in texts), texts
    assert Decimal(document["fills"][0]["commission"]) == out.fills[0].commission


def test_a_symbol_the_engine_does_not_know_is_a_typed_error(home: Path) -> None:
    with pytest.raises(ExecutorError) as raised:
        handle(TradeInput(symbol="SOLUSDT", side="buy", quote=Decimal("10")), context(home))
    assert raised.value.code == "INVALID_SYMBOL"


def test_a_home_without_state_is_not_started_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(NotStarted) as raised:
        handle(TradeInput(symbol="BTCUSDT", side="buy", quote=Decimal("10")), context(tmp_path))
    assert raised.value.code == "NOT_STARTED" and "executor.py run" in raised.value.message
    assert not (tmp_path / "journal.db").exists()


@pytest.mark.parametrize("arguments", [
    {"symbol": "BTCUSDT", "side": "buy"},
    {"symbol": "BTCUSDT", "side": "buy", "quote": "10", "pct": "5"},
    {"symbol": "BTCUSDT", "side": "sell", "quote": "10"},
    {"symbol": "BTCUSDT", "side": "buy", "quote": "10", "tp": "0"},
    {"symbol": "BTCUSDT", "side": "buy", "quote": "10", "unexpected": 1},
    {"symbol": "btc", "side": "buy", "quote": "10"},
    {"symbol": "BTCUSDT", "side": "buy", "quote": "10", "confirm": "not a code"},
])
def test_malformed_requests_are_refused_before_anything_runs(arguments: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        TradeInput.model_validate(arguments)


def test_the_spec_is_destructive_and_agent_facing() -> None:
    assert (SPEC.name, SPEC.read_only, SPEC.destructive, SPEC.agent_facing) == ("trade", False, True, True)
    for name, field in TradeInput.model_fields.items():
        assert field.description, f"{name} needs a description: it is what an agent reads"
