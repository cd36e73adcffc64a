"""The seeds' strategies, each alone, on the real 8-pair 5-minute fixture: trades, P&L, drawdown.

    .venv/bin/python bench/seed_strategies.py [CANDLES] [--strategies regime_atr,pattern_echo] [--keep DIR]
                                              [--hooks-only]

For each strategy, a fresh home whose `strategies.json` is `{"allocation": {NAME: 1.0}}` (every other strategy at
allocation 0) runs `executor.py backtest --data CANDLES --format json`, the full engine with the paper simulator
and the journal, and the table prints what it reported: closed trades, win rate, realized P&L, fees, return on the
10 000 USDT start, maximum drawdown and wall time. Sizes are the engine's own (fractional Kelly × confidence ×
allocation × the strategy's size multiplier, under every cap), so a strategy whose Kelly estimate falls to zero
is sized out for a while (the `sized out` column counts those notices). CANDLES defaults to
../shared/fixtures/candles/binance_spot_5m_nfi. No claim of profit: these are the figures as they come.

It also prints what each strategy's own per-bar work costs (its `on_bar` over every bar of the 8 files, in this
process, microseconds a bar); `--hooks-only` prints only that.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from core.config import StrategyConfig  # noqa: E402
from core.events import Bar  # noqa: E402
from core.strategies.registry import StrategySet  # noqa: E402

FIVE_MIN = 300_000
DEFAULT_DATA = REPO.parent / "shared" / "fixtures" / "candles" / "binance_spot_5m_nfi"
SEEDS = ("regime_atr", "pattern_echo")


def run(name: str, data: Path, home: Path) -> dict[str, Any]:
    home.mkdir(parents=True, exist_ok=True)
    (home / "strategies.json").write_text(json.dumps({"allocation": {name: 1.0}}), encoding="utf-8")
    done = subprocess.run([sys.executable, str(REPO / "executor.py"), "backtest", "--data", str(data), "--home",
                           str(home), "--format", "json"], capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout)["data"]
    return result


def row(name: str, summary: dict[str, Any]) -> list[str]:
    own = summary["per_strategy"].get(name, {"trades": 0, "pnl": "0", "win_rate": None})
    win = own["win_rate"]
    return [name, str(own["trades"]), "-" if win is None else f"{win * 100:.1f} %", own["pnl"], summary["fees"],
            f"{summary['return_pct']:+.4f} %", f"{summary['max_drawdown_pct']:.4f} %",
            str(summary["notices"].get("strategy_sized_out", 0)), f"{summary['elapsed_s']:.1f} s"]


def table(rows: list[list[str]]) -> str:
    head = ["strategy", "trades", "win rate", "P&L (USDT)", "fees (USDT)", "return", "max drawdown", "sized out",
            "wall time"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def hook_cost(name: str, data: Path) -> float:
    """Microseconds per bar of the strategy's own `on_bar`, over every bar of the candle files in `data`."""
    bars: list[Bar] = []
    for path in sorted(data.glob("*-5m.json.gz")):
        with gzip.open(path, "rt") as fh:
            symbol = path.name.split("-")[0].replace("_", "")
            bars += [Bar(symbol, int(r[0]), int(r[0]) + FIVE_MIN - 1, r[1], r[2], r[3], r[4], r[5])
                     for r in json.load(fh)]
    active = StrategySet.resolve(StrategyConfig.model_validate({"allocation": {name: 1.0}})).by_name[name]  # type: ignore[index]
    on_bar, config = active.strategy.on_bar, active.config  # type: ignore[attr-defined]
    started = time.perf_counter()
    for bar in bars:
        on_bar(bar, config)
    return (time.perf_counter() - started) / len(bars) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--strategies", default=",".join(SEEDS))
    parser.add_argument("--keep", type=Path, help="keep each run's home (journal, report) under DIR")
    parser.add_argument("--hooks-only", action="store_true", help="only the per-bar cost of each strategy's state")
    args = parser.parse_args()
    names = args.strategies.split(",")
    for name in names:
        print(f"{name}: on_bar {hook_cost(name, args.data):.2f} µs a bar")
    if args.hooks_only:
        return 0
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        base = args.keep or Path(scratch)
        for name in names:
            summary = run(name, args.data, base / name)
            rows.append(row(name, summary))
            print(f"{name}: {summary['source']}", file=sys.stderr)
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
