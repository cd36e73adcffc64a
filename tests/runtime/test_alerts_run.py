"""Alerts sent by a real `run` to a loopback Telegram: across a SIGKILL and restart, and with a hanging service."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from tests.reports.loopback import Answer, LoopbackServer, telegram_ok
from tests.runtime.helpers import query, run_cli, start_cli

pytestmark = pytest.mark.slow
RUN = ("run", "--mode", "replay", "--synthetic", "--seed", "11", "--steps", "2400", "--no-view",
       "--checkpoint-every", "700")


def _telegram_env(server: LoopbackServer) -> dict[str, str]:
    return {"TELEGRAM_BOT_TOKEN": "123:loopback", "TELEGRAM_CHAT_ID": "42", "TELEGRAM_API_BASE": server.base_url}


def _outbox(home: Path) -> list[tuple[str, str, str]]:
    return query(home / "journal.db", "SELECT alert_key, status, payload_json FROM alert_outbox ORDER BY id")


def _wait_for_alerts(home: Path, proc: object, count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "run ended before it was killed"  # type: ignore[attr-defined]
        try:
            if len(_outbox(home)) >= count:
                return
        except Exception:  # the journal or its outbox table is being created
            pass
        time.sleep(0.02)
    raise AssertionError("no alerts queued in time")


def test_alerts_arrive_once_and_in_order_across_a_sigkill_and_restart(tmp_path: Path) -> None:
    server = LoopbackServer([telegram_ok()])
    home = tmp_path / "home"
    with server.running():
        env = _telegram_env(server)
        proc = start_cli(home, *RUN, env=env)
        _wait_for_alerts(home, proc, count=3)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        code, envelope, stderr = run_cli(home, *RUN, **env)
        assert code == 0, (envelope, stderr[-3000:])
    rows = _outbox(home)
    assert len(rows) >= 5, "the replay must alert for this test to mean anything"
    assert {status for _, status, _ in rows} == {"sent"}
    # At-least-once: a message whose send the SIGKILL interrupted before it was marked sent goes out again, whole.
    messages: list[str] = []
    for received in server.received:
        if received.json["text"] not in messages:
            messages.append(received.json["text"])
    titles = [line for text in messages for line in text.split("\n") if line.startswith("<b>")]
    assert titles == [f"<b>{json.loads(payload)['title']}</b>" for _, _, payload in rows]


def test_a_hanging_notifier_never_stops_a_replay(tmp_path: Path) -> None:
    server = LoopbackServer([Answer(200, {"ok": True}, delay_s=60)])
    home = tmp_path / "home"
    with server.running():
        code, envelope, stderr = run_cli(home, *RUN, **_telegram_env(server))
    assert code == 0, (envelope, stderr[-3000:])
    assert envelope["data"]["finished"] is True
    rows = _outbox(home)
    assert rows and {status for _, status, _ in rows} == {"pending"}, "undelivered alerts wait for the next start"
    code, status, stderr = run_cli(home, "status")
    assert code == 0, (status, stderr[-2000:])
    telegram = [line for line in status["data"]["report_delivery"] if line["service"] == "telegram"]
    assert telegram and telegram[0]["alerts_pending"] == len(rows) and telegram[0]["alerts_failed"] == 0
    assert telegram[0]["last_alert_ms"] is None
