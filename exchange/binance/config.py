"""Where and how the adapter talks to Binance: URLs per venue, timeout, retries and recvWindow, all explicit.

The SDK's defaults (1000 ms timeout, 3 retries) are never relied on: the SDK retries only GET and DELETE
(network errors and 500/502/503/504), never POST, and a retried read must stay inside recvWindow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from binance_common.constants import (
    SPOT_REST_API_PROD_URL,
    SPOT_REST_API_TESTNET_URL,
    SPOT_WS_API_PROD_URL,
    SPOT_WS_API_TESTNET_URL,
)

from exchange.binance.keys import KeyKind

if TYPE_CHECKING:  # the SDK's configuration module pulls in aiohttp: imported where a configuration is built
    from binance_common.configuration import ConfigurationRestAPI, ConfigurationWebSocketAPI


class BinanceVenue(StrEnum):
    LIVE = "live"
    TESTNET = "testnet"


_URLS: dict[BinanceVenue, tuple[str, str]] = {
    BinanceVenue.LIVE: (SPOT_REST_API_PROD_URL, SPOT_WS_API_PROD_URL),
    # Testnet has its own keys and its own WebSocket API; its data is reset periodically.
    BinanceVenue.TESTNET: (SPOT_REST_API_TESTNET_URL, SPOT_WS_API_TESTNET_URL),
}


def venue_rest_url(venue: BinanceVenue) -> str:
    """The venue's published REST base (Binance's own, not an override)."""
    return _URLS[venue][0]


@dataclass(frozen=True, slots=True)
class BinanceConfig:
    """Everything the adapter needs to reach one Binance account, signing with either an HMAC secret
    (`api_secret`) or a private key (`private_key`, the PEM text of an Ed25519 or RSA key, `key_kind` saying
    which; see exchange/binance/keys.py). No credential is ever printed (repr=False)."""

    api_key: str = field(repr=False)
    api_secret: str = field(default="", repr=False)
    rest_url: str = SPOT_REST_API_PROD_URL
    ws_api_url: str = SPOT_WS_API_PROD_URL
    timeout_ms: int = 5000
    retries: int = 2  # reads only: the SDK would retry a DELETE too, but a cancel is never repeated here
    backoff_ms: int = 200
    recv_window_ms: int = 5000
    weight_headroom: float = 0.9  # throttle once this share of a limit is used
    max_wait_ms: int = 10_000  # a request that would have to wait longer is refused (RateLimited) instead
    private_key: str = field(default="", repr=False)
    private_key_passphrase: str | None = field(default=None, repr=False)
    key_kind: KeyKind = KeyKind.HMAC

    def __post_init__(self) -> None:
        if not self.api_key:
            raise ValueError("an API key is needed")
        if self.key_kind is KeyKind.HMAC and (not self.api_secret or self.private_key):
            raise ValueError("an HMAC key signs with its secret alone, without a private key")
        if self.key_kind is not KeyKind.HMAC and (not self.private_key or self.api_secret):
            raise ValueError(f"an {self.key_kind.value} key signs with its private key alone, without a secret")
        if not 0 < self.recv_window_ms <= 60_000:  # Binance caps recvWindow at 60000
            raise ValueError(f"recv_window_ms must be in (0, 60000], got {self.recv_window_ms}")
        if self.timeout_ms <= 0 or self.retries < 0 or self.backoff_ms < 0:
            raise ValueError("timeout_ms must be positive, retries and backoff_ms not negative")
        if not 0 < self.weight_headroom <= 1:
            raise ValueError(f"weight_headroom must be in (0, 1], got {self.weight_headroom}")

    @classmethod
    def for_venue(cls, venue: BinanceVenue, api_key: str, api_secret: str = "", *, rest_url: str | None = None,
                  ws_api_url: str | None = None, private_key: str = "", private_key_passphrase: str | None = None,
                  key_kind: KeyKind = KeyKind.HMAC) -> BinanceConfig:
        """The venue's published URLs, or the given ones (BINANCE_BASE_URL, a loopback server in tests)."""
        rest, ws = _URLS[venue]
        return cls(api_key=api_key, api_secret=api_secret, rest_url=rest_url or rest, ws_api_url=ws_api_url or ws,
                   private_key=private_key, private_key_passphrase=private_key_passphrase, key_kind=key_kind)

    def _credentials(self) -> dict[str, Any]:
        """The SDK's credential arguments: the secret of an HMAC key, else the private key (and passphrase)."""
        if self.key_kind is KeyKind.HMAC:
            return {"api_key": self.api_key, "api_secret": self.api_secret}
        return {"api_key": self.api_key, "private_key": self.private_key,
                "private_key_passphrase": self.private_key_passphrase}

    def signer(self) -> Any:
        """The SDK's signer of a private key (None for HMAC, which signs with the secret): `send_request` needs it
        passed in, the SDK's generated clients build their own from the configuration."""
        if self.key_kind is KeyKind.HMAC:
            return None
        from binance_common.signature import Signers

        return Signers.get_signer(self.private_key, self.private_key_passphrase)

    def rest_configuration(self, *, retries: int | None = None) -> ConfigurationRestAPI:
        """The SDK's REST configuration; `retries=0` for requests that must not be repeated (orders, cancels)."""
        from binance_common.configuration import ConfigurationRestAPI

        return ConfigurationRestAPI(**self._credentials(), base_path=self.rest_url, timeout=self.timeout_ms,
                                    retries=self.retries if retries is None else retries, backoff=self.backoff_ms)

    def ws_api_configuration(self) -> ConfigurationWebSocketAPI:
        """The SDK's WebSocket API configuration. `session_re_logon` is off: the SDK would log on again after its
        own reconnect with the local clock (refused past recvWindow); the user stream reconnects and logs on itself,
        at the server's time (exchange/binance/user_stream.py)."""
        from binance_common.configuration import ConfigurationWebSocketAPI

        return ConfigurationWebSocketAPI(**self._credentials(), stream_url=self.ws_api_url, timeout=self.timeout_ms,
                                         session_re_logon=False)
