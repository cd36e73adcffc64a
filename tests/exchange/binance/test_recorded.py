"""The adapter's parsers on real recorded Binance documents (read from ../shared/fixtures at test time)."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from typing import Any

import pytest
from binance_common.models import RateLimit

from core.exchange_port import ExecutionReport, ExecutionType
from core.filters import rules_from_exchange_info
from core.types import OrderStatus, OrderType, Side
from exchange.binance.errors import RateLimited
from exchange.binance.events import ForeignOrder, parse_user_event
from exchange.binance.limits import Cost, LimitKind, RateLimits
from tests.conftest import fixture_path

D = Decimal


def _exchange_info_from_capture() -> dict[str, Any]:
    """cryptofeed's capture: one `URL -> timestamp: body` record per line."""
    with gzip.open(fixture_path("ws_captures", "cryptofeed_2021-10-12", "BINANCE.0.gz"), "rt") as capture:
        for line in capture:
            if line.startswith("https://api.binance.com/api/v3/exchangeInfo"):
                return dict(json.loads(line.split(": ", 1)[1]))
    raise AssertionError("no exchangeInfo in the capture")


def _recorded_report() -> dict[str, Any]:
    path = fixture_path("rest", "nautilus_btcusdt_2021-10", "ws_spot_execution_report_binance_us.json")
    return dict(json.loads(path.read_text()))


def test_a_recorded_report_of_an_order_placed_elsewhere_is_foreign() -> None:
    assert parse_user_event(_recorded_report(), {}) == ForeignOrder("T0ESHzso0banw0QiPFZYgj", "BTCUSD",
                                                                     OrderStatus.FILLED, 1759347763167)


def test_recorded_execution_report_is_a_trade_with_its_commission_as_charged() -> None:
    doc = _recorded_report()
    doc["data"]["c"] = "cx-recorded"  # the same event, as if we had placed the order
    report = parse_user_event(doc, {})
    assert isinstance(report, ExecutionReport)
    assert (report.client_order_id, report.symbol, report.side, report.order_type, report.status) == (
        "cx-recorded", "BTCUSD", Side.SELL, OrderType.LIMIT, OrderStatus.FILLED)
    assert report.execution_type is ExecutionType.TRADE and report.stop_price is None
    fill = report.fill
    assert fill is not None
    assert (fill.price, fill.quantity, fill.commission, fill.commission_asset, fill.trade_id, fill.is_maker) == (
        D("117290.77"), D("0.00042"), D("0.00492621"), "USD", 88685053, False)
    assert report.cum_quote == D("49.26212340") and report.list_client_id is None


def test_recorded_exchange_info_configures_the_rate_limits_and_throttles_before_them() -> None:
    info = _exchange_info_from_capture()
    now = [1_633_998_530_000]
    limits = RateLimits(headroom=0.9, max_wait_ms=0, clock_ms=lambda: now[0], sleep_s=lambda _: None)
    limits.configure(info["rateLimits"])
    assert {(k.value, length) for k, length in limits._windows} >= {
        ("REQUEST_WEIGHT", 60_000), ("ORDERS", 10_000), ("ORDERS", 86_400_000)}
    assert limits._windows[(LimitKind.REQUEST_WEIGHT, 60_000)].limit == 1200  # the 2021 limit, as recorded
    limits.observe([RateLimit(rateLimitType="REQUEST_WEIGHT", interval="MINUTE", intervalNum=1, count=1079,
                              retryAfter=None)])
    limits.admit(Cost(weight=1))  # 1080 = 90 % of 1200: still admitted
    with pytest.raises(RateLimited) as held:
        limits.admit(Cost(weight=1))
    assert held.value.retry_at_ms == 1_633_998_540_000  # the next minute
    assert rules_from_exchange_info(info)["BTCUSDT"].tick_size == D("0.01")


def test_recorded_testnet_account_balances_parse() -> None:
    doc = json.loads(fixture_path("rest", "chrisleekr_testnet_2021-04", "binance-account-info.json").read_text())
    balances = {b["asset"]: (D(b["free"]), D(b["locked"])) for b in doc["balances"]}
    assert balances["BNB"] == (D("1000"), D("0"))
