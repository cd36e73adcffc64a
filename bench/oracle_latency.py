"""Oracle latency: one-shot process vs warm worker, and a 20-symbol scan vs one request.

    .venv/bin/python bench/oracle_latency.py

Needs ../shared/fixtures (recorded Binance payloads) beside the checkout, or EXECUTOR_FIXTURES.
Targets: warm analysis p50 < 2 ms; 20-symbol scan at 50 ms injected latency < 1.5x one request.

The scan runs as ``tools/scan.py`` runs it: ``analyse_many`` on a pool of one worker per
``SYMBOLS_PER_WORKER`` symbols. Every HTTP call, batch or single, gets the same injected latency, and
the loopback server runs on this machine, so its CPU counts against the figures.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from oracle.client import OracleClient  # noqa: E402
from tests.oracle.binance_public_server import BinancePublicServer, recorded_markets  # noqa: E402
from tools.scan import SYMBOLS_PER_WORKER  # noqa: E402

FIXTURES = Path(os.environ.get("EXECUTOR_FIXTURES", ROOT.parent / "shared" / "fixtures"))
DEPTH_FILE = FIXTURES / "rest" / "nautilus_btcusdt_2021-10" / "http_spot_market_depth.json"
SCAN_LATENCY_S = 0.05
SCAN_SYMBOLS = 20


def timed(fn: Callable[[], object], n: int) -> list[float]:
    """Milliseconds per call; every call must succeed or the figure would be meaningless."""
    out = []
    for _ in range(n):
        started = time.perf_counter()
        result = fn()
        out.append((time.perf_counter() - started) * 1000)
        if getattr(result, "ok", True) is False:
            raise SystemExit(f"benchmark call failed: {result}")
    return out


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def line(label: str, samples: list[float]) -> None:
    print(f"{label:<46} p50 {pct(samples, 0.5):8.2f} ms   p99 {pct(samples, 0.99):8.2f} ms   (n={len(samples)})")


def one_shot() -> object:
    proc = subprocess.run([sys.executable, "-m", "oracle", "--symbol", "BTCUSDT", "--input", str(DEPTH_FILE)],
                          capture_output=True, cwd=ROOT)
    return json.loads(proc.stdout)["ok"] and None


def main() -> None:
    if not DEPTH_FILE.exists():
        raise SystemExit(f"recorded fixtures not found at {FIXTURES}")
    snapshot = json.loads(DEPTH_FILE.read_text())
    recorded = recorded_markets(FIXTURES)
    names = list(recorded)
    markets = {f"S{i:02d}USDT": recorded[names[i % len(names)]] for i in range(SCAN_SYMBOLS)}
    markets.update(recorded)

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    line("one-shot process, --input (BTCUSDT, 10 levels)", timed(one_shot, 15))
    workers = -(-SCAN_SYMBOLS // SYMBOLS_PER_WORKER)  # as tools/scan.py sizes its pool
    with BinancePublicServer(markets) as server, OracleClient(workers=workers, base_url=server.base_url) as client:
        if not client.wait_ready(30):
            raise SystemExit("oracle workers did not start")
        line("warm worker, inline snapshot (same data)", timed(
            lambda: client.analyse_snapshot("BTCUSDT", snapshot), 500))
        line("warm worker, live loopback REST (0 ms latency)", timed(lambda: client.analyse("BTCUSDT"), 200))

        server.latency_s = SCAN_LATENCY_S
        single = timed(lambda: client.analyse("BTCUSDT"), 30)
        symbols = [s for s in markets if s.startswith("S")]

        def scan() -> object:
            results = client.analyse_many(symbols)
            failed = [s for s, r in results.items() if not r.ok]
            if failed:
                raise SystemExit(f"scan failed for {failed}")
            return None

        server.hits.clear()
        scans = timed(scan, 15)
        calls = len(server.hits) / len(scans)
        line(f"single request, {SCAN_LATENCY_S * 1000:.0f} ms injected latency", single)
        line(f"{SCAN_SYMBOLS}-symbol scan, {SCAN_LATENCY_S * 1000:.0f} ms injected latency", scans)
        print(f"scan: {workers} workers, {calls:.0f} HTTP calls per scan, each delayed {SCAN_LATENCY_S * 1000:.0f} ms")
        ratio = statistics.median(scans) / statistics.median(single)
        print(f"scan / single (medians): {ratio:.2f}x   (target < 1.5x)")


if __name__ == "__main__":
    main()
