"""Every environment setting the executor reads, parsed in one place and checked before anything runs.

A long-lived `run` that reads a setting only when it first needs it dies hours later on a typo (half a
Telegram setup used to kill `run --mode paper` at its first report, after 100 events). `check_settings`
reads every setting at start-up and refuses the first that is wrong with `INVALID_CONFIG`, naming the
variable and what is wrong (a credential's value masked); the parsers below are the only readers of their
variables, so the tools and the runtime cannot disagree on what a value means. A blank variable is unset.

The variables (CONFIGURATION.md documents each): `EXECUTOR_HOME`, `BINANCE_BASE_URL`, `BINANCE_STREAM_URL`,
`SCAN_SYMBOLS`, `TRADE_CONFIRMATION`, `TRADE_CONFIRMATION_CHANNEL`, `TELEGRAM_COMMANDS`, `ORACLE_LOG_LEVEL`,
`ORACLE_TEST_HOOKS`, `ALERTS`, `ALERT_OUTAGE_MIN`, `ANALYZER_MIN_TRADE_PCT`, `ANALYZER_FALLBACK`,
`ANALYZER_DEADLINE_S`, the risk limits (`core.config.env_settings`), the notifiers'
(`reports.notify.notifiers_from_env` and `research_notifier_from_env`) and the LLM settings
(`scouts.llm.settings`: LM Studio, SCOUT_*, DeepSeek, budgets).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from binance_common.constants import (
    SPOT_REST_API_PROD_URL,
    SPOT_REST_API_TESTNET_URL,
    SPOT_WS_STREAMS_PROD_URL,
    SPOT_WS_STREAMS_TESTNET_URL,
)

from core.config import env_settings
from core.errors import ConfigError
from core.review import AnalyzerFallback
from core.sectors import DEFAULT_SECTORS, SECTOR_MAP_SETTING, Sector, parse_sector_map
from exchange.binance.config import BinanceConfig, BinanceVenue
from exchange.binance.keys import KeyFileRefused, read_key_file
from reports.alerts import ALERT_SERVICES, AlertKind
from reports.notify import (
    TELEGRAM_API_BASE,
    DiscordNotifier,
    Notifier,
    notifiers_from_env,
    research_notifier_from_env,
    telegram_chat_ids,
)
from runtime.run_mode import RunMode
from scouts.llm.settings import LlmSettings

DEFAULT_REST = SPOT_REST_API_PROD_URL
DEFAULT_STREAM = SPOT_WS_STREAMS_PROD_URL
# Testnet's market data is its own (its prices are not Binance's), published in binance_common.constants.
MARKET_URLS = {RunMode.TESTNET: (SPOT_REST_API_TESTNET_URL, SPOT_WS_STREAMS_TESTNET_URL)}
SCAN_SYMBOLS_ENV = "SCAN_SYMBOLS"
MAX_SCAN_SYMBOLS = 20
SYMBOL_PATTERN = r"^[A-Z0-9]{2,20}$"
CONFIRMATION_SETTINGS = ("auto", "always")
CONFIRMATION_CHANNELS = ("terminal", "telegram")
SWITCH_VALUES = {"on": True, "off": False}
DEFAULT_ALERT_OUTAGE_MIN = 5
MAX_ALERT_OUTAGE_MIN = 1440
DEFAULT_ANALYZER_MIN_TRADE_PCT = Decimal(5)
DEFAULT_ANALYZER_DEADLINE_S = 10.0
MAX_ANALYZER_DEADLINE_S = 60.0
AlertRoutes = dict[str, frozenset[AlertKind]]
_SYMBOL = re.compile(SYMBOL_PATTERN)


@dataclass(frozen=True, slots=True)
class StartSettings:
    """What a starting `run` takes from its environment, every value already checked."""

    risk: dict[str, Any]  # risk field -> value, the limits the environment sets
    notifiers: list[Notifier]
    binance_rest: str
    binance_stream: str
    alerts: AlertRoutes  # service -> the alert kinds it receives
    alert_outage_min: int
    llm: LlmSettings  # the scouts' and the analyzer's (scouts.llm.settings)
    research: DiscordNotifier | None = None  # DISCORD_WEBHOOK_RESEARCH: scout intel and analyzer verdicts
    telegram_bot: TelegramBotSettings | None = None  # the command bot `run` starts; None: no bot
    confirmation_channel: str = "terminal"
    analyzer: AnalyzerSettings = field(default_factory=lambda: AnalyzerSettings())
    sector_map: dict[str, Sector] = field(default_factory=lambda: dict(DEFAULT_SECTORS))


@dataclass(frozen=True, slots=True)
class TelegramBotSettings:
    """The command bot's settings: who may command it (every chat of TELEGRAM_CHAT_ID) and where the API is."""

    token: str
    chat_ids: tuple[str, ...]
    api_base: str

    def __repr__(self) -> str:  # the token is a credential: never in a repr, a log line or a trace
        return f"TelegramBotSettings(chat_ids={self.chat_ids!r}, api_base={self.api_base!r})"


@dataclass(frozen=True, slots=True)
class AnalyzerSettings:
    """When the DeepSeek analyzer reviews an entry and what happens without a usable answer (see core.review)."""

    min_trade_pct: Decimal = DEFAULT_ANALYZER_MIN_TRADE_PCT
    fallback: AnalyzerFallback = AnalyzerFallback.SHRINK
    deadline_s: float = DEFAULT_ANALYZER_DEADLINE_S


def check_settings(env: Mapping[str, str]) -> StartSettings:
    """Every setting of `env` checked, the first invalid one refused by name (ConfigError)."""
    home = _value(env, "EXECUTOR_HOME")
    if home is not None and Path(home).expanduser().exists() and not Path(home).expanduser().is_dir():
        raise ConfigError("EXECUTOR_HOME", home, "is a file; it must name a directory (created if missing)")
    scan_symbols(env)
    trade_confirmation(env)
    level = _value(env, "ORACLE_LOG_LEVEL")
    if level is not None and level not in logging.getLevelNamesMapping():  # what the oracle's basicConfig accepts
        raise ConfigError("ORACLE_LOG_LEVEL", level, "must be a logging level name in capitals: "
                                                     f"{', '.join(sorted(logging.getLevelNamesMapping()))}")
    hooks = _value(env, "ORACLE_TEST_HOOKS")
    if hooks is not None and hooks not in ("0", "1"):
        raise ConfigError("ORACLE_TEST_HOOKS", hooks, "must be 1 (tests only) or 0")
    risk = env_settings(env)
    notifiers = notifiers_from_env(env)
    channel = confirmation_channel(env)
    return StartSettings(risk=risk, notifiers=notifiers, binance_rest=binance_rest(env),
                         binance_stream=binance_stream(env), alerts=alert_routes(env),
                         alert_outage_min=alert_outage_min(env), llm=LlmSettings.from_env(env),
                         research=research_notifier_from_env(env), telegram_bot=telegram_bot(env, channel),
                         confirmation_channel=channel, analyzer=analyzer_settings(env), sector_map=sector_map(env))


def sector_map(env: Mapping[str, str]) -> dict[str, Sector]:
    """SECTOR_MAP: overrides of the default sector map (core.sectors), read by `run` and `backtest` only: a tool
    process's environment must not move a symbol out of a full sector."""
    raw = _value(env, SECTOR_MAP_SETTING)
    return dict(DEFAULT_SECTORS) if raw is None else parse_sector_map(raw)


def confirmation_channel(env: Mapping[str, str]) -> str:
    """TRADE_CONFIRMATION_CHANNEL: where the code of a two-phase trade goes. `terminal` (default): back to the
    caller, in the preview. `telegram`: only to the Telegram chat(s), as Confirm / Cancel buttons."""
    setting = (_value(env, "TRADE_CONFIRMATION_CHANNEL") or "terminal").lower()
    if setting not in CONFIRMATION_CHANNELS:
        raise ConfigError("TRADE_CONFIRMATION_CHANNEL", setting, f"must be one of {', '.join(CONFIRMATION_CHANNELS)}")
    return setting


def telegram_bot(env: Mapping[str, str], channel: str) -> TelegramBotSettings | None:
    """TELEGRAM_COMMANDS=on (default off), or TRADE_CONFIRMATION_CHANNEL=telegram, starts the command bot inside
    `run`; either needs TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID, and is refused by name without them."""
    raw = (_value(env, "TELEGRAM_COMMANDS") or "off").lower()
    if raw not in SWITCH_VALUES:
        raise ConfigError("TELEGRAM_COMMANDS", raw, "must be on or off")
    wanted = SWITCH_VALUES[raw] or channel == "telegram"
    if not wanted:
        return None
    why = "TELEGRAM_COMMANDS=on" if SWITCH_VALUES[raw] else "TRADE_CONFIRMATION_CHANNEL=telegram"
    token, chats = _value(env, "TELEGRAM_BOT_TOKEN"), _value(env, "TELEGRAM_CHAT_ID")
    if token is None:
        raise ConfigError("TELEGRAM_BOT_TOKEN", "", f"{why} needs the bot's token (from BotFather)")
    if chats is None:
        raise ConfigError("TELEGRAM_CHAT_ID", "", f"{why} needs the chat(s) allowed to command the bot")
    return TelegramBotSettings(token=token, chat_ids=telegram_chat_ids(chats),
                               api_base=_value(env, "TELEGRAM_API_BASE") or TELEGRAM_API_BASE)


def analyzer_settings(env: Mapping[str, str]) -> AnalyzerSettings:
    """ANALYZER_MIN_TRADE_PCT (0 < pct <= 100, default 5), ANALYZER_FALLBACK (shrink|skip, default shrink),
    ANALYZER_DEADLINE_S (0 < s <= 60, default 10)."""
    pct_text = _value(env, "ANALYZER_MIN_TRADE_PCT")
    pct = DEFAULT_ANALYZER_MIN_TRADE_PCT
    if pct_text is not None:
        try:
            pct = Decimal(pct_text)
        except InvalidOperation:
            raise ConfigError("ANALYZER_MIN_TRADE_PCT", pct_text, "must be a number of percent") from None
        if not pct.is_finite() or not Decimal(0) < pct <= Decimal(100):
            raise ConfigError("ANALYZER_MIN_TRADE_PCT", pct_text, "must be above 0 and at most 100 (percent)")
    fallback_text = _value(env, "ANALYZER_FALLBACK")
    fallback = AnalyzerFallback.SHRINK
    if fallback_text is not None:
        if fallback_text not in set(AnalyzerFallback):
            raise ConfigError("ANALYZER_FALLBACK", fallback_text, "must be shrink or skip")
        fallback = AnalyzerFallback(fallback_text)
    deadline_text = _value(env, "ANALYZER_DEADLINE_S")
    deadline = DEFAULT_ANALYZER_DEADLINE_S
    if deadline_text is not None:
        try:
            deadline = float(deadline_text)
        except ValueError:
            raise ConfigError("ANALYZER_DEADLINE_S", deadline_text, "must be a number of seconds") from None
        if not 0 < deadline <= MAX_ANALYZER_DEADLINE_S:
            raise ConfigError("ANALYZER_DEADLINE_S", deadline_text,
                              f"must be above 0 and at most {MAX_ANALYZER_DEADLINE_S:g} seconds")
    return AnalyzerSettings(pct, fallback, deadline)


def alert_routes(env: Mapping[str, str]) -> AlertRoutes:
    """ALERTS: which alert kinds each service gets. Unset: every kind to every service. `none`: no alerts.
    `entry,exit,kill`: those kinds to every service. `telegram:entry,exit;discord:kill`: per service (a service
    not named gets none). Kinds: entry, exit, protection, breaker, kill, outage, error, llm, strategy_mix, or `all`."""
    raw = _value(env, "ALERTS")
    every = frozenset(AlertKind)
    if raw is None:
        return {service: every for service in ALERT_SERVICES}
    if raw.lower() == "none":
        return {service: frozenset() for service in ALERT_SERVICES}
    if ":" not in raw:
        kinds = _alert_kinds(raw, raw)
        return {service: kinds for service in ALERT_SERVICES}
    routes: AlertRoutes = {service: frozenset() for service in ALERT_SERVICES}
    for part in filter(None, (p.strip() for p in raw.split(";"))):
        service, _, names = part.partition(":")
        service = service.strip().lower()
        if service not in ALERT_SERVICES:
            raise ConfigError("ALERTS", raw,
                              f"names an unknown service {service!r}; services: {', '.join(ALERT_SERVICES)}")
        routes[service] = _alert_kinds(raw, names)
    return routes


def _alert_kinds(raw: str, names: str) -> frozenset[AlertKind]:
    words = [w.strip().lower() for w in names.split(",") if w.strip()]
    if "all" in words:
        return frozenset(AlertKind)
    if words == ["none"]:
        return frozenset()
    known = {k.value for k in AlertKind}
    bad = [w for w in words if w not in known]
    if bad or not words:
        raise ConfigError("ALERTS", raw, f"unknown alert kind(s) {', '.join(bad) or '(none given)'}; kinds: "
                                         f"{', '.join(sorted(known))}, all, none")
    return frozenset(AlertKind(w) for w in words)


def alert_outage_min(env: Mapping[str, str]) -> int:
    """ALERT_OUTAGE_MIN: minutes of missing market data (engine time) before an outage is alerted; default 5."""
    raw = _value(env, "ALERT_OUTAGE_MIN")
    if raw is None:
        return DEFAULT_ALERT_OUTAGE_MIN
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_ALERT_OUTAGE_MIN:
        raise ConfigError("ALERT_OUTAGE_MIN", raw, f"must be a whole number of minutes from 1 to "
                                                   f"{MAX_ALERT_OUTAGE_MIN}", limit=MAX_ALERT_OUTAGE_MIN)
    return int(raw)


def binance_rest(env: Mapping[str, str]) -> str:
    """BINANCE_BASE_URL: the REST base for public market data, an http(s) URL without a trailing slash."""
    return _url(env, "BINANCE_BASE_URL", DEFAULT_REST, ("http", "https"))


def binance_stream(env: Mapping[str, str]) -> str:
    """BINANCE_STREAM_URL: the WebSocket base for live market data, a ws(s) URL without a trailing slash."""
    return _url(env, "BINANCE_STREAM_URL", DEFAULT_STREAM, ("ws", "wss"))


def market_data_urls(env: Mapping[str, str], mode: RunMode) -> tuple[str, str]:
    """(REST base, stream base) of the market data a live-data mode trades on: testnet's own
    (https://testnet.binance.vision, wss://stream.testnet.binance.vision) for --mode testnet, Binance's for paper
    and live, unless BINANCE_BASE_URL / BINANCE_STREAM_URL name others (a loopback server in tests)."""
    rest, stream = MARKET_URLS.get(mode, (DEFAULT_REST, DEFAULT_STREAM))
    return (_url(env, "BINANCE_BASE_URL", rest, ("http", "https")),
            _url(env, "BINANCE_STREAM_URL", stream, ("ws", "wss")))


@dataclass(frozen=True, slots=True)
class BinanceKeyVariables:
    """The variables of one venue's key: the API key, and either its HMAC secret or a private key file (Ed25519
    or RSA) with an optional passphrase."""

    key: str
    secret: str
    key_file: str
    passphrase: str


BINANCE_KEY_VARIABLES: dict[BinanceVenue, BinanceKeyVariables] = {
    BinanceVenue.LIVE: BinanceKeyVariables("BINANCE_API_KEY", "BINANCE_API_SECRET", "BINANCE_PRIVATE_KEY_FILE",
                                           "BINANCE_PRIVATE_KEY_PASSPHRASE"),
    # Testnet keys are a different account: they never fall back to the live pair, nor the live pair to them.
    BinanceVenue.TESTNET: BinanceKeyVariables("BINANCE_TESTNET_API_KEY", "BINANCE_TESTNET_API_SECRET",
                                              "BINANCE_TESTNET_PRIVATE_KEY_FILE",
                                              "BINANCE_TESTNET_PRIVATE_KEY_PASSPHRASE"),
}
BINANCE_WS_API_URL_ENV = "BINANCE_WS_API_URL"


def binance_venue(mode: RunMode) -> BinanceVenue:
    """The Binance account a mode trades on; refused for a mode that places no real order."""
    match mode:
        case RunMode.LIVE:
            return BinanceVenue.LIVE
        case RunMode.TESTNET:
            return BinanceVenue.TESTNET
        case RunMode.REPLAY | RunMode.PAPER:
            raise ConfigError("--mode", mode.value, "trades on the paper simulator and uses no Binance account")
        case _:
            raise ConfigError("--mode", str(mode), "is not a known mode")


def binance_account(env: Mapping[str, str], mode: RunMode) -> BinanceConfig:
    """The Binance account `--mode testnet|live` trades on: the mode's own API key (BINANCE_API_KEY for live,
    BINANCE_TESTNET_API_KEY for testnet) with either its HMAC secret (BINANCE_API_SECRET /
    BINANCE_TESTNET_API_SECRET) or its private key file (BINANCE_PRIVATE_KEY_FILE /
    BINANCE_TESTNET_PRIVATE_KEY_FILE, an Ed25519 or RSA PEM key, with BINANCE_PRIVATE_KEY_PASSPHRASE /
    BINANCE_TESTNET_PRIVATE_KEY_PASSPHRASE if it is encrypted), and the venue's published URLs unless
    BINANCE_BASE_URL (REST) or BINANCE_WS_API_URL (WebSocket API) name others (a loopback server in tests).
    Refused by name: a missing key, both a secret and a key file, a key file that is unreadable, open to other
    users (as ssh refuses one) or not an Ed25519/RSA private key. No key's value appears in a message."""
    venue = binance_venue(mode)
    names = BINANCE_KEY_VARIABLES[venue]
    key, secret = _value(env, names.key), _value(env, names.secret)
    key_file, passphrase = _value(env, names.key_file), env.get(names.passphrase) or None
    needs = f"--mode {mode.value} needs {names.key} and either {names.secret} or {names.key_file}"
    if key is None:
        raise ConfigError(names.key, "", f"{needs} (CONFIGURATION.md, 'Binance API key')")
    if key_file is not None and ("-----BEGIN" in key_file or "\n" in key_file):
        raise ConfigError(names.key_file, "(masked)", "holds a key, not the path of its file: save the key in a "
                                                      "file readable by you alone and name that file here")
    if secret is not None and key_file is not None:
        raise ConfigError(names.key_file, key_file, f"is set as well as {names.secret}: an API key signs with its "
                                                    f"HMAC secret or with a private key, never both; unset one")
    if secret is None and key_file is None:
        raise ConfigError(names.secret, "", f"{needs} (CONFIGURATION.md, 'Binance API key')")
    if passphrase is not None and key_file is None:
        raise ConfigError(names.passphrase, "(masked)", f"is set without {names.key_file}; it decrypts that file only")
    for name, value in ((names.key, key), (names.secret, secret)):
        if value is not None and (not value.isascii() or not value.isprintable() or " " in value):
            raise ConfigError(name, "(masked)", "holds spaces or characters no Binance key has; paste it again")
    rest = _url(env, "BINANCE_BASE_URL", "", ("http", "https")) if _value(env, "BINANCE_BASE_URL") else None
    ws_api = _url(env, BINANCE_WS_API_URL_ENV, "", ("ws", "wss")) if _value(env, BINANCE_WS_API_URL_ENV) else None
    if key_file is None:
        assert secret is not None
        return BinanceConfig.for_venue(venue, key, secret, rest_url=rest, ws_api_url=ws_api)
    try:
        pem, kind = read_key_file(Path(key_file).expanduser(), passphrase)
    except KeyFileRefused as refused:
        why = refused.reason + (f" ({names.passphrase})" if "passphrase" in refused.reason else "")
        raise ConfigError(names.key_file, key_file, why) from None
    return BinanceConfig.for_venue(venue, key, rest_url=rest, ws_api_url=ws_api, private_key=pem,
                                   private_key_passphrase=passphrase, key_kind=kind)


def scan_symbols(env: Mapping[str, str]) -> list[str] | None:
    """SCAN_SYMBOLS: 1 to 20 symbols, comma-separated, upper-cased and without repeats; None when unset."""
    raw = _value(env, SCAN_SYMBOLS_ENV)
    if raw is None:
        return None
    names = list(dict.fromkeys(s.strip().upper() for s in raw.split(",") if s.strip()))
    bad = [s for s in names if not _SYMBOL.match(s)]
    if bad or not names or len(names) > MAX_SCAN_SYMBOLS:
        raise ConfigError(SCAN_SYMBOLS_ENV, raw, f"must be a comma list of 1 to {MAX_SCAN_SYMBOLS} symbols like "
                                                 f"BTCUSDT; refused: {', '.join(bad) or raw}")
    return names


def trade_confirmation(env: Mapping[str, str]) -> str:
    """TRADE_CONFIRMATION: auto (default) or always, in any letter case."""
    setting = (_value(env, "TRADE_CONFIRMATION") or "auto").lower()
    if setting not in CONFIRMATION_SETTINGS:
        raise ConfigError("TRADE_CONFIRMATION", setting, f"must be one of {', '.join(CONFIRMATION_SETTINGS)}")
    return setting


def _value(env: Mapping[str, str], name: str) -> str | None:
    value = (env.get(name) or "").strip()
    return value or None


def _url(env: Mapping[str, str], name: str, default: str, schemes: tuple[str, ...]) -> str:
    url = _value(env, name) or default
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.netloc:
        raise ConfigError(name, url, f"must be a {' or '.join(s + '://' for s in schemes)} URL with a host")
    return url.rstrip("/")

