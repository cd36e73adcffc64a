"""The one session builder and exchange factory: the venue is picked by mode, testnet/live refused for now."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.config import ExecutorConfig
from core.exchange_port import SimulatedVenue
from runtime.checkpoint import Checkpoint
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
    saved = Checkpoint.model_validate({"source_id": "synthetic:7::10", "mode": mode,
                                       "engine": session.engine.to_state(), "paper": session.exchange.to_state()})
    assert saved.venue is VenueKind.PAPER
    restored = restore_session(saved, config, source.rules)
    assert restored.exchange.to_state() == session.exchange.to_state()
    assert restored.engine.to_state() == session.engine.to_state()
