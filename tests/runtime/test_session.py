"""The one session builder and exchange factory: the venue is picked by mode; testnet/live trade on a Binance
account (here the loopback Binance, through the real SDK) and keep no venue state."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.config import ExecutorConfig
from core.exchange_port import SimulatedVenue
from exchange.binance import BinanceConfig, BinanceExchange
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
        restored = restore_session(mode, session.engine.to_state(), None, config, rules, account)
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
    restored = restore_session(mode, session.engine.to_state(), session.exchange.to_state(), config, source.rules)
    assert restored.exchange.to_state() == session.exchange.to_state()
    assert restored.engine.to_state() == session.engine.to_state()
