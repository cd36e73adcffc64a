"""Issue 9, item 8: the home's risk settings in the journal — atomic changes with who, when, old and new."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from memory.journal import Journal, read_risk_settings


def test_item8_settings_changes_are_journaled_and_an_equal_value_is_no_change(tmp_path: Path) -> None:
    with Journal(tmp_path / "journal.db") as journal:
        first = journal.update_risk_settings(lambda current: {"max_position_size_pct": (5.0, "config set")},
                                             actor="alice", time_ms=1)
        same = journal.update_risk_settings(lambda current: {"max_position_size_pct": (5.0, "run start")},
                                            actor="bob", time_ms=2)
        journal.update_risk_settings(lambda current: {"max_position_size_pct": (8.0, "run start")},
                                     actor="bob", time_ms=3)
        history = journal.risk_setting_changes()
    assert [(c.old, c.new, c.source, c.actor, c.time_ms) for c in first] == [(None, 5.0, "config set", "alice", 1)]
    assert same == []
    assert [(c.old, c.new, c.actor) for c in history] == [(None, 5.0, "alice"), (5.0, 8.0, "bob")]
    stored = read_risk_settings(tmp_path / "journal.db")
    assert (stored["max_position_size_pct"].value, stored["max_position_size_pct"].source) == (8.0, "run start")


def test_item8_a_refused_change_writes_nothing(tmp_path: Path) -> None:
    def refuse(current: object) -> dict[str, tuple[object, str]]:
        raise ConfigError("DRAWDOWN_KILL_PCT", 6.0, "must be above DRAWDOWN_PAUSE_PCT")

    with Journal(tmp_path / "journal.db") as journal:
        with pytest.raises(ConfigError):
            journal.update_risk_settings(refuse, actor="alice", time_ms=1)
        assert journal.risk_settings() == {} and journal.risk_setting_changes() == []


def test_item8_reading_settings_never_creates_a_journal(tmp_path: Path) -> None:
    assert read_risk_settings(tmp_path / "journal.db") == {}
    assert not (tmp_path / "journal.db").exists()
