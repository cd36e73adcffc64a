"""An Ed25519 API key end to end against the loopback Binance, through the real SDK over sockets: REST orders
signed with the key, user data over `session.logon` + `userDataStream.subscribe`, a bad signature refused
(-1022), and a new connection logged on again after a drop. The keys are generated at test time."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from core.exchange_port import ExchangeRejected, ExecutionReport, ExecutionType
from core.types import OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from exchange.binance import BinanceConfig, BinanceExchange
from exchange.binance.events import BalanceUpdate, StreamGap
from exchange.binance.keys import KeyKind
from exchange.binance.user_stream import SubscriptionKind, UserStream, subscription_kind
from tests.fakes.binance import FakeBinance
from tests.fakes.binance_support import KEY, RULES, SECRET, SYMBOL, book, ed25519_key_pair, rsa_key_pair

D = Decimal
WAIT_S = 5.0
SDK_RECONNECT_S = 5.0  # binance_common.websocket: the SDK reconnects 5 s after a serverShutdown notice


def _config(fake: FakeBinance, private_key: str, kind: KeyKind = KeyKind.ED25519) -> BinanceConfig:
    return BinanceConfig(api_key=KEY, private_key=private_key, key_kind=kind, rest_url=fake.rest_url,
                         ws_api_url=fake.ws_api_url, retries=0)


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    _, public = ed25519_key_pair()
    with FakeBinance({SYMBOL: RULES}, {"USDT": D("1000"), "BTC": D("0.5")}, api_key=KEY, public_key=public) as server:
        yield server


@pytest.fixture
def adapter(fake: FakeBinance) -> Iterator[BinanceExchange]:
    exchange = BinanceExchange(_config(fake, ed25519_key_pair()[0]))
    exchange.start()
    yield exchange
    exchange.close()


def _next(stream: UserStream, kind: type, wait_s: float = WAIT_S) -> object:
    while (event := stream.wait(wait_s)) is not None:
        if isinstance(event, kind):
            return event
    raise AssertionError(f"no {kind.__name__} within {wait_s} s")


def _buy(cid: str) -> OrderRequest:
    return OrderRequest(client_order_id=cid, symbol=SYMBOL, side=Side.BUY, type=OrderType.LIMIT, quantity=D("0.1"),
                        price=D("100"), time_in_force=TimeInForce.GTC)


def test_one_function_decides_the_subscription_by_key_kind() -> None:
    assert subscription_kind(KeyKind.ED25519) is SubscriptionKind.SESSION
    assert subscription_kind(KeyKind.HMAC) is subscription_kind(KeyKind.RSA) is SubscriptionKind.SIGNATURE


def test_an_order_signed_with_the_key_fills_and_the_fill_arrives_over_the_logged_on_session(
        fake: FakeBinance, adapter: BinanceExchange) -> None:
    stream = adapter.user_stream()
    stream.start(timeout_s=WAIT_S)
    try:
        assert fake.session_logons == 1
        book(fake, "99", "101")
        placed = adapter.place_order(_buy("cx-ed1"), 0)
        assert [r.status for r in placed] == [OrderStatus.NEW]
        fake.trade(SYMBOL, D("99"))
        while (event := _next(stream, ExecutionReport)) is not None:
            assert isinstance(event, ExecutionReport) and event.client_order_id == "cx-ed1"
            if event.execution_type is ExecutionType.TRADE:
                break
        assert event.fill is not None and event.fill.quantity == D("0.1")
        assert adapter.balances()["USDT"] == (D("990"), D("0"))  # a signed read with the key
    finally:
        stream.stop()


def test_a_signature_by_another_key_is_refused_on_rest_and_on_session_logon(fake: FakeBinance) -> None:
    other, _ = ed25519_key_pair(1)
    exchange = BinanceExchange(_config(fake, other))
    exchange.start()  # time and exchangeInfo are public
    try:
        with pytest.raises(ExchangeRejected) as refused:
            exchange.place_order(_buy("cx-bad"), 0)
        assert refused.value.details["binance_code"] == -1022
        stream = UserStream(_config(fake, other), {}, backoff_s=0.01, max_backoff_s=0.02)
        with pytest.raises(TimeoutError):
            stream.start(timeout_s=0.5)
        try:
            assert "-1022" in stream.last_failure and "session.logon" in stream.last_failure
            assert fake.session_logons == 0 and stream.connections == 0
        finally:
            stream.stop()
    finally:
        exchange.close()
    assert fake.venue.orders_placed == 0


def test_a_dropped_connection_logs_on_again_and_the_subscription_delivers(fake: FakeBinance,
                                                                         adapter: BinanceExchange) -> None:
    stream = adapter.user_stream()
    stream.start(timeout_s=WAIT_S)
    try:
        fake.drop_connections()
        gap = _next(stream, StreamGap)
        assert isinstance(gap, StreamGap) and "closed" in gap.reason
        assert stream.connections == 2 and fake.session_logons == 2
        fake.adjust_balance("USDT", D("1"))
        assert isinstance(_next(stream, BalanceUpdate), BalanceUpdate)
    finally:
        stream.stop()


def test_the_sdks_own_reconnect_after_a_shutdown_notice_ends_the_session_and_it_logs_on_again(
        fake: FakeBinance, adapter: BinanceExchange) -> None:
    """On `serverShutdown` the SDK reconnects in place (after its fixed 5 s) and cannot renew the subscription:
    the stream starts a new connection of its own, logged on at the server's time, and reports the gap."""
    stream = adapter.user_stream()
    stream.start(timeout_s=WAIT_S)
    try:
        fake.announce_shutdown()
        gap = _next(stream, StreamGap, SDK_RECONNECT_S + WAIT_S)
        assert isinstance(gap, StreamGap) and "the SDK reconnected" in gap.reason
        assert stream.connections == 2 and fake.session_logons == 2
        fake.adjust_balance("USDT", D("1"))
        assert isinstance(_next(stream, BalanceUpdate), BalanceUpdate)
    finally:
        stream.stop()


def test_the_logon_is_signed_at_the_servers_time_when_the_local_clock_is_off(fake: FakeBinance) -> None:
    fake.set_clock_offset(30_000)  # far past recvWindow: the SDK's own session_logon (local clock) gets -1021
    exchange = BinanceExchange(_config(fake, ed25519_key_pair()[0]))
    exchange.start()
    stream = exchange.user_stream()
    try:
        stream.start(timeout_s=WAIT_S)
        assert stream.connections == 1 and fake.session_logons == 1
    finally:
        stream.stop()
        exchange.close()


def test_an_hmac_account_keeps_the_signature_subscription() -> None:
    with FakeBinance({SYMBOL: RULES}, {"USDT": D("10")}, api_key=KEY, api_secret=SECRET) as fake:
        stream = UserStream(BinanceConfig(api_key=KEY, api_secret=SECRET, rest_url=fake.rest_url,
                                          ws_api_url=fake.ws_api_url), {})
        try:
            stream.start(timeout_s=WAIT_S)
            assert stream.connections == 1 and fake.session_logons == 0
        finally:
            stream.stop()


def test_an_rsa_key_signs_rest_and_subscribes_with_a_signature() -> None:
    private, public = rsa_key_pair()
    with FakeBinance({SYMBOL: RULES}, {"USDT": D("1000")}, api_key=KEY, public_key=public) as fake:
        exchange = BinanceExchange(_config(fake, private, KeyKind.RSA))
        exchange.start()
        stream = exchange.user_stream()
        try:
            assert exchange.balances()["USDT"] == (D("1000"), D("0"))
            stream.start(timeout_s=WAIT_S)
            assert stream.connections == 1 and fake.session_logons == 0
        finally:
            stream.stop()
            exchange.close()
