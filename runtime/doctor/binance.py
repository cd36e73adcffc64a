"""`doctor`'s Binance checks: connectivity and clock skew (`/api/v3/time`), the universe's symbol rules
(`/api/v3/exchangeInfo`), the key's permissions and the user-data subscription (subscribed, then unsubscribed,
over the WebSocket API). Reads only: nothing here places, cancels or changes anything on the account.

The public reads go through httpx (paper has no key to sign with); the signed ones through the adapter's own
`RestClient` and the SDK's WebSocket API client, exactly as a trading `run` would send them.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from binance_common.errors import Error
from binance_sdk_spot.spot import Spot

from core.errors import ConfigError, ExecutorError
from core.filters import SymbolRules, rules_from_exchange_info
from exchange.binance.config import BinanceConfig, venue_rest_url
from exchange.binance.errors import binance_code, message
from exchange.binance.limits import Cost
from exchange.binance.rest import RestClient
from exchange.binance.user_stream import SubscriptionRefused, check_answer, subscribe
from exchange.feeds.live import wall_clock_ms
from memory.redact import mask_secret
from runtime.doctor.model import Check, CheckId, fail, ok, skipped, warn
from runtime.live_preflight import (
    API_MANAGEMENT,
    LiveRefused,
    fetch_key_permissions,
    permission_problems,
)
from runtime.run_mode import RunMode
from runtime.settings import binance_account, binance_rest, binance_venue

TIMEOUT_S = 5.0
# The executor judges data freshness and stamps its journal with the local clock: a clock this far from
# Binance's makes fresh data look stale (or the reverse); the adapter's own resync only covers signing.
CLOCK_WARN_MS = 500
CLOCK_FAIL_MS = 1000
USER_DATA_TIMEOUT_S = 15.0  # below the SDK's fixed 20 s wait for an unanswered request
# What the executor sends on every symbol it trades: MARKET entries, STOP_LOSS_LIMIT stops, OCO protection.
REQUIRED_ORDER_TYPES = ("MARKET", "STOP_LOSS_LIMIT")
INVALID_SYMBOL = -1121
_ACCOUNT = Cost(weight=20)
FIX_CLOCK = "sync the system clock (e.g. `timedatectl set-ntp true`, or chrony/ntpd), then run doctor again"


def binance_checks(mode: RunMode, env: Mapping[str, str], symbols: list[str]) -> list[Check]:
    """Every Binance check of a mode: paper reads public data only; testnet and live also check their account."""
    overridden = bool(env.get("BINANCE_BASE_URL", "").strip())
    try:  # BINANCE_BASE_URL (paper's public data, or a loopback Binance), else the account venue's own URL
        rest_url = binance_rest(env) if mode is RunMode.PAPER or overridden else venue_rest_url(binance_venue(mode))
    except ConfigError as refused:
        return [fail(CheckId.BINANCE_CONNECTIVITY, refused.message)]
    checks = public_checks(rest_url, symbols)
    if mode is RunMode.PAPER:
        return [*checks, skipped(CheckId.BINANCE_KEY_PERMISSIONS, "paper trades no Binance account"),
                skipped(CheckId.BINANCE_USER_DATA, "paper trades no Binance account")]
    try:
        config = binance_account(env, mode)
    except ConfigError as refused:
        return [*checks, fail(CheckId.BINANCE_KEY_PERMISSIONS, refused.message),
                skipped(CheckId.BINANCE_USER_DATA, "no usable key")]
    return [*checks, key_permissions_check(mode, config), user_data_check(config)]


def public_checks(rest_url: str, symbols: list[str], *,
                  clock_ms: Callable[[], int] = wall_clock_ms) -> list[Check]:
    """Connectivity, clock skew and the symbols' rules, from Binance's public REST API at `rest_url`."""
    with httpx.Client(base_url=rest_url, timeout=TIMEOUT_S, follow_redirects=False) as client:
        try:
            before = clock_ms()
            started = time.monotonic()
            answer = client.get("/api/v3/time")
            latency_ms = round((time.monotonic() - started) * 1000)
            after = clock_ms()
            server_ms = int(_json(answer)["serverTime"])
        except (httpx.HTTPError, KeyError, TypeError, ValueError) as failed:
            why = _why(failed)
            return [fail(CheckId.BINANCE_CONNECTIVITY, f"Binance's REST API at {rest_url} did not answer /api/v3/time "
                                                       f"({why}): check the network, a proxy or firewall, and "
                                                       "BINANCE_BASE_URL", url=rest_url),
                    skipped(CheckId.BINANCE_CLOCK, "Binance unreachable"),
                    skipped(CheckId.BINANCE_SYMBOLS, "Binance unreachable")]
        checks = [ok(CheckId.BINANCE_CONNECTIVITY, f"{rest_url} answered in {latency_ms} ms", url=rest_url,
                     latency_ms=latency_ms),
                  _clock(server_ms - (before + after) // 2, latency_ms)]
        checks.append(_symbols(client, rest_url, symbols))
    return checks


def _clock(skew_ms: int, latency_ms: int) -> Check:
    details = {"skew_ms": skew_ms, "round_trip_ms": latency_ms, "warn_above_ms": CLOCK_WARN_MS,
               "fail_above_ms": CLOCK_FAIL_MS}
    text = f"the local clock is {abs(skew_ms)} ms {'behind' if skew_ms > 0 else 'ahead of'} Binance's"
    if abs(skew_ms) > CLOCK_FAIL_MS:
        return fail(CheckId.BINANCE_CLOCK, f"{text}: {FIX_CLOCK}", **details)
    if abs(skew_ms) > CLOCK_WARN_MS:
        return warn(CheckId.BINANCE_CLOCK, f"{text}: {FIX_CLOCK}", **details)
    return ok(CheckId.BINANCE_CLOCK, text, **details)


def _symbols(client: httpx.Client, rest_url: str, symbols: list[str]) -> Check:
    """Each symbol listed, TRADING, and allowing MARKET, STOP_LOSS_LIMIT and OCO."""
    try:
        rules = _rules(client, symbols)
    except (httpx.HTTPError, KeyError, TypeError, ValueError) as failed:
        return fail(CheckId.BINANCE_SYMBOLS, f"exchangeInfo from {rest_url} failed ({_why(failed)}); the symbols' "
                                             "rules are unknown", url=rest_url)
    problems = [problem for symbol in symbols if (problem := _symbol_problem(symbol, rules.get(symbol)))]
    if problems:
        return fail(CheckId.BINANCE_SYMBOLS, "; ".join(problems) + ": trade other symbols (--symbols or "
                                                                   "SCAN_SYMBOLS) or wait for Binance", symbols=symbols,
                    problems=problems)
    return ok(CheckId.BINANCE_SYMBOLS, f"{', '.join(symbols)}: trading, with MARKET, STOP_LOSS_LIMIT and OCO",
              symbols=symbols)


def _rules(client: httpx.Client, symbols: list[str]) -> dict[str, SymbolRules]:
    """The rules of `symbols`; Binance refuses the whole list for one unknown symbol (-1121), so then each is
    asked for alone and the unknown ones are left out."""
    answer = client.get("/api/v3/exchangeInfo", params={"symbols": json.dumps(symbols, separators=(",", ":"))})
    if answer.status_code == 400 and _json(answer).get("code") == INVALID_SYMBOL:
        found: dict[str, SymbolRules] = {}
        for symbol in symbols:
            one = client.get("/api/v3/exchangeInfo", params={"symbol": symbol})
            if one.status_code != 400:
                found |= rules_from_exchange_info(_json(one.raise_for_status()))
        return found
    return rules_from_exchange_info(_json(answer.raise_for_status()))


def _symbol_problem(symbol: str, rules: SymbolRules | None) -> str | None:
    if rules is None:
        return f"{symbol} is not listed on this Binance"
    if rules.status != "TRADING":
        return f"{symbol} is not trading (status {rules.status})"
    missing = [t for t in REQUIRED_ORDER_TYPES if t not in rules.order_types] + ([] if rules.oco_allowed else ["OCO"])
    if missing:
        return f"{symbol} does not allow {', '.join(missing)}, which the executor needs"
    return None


def key_permissions_check(mode: RunMode, config: BinanceConfig) -> Check:
    """Live: apiRestrictions, judged as `run --mode live` judges it. Testnet (no /sapi): the account's canTrade."""
    key = {"api_key": mask_secret(config.api_key)}
    if mode is RunMode.TESTNET:
        return _testnet_account(config, key)
    try:
        permissions = fetch_key_permissions(config)
    except LiveRefused as refused:
        return fail(CheckId.BINANCE_KEY_PERMISSIONS, refused.message, code=refused.code, **key)
    problems = permission_problems(permissions)
    if problems:
        return fail(CheckId.BINANCE_KEY_PERMISSIONS, "; ".join(p.message for p in problems),
                    codes=[p.code.value for p in problems], **key)
    if not permissions.ip_restrict:
        return warn(CheckId.BINANCE_KEY_PERMISSIONS, "the key may trade spot and may not withdraw, but works from "
                                                     f"any IP address: restrict it to this machine's IP in "
                                                     f"{API_MANAGEMENT}", **key)
    return ok(CheckId.BINANCE_KEY_PERMISSIONS, "the key may trade spot, may not withdraw, and is IP-restricted", **key)


def _testnet_account(config: BinanceConfig, key: dict[str, str]) -> Check:
    rest = RestClient(config, clock_ms=wall_clock_ms, sleep_s=time.sleep)
    try:
        rest.sync_time()
        account = rest.read("account", "/api/v3/account", {"omitZeroBalances": "true"}, _ACCOUNT)
    except Error as refused:
        return fail(CheckId.BINANCE_KEY_PERMISSIONS, f"the testnet refused the key ({binance_code(refused)} "
                                                     f"{message(refused)}): check BINANCE_TESTNET_API_KEY and "
                                                     "its secret or key file (testnet keys come from "
                                                     "testnet.binance.vision)", **key)
    except ExecutorError as unknown:
        return fail(CheckId.BINANCE_KEY_PERMISSIONS, f"the testnet account could not be read ({unknown.message})",
                    **key)
    finally:
        rest.close()
    if account.get("canTrade") is not True:
        return fail(CheckId.BINANCE_KEY_PERMISSIONS, "the testnet account may not trade: make a new testnet key",
                    **key)
    return ok(CheckId.BINANCE_KEY_PERMISSIONS, "the testnet key is accepted and may trade (the testnet reports no "
                                               "withdrawal permission; its funds are not real)", **key)


def user_data_check(config: BinanceConfig) -> Check:
    """Subscribe to the user-data stream over the WebSocket API, then unsubscribe: what `run` needs for fills.

    Signed at the server's clock, synced first over REST, exactly as `run` subscribes
    (`exchange.binance.user_stream.subscribe`): a local clock off by more than recvWindow fails the
    clock check, and must not also make this check fail where `run` would subscribe."""
    rest = RestClient(config, clock_ms=wall_clock_ms, sleep_s=time.sleep)
    try:
        rest.sync_time()
        subscription = asyncio.run(asyncio.wait_for(_subscribe_and_leave(config, rest.server_time_ms),
                                                    USER_DATA_TIMEOUT_S))
    except Error as failed:  # the clock sync over REST
        return fail(CheckId.BINANCE_USER_DATA, f"the server's clock could not be read at {config.rest_url} "
                                               f"({binance_code(failed)} {message(failed)}), so no subscription was "
                                               "tried: check the network and BINANCE_BASE_URL", url=config.rest_url)
    except ExecutorError as held_back:  # rate limited or banned before the clock could be read
        return fail(CheckId.BINANCE_USER_DATA, f"no user-data subscription tried: {held_back.message}",
                    url=config.rest_url)
    except (SubscriptionRefused, ValueError, OSError, RuntimeError, TimeoutError) as failed:
        return fail(CheckId.BINANCE_USER_DATA, f"no user-data subscription at {config.ws_api_url} ({_why(failed)}): "
                                               "fills would not reach the executor; check the network and "
                                               "BINANCE_WS_API_URL", url=config.ws_api_url)
    finally:
        rest.close()
    return ok(CheckId.BINANCE_USER_DATA, "subscribed to the user-data stream and unsubscribed again",
              url=config.ws_api_url, subscription_id=subscription)


async def _subscribe_and_leave(config: BinanceConfig, server_time_ms: Callable[[], int]) -> int:
    api = Spot(config_ws_api=config.ws_api_configuration()).websocket_api
    await api.create_connection()
    try:
        # As `run` subscribes: by signature, or an Ed25519 key's session.logon first (user_stream.subscribe), at the
        # server-synced clock. Errors come back as data (or "Websocket Reconnect"): each raises SubscriptionRefused.
        answer = await subscribe(api, config, server_time_ms())
        check_answer(answer)
        check_answer(answer.response)
        subscription = int(answer.response.data().result.subscription_id)
        check_answer(await api.user_data_stream_unsubscribe(subscription_id=subscription))
        return subscription
    finally:
        await api.close_connection()


def _json(answer: httpx.Response) -> dict[str, Any]:
    doc = answer.json()
    if not isinstance(doc, dict):
        raise ValueError("the answer is not a JSON object")
    return doc


def _why(failed: BaseException) -> str:
    """A failure in a few words; an HTTP status error names the status, not the URL."""
    if isinstance(failed, httpx.HTTPStatusError):
        return f"HTTP {failed.response.status_code}"
    return f"{type(failed).__name__}: {failed}" if str(failed) else type(failed).__name__
