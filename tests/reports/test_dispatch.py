"""Due reports go to every notifier once, in order, with catch-up per service (real loopback servers)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from core.clock import MS_PER_HOUR
from memory.files import write_json_atomic
from memory.journal import Journal
from reports.dispatch import send_due_reports
from reports.notify import DiscordNotifier, TelegramNotifier
from reports.periods import day_start_ms
from tests.reports.loopback import Answer, LoopbackServer, telegram_ok
from tests.reports.scenario import populate

TOKEN = "777:dispatch_test_token"
THURSDAY_10 = day_start_ms(date(2026, 11, 19)) + 10 * MS_PER_HOUR


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / "journal.db", durable=False) as journal:
        populate(journal)
        yield journal


def _no_sleep(_: float) -> None:
    return None


def test_catch_up_per_service_and_no_duplicates(journal: Journal, tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_json_atomic(home / "reports" / "sent.json", {"day": {"telegram": "2026-11-15", "discord": "2026-11-15"}})
    with LoopbackServer([telegram_ok()]).running() as tg, \
            LoopbackServer([Answer(503, {"message": "down"})]).running() as dc:
        telegram = TelegramNotifier(TOKEN, "1", tg.base_url, sleep=_no_sleep)
        discord = DiscordNotifier(f"{dc.base_url}/api/webhooks/1/secret", sleep=_no_sleep, max_attempts=1)
        first = send_due_reports(home, journal, [telegram, discord], THURSDAY_10, periods=("day",))
        assert first.sent == [("telegram", "day", "2026-11-16"), ("telegram", "day", "2026-11-17"),
                              ("telegram", "day", "2026-11-18")]
        assert [f.service for f in first.failures] == ["discord"] and len(dc.received) == 1
        # Monday and Tuesday have equity: sent as photos with the text as caption; Wednesday has none.
        assert [r.path.rsplit("/", 1)[1] for r in tg.received] == ["sendPhoto", "sendPhoto", "sendMessage"]
        assert "2026-11-16" in tg.received[0].fields["caption"]
        dc.answers = [Answer(204, None)]
        second = send_due_reports(home, journal, [telegram, discord], THURSDAY_10 + 60_000, periods=("day",))
    assert [s[0] for s in second.sent] == ["discord"] * 3 and not second.failures
    assert len(tg.received) == 3  # nothing sent twice to Telegram
    state = json.loads((home / "reports" / "sent.json").read_text())
    assert state["day"] == {"telegram": "2026-11-18", "discord": "2026-11-18"}
    assert (home / "reports" / "daily" / "report_2026-11-17.png").exists()


def test_first_run_sends_the_latest_daily_and_weekly_report(journal: Journal, tmp_path: Path) -> None:
    monday_10 = day_start_ms(date(2026, 11, 23)) + 10 * MS_PER_HOUR
    with LoopbackServer([telegram_ok()]).running() as tg:
        result = send_due_reports(tmp_path, journal, [TelegramNotifier(TOKEN, "1", tg.base_url)], monday_10)
    assert result.sent == [("telegram", "day", "2026-11-22"), ("telegram", "week", "2026-11-16")]
    assert "Weekly report week of 2026-11-16" in tg.received[1].fields["caption"]
