"""Two-phase trades: a preview places nothing and returns a code; only the same parameters and an unused,
unexpired code execute, exactly once."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from core.errors import ExecutorError
from tests.tools.test_trade_support import (
    context,
    operator_orders,
    order_count,
)
from tools.control import KillInput, handle_kill
from tools.trade import CONFIRMATION_TTL_MS, TradeInput, handle, needs_confirmation

ALWAYS = {"TRADE_CONFIRMATION": "always"}
T0 = 1_800_000_000_000


class Clock:
    """The wall clock a ToolContext reads, moved by the test."""

    def __init__(self, now_ms: int) -> None:
        self.now = now_ms

    def __call__(self) -> int:
        return self.now


def _buy(**extra: object) -> TradeInput:
    return TradeInput.model_validate({"symbol": "ETHUSDT", "side": "buy", "quote": "10", **extra})


def _code_of(home: Path, clock: Clock) -> str:
    preview = handle(_buy(), context(home, ALWAYS, clock))
    assert preview.confirmation is not None
    return preview.confirmation.code


def test_a_preview_places_nothing_and_returns_a_code(home: Path) -> None:
    before = order_count(home)
    out = handle(_buy(), context(home, ALWAYS, Clock(T0)))
    assert out.status == "preview" and out.orders == [] and out.fills == []
    assert out.decision is not None and out.decision.action == "enter" and out.decision.quantity > 0
    assert out.confirmation is not None and out.confirmation.expires_ms == T0 + CONFIRMATION_TTL_MS
    assert out.confirmation.code in out.message
    assert order_count(home) == before
    for stored in home.glob("journal.db*"):
        assert out.confirmation.code.encode() not in stored.read_bytes(), "only a hash of the code may be stored"


def test_confirming_with_the_same_parameters_executes_once(home: Path) -> None:
    clock = Clock(T0)
    code = _code_of(home, clock)
    clock.now += 60_000
    out = handle(_buy(confirm=code), context(home, ALWAYS, clock))
    assert out.status == "executed" and out.confirmation is None
    assert len([o for o in operator_orders(home) if o[2] == "BUY"]) == 1


def test_equal_numbers_spelled_differently_are_the_same_parameters(home: Path) -> None:
    clock = Clock(T0)
    code = _code_of(home, clock)
    out = handle(_buy(quote="10.00", tp="1.50", confirm=code), context(home, ALWAYS, clock))
    assert out.status == "executed"


def test_a_used_code_is_refused(home: Path) -> None:
    clock = Clock(T0)
    code = _code_of(home, clock)
    handle(_buy(confirm=code), context(home, ALWAYS, clock))
    count = order_count(home)
    with pytest.raises(ExecutorError) as raised:
        handle(_buy(confirm=code, request_id="another-attempt"), context(home, ALWAYS, clock))
    assert raised.value.code == "CONFIRMATION_USED"
    assert order_count(home) == count


def test_a_code_for_other_parameters_is_refused_and_stays_usable(home: Path) -> None:
    clock = Clock(T0)
    code = _code_of(home, clock)
    for changed in ({"quote": "11"}, {"tp": "2"}, {"sl": "1"}):
        with pytest.raises(ExecutorError) as raised:
            handle(_buy(confirm=code, **changed), context(home, ALWAYS, clock))
        assert raised.value.code == "CONFIRMATION_MISMATCH"
    with pytest.raises(ExecutorError) as raised:
        handle(TradeInput(symbol="BTCUSDT", side="buy", quote=Decimal("10"), confirm=code),
               context(home, ALWAYS, clock))
    assert raised.value.code == "CONFIRMATION_MISMATCH"
    assert operator_orders(home) == []
    assert handle(_buy(confirm=code), context(home, ALWAYS, clock)).status == "executed"


def test_an_expired_code_is_refused(home: Path) -> None:
    clock = Clock(T0)
    code = _code_of(home, clock)
    clock.now += CONFIRMATION_TTL_MS + 1
    with pytest.raises(ExecutorError) as raised:
        handle(_buy(confirm=code), context(home, ALWAYS, clock))
    assert raised.value.code == "CONFIRMATION_EXPIRED"
    assert operator_orders(home) == []


def test_a_code_still_valid_at_its_last_millisecond_executes(home: Path) -> None:
    clock = Clock(T0)
    code = _code_of(home, clock)
    clock.now += CONFIRMATION_TTL_MS
    assert handle(_buy(confirm=code), context(home, ALWAYS, clock)).status == "executed"


def test_an_unknown_code_is_refused(home: Path) -> None:
    with pytest.raises(ExecutorError) as raised:
        handle(_buy(confirm="ABCD-EFGH"), context(home, ALWAYS, Clock(T0)))
    assert raised.value.code == "CONFIRMATION_UNKNOWN"


def test_a_preview_the_risk_engine_refuses_gets_no_code(home: Path) -> None:
    clock = Clock(T0)
    handle_kill(KillInput(), context(home, ALWAYS, clock))
    out = handle(_buy(), context(home, ALWAYS, clock))
    assert out.status == "preview" and out.confirmation is None
    assert "kill switch" in out.message


def test_paper_and_replay_execute_directly_unless_confirmation_is_always() -> None:
    assert not needs_confirmation("replay", {})
    assert not needs_confirmation("paper", {"TRADE_CONFIRMATION": "auto"})
    assert needs_confirmation("paper", ALWAYS)
    assert needs_confirmation("replay", {"TRADE_CONFIRMATION": " Always "})


@pytest.mark.parametrize("mode", ["live", "testnet", "unknown"])
def test_live_testnet_and_an_unknown_mode_are_always_two_phase(mode: str) -> None:
    assert needs_confirmation(mode, {})


def test_an_invalid_confirmation_setting_refuses_instead_of_guessing() -> None:
    with pytest.raises(ExecutorError) as raised:
        needs_confirmation("paper", {"TRADE_CONFIRMATION": "never"})
    assert raised.value.code == "INVALID_CONFIG"


def test_a_sell_is_two_phase_too(home: Path) -> None:
    clock = Clock(T0)
    handle(_buy(), context(home, {}, clock))
    preview = handle(TradeInput(symbol="ETHUSDT", side="sell"), context(home, ALWAYS, clock))
    assert preview.status == "preview" and preview.confirmation is not None and preview.orders == []
    assert preview.sell_quantity is not None and preview.sell_quantity > 0
    sold = handle(TradeInput(symbol="ETHUSDT", side="sell", confirm=preview.confirmation.code),
                  context(home, ALWAYS, clock))
    assert sold.status == "executed" and [o.type for o in sold.orders if o.side == "SELL" and o.type == "MARKET"]
