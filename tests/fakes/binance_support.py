"""What the fake-Binance tests share: a symbol, keys, a started server and the real SDK pointed at it."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from binance_common.configuration import ConfigurationRestAPI, ConfigurationWebSocketAPI
from binance_sdk_spot.rest_api import SpotRestAPI
from binance_sdk_spot.spot import Spot

from core.filters import SymbolRules, TrailingDeltaBounds
from tests.fakes.binance import FakeBinance

KEY = "test-api-key-0123456789"
SECRET = "test-api-secret-9876543210"
SYMBOL = "BTCUSDT"
RULES = SymbolRules(
    symbol=SYMBOL, status="TRADING", base_asset="BTC", quote_asset="USDT",
    order_types=frozenset({"LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT"}), oco_allowed=True,
    tick_size=Decimal("0.01"), min_price=Decimal("0.01"), max_price=Decimal("1000000"),
    step_size=Decimal("0.00001"), min_qty=Decimal("0.00001"), max_qty=Decimal("9000"),
    min_notional=Decimal("5"), max_num_orders=200, max_num_algo_orders=5, allow_trailing_stop=True,
    trailing_delta=TrailingDeltaBounds(min_above=10, max_above=2000, min_below=10, max_below=2000),  # filters.md
)


@functools.cache
def ed25519_key_pair(which: int = 0) -> tuple[str, str]:
    """A fresh Ed25519 key pair per test process (PEM private key, PEM public key); `which` tells several apart."""
    from Crypto.PublicKey import ECC

    key = ECC.generate(curve="ed25519")
    return key.export_key(format="PEM"), key.public_key().export_key(format="PEM")


@functools.cache
def rsa_key_pair() -> tuple[str, str]:
    """A fresh RSA-2048 key pair per test process (PEM private key, PEM public key)."""
    from Crypto.PublicKey import RSA

    key = RSA.generate(2048)
    return key.export_key(format="PEM", pkcs=8).decode(), key.public_key().export_key(format="PEM").decode()


def key_file(folder: Path, pem: str, *, mode: int = 0o600, name: str = "binance-ed25519.pem") -> Path:
    """A private key file as a person keeps one: readable by its owner only (unless `mode` says otherwise)."""
    path = folder / name
    path.write_text(pem, encoding="ascii")
    path.chmod(mode)
    return path


def d(value: str) -> Decimal:
    return Decimal(value)


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance({SYMBOL: RULES}, {"USDT": d("1000"), "BTC": d("0.5")}, api_key=KEY, api_secret=SECRET) as server:
        yield server


def config(fake: FakeBinance, *, secret: str = SECRET, retries: int = 0) -> ConfigurationRestAPI:
    return ConfigurationRestAPI(api_key=KEY, api_secret=secret, base_path=fake.rest_url, timeout=3000,
                                retries=retries, backoff=10)


def rest(fake: FakeBinance, *, secret: str = SECRET, retries: int = 0) -> SpotRestAPI:
    return Spot(config_rest_api=config(fake, secret=secret, retries=retries)).rest_api


def ws_config(fake: FakeBinance, *, secret: str = SECRET) -> ConfigurationWebSocketAPI:
    return ConfigurationWebSocketAPI(api_key=KEY, api_secret=secret, stream_url=fake.ws_api_url, timeout=3000)


def book(fake: FakeBinance, bid: str, ask: str, size: str = "10") -> None:
    fake.set_book(SYMBOL, [(d(bid), d(size))], [(d(ask), d(size))])
