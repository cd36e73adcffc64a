"""Replay throughput and decision latency through the full engine (strategies, risk, simulator, journal).

    .venv/bin/python bench/replay_throughput.py [CANDLES] [--repeat N]

CANDLES defaults to ../shared/fixtures/candles/binance_spot_5m_nfi (8 USDT pairs, 525,940 5-minute bars).
Prints, for the real candle set:
  1. the whole backtest as a user runs it (`executor.py backtest --data ... --format json`), start to exit:
     wall time of a first run on the data (fresh home: the candle files are parsed) and of later runs (the
     parsed copies in <home>/cache/candles are read), and the peak RSS of any of these processes;
  2. in-process: bars/s and events/s through the pump, and per-event decision latency p50/p99/max
     (from the feed handing over an event to every resulting command journaled and executed).
Targets (issue 3): >= 150,000 bars/s, the whole backtest < 3.5 s and < 200 MB, p99 latency < 1 ms.
This is a benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from core.config import ExecutorConfig  # noqa: E402
from core.events import Bar  # noqa: E402
from memory.journal import Journal  # noqa: E402
from runtime.pump import Pump  # noqa: E402
from runtime.run_mode import RunMode  # noqa: E402
from runtime.session import new_session  # noqa: E402
from runtime.sources import recorded_source  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "fixtures" / "candles" / "binance_spot_5m_nfi"


def whole_process(data: Path, home: Path) -> tuple[float, dict[str, object]]:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, str(REPO / "executor.py"), "backtest", "--data", str(data),
                           "--home", str(home), "--format", "json"], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    return wall, json.loads(proc.stdout)["data"]


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def in_process(data: Path) -> dict[str, float]:
    source = recorded_source(data)
    config = ExecutorConfig()
    with tempfile.TemporaryDirectory() as home:
        session = new_session(RunMode.REPLAY, config, source.rules, source.symbols, source.start_ms, "USDT",
                              Decimal(10_000))
        engine, exchange = session.engine, session.exchange
        journal = Journal(Path(home) / "journal.db", durable=False)
        pump = Pump(engine, exchange, journal)
        latencies: list[int] = []
        record = latencies.append
        clock = time.perf_counter_ns
        handle = pump.handle
        bars = 0
        started = time.perf_counter()
        with journal.batch():
            for event in source.events:
                t0 = clock()
                handle(event)
                record(clock() - t0)
                if type(event) is Bar:
                    bars += 1
        elapsed = time.perf_counter() - started
        journal.close()
    latencies.sort()
    n = len(latencies)
    return {"events": n, "bars": bars, "seconds": elapsed, "bars_per_s": bars / elapsed, "events_per_s": n / elapsed,
            "p50_us": latencies[n // 2] / 1000, "p99_us": latencies[int(n * 0.99)] / 1000,
            "max_us": latencies[-1] / 1000, "orders": pump.orders_sent}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"no candle data at {args.data}")
    print(f"data: {args.data}")
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "warm"
        whole_process(args.data, home)  # fills the cache
        cold, warm = [], []
        for i in range(args.repeat):  # alternated, so a busy spell of the machine weighs on both alike
            cold.append(whole_process(args.data, Path(scratch) / f"cold{i}"))
            warm.append(whole_process(args.data, home))
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    summary = cold[0][1]
    print(f"whole backtest, process start to exit (median of {args.repeat}) [target: < 3.5 s]:")
    print(f"  first run on a data folder (parses the files): {median([w for w, _ in cold]):.2f} s")
    print(f"  later runs (parsed candles from <home>/cache/candles): {median([w for w, _ in warm]):.2f} s")
    print(f"  peak RSS of any of these processes: {rss:.0f} MB [target: < 200 MB]")
    if any(s != {**summary, "elapsed_s": s["elapsed_s"], "journal": s["journal"], "report": s["report"]}
           for _, s in cold + warm):
        print("  WARNING: the runs did not all give the same result")
    print(f"  {summary['bars']} bars, {summary['trades']} trades, {summary['orders']} orders, "
          f"equity {summary['equity_start']} -> {summary['equity_end']}")
    figures = [in_process(args.data) for _ in range(args.repeat)]
    best = max(figures, key=lambda f: f["bars_per_s"])
    print(f"in-process pump (best of {args.repeat}): {best['bars_per_s']:,.0f} bars/s, {best['events_per_s']:,.0f} "
          f"events/s over {best['seconds']:.2f} s [target: >= 150,000 bars/s]")
    print(f"per-event decision latency: p50 {best['p50_us']:.1f} µs, p99 {best['p99_us']:.1f} µs, "
          f"max {best['max_us']:.0f} µs [target: p99 < 1,000 µs]")


if __name__ == "__main__":
    main()
