"""ANALYZER_* settings are checked at start-up, and an analyzer exists only with a key, outside replays."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.review import AnalyzerFallback
from memory.journal import Journal
from runtime.analyzer import analyzer_status, build_analyzer
from runtime.settings import AnalyzerSettings, analyzer_settings, check_settings

KEY = "sk-0123456789abcdef0123456789abcdef"


def test_defaults_and_values() -> None:
    assert check_settings({}).analyzer == AnalyzerSettings(Decimal(5), AnalyzerFallback.SHRINK, 10.0)
    chosen = analyzer_settings({"ANALYZER_MIN_TRADE_PCT": "2.5", "ANALYZER_FALLBACK": "skip",
                                "ANALYZER_DEADLINE_S": "4"})
    assert chosen == AnalyzerSettings(Decimal("2.5"), AnalyzerFallback.SKIP, 4.0)


@pytest.mark.parametrize("name, value", [
    ("ANALYZER_MIN_TRADE_PCT", "0"), ("ANALYZER_MIN_TRADE_PCT", "101"), ("ANALYZER_MIN_TRADE_PCT", "NaN"),
    ("ANALYZER_MIN_TRADE_PCT", "five"), ("ANALYZER_FALLBACK", "enlarge"), ("ANALYZER_DEADLINE_S", "0"),
    ("ANALYZER_DEADLINE_S", "600"), ("ANALYZER_DEADLINE_S", "soon"),
])
def test_a_wrong_value_is_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_settings({name: value})
    assert caught.value.setting == name


def test_no_key_or_a_replay_means_no_analyzer(tmp_path: Path) -> None:
    with Journal(tmp_path / "journal.db", durable=False) as journal:
        settings = AnalyzerSettings(deadline_s=3.0)
        assert build_analyzer({}, settings, journal, "paper") is None
        assert build_analyzer({"DEEPSEEK_API_KEY": KEY}, settings, journal, "replay") is None
        built = build_analyzer({"DEEPSEEK_API_KEY": KEY}, settings, journal, "paper")
        assert built is not None and built.client.config.deadline_s == 3.0
    assert "DEEPSEEK_API_KEY is not set" in analyzer_status({}, "paper").message
    assert analyzer_status({"DEEPSEEK_API_KEY": KEY}, "backtest").message.startswith("analyzer off")
    assert analyzer_status({"DEEPSEEK_API_KEY": KEY}, "paper").message.startswith("analyzer on")
