"""The adapter's HTTP session reads the environment's proxy settings once, at start-up, and still honours them
(`exchange.binance.rest.session_for`): `requests` would otherwise rescan the environment on every order."""

from __future__ import annotations

import time

import pytest

from exchange.binance.config import BinanceConfig
from exchange.binance.rest import RestClient, session_for
from tests.fakes.binance import FakeBinance, Op
from tests.fakes.binance_support import KEY, SECRET, fake  # noqa: F401 (the fixture)


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def test_a_proxy_named_in_the_environment_at_start_up_carries_the_requests(fake: FakeBinance,  # noqa: F811
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The loopback Binance as the HTTP proxy of an unresolvable host: the request can only arrive through it."""
    monkeypatch.setenv("HTTP_PROXY", fake.rest_url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    config = BinanceConfig(api_key=KEY, api_secret=SECRET, rest_url="http://binance.invalid", retries=0)
    rest = RestClient(config, clock_ms=wall_ms, sleep_s=time.sleep)
    monkeypatch.delenv("HTTP_PROXY")  # read once: later changes to the environment do not matter
    try:
        rest.sync_time()
    finally:
        rest.close()
    assert fake.requests[Op.TIME] == 1


def test_no_proxy_keeps_loopback_direct_and_the_session_never_rereads_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert session_for("https://api.binance.com").proxies["https"] == "http://proxy.example:3128"
    direct = session_for("http://127.0.0.1:9")
    assert "http" not in direct.proxies and "https" not in direct.proxies and direct.trust_env is False
