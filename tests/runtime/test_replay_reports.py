"""Reports sent by a real `run --mode replay` to a loopback Telegram: one per UTC day of its data, by its own time.

The data is a candle file written by the test: 5-minute candles from Saturday 2024-03-02 00:00 UTC to the end
of Tuesday 2024-03-05, so the replay passes three midnights (one of them a Monday's) and ends with its last day.
"""

from __future__ import annotations

import json
import math
import re
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.reports.loopback import LoopbackServer, telegram_ok
from tests.runtime.helpers import run_cli, start_cli

pytestmark = pytest.mark.slow
FIRST_DAY = datetime(2024, 3, 2, tzinfo=UTC)  # a Saturday
DAYS = 4
CANDLE_MS = 300_000
DAILY = ["2024-03-02", "2024-03-03", "2024-03-04", "2024-03-05"]
WEEKLY = ["2024-02-26"]  # the week of Saturday and Sunday ended at Monday 00:00; the next one is not over
TITLE = re.compile(r"^📊 (Daily|Weekly) report (?:week of )?(\d{4}-\d{2}-\d{2}) \(UTC\)(.*)$", re.MULTILINE)


def _candles(folder: Path) -> Path:
    """A freqtrade candle file with enough movement for the strategies to trade."""
    start = int(FIRST_DAY.timestamp() * 1000)
    rows = []
    for i in range(DAYS * 86_400_000 // CANDLE_MS):
        price = 100 + 5 * math.sin(i / 40) + i * 0.001
        rows.append([start + i * CANDLE_MS, price, price * 1.002, price * 0.998, price * 1.0005, 10.0])
    folder.mkdir()
    (folder / "BTC_USDT-5m.json").write_text(json.dumps(rows))
    return folder


def _telegram_env(server: LoopbackServer) -> dict[str, str]:
    return {"TELEGRAM_BOT_TOKEN": "123:loopback", "TELEGRAM_CHAT_ID": "42", "TELEGRAM_API_BASE": server.base_url}


def _reports(server: LoopbackServer) -> list[tuple[str, str, str]]:
    """(Daily|Weekly, date, suffix) of every report the server received, in order (alerts are left out)."""
    texts = [r.json["text"] if r.json is not None else r.fields.get("caption", "") for r in server.received]
    return [match.groups() for text in texts for match in TITLE.finditer(text or "")]


def _run(data: Path) -> tuple[str, ...]:
    return ("run", "--mode", "replay", "--data", str(data), "--no-view")


def test_a_replay_sends_one_report_per_utc_day_of_its_data_by_its_own_time(tmp_path: Path) -> None:
    data = _candles(tmp_path / "data")
    server = LoopbackServer([telegram_ok()])
    with server.running():
        code, envelope, stderr = run_cli(tmp_path / "home", *_run(data), **_telegram_env(server))
    assert code == 0, (envelope, stderr[-3000:])
    assert envelope["data"]["finished"] is True and envelope["data"]["per_strategy"], "the replay must trade"
    reports = _reports(server)
    # Exactly the data's days: none before its first, none of the wall clock's (wall-clock yesterday is empty).
    assert [date for kind, date, _ in reports if kind == "Daily"] == DAILY
    assert [date for kind, date, _ in reports if kind == "Weekly"] == WEEKLY
    assert all(suffix == "" for _, _, suffix in reports), "a replay reports only days it has passed: none partial"
    photos = [r for r in server.received if r.path.endswith("/sendPhoto")]
    assert photos and all(r.files["photo"][2].startswith(b"\x89PNG") for r in photos)


def test_a_resumed_replay_does_not_resend_its_reports(tmp_path: Path) -> None:
    data = _candles(tmp_path / "data")
    home = tmp_path / "home"
    server = LoopbackServer([telegram_ok()])
    with server.running():
        env = _telegram_env(server)
        # About a second of wall time per replayed day: stopped once the first day's report has arrived.
        proc = start_cli(home, *_run(data), "--speed", "100000", "--checkpoint-every", "50", env=env)
        deadline = time.monotonic() + 60
        while not _reports(server) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
        first = json.loads(out)
        assert first["data"]["finished"] is False, "stopped before its end"
        sent_before = len(_reports(server))
        assert 0 < sent_before < len(DAILY) + len(WEEKLY)
        code, envelope, stderr = run_cli(home, *_run(data), **env)
    assert code == 0, (envelope, stderr[-3000:])
    assert envelope["data"]["resumed_from"] and envelope["data"]["finished"] is True
    reports = _reports(server)
    assert [date for kind, date, _ in reports if kind == "Daily"] == DAILY
    assert [date for kind, date, _ in reports if kind == "Weekly"] == WEEKLY
