"""Every environment setting the executor reads, parsed in one place and checked before anything runs.

A long-lived `run` that reads a setting only when it first needs it dies hours later on a typo (half a
Telegram setup used to kill `run --mode paper` at its first report, after 100 events). `check_settings`
reads every setting at start-up and refuses the first that is wrong with `INVALID_CONFIG`, naming the
variable and what is wrong (a credential's value masked); the parsers below are the only readers of their
variables, so the tools and the runtime cannot disagree on what a value means. A blank variable is unset.

The variables (CONFIGURATION.md documents each): `EXECUTOR_HOME`, `BINANCE_BASE_URL`, `BINANCE_STREAM_URL`,
`SCAN_SYMBOLS`, `TRADE_CONFIRMATION`, `ORACLE_LOG_LEVEL`, `ORACLE_TEST_HOOKS`, `ALERTS`, `ALERT_OUTAGE_MIN`, the
risk limits (`core.config.env_settings`), the notifiers' (`reports.notify.notifiers_from_env`) and the LLM
settings (`scouts.llm.settings`: LM Studio, SCOUT_*, DeepSeek, budgets).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from core.config import env_settings
from core.errors import ConfigError
from reports.alerts import FORMATS, AlertKind
from reports.notify import Notifier, notifiers_from_env
from scouts.llm.settings import LlmSettings

DEFAULT_REST = "https://api.binance.com"
DEFAULT_STREAM = "wss://stream.binance.com:9443"
SCAN_SYMBOLS_ENV = "SCAN_SYMBOLS"
MAX_SCAN_SYMBOLS = 20
SYMBOL_PATTERN = r"^[A-Z0-9]{2,20}$"
CONFIRMATION_SETTINGS = ("auto", "always")
DEFAULT_ALERT_OUTAGE_MIN = 5
MAX_ALERT_OUTAGE_MIN = 1440
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
    return StartSettings(risk=env_settings(env), notifiers=notifiers_from_env(env), binance_rest=binance_rest(env),
                         binance_stream=binance_stream(env), alerts=alert_routes(env),
                         alert_outage_min=alert_outage_min(env), llm=LlmSettings.from_env(env))


def alert_routes(env: Mapping[str, str]) -> AlertRoutes:
    """ALERTS: which alert kinds each service gets. Unset: every kind to every service. `none`: no alerts.
    `entry,exit,kill`: those kinds to every service. `telegram:entry,exit;discord:kill`: per service (a service
    not named gets none). Kinds: entry, exit, protection, breaker, kill, outage, error, or `all`."""
    raw = _value(env, "ALERTS")
    every = frozenset(AlertKind)
    if raw is None:
        return {service: every for service in FORMATS}
    if raw.lower() == "none":
        return {service: frozenset() for service in FORMATS}
    if ":" not in raw:
        kinds = _alert_kinds(raw, raw)
        return {service: kinds for service in FORMATS}
    routes: AlertRoutes = {service: frozenset() for service in FORMATS}
    for part in filter(None, (p.strip() for p in raw.split(";"))):
        service, _, names = part.partition(":")
        service = service.strip().lower()
        if service not in FORMATS:
            raise ConfigError("ALERTS", raw, f"names an unknown service {service!r}; services: {', '.join(FORMATS)}")
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

