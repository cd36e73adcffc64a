"""Which Binance account `--mode testnet|live` uses: each mode its own key pair, refused by name when missing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import ConfigError
from exchange.binance.config import BinanceVenue
from runtime.run_mode import RunMode
from runtime.settings import binance_account, market_data_urls

LIVE = {"BINANCE_API_KEY": "livekey123", "BINANCE_API_SECRET": "livesecret456"}
REPO = Path(__file__).resolve().parents[2]
TESTNET = {"BINANCE_TESTNET_API_KEY": "testkey123", "BINANCE_TESTNET_API_SECRET": "testsecret456"}


def test_each_mode_takes_its_own_keys_and_venue_urls() -> None:
    live = binance_account(LIVE | TESTNET, RunMode.LIVE)
    testnet = binance_account(LIVE | TESTNET, RunMode.TESTNET)
    assert (live.api_key, live.rest_url) == ("livekey123", "https://api.binance.com")
    assert (testnet.api_key, testnet.rest_url) == ("testkey123", "https://testnet.binance.vision")
    assert "testnet" in testnet.ws_api_url


@pytest.mark.parametrize(("env", "mode", "missing"), [
    (LIVE, RunMode.TESTNET, "BINANCE_TESTNET_API_KEY"),  # live keys never stand in for testnet's
    (TESTNET, RunMode.LIVE, "BINANCE_API_KEY"),
    ({"BINANCE_API_KEY": "k"}, RunMode.LIVE, "BINANCE_API_SECRET"),
])
def test_a_missing_key_is_refused_by_name(env: dict[str, str], mode: RunMode, missing: str) -> None:
    with pytest.raises(ConfigError) as refused:
        binance_account(env, mode)
    assert refused.value.setting == missing


def test_a_malformed_key_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigError) as refused:
        binance_account({"BINANCE_API_KEY": "abc def", "BINANCE_API_SECRET": "s3cr3t"}, RunMode.LIVE)
    assert "abc def" not in str(refused.value) and refused.value.setting == "BINANCE_API_KEY"


def test_loopback_urls_override_the_venue_and_paper_modes_have_no_account() -> None:
    env = TESTNET | {"BINANCE_BASE_URL": "http://127.0.0.1:9001", "BINANCE_WS_API_URL": "ws://127.0.0.1:9002/ws-api/v3"}
    config = binance_account(env, RunMode.TESTNET)
    assert (config.rest_url, config.ws_api_url) == ("http://127.0.0.1:9001", "ws://127.0.0.1:9002/ws-api/v3")
    assert "testsecret456" not in repr(config)
    with pytest.raises(ConfigError):
        binance_account(TESTNET, RunMode.PAPER)
    assert BinanceVenue.TESTNET.value == "testnet"


def test_reading_the_settings_does_not_load_the_binance_sdk() -> None:
    """Every command reads the settings (a backtest too): the SDK's clients (and aiohttp) load only when an
    adapter or a REST configuration is built, and the package's names still resolve when asked for."""
    code = ("import sys, runtime.settings, runtime.backtest; "
            "print(sorted(m for m in ('binance_sdk_spot', 'aiohttp', 'exchange.binance.adapter') "
            "if m in sys.modules)); "
            "from exchange.binance import BinanceExchange, UserStream; print(BinanceExchange.__module__)")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["[]", "exchange.binance.adapter"]


def test_an_unknown_name_of_the_binance_package_is_an_attribute_error() -> None:
    import exchange.binance

    with pytest.raises(AttributeError, match="NoSuchThing"):
        exchange.binance.NoSuchThing  # noqa: B018


@pytest.mark.parametrize(("mode", "rest", "stream"), [
    (RunMode.TESTNET, "https://testnet.binance.vision", "wss://stream.testnet.binance.vision"),  # testnet's own prices
    (RunMode.LIVE, "https://api.binance.com", "wss://stream.binance.com:9443"),
    (RunMode.PAPER, "https://api.binance.com", "wss://stream.binance.com:9443"),
])
def test_market_data_comes_from_the_venues_own_urls(mode: RunMode, rest: str, stream: str) -> None:
    assert market_data_urls({}, mode) == (rest, stream)
    loopback = {"BINANCE_BASE_URL": "http://127.0.0.1:9/", "BINANCE_STREAM_URL": "ws://127.0.0.1:9"}
    assert market_data_urls(loopback, mode) == ("http://127.0.0.1:9", "ws://127.0.0.1:9")


def test_a_market_data_url_of_the_wrong_kind_is_refused_by_name() -> None:
    with pytest.raises(ConfigError) as refused:
        market_data_urls({"BINANCE_STREAM_URL": "https://stream.example"}, RunMode.TESTNET)
    assert refused.value.details["setting"] == "BINANCE_STREAM_URL"
