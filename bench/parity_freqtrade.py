"""Trade-for-trade parity with freqtrade: the EMA/RSI cross through the full engine against freqtrade's trade list.

    .venv/bin/python bench/parity_freqtrade.py [--data CANDLES] [--trades CSV] [--home DIR] [--journal DB] [--json]

Runs the parity backtest (`runtime.parity`: the `ema_rsi_cross` plugin, the risk gate, the paper simulator, the
journal; its configuration is `strategies/examples/ema_rsi_cross.strategies.json` and `runtime.parity.parity_env()`)
in a fresh home, reads the closed trades back from its journal and compares them with freqtrade's by (pair, open
date, close date). Prints the matched share, both net P&Ls and their difference, and every unmatched trade of
either side by mismatch class (with examples). `--journal` compares an existing backtest journal instead of running
one. CANDLES defaults to ../shared/fixtures/candles/binance_spot_5m_nfi, CSV to
../shared/parity/freqtrade_emarsicross_5m_8p.csv.gz.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from runtime.parity import (  # noqa: E402  (the repository root goes on sys.path first)
    Comparison,
    Mismatch,
    compare,
    cross_margins,
    end_ms,
    engine_trades,
    freqtrade_trades,
    missing_candles,
    opened_at_low,
    refused_entries,
    run_parity_backtest,
)

SHARED = REPO.parent / "shared"
DEFAULT_DATA = SHARED / "fixtures" / "candles" / "binance_spot_5m_nfi"
DEFAULT_TRADES = SHARED / "parity" / "freqtrade_emarsicross_5m_8p.csv.gz"


def parity(data: Path, trades: Path, journal: Path) -> Comparison:
    to_ms = end_ms()
    return compare(freqtrade_trades(trades), engine_trades(journal), missing_candles(data, to_ms),
                   cross_margins(data, to_ms), refused_entries(journal), at_low=opened_at_low(data, to_ms))


def render(result: Comparison) -> str:
    lines = [f"matched {result.matched} of freqtrade's {result.freqtrade} trades ({result.matched_pct:.2f} %); "
             f"ours {result.ours}",
             f"net P&L ours {result.our_pnl:.3f} USDT, freqtrade {result.freqtrade_pnl:.3f} USDT: "
             f"difference {result.pnl_difference_pct:+.2f} %",
             f"matched trades' P&L ours {result.matched_our_pnl:.3f}, freqtrade {result.matched_freqtrade_pnl:.3f}",
             f"{'mismatch class':<24} {'freqtrade':>9} {'ours':>6}"]
    for kind in Mismatch:
        theirs, ours = result.freqtrade_unmatched.get(kind, 0), result.our_unmatched.get(kind, 0)
        lines.append(f"{kind.value:<24} {theirs:>9} {ours:>6}")
    if result.exit_later_opened_at_low is not None and result.signal_exits:
        share = 100.0 * (result.signal_exits_opened_at_low or 0) / result.signal_exits
        lines.append(f"freqtrade_exit_later: {result.exit_later_opened_at_low} of "
                     f"{result.freqtrade_unmatched.get(Mismatch.FREQTRADE_EXIT_LATER, 0)} of our exit candles opened "
                     f"at their low (of all our {result.signal_exits} signal exits: {share:.1f} %)")
    for kind, shown in result.examples.items():
        lines.extend(f"  {kind.value}: {line}" for line in shown)
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--trades", type=Path, default=DEFAULT_TRADES)
    parser.add_argument("--home", type=Path, help="the home to run in (default: a temporary one)")
    parser.add_argument("--journal", type=Path, help="compare this backtest journal instead of running one")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    journal = args.journal
    elapsed = None
    with tempfile.TemporaryDirectory(prefix="parity-") as tmp:
        if journal is None:
            started = time.perf_counter()
            summary = run_parity_backtest(args.data, args.home or Path(tmp) / "home")
            elapsed = time.perf_counter() - started
            journal = Path(summary["journal"])
        result = parity(args.data, args.trades, journal)
    if args.json:
        print(json.dumps({**result.as_dict(), "backtest_s": None if elapsed is None else round(elapsed, 1)}))
    else:
        print(render(result))
        if elapsed is not None:
            print(f"backtest {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
