"""`record` and `run --mode paper` as a user runs them, against loopback servers that replay a real Binance
capture (WebSocket combined streams and REST depth snapshots)."""

from __future__ import annotations

import asyncio
import gzip
import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import fixture_path
from tests.feeds.captures import load_capture
from tests.feeds.servers import DepthRestServer, ReplayWsServer
from tests.reports.loopback import LoopbackServer, telegram_error
from tests.runtime.helpers import query, run_cli, saved_checkpoint, start_cli

SYMBOL = "NKNUSDT"


@pytest.fixture(scope="module")
def exchange_info(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real 2021-10-12 exchangeInfo (line 1 of BINANCE.0.gz), cut to one symbol, in a temp file."""
    with gzip.open(fixture_path("ws_captures", "cryptofeed_2021-10-12", "BINANCE.0.gz"), "rt") as handle:
        line = handle.readline()
    doc = json.loads(line.split(": ", 1)[1])
    doc["symbols"] = [s for s in doc["symbols"] if s["symbol"] == SYMBOL]
    path = tmp_path_factory.mktemp("info") / "exchange_info.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def binance() -> Iterator[dict[str, str]]:
    """Loopback Binance (stream + REST) in a background event loop, for subprocesses to connect to."""
    capture = load_capture()
    ws = ReplayWsServer([m for _, m in capture.messages], interval_s=0.01)
    rest = DepthRestServer(capture.snapshots)
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    async def serve() -> None:
        await ws.start()
        await rest.start()
        ready.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(serve(), loop)
    assert ready.wait(10)
    yield {"BINANCE_STREAM_URL": ws.base, "BINANCE_BASE_URL": rest.base}
    asyncio.run_coroutine_threadsafe(ws.stop(), loop).result(10)
    asyncio.run_coroutine_threadsafe(rest.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def test_record_writes_a_recording_that_replays(binance: dict[str, str], exchange_info: Path, tmp_path: Path) -> None:
    out = tmp_path / "session.jsonl"
    code, envelope, stderr = run_cli(tmp_path / "home", "record", "--symbols", SYMBOL, "--minutes", "0.03",
                                     "--out", str(out), **binance)
    assert code == 0, (envelope, stderr[-2000:])
    assert envelope["data"]["path"] == str(out) and envelope["data"]["events"] > 0
    assert json.loads(out.read_text().splitlines()[0])["format"] == "crypto-executor-recording"

    again = run_cli(tmp_path / "home", "record", "--symbols", SYMBOL, "--minutes", "0.03", "--out", str(out),
                    **binance)
    assert again[0] == 2 and again[1]["error"]["code"] == "INVALID_ARGUMENT"  # never overwrites

    code, replayed, stderr = run_cli(tmp_path / "home", "backtest", "--data", str(out), "--exchange-info",
                                     str(exchange_info))
    assert code == 0, (replayed, stderr[-2000:])
    assert replayed["data"]["events"] > 0 and replayed["data"]["symbols"] == [SYMBOL]


def test_paper_mode_trades_live_data_on_the_simulator(binance: dict[str, str], exchange_info: Path,
                                                      tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc = start_cli(home, "run", "--mode", "paper", "--symbols", SYMBOL, "--exchange-info", str(exchange_info),
                     "--no-view", env=binance)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and saved_checkpoint(home) is None:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    time.sleep(2.0)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-3000:]
    data = json.loads(out.strip().splitlines()[-1])["data"]
    assert data["mode"] == "paper" and data["events"] > 0
    assert data["stopped_because"] == "signal SIGTERM"
    assert (home / "journal.db").exists()
    assert query(home / "journal.db", "PRAGMA integrity_check") == [("ok",)]
    checkpoint = saved_checkpoint(home)
    assert checkpoint is not None
    assert checkpoint["source_id"] == f"paper:{SYMBOL}"


def test_paper_mode_without_exchange_rules_refuses_to_start(tmp_path: Path) -> None:
    code, envelope, _ = run_cli(tmp_path / "home", "run", "--mode", "paper", "--symbols", SYMBOL, "--no-view",
                                BINANCE_BASE_URL="http://127.0.0.1:9", BINANCE_STREAM_URL="ws://127.0.0.1:9")
    assert code == 1
    assert envelope["error"]["code"] == "DATA_OUTAGE"
    assert "exchangeInfo" in envelope["error"]["message"]


def test_a_report_that_does_not_arrive_shows_in_status(binance: dict[str, str], exchange_info: Path,
                                                       tmp_path: Path) -> None:
    """The first report of a paper run goes to a Telegram that refuses it: the run goes on, and `status` names
    the service, the failure and what it answered."""
    home = tmp_path / "home"
    refusing = LoopbackServer([telegram_error(400, "Bad Request: chat not found")])
    with refusing.running():
        proc = start_cli(home, "run", "--mode", "paper", "--symbols", SYMBOL, "--exchange-info", str(exchange_info),
                         "--no-view", env={**binance, "TELEGRAM_BOT_TOKEN": "4242:planted_token",
                                           "TELEGRAM_CHAT_ID": "-100123", "TELEGRAM_API_BASE": refusing.base_url})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not refusing.received:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-3000:]
    assert refusing.received and refusing.received[0].path == "/bot4242:planted_token/sendMessage"
    code, status, _ = run_cli(home, "status")
    assert code == 0
    (line,) = status["data"]["report_delivery"]
    assert line["service"] == "telegram" and line["failures"] >= 1
    assert "chat not found" in line["last_failure"] and "planted_token" not in line["last_failure"]
