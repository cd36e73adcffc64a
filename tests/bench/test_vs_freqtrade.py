"""Smoke test of `bench/vs_freqtrade.py` without freqtrade: it runs our side and prints the recorded figures.

A short cut of one real pair (300 candles, written to the test's own folder) keeps our backtest to a second or
two; no figure of the bench is asserted, only that each part of its output is there.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, fixture_path

CANDLE_FILE = "BTC_USDT-5m.json.gz"


@pytest.mark.fixtures
def test_without_freqtrade_prints_our_figures_and_the_recorded_ones(tmp_path: Path) -> None:
    source = fixture_path("candles", "binance_spot_5m_nfi", CANDLE_FILE)
    candles = tmp_path / "candles"
    candles.mkdir()
    rows = json.loads(gzip.decompress(source.read_bytes()))[:300]
    (candles / CANDLE_FILE).write_bytes(gzip.compress(json.dumps(rows).encode()))
    done = subprocess.run([sys.executable, str(REPO_ROOT / "bench" / "vs_freqtrade.py"), "--repeats", "1",
                           "--data", str(candles), "--freqtrade-venv", str(tmp_path / "no-freqtrade")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("same work: ") and "candles candles; 1 alternating run(s) a side" in lines[0]
    assert lines[1].startswith("ours: median ") and " trades, net " in lines[1]
    assert lines[2].startswith("freqtrade: ") and lines[2].endswith("(recorded, not run here)")
    assert len(lines) == 3
    assert "no freqtrade in" in done.stderr and "run 1/1: ours" in done.stderr
