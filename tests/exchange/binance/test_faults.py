"""The Binance adapter under the faults the loopback Binance injects: no duplicate, no blind resend, no request
before Retry-After, ban state on 418, resync after -1021."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest

from core.exchange_port import ExchangeRejected, ExecutionStatusUnknown
from core.types import OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from exchange.binance import BinanceConfig, BinanceExchange, RateLimitBanned, RateLimited
from exchange.binance.limits import LimitKind
from exchange.feeds.live import wall_clock_ms
from tests.fakes.binance import FakeBinance, Fault, FaultKind, Limits, Op
from tests.fakes.binance_support import KEY, RULES, SECRET, SYMBOL, book

D = Decimal


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance({SYMBOL: RULES}, {"USDT": D("1000"), "BTC": D("0.5")}, api_key=KEY, api_secret=SECRET) as server:
        yield server


def _adapter(fake: FakeBinance, *, max_wait_ms: int = 10_000, retries: int = 0,
             clock_ms: Callable[[], int] = wall_clock_ms) -> BinanceExchange:
    config = BinanceConfig(api_key=KEY, api_secret=SECRET, rest_url=fake.rest_url, ws_api_url=fake.ws_api_url,
                           retries=retries, backoff_ms=1, max_wait_ms=max_wait_ms)
    adapter = BinanceExchange(config, clock_ms=clock_ms, sleep_s=pytest.fail)  # no test here may wait
    adapter.start()
    return adapter


def _limit(cid: str) -> OrderRequest:
    return OrderRequest(client_order_id=cid, symbol=SYMBOL, side=Side.BUY, type=OrderType.LIMIT, quantity=D("0.1"),
                        price=D("90"), time_in_force=TimeInForce.GTC)


def _used_weight(fake: FakeBinance) -> int:
    return int(fake.limiter.headers(fake.now_ms())["X-MBX-USED-WEIGHT-1M"])


@pytest.mark.parametrize("fault", [
    Fault(FaultKind.SERVER_ERROR, op=Op.NEW_ORDER, accepted=True, http_status=502),
    Fault(FaultKind.STATUS_UNKNOWN, op=Op.NEW_ORDER, accepted=True),
])
def test_a_5xx_or_1007_after_the_order_was_accepted_is_unknown_and_the_order_is_found_by_client_id(
        fake: FakeBinance, fault: Fault) -> None:
    adapter = _adapter(fake)
    book(fake, "99", "101")
    fake.inject(fault)
    with pytest.raises(ExecutionStatusUnknown) as unknown:
        adapter.place_order(_limit("cx-5xx"), 0)
    assert unknown.value.client_order_id == "cx-5xx"
    view = adapter.get_order(SYMBOL, "cx-5xx")
    assert view is not None and view.status is OrderStatus.NEW
    assert [o.client_order_id for o in adapter.open_orders(SYMBOL)] == ["cx-5xx"]  # sent once, never twice


def test_a_5xx_before_the_order_reached_the_engine_is_unknown_and_the_lookup_finds_nothing(fake: FakeBinance) -> None:
    adapter = _adapter(fake)
    fake.inject(Fault(FaultKind.SERVER_ERROR, op=Op.NEW_ORDER, http_status=503))
    with pytest.raises(ExecutionStatusUnknown):
        adapter.place_order(_limit("cx-lost"), 0)
    assert adapter.get_order(SYMBOL, "cx-lost") is None


def test_429_sends_nothing_before_retry_after(fake: FakeBinance) -> None:
    adapter = _adapter(fake, max_wait_ms=0)
    fake.inject(Fault(FaultKind.RATE_LIMITED, op=Op.ACCOUNT, retry_after_s=30))
    with pytest.raises(RateLimited) as limited:
        adapter.balances()
    assert limited.value.binance_code == -1003
    weight = _used_weight(fake)
    with pytest.raises(RateLimited):
        adapter.place_order(_limit("cx-after-429"), 0)
    assert _used_weight(fake) == weight and fake.venue.open_orders(SYMBOL) == []


def test_418_is_a_ban_state_and_nothing_is_sent_until_it_ends(fake: FakeBinance) -> None:
    adapter = _adapter(fake)
    fake.inject(Fault(FaultKind.BANNED, op=Op.ACCOUNT, retry_after_s=300))
    with pytest.raises(RateLimitBanned) as banned:
        adapter.balances()
    assert adapter.rest.limits.is_banned() and banned.value.banned_until_ms > fake.now_ms()
    weight = _used_weight(fake)
    with pytest.raises(RateLimitBanned):
        adapter.place_order(_limit("cx-banned"), 0)
    assert _used_weight(fake) == weight


def test_minus_1021_resyncs_the_clock_and_a_read_is_retried_once(fake: FakeBinance) -> None:
    adapter = _adapter(fake)
    fake.set_clock_offset(60_000)  # the server is a minute ahead: our timestamps look stale
    assert adapter.balances()["USDT"] == (D("1000"), D("0"))
    assert 59_000 < adapter.rest.offset_ms < 61_000


def test_minus_1021_on_an_order_resyncs_but_the_order_is_refused_not_resent(fake: FakeBinance) -> None:
    adapter = _adapter(fake)
    fake.set_clock_offset(-60_000)
    with pytest.raises(ExchangeRejected) as refused:
        adapter.place_order(_limit("cx-clock"), 0)
    assert refused.value.binance_code == -1021
    assert adapter.get_order(SYMBOL, "cx-clock") is None
    adapter.place_order(_limit("cx-clock"), 0)  # the caller's retry, now on server time
    assert [o.client_order_id for o in adapter.open_orders(SYMBOL)] == ["cx-clock"]


def test_a_duplicate_client_id_is_refused_by_binance(fake: FakeBinance) -> None:
    adapter = _adapter(fake)
    adapter.place_order(_limit("cx-dup"), 0)
    with pytest.raises(ExchangeRejected) as refused:
        adapter.place_order(_limit("cx-dup"), 0)
    assert refused.value.binance_code == -2010
    assert len(adapter.open_orders(SYMBOL)) == 1


def test_throttle_holds_a_request_that_would_pass_the_weight_limit() -> None:
    def frozen() -> int:  # one clock for both sides, mid-minute: no window rolls over during the test
        return 1_800_000_030_000

    with FakeBinance({SYMBOL: RULES}, {"USDT": D("1000")}, api_key=KEY, api_secret=SECRET,
                     limits=Limits(weight_per_minute=60), clock_ms=frozen) as fake:
        # time 1 + exchangeInfo 20 = 21 used of 60 (54 with the headroom)
        adapter = _adapter(fake, max_wait_ms=0, clock_ms=frozen)
        adapter.balances()  # 41
        assert adapter.rest.limits.used(LimitKind.REQUEST_WEIGHT, 60_000) == _used_weight(fake) == 41
        with pytest.raises(RateLimited) as held:
            adapter.balances()  # 61 would pass the limit: held back, not sent, not a 429
        assert held.value.retry_at_ms % 60_000 == 0 and _used_weight(fake) == 41



def test_orders_and_cancels_weigh_nothing_when_they_succeed_and_their_weight_when_they_fail(fake: FakeBinance) -> None:
    """Binance CHANGELOG 2026-03-27 (from 2026-04-02), modelled by the fake and trusted from its headers."""
    adapter = _adapter(fake)
    weight = _used_weight(fake)
    adapter.place_order(_limit("cx-free"), 0)
    assert _used_weight(fake) == weight
    with pytest.raises(ExchangeRejected):
        adapter.place_order(_limit("cx-free"), 0)  # a duplicate: refused, charged its documented weight 1
    assert _used_weight(fake) == weight + 1
    adapter.cancel_order(SYMBOL, "cx-free", 0)  # the order-status lookup (4) and a free cancel
    assert _used_weight(fake) == weight + 5


def test_a_cancel_is_not_retried_after_a_5xx_it_is_unknown_and_the_lookup_shows_it_worked(fake: FakeBinance) -> None:
    adapter = _adapter(fake, retries=2)  # reads may be retried; a retried cancel would come back -2011
    book(fake, "99", "101")
    adapter.place_order(_limit("cx-c5xx"), 0)
    fake.inject(Fault(FaultKind.SERVER_ERROR, op=Op.CANCEL_ORDER, accepted=True, http_status=503))
    with pytest.raises(ExecutionStatusUnknown):
        adapter.cancel_order(SYMBOL, "cx-c5xx", 0)
    view = adapter.get_order(SYMBOL, "cx-c5xx")
    assert view is not None and view.status is OrderStatus.CANCELED


def test_reads_are_retried_after_a_5xx(fake: FakeBinance) -> None:
    adapter = _adapter(fake, retries=2)
    fake.inject(Fault(FaultKind.SERVER_ERROR, op=Op.ACCOUNT, http_status=502))
    assert adapter.balances()["USDT"] == (D("1000"), D("0"))
