"""Whether two checkouts decide the same real-candle backtest: same trades, same P&L, same journal rows.

    .venv/bin/python bench/backtest_identity.py OTHER_CHECKOUT [CANDLES] [--keep DIR]

Runs `executor.py backtest --data CANDLES --format json` with this checkout and with OTHER_CHECKOUT (each with
its own `.venv/bin/python`, in a fresh home), dumps each run canonically and compares the dumps line by line:
the summary (trades, orders, equity, P&L, fees, dust, per strategy; without `elapsed_s` and the paths) and every
row of every journal table in a fixed order (without the checkpoint's wall-clock `written_ms` and the random
journal id; the symbols' `order_types` in the checkpoint are sorted, being a set). Prints IDENTICAL, or the
first differing line of each side and exits 1. A speed-up must leave this IDENTICAL. CANDLES defaults to
../shared/fixtures/candles/binance_spot_5m_nfi; --keep writes both dumps to DIR for a diff.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from itertools import zip_longest
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "fixtures" / "candles" / "binance_spot_5m_nfi"
SKIPPED_TABLES = ("journal_identity", "sqlite_sequence")


def run(checkout: Path, data: Path, home: Path) -> dict[str, object]:
    done = subprocess.run([str(checkout / ".venv" / "bin" / "python"), str(checkout / "executor.py"), "backtest",
                           "--data", str(data), "--home", str(home), "--format", "json"],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)["data"]


def dump(summary: dict[str, object]) -> Iterator[str]:
    journal = Path(str(summary["journal"]))
    kept = {k: v for k, v in summary.items() if k not in ("journal", "report", "elapsed_s")}
    yield "summary " + json.dumps(kept, sort_keys=True)
    db = sqlite3.connect(journal)
    try:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                  if name not in SKIPPED_TABLES]
        for table in tables:
            columns = [c[1] for c in db.execute(f"PRAGMA table_info({table})")
                       if not (table == "engine_checkpoint" and c[1] == "written_ms")]
            listed = ", ".join(columns)
            rows = db.execute(f"SELECT {listed} FROM {table} ORDER BY {listed}").fetchall()
            yield f"table {table}: {len(rows)} rows"
            for row in rows:
                if table == "engine_checkpoint":
                    document = json.loads(row[-1])
                    for rules in document["rules"].values():
                        rules["order_types"] = sorted(rules["order_types"])
                    row = (*row[:-1], json.dumps(document, sort_keys=True))
                yield json.dumps(row)
    finally:
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("other", type=Path, help="the other checkout (with its own .venv)")
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--keep", type=Path, help="write both dumps (this.txt, other.txt) to this folder")
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"no candle data at {args.data}")
    dumps: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name, checkout in (("this", REPO), ("other", args.other.resolve())):
            summary = run(checkout, args.data.resolve(), Path(scratch) / name)
            dumps[name] = list(dump(summary))
            print(f"{name} ({checkout}): {summary['trades']} trades, {summary['orders']} orders, equity "
                  f"{summary['equity_start']} -> {summary['equity_end']}, {len(dumps[name])} lines")
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        for name, lines in dumps.items():
            (args.keep / f"{name}.txt").write_text("\n".join(lines) + "\n")
    for number, (mine, theirs) in enumerate(zip_longest(dumps["this"], dumps["other"]), 1):
        if mine != theirs:
            print(f"DIFFERENT at line {number}:\n  this:  {str(mine)[:400]}\n  other: {str(theirs)[:400]}")
            sys.exit(1)
    print("IDENTICAL")


if __name__ == "__main__":
    main()
