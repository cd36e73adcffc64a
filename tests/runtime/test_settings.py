"""Every setting is checked when `run` starts, before anything runs, and a bad one is refused by name.

As a user meets it: `executor.py run` as a subprocess with one setting wrong. Nothing may start (no journal,
no lock), the answer is INVALID_CONFIG naming the variable, and a credential in the value stays masked.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from runtime.settings import binance_stream, check_settings, scan_symbols, trade_confirmation
from tests.runtime.helpers import run_cli

WEBHOOK_SECRET = "planted-WEBHOOK-secret_abcdef"
REPLAY = ("run", "--mode", "replay", "--synthetic", "--steps", "50", "--no-view")


def _refused(home: Path, *args: str, **env: str) -> dict:
    code, envelope, stderr = run_cli(home, *args, **env)
    assert code == 2, (envelope, stderr[-2000:])
    assert envelope["error"]["code"] == "INVALID_CONFIG"
    assert not (home / "journal.db").exists() and not (home / "executor.lock").exists(), "nothing may start"
    assert WEBHOOK_SECRET not in str(envelope) + stderr
    return envelope["error"]


def test_half_a_telegram_setup_stops_paper_mode_before_it_starts(tmp_path: Path) -> None:
    """It used to pass start-up and kill `run --mode paper` at its first report, after 100 market events."""
    error = _refused(tmp_path / "home", "run", "--mode", "paper", "--symbols", "BTCUSDT", "--no-view",
                     TELEGRAM_BOT_TOKEN="4242:planted_token", BINANCE_BASE_URL="http://127.0.0.1:9",
                     BINANCE_STREAM_URL="ws://127.0.0.1:9")
    assert error["details"]["setting"] == "TELEGRAM_CHAT_ID"
    assert "TELEGRAM_BOT_TOKEN is set" in error["message"]


@pytest.mark.parametrize(("setting", "value", "says"), [
    ("BINANCE_BASE_URL", "api.binance.com", "http:// or https://"),
    ("BINANCE_STREAM_URL", "https://stream.binance.com:9443", "ws:// or wss://"),
    ("SCAN_SYMBOLS", "BTCUSDT,btc-usdt", "BTC-USDT"),
    ("TRADE_CONFIRMATION", "never", "auto, always"),
    ("ORACLE_LOG_LEVEL", "verbose", "logging level"),
    ("DISCORD_WEBHOOK_EXECUTION", f"discord.com/api/webhooks/1/{WEBHOOK_SECRET}", "http(s) URL"),
    ("TELEGRAM_BOT_TOKEN", "", "bot token is missing"),
    ("MAX_POSITION_SIZE_PCT", "80", "25"),
    ("SCOUT_INTERVAL_MIN", "0", "greater than or equal to 1"),
    ("SCOUT_MAX_ROUNDS", "50", "less than or equal to 10"),
    ("LMSTUDIO_BASE_URL", "localhost:1234/v1", "http:// or https://"),
])
def test_a_bad_setting_refuses_run_by_name(tmp_path: Path, setting: str, value: str, says: str) -> None:
    env = {setting: value} if value else {"TELEGRAM_CHAT_ID": "-100123"}
    error = _refused(tmp_path / "home", *REPLAY, **env)
    assert error["details"]["setting"] == setting and says in error["message"], error


def test_a_home_that_is_a_file_is_refused_by_name(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("not a folder")
    code, envelope, _ = run_cli(home, *REPLAY)
    assert code == 2 and envelope["error"]["details"]["setting"] == "EXECUTOR_HOME"


def test_backtest_and_record_check_the_settings_too(tmp_path: Path) -> None:
    _refused(tmp_path / "a", "backtest", "--synthetic", "--steps", "50", TRADE_CONFIRMATION="sometimes")
    out = tmp_path / "rec.jsonl"
    _refused(tmp_path / "b", "record", "--symbols", "BTCUSDT", "--minutes", "0.01", "--out", str(out),
             BINANCE_STREAM_URL="stream.binance.com")
    assert not out.exists()


def test_defaults_and_good_values_pass() -> None:
    settings = check_settings({"SCAN_SYMBOLS": " ethusdt, BTCUSDT,ethusdt ", "TRADE_CONFIRMATION": " Always ",
                               "ORACLE_LOG_LEVEL": "INFO", "BINANCE_STREAM_URL": "ws://127.0.0.1:9/",
                               "TELEGRAM_BOT_TOKEN": " ", "MAX_OPEN_POSITIONS": "3"})
    assert settings.notifiers == [] and settings.risk == {"max_open_positions": 3}
    assert (settings.binance_rest, settings.binance_stream) == ("https://api.binance.com", "ws://127.0.0.1:9")
    assert scan_symbols({"SCAN_SYMBOLS": " ethusdt, BTCUSDT,ethusdt "}) == ["ETHUSDT", "BTCUSDT"]
    assert scan_symbols({"SCAN_SYMBOLS": "  "}) is None
    assert trade_confirmation({"TRADE_CONFIRMATION": " Always "}) == "always"
    assert binance_stream({}) == "wss://stream.binance.com:9443"


def test_too_many_scan_symbols_is_refused() -> None:
    with pytest.raises(ConfigError, match="1 to 20"):
        scan_symbols({"SCAN_SYMBOLS": ",".join(f"SYM{i}USDT" for i in range(21))})
