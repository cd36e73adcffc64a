"""The checks `run --mode testnet|live` passes before anything is opened (Invariant 10, issue 12 "Security").

Live trades real money, so it is refused, each time with a code and what to do:
- without `--confirm-live` typed on `run`'s command line (LIVE_NOT_CONFIRMED). The confirmation is never read
  from the environment (EXECUTOR_MODE=live alone, or a variable such as EXECUTOR_CONFIRM_LIVE, does not
  count), and `run` is not a tool: no MCP, OpenAI-tools, chat or Telegram caller can give it;
- without BINANCE_API_KEY and its BINANCE_API_SECRET or BINANCE_PRIVATE_KEY_FILE, or with a key file that cannot
  be used (INVALID_CONFIG naming the setting, as `binance_account` refuses it);
- when Binance refuses the key (KEY_REFUSED: a wrong key or secret, or an IP the key does not allow);
- when the key's permissions cannot be read (KEY_PERMISSIONS_UNKNOWN: Binance unreachable, rate-limited or an
  unreadable answer): unknown permissions are treated as unsafe;
- when the key may withdraw (KEY_CAN_WITHDRAW) or may not trade spot (KEY_CANNOT_TRADE_SPOT).
Testnet needs its own key pair (BINANCE_TESTNET_API_KEY/SECRET) and no confirmation; its permissions cannot
be read (the testnet serves no /sapi endpoint) and its funds are not real.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from binance_common.errors import Error, NetworkError, ServerError

from core.errors import ExecutorError, InvalidArgument
from exchange.binance.config import BinanceConfig
from exchange.binance.errors import binance_code, message
from exchange.binance.permissions import KeyPermissions, read_key_permissions
from exchange.binance.rest import RestClient
from exchange.feeds.live import wall_clock_ms
from runtime.run_mode import RunMode
from runtime.settings import binance_account

CONFIRM_LIVE_FLAG = "--confirm-live"
# Variables a person might expect to confirm live trading; they are named in the refusal, never honoured.
CONFIRM_LIVE_VARIABLES = ("EXECUTOR_CONFIRM_LIVE", "CONFIRM_LIVE")
API_MANAGEMENT = "Binance > Account > API Management"


class PreflightCode(StrEnum):
    LIVE_NOT_CONFIRMED = "LIVE_NOT_CONFIRMED"
    KEY_REFUSED = "KEY_REFUSED"
    KEY_PERMISSIONS_UNKNOWN = "KEY_PERMISSIONS_UNKNOWN"
    KEY_CAN_WITHDRAW = "KEY_CAN_WITHDRAW"
    KEY_CANNOT_TRADE_SPOT = "KEY_CANNOT_TRADE_SPOT"


class LiveRefused(ExecutorError):
    """`run --mode testnet|live` refused before anything was opened; `code` is one of `PreflightCode`."""

    def __init__(self, code: PreflightCode, message: str, **details: object) -> None:
        super().__init__(message, **details)
        self.code = code.value
        self.refusal = code


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason the key is unfit for live trading, with what to do about it."""

    code: PreflightCode
    message: str


def permission_problems(permissions: KeyPermissions) -> list[Problem]:
    """What is wrong with a live key's permissions (empty when nothing is); `doctor` reports the same."""
    problems = []
    if permissions.enable_withdrawals:
        problems.append(Problem(PreflightCode.KEY_CAN_WITHDRAW, (
            f"the Binance API key may withdraw funds: in {API_MANAGEMENT}, edit the key's restrictions and untick "
            "'Enable Withdrawals' (or make a new key with 'Enable Reading' and 'Enable Spot & Margin Trading' "
            "only), then start again; a key that can withdraw is never used for trading")))
    if not permissions.enable_spot_and_margin_trading:
        problems.append(Problem(PreflightCode.KEY_CANNOT_TRADE_SPOT, (
            f"the Binance API key may not trade spot: in {API_MANAGEMENT}, tick 'Enable Spot & Margin Trading' "
            "for the key (Binance asks for an IP restriction first), then start again")))
    return problems


def fetch_key_permissions(config: BinanceConfig) -> KeyPermissions:
    """The key's permissions from apiRestrictions (clock synced first), or LiveRefused saying why they are unknown."""
    rest = RestClient(config, clock_ms=wall_clock_ms, sleep_s=time.sleep)
    try:
        rest.sync_time()
        return read_key_permissions(rest)
    except (ServerError, NetworkError) as failed:  # the clock sync's transport failure (reads wrap their own)
        raise _unknown(config, message(failed), "EXCHANGE_UNREACHABLE") from None
    except Error as refused:  # Binance answered, and refused the key
        code = binance_code(refused)
        raise LiveRefused(PreflightCode.KEY_REFUSED, (
            f"Binance refused the API key ({code} {message(refused)}): check BINANCE_API_KEY and its secret or key "
            f"file, and that the key allows this machine's IP address in {API_MANAGEMENT}"),
            binance_code=code, url=config.rest_url) from None
    except ExecutorError as unknown:  # unreachable, rate-limited or banned, an unreadable answer
        raise _unknown(config, unknown.message, unknown.code) from None
    finally:
        rest.close()


def _unknown(config: BinanceConfig, why: str, reason: str) -> LiveRefused:
    return LiveRefused(PreflightCode.KEY_PERMISSIONS_UNKNOWN, (
        f"the API key's permissions could not be read ({why}); they are treated as unsafe: nothing was started. "
        f"Check the network and {config.rest_url}, then start again"), reason=reason, url=config.rest_url)


def preflight(mode: RunMode, env: Mapping[str, str], *, confirmed_on_command_line: bool) -> BinanceConfig | None:
    """The Binance account a testnet or live `run` may trade on, or LiveRefused; None for replay and paper.

    Cheapest first: the confirmation, then the keys, then one signed read of the key's permissions."""
    if mode in (RunMode.REPLAY, RunMode.PAPER, RunMode.TESTNET):
        if confirmed_on_command_line:
            raise InvalidArgument(f"{CONFIRM_LIVE_FLAG} only applies to --mode live; leave it out for {mode.value}",
                                  option=CONFIRM_LIVE_FLAG, mode=mode.value)
        return binance_account(env, mode) if mode is RunMode.TESTNET else None
    if mode is not RunMode.LIVE:
        raise ExecutorError(f"no pre-flight for mode {mode!r}", mode=str(mode))
    if not confirmed_on_command_line:
        configured = [name for name in CONFIRM_LIVE_VARIABLES if env.get(name, "").strip()]
        ignored = (f" ({', '.join(configured)} in the environment does not count: a confirmation is typed, never "
                   "configured)") if configured else ""
        raise LiveRefused(PreflightCode.LIVE_NOT_CONFIRMED, (
            f"live trading uses real money and needs {CONFIRM_LIVE_FLAG} typed on the command line: "
            f"python executor.py run --mode live {CONFIRM_LIVE_FLAG}{ignored}. Run `python executor.py doctor "
            "--mode live` first"), option=CONFIRM_LIVE_FLAG, ignored_variables=configured)
    config = binance_account(env, mode)
    problems = permission_problems(fetch_key_permissions(config))
    if problems:
        first = problems[0]
        raise LiveRefused(first.code, first.message, problems=[p.code.value for p in problems])
    return config
