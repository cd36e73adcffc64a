"""The one session builder and exchange factory: the venue is picked by mode; testnet/live trade on a Binance
account (here the loopback Binance, through the real SDK) and keep no venue state."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.config import ExecutorConfig
from core.engine import Engine
from core.exchange_port import SimulatedVenue
from exchange.binance import BinanceConfig, BinanceExchange
from runtime.checkpoint import Checkpoint
from runtime.run_mode import RunMode
from runtime.session import new_session, restore_session
from runtime.sources import synthetic_source
from runtime.venues import VenueAccountMissing, VenueKind, venue_for, venue_state
from tests.fakes.binance import FakeBinance

KEY, SECRET = "session-test-key", "session-test-secret"


@pytest.mark.parametrize("mode", [RunMode.TESTNET, RunMode.LIVE])
def test_testnet_and_live_trade_on_the_binance_account_and_keep_no_venue_state(mode: RunMode) -> None:
    assert venue_for(mode) is VenueKind.BINANCE
    source = synthetic_source(7, steps=10)
    symbol = source.symbols[0]
    rules = {symbol: source.rules[symbol]}
    with FakeBinance(rules, {"USDT": Decimal("2500"), "BTC": Decimal(1)}, api_key=KEY, api_secret=SECRET) as fake:
        account = BinanceConfig(api_key=KEY, api_secret=SECRET, rest_url=fake.rest_url, ws_api_url=fake.ws_api_url)
        config = ExecutorConfig()
        session = new_session(mode, config, rules, [symbol], source.start_ms, "USDT", Decimal(100), account)
        try:
            assert isinstance(session.exchange, BinanceExchange) and not isinstance(session.exchange, SimulatedVenue)
            assert session.engine.portfolio.cash == Decimal("2500")  # the account's USDT, not the 100 asked
            assert venue_state(session.exchange) is None
        finally:
            session.exchange.close()  # type: ignore[attr-defined]
        saved = Checkpoint.model_validate({"source_id": f"{mode}:{symbol}", "mode": mode, "venue": venue_for(mode),
                                           "engine": session.engine.to_state(), "paper": None})
        restored = restore_session(saved, config, rules, account)
        try:
            assert isinstance(restored.exchange, BinanceExchange)
            assert restored.engine.to_state() == session.engine.to_state()
        finally:
            restored.exchange.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize("mode", [RunMode.TESTNET, RunMode.LIVE])
def test_a_binance_venue_without_its_account_is_refused_by_name(mode: RunMode) -> None:
    source = synthetic_source(7, steps=10)
    with pytest.raises(VenueAccountMissing) as refused:
        new_session(mode, ExecutorConfig(), source.rules, source.symbols, source.start_ms, "USDT", Decimal(100))
    assert refused.value.code == "INVALID_CONFIG" and refused.value.details == {"venue": "binance"}


@pytest.mark.parametrize("mode", [RunMode.REPLAY, RunMode.PAPER])
def test_replay_and_paper_trade_on_the_simulator_and_restore_from_its_state(mode: RunMode) -> None:
    assert venue_for(mode) is VenueKind.PAPER
    source = synthetic_source(7, steps=10)
    config = ExecutorConfig()
    session = new_session(mode, config, source.rules, source.symbols, source.start_ms, "USDT", Decimal(1000))
    assert isinstance(session.exchange, SimulatedVenue)
    assert session.exchange.balances() == {"USDT": (Decimal(1000), Decimal(0))}
    assert session.engine.portfolio.cash == Decimal(1000) and session.engine.now_ms == source.start_ms
    assert venue_state(session.exchange) == session.exchange.to_state()
    saved = Checkpoint.model_validate({"source_id": "synthetic:7::10", "mode": mode,
                                       "engine": session.engine.to_state(), "paper": venue_state(session.exchange)})
    assert saved.venue is VenueKind.PAPER
    restored = restore_session(saved, config, source.rules)
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
    restored = Engine.from_state(state, config, source.rules)
    assert restored.starting_capital == Decimal("10000")
    assert restored.risk_context().realized_pnl == Decimal("250")
    del state["starting_capital"]  # a checkpoint from before the capital rule
    older = Engine.from_state(state, config, source.rules)
    assert older.starting_capital == older.portfolio.equity() - Decimal("250")
