"""The one session builder and exchange factory: the venue is picked by mode, testnet/live refused for now."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.config import ExecutorConfig
from core.exchange_port import SimulatedVenue
from runtime.run_mode import RunMode
from runtime.session import new_session, restore_session
from runtime.sources import synthetic_source
from runtime.venues import ModeUnavailable, VenueKind, venue_for


@pytest.mark.parametrize("mode", [RunMode.TESTNET, RunMode.LIVE])
def test_testnet_and_live_are_refused_until_an_adapter_is_wired(mode: RunMode) -> None:
    with pytest.raises(ModeUnavailable) as refused:
        venue_for(mode)
    assert refused.value.code == "MODE_UNAVAILABLE" and refused.value.details == {"mode": mode.value}
    source = synthetic_source(7, steps=10)
    with pytest.raises(ModeUnavailable):
        new_session(mode, ExecutorConfig(), source.rules, source.symbols, source.start_ms, "USDT", Decimal(100))


@pytest.mark.parametrize("mode", [RunMode.REPLAY, RunMode.PAPER])
def test_replay_and_paper_trade_on_the_simulator_and_restore_from_its_state(mode: RunMode) -> None:
    assert venue_for(mode) is VenueKind.PAPER
    source = synthetic_source(7, steps=10)
    config = ExecutorConfig()
    session = new_session(mode, config, source.rules, source.symbols, source.start_ms, "USDT", Decimal(1000))
    assert isinstance(session.exchange, SimulatedVenue)
    assert session.exchange.balances() == {"USDT": (Decimal(1000), Decimal(0))}
    assert session.engine.portfolio.cash == Decimal(1000) and session.engine.now_ms == source.start_ms
    restored = restore_session(mode, session.engine.to_state(), session.exchange.to_state(), config, source.rules)
    assert restored.exchange.to_state() == session.exchange.to_state()
    assert restored.engine.to_state() == session.engine.to_state()


def test_the_starting_capital_survives_a_restore_and_an_old_checkpoint_derives_it() -> None:
    """CAPITAL_RULE measures its base from the equity the engine started with, not the equity at a restart."""
    source = synthetic_source(7, None, 50)
    config = ExecutorConfig()
    session = new_session(RunMode.REPLAY, config, source.rules, source.symbols, source.start_ms, "USDT",
                          Decimal("10000"))
    state = session.engine.to_state()
    assert state["starting_capital"] == "10000"
    state["portfolio"]["realized_pnl"] = "250"
    restored = restore_session(RunMode.REPLAY, state, session.exchange.to_state(), config, source.rules)
    assert restored.engine.starting_capital == Decimal("10000")
    assert restored.engine.risk_context().realized_pnl == Decimal("250")
    del state["starting_capital"]  # a checkpoint from before the capital rule
    older = restore_session(RunMode.REPLAY, state, session.exchange.to_state(), config, source.rules)
    assert older.engine.starting_capital == older.engine.portfolio.equity() - Decimal("250")
