"""One REST request to Binance: admitted by the rate limits, signed with a server-synced timestamp, sent by
the SDK's transport, its used-weight headers recorded, its failure classified.

Why `binance_common.utils.send_request` and not the generated `SpotRestAPI` methods: those stamp the
timestamp from the local clock at signing time, so after -1021 they cannot re-sign with a corrected one
(binance-sdk-spot 13.2.0); `send_request` keeps a caller's `timestamp`. It also percent-encodes the
payload before computing the signature, as Binance requires since 2026-01-15 (else -1022): the HMAC of an
HMAC key, or the base64 Ed25519 / RSA signature of a private key, with the signer passed in here.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

import requests
from binance_common.errors import Error, NetworkError, RateLimitBanError, ServerError, TooManyRequestsError
from binance_common.utils import send_request

from exchange.binance.config import BinanceConfig
from exchange.binance.errors import (
    TIMESTAMP_OUTSIDE_WINDOW,
    ExchangeUnreachable,
    RateLimitBanned,
    RateLimited,
    binance_code,
    message,
)
from exchange.binance.limits import Cost, RateLimits

Doc = Any


class Method(StrEnum):
    GET = "GET"
    POST = "POST"
    DELETE = "DELETE"


def session_for(base_url: str) -> requests.Session:
    """A keep-alive session that reads the environment's proxy, CA-bundle and .netrc settings for `base_url` once,
    here, instead of on every request: `requests` scans the whole environment (and stats ~/.netrc) per request
    otherwise, ~0.4 ms of each order's round trip on a 2-core machine, for settings that do not change while the
    process runs. (The SDK passes no proxies of its own unless `ConfigurationRestAPI.proxy` is set.)"""
    session = requests.Session()
    settings = session.merge_environment_settings(base_url, {}, None, None, None)
    session.proxies.update(settings["proxies"])
    session.verify = settings["verify"]
    session.cert = settings["cert"]
    auth = requests.utils.get_netrc_auth(base_url)
    if auth is not None:
        session.auth = auth
    session.trust_env = False
    return session


class RestClient:
    """Signed and unsigned requests with server time, -1021 handling and rate limits. Not thread-safe."""

    def __init__(self, config: BinanceConfig, *, clock_ms: Callable[[], int],
                 sleep_s: Callable[[float], None]) -> None:
        self._config = config
        # Reads may be retried by the SDK; orders and cancels never are: a cancel retried after a 5xx that
        # Binance had carried out would come back -2011 and hide that it worked.
        self._read_configuration = config.rest_configuration()
        self._write_configuration = config.rest_configuration(retries=0)
        self._signer = config.signer()
        self._session = session_for(config.rest_url)
        self._clock = clock_ms
        self.limits = RateLimits(headroom=config.weight_headroom, max_wait_ms=config.max_wait_ms, clock_ms=clock_ms,
                                 sleep_s=sleep_s)
        self.offset_ms = 0  # server time minus local time

    def close(self) -> None:
        self._session.close()

    def server_time_ms(self) -> int:
        """The server's clock as last synced: what every signed request is stamped with."""
        return self._clock() + self.offset_ms

    def sync_time(self) -> int:
        """Measure the server clock's offset (midpoint of the round trip); returns it in ms."""
        before = self._clock()
        doc = self.send(Method.GET, "/api/v3/time", {}, Cost(1), signed=False)
        after = self._clock()
        self.offset_ms = int(doc["serverTime"]) - (before + after) // 2
        return self.offset_ms

    def send(self, method: Method, path: str, params: dict[str, Any], cost: Cost, *, signed: bool = True) -> Doc:
        """The answer's JSON. A read gets one retry after -1021 (with the clock resynced); a write never is
        resent: its -1021 is a definite refusal (raised as the SDK error, for the caller to translate)."""
        try:
            return self._send_once(method, path, params, cost, signed)
        except Error as error:
            if binance_code(error) != TIMESTAMP_OUTSIDE_WINDOW or not signed:
                raise
            self.sync_time()
            if method is Method.POST:
                raise
            return self._send_once(method, path, params, cost, signed)

    def read(self, what: str, path: str, params: dict[str, Any], cost: Cost, *, signed: bool = True) -> Doc:
        """A GET whose transport failures become `ExchangeUnreachable`; Binance's refusals stay SDK errors."""
        try:
            return self.send(Method.GET, path, params, cost, signed=signed)
        except (ServerError, NetworkError) as error:
            raise ExchangeUnreachable(what, message(error)) from error

    def _send_once(self, method: Method, path: str, params: dict[str, Any], cost: Cost, signed: bool) -> Doc:
        self.limits.admit(cost)
        payload = dict(params)
        if signed:
            payload["recvWindow"] = self._config.recv_window_ms
            payload["timestamp"] = self.server_time_ms()
        try:
            configuration = self._read_configuration if method is Method.GET else self._write_configuration
            answer = send_request(self._session, configuration, method.value, path, payload=payload,
                                  is_signed=signed, signer=self._signer)
        except TooManyRequestsError as error:
            self.limits.refused(error.retry_after)
            raise RateLimited(binance_code(error), message(error), retry_at_ms=self.limits.retry_at_ms) from error
        except RateLimitBanError as error:
            self.limits.banned(error.retry_after)
            raise RateLimitBanned(binance_code(error), message(error),
                                  banned_until_ms=self.limits.banned_until_ms) from error
        self.limits.observe(answer.rate_limits)
        return answer.data()
