"""Our whole backtest against freqtrade's on the same work: the EMA/RSI cross over the 8-pair 5m candles.

    .venv/bin/python bench/vs_freqtrade.py [--repeats N] [--data CANDLES] [--freqtrade-venv DIR]

Runs our engine (strategies, risk, paper simulator, journal: `executor.py backtest`, see `our_command`) and
`freqtrade backtesting` on the same candles, alternating the two N times (default 3), and prints for each side
the wall time, CPU time and peak RSS of the whole process (from `wait4`: its own and its waited children's CPU,
the largest resident set among them), the medians, their ratios, and each side's trade count and net P&L. freqtrade runs
offline: its market list comes from `ftshim.markets` on 127.0.0.1, its strategy is `ftshim/strategy/`, and
its trade list is checked against the recorded one in `../shared/parity/` (the check is printed).

freqtrade lives in its own venv (`make freqtrade`; FREQTRADE_VENV, default `../ftvenv` beside the repository).
Without it the script runs our side only and prints the recorded freqtrade figures of issue 15 beside ours,
saying they are recorded. Asserts nothing: it prints figures (stdout) and progress (stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from ftshim.config import TIMEFRAME, freqtrade_config
from ftshim.markets import exchange_info, serve
from ftshim.parity import ParityCheck, compare, freqtrade_trades, recorded_trades

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # for `runtime.parity`, which sets up our side's run
SHARED = REPO.parent / "shared"
DEFAULT_DATA = SHARED / "fixtures" / "candles" / "binance_spot_5m_nfi"
RECORDED_MARKETS = SHARED / "fixtures" / "rest" / "nautilus_btcusdt_2021-10" / "http_spot_market_exchange_info.json"
RECORDED_TRADES = SHARED / "parity" / "freqtrade_emarsicross_5m_8p.csv.gz"
DEFAULT_FREQTRADE_VENV = Path(os.environ.get("FREQTRADE_VENV", str(REPO.parent / "ftvenv")))
FREQTRADE_VERSION = "2026.9"
FREQTRADE_STRATEGY = "EmaRsiCrossFt"
FREQTRADE_STRATEGY_DIR = Path(__file__).resolve().parent / "ftshim" / "strategy"
TIMERANGE = "20201201-20210717"
# Issue 15, "Speed on the same work": freqtrade 2026.9 on this machine, same strategy and candles.
RECORDED_FREQTRADE = "28–52 s wall, ~845 MB peak RSS, 12,077 trades, net −1,822.767 USDT (recorded, not run here)"

EXAMPLE_PLUGIN = "strategies.examples.ema_rsi_cross:EmaRsiCross"


@dataclass(frozen=True)
class Measured:
    """One whole process: wall time from start to exit, CPU time (user + system, its waited children's
    included: the figure that a busy shared machine disturbs least), its peak RSS, its exit code."""

    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    returncode: int


@dataclass(frozen=True)
class Outcome:
    trades: int
    net_usdt: float


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def measure(command: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path = REPO) -> Measured:
    """Run `command` with its stdout in `log` (stderr in `log`.err) and measure the whole process."""
    with log.open("wb") as out, log.with_suffix(".err").open("wb") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=cwd)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return Measured(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, process.returncode)


def our_command(home: Path, data: Path) -> tuple[list[str], dict[str, str], str]:
    """Our side as one documented command: the command, its environment and what it runs.

    The EMA/RSI cross example plugin as its parity run sets it up (`runtime.parity`: the settings copied into
    the home, the environment, the flags)."""
    from runtime.parity import backtest_flags, parity_env, prepare_home

    command = [str(REPO / ".venv" / "bin" / "python"), str(REPO / "executor.py"), "backtest", "--data", str(data),
               "--home", str(home), "--format", "json"]
    prepare_home(home)
    return [*command, *backtest_flags()], {**os.environ, **parity_env()}, f"the EMA/RSI cross ({EXAMPLE_PLUGIN})"


def our_outcome(stdout: Path) -> Outcome:
    summary = json.loads(stdout.read_text())["data"]
    return Outcome(int(summary["trades"]), float(summary["realized_pnl"]))


def freqtrade_command(venv: Path, config: Path, data: Path) -> list[str]:
    return [str(venv / "bin" / "freqtrade"), "backtesting", "--config", str(config), "--strategy",
            FREQTRADE_STRATEGY, "--strategy-path", str(FREQTRADE_STRATEGY_DIR), "--datadir", str(data),
            "--timerange", TIMERANGE, "--cache", "none", "--export", "trades"]


def installed_freqtrade(venv: Path) -> str | None:
    """The freqtrade version installed in `venv`, or None when there is none."""
    python = venv / "bin" / "python"
    if not python.is_file():
        return None
    done = subprocess.run([str(python), "-c", "import importlib.metadata as m; print(m.version('freqtrade'))"],
                          capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


def pairs_of(data: Path) -> list[str]:
    """The candle set's pairs as freqtrade names them, from its `BASE_QUOTE-5m.json.gz` files."""
    suffix = f"-{TIMEFRAME}.json.gz"
    return sorted(p.name.removesuffix(suffix).replace("_", "/") for p in data.glob(f"*{suffix}"))


def failed(side: str, measured: Measured, log: Path) -> None:
    tail = log.with_suffix(".err").read_text(errors="replace")[-2000:]
    sys.exit(f"{side} exited with {measured.returncode}; the end of its stderr ({log.with_suffix('.err')}):\n{tail}")


def median_line(side: str, runs: list[Measured]) -> str:
    walls = ", ".join(f"{r.wall_s:.1f}" for r in runs)
    return (f"{side}: median {statistics.median(r.wall_s for r in runs):.2f} s wall ({walls}), "
            f"{statistics.median(r.cpu_s for r in runs):.2f} s CPU, peak RSS {max(r.peak_rss_mb for r in runs):.0f} MB")


def ratio_text(ratio: float) -> str:
    """0.195 as "0.195 (1/5.1)", 2.3 as "2.300 (2.3 times freqtrade's)"."""
    return f"{ratio:.3f} (1/{1 / ratio:.1f})" if ratio < 1 else f"{ratio:.3f} ({ratio:.1f} times freqtrade's)"


def run_ours(data: Path, scratch: Path, index: int) -> tuple[Measured, Outcome, str]:
    home = scratch / f"ours-{index}"
    command, env, what = our_command(home, data)
    log = scratch / f"ours-{index}.out"
    measured = measure(command, log, env)
    if measured.returncode != 0:
        failed("our backtest", measured, log)
    return measured, our_outcome(log), what


def run_freqtrade(venv: Path, data: Path, market_url: str, scratch: Path,
                  index: int) -> tuple[Measured, ParityCheck | None, Outcome]:
    """One freqtrade run: its measure, the check of its trades against the recorded list (on the fixture
    only: there is no recorded list for other candles) and its trade count and net P&L."""
    user_data = scratch / f"freqtrade-{index}"
    user_data.mkdir()
    config = user_data / "config.json"
    config.write_text(json.dumps(freqtrade_config(market_url, pairs_of(data), user_data)))
    log = scratch / f"freqtrade-{index}.out"
    measured = measure(freqtrade_command(venv, config, data), log, cwd=user_data)
    if measured.returncode != 0:
        failed("freqtrade", measured, log)
    trades = freqtrade_trades(user_data, FREQTRADE_STRATEGY)
    check = compare(recorded_trades(RECORDED_TRADES), trades) if data == DEFAULT_DATA.resolve() else None
    return measured, check, Outcome(len(trades.trades), trades.net)


def alternate(repeats: int, data: Path, freqtrade: tuple[Path, str] | None) -> None:
    """Run the two sides in turn `repeats` times and print the figures; freqtrade is (venv, version) or None."""
    ours: list[Measured] = []
    theirs: list[Measured] = []
    checks: list[ParityCheck | None] = []
    with tempfile.TemporaryDirectory(prefix="vs-freqtrade-") as scratch_name, ExitStack() as stack:
        scratch = Path(scratch_name)
        if freqtrade is not None:
            progress("building the offline market list")
            market_url, unexpected = stack.enter_context(
                serve(exchange_info(RECORDED_MARKETS, data, pairs_of(data), TIMEFRAME)))
        for index in range(repeats):
            progress(f"run {index + 1}/{repeats}: ours")
            measured, outcome, what = run_ours(data, scratch, index)
            ours.append(measured)
            progress(f"  {measured.wall_s:.1f} s, {measured.peak_rss_mb:.0f} MB, {outcome.trades} trades")
            if freqtrade is None:
                continue
            progress(f"run {index + 1}/{repeats}: freqtrade {freqtrade[1]}")
            measured, check, their_outcome = run_freqtrade(freqtrade[0], data, market_url, scratch, index)
            theirs.append(measured)
            checks.append(check)
            progress(f"  {measured.wall_s:.1f} s, {measured.peak_rss_mb:.0f} MB, {their_outcome.trades} trades")
    print(f"same work: {what}; candles {data.name}; {repeats} alternating run(s) a side")
    print(median_line("ours", ours) + f"; {outcome.trades:,} trades, net {outcome.net_usdt:,.3f} USDT")
    if freqtrade is None:
        print(f"freqtrade: {RECORDED_FREQTRADE}")
        return
    print(median_line(f"freqtrade {freqtrade[1]}", theirs)
          + f"; {their_outcome.trades:,} trades, net {their_outcome.net_usdt:,.3f} USDT")
    wall_ratio = statistics.median(r.wall_s for r in ours) / statistics.median(r.wall_s for r in theirs)
    cpu_ratio = statistics.median(r.cpu_s for r in ours) / statistics.median(r.cpu_s for r in theirs)
    rss_ratio = max(r.peak_rss_mb for r in ours) / max(r.peak_rss_mb for r in theirs)
    print(f"ratio ours/freqtrade: wall {ratio_text(wall_ratio)}, CPU {ratio_text(cpu_ratio)}, "
          f"peak RSS {ratio_text(rss_ratio)}")
    last = checks[-1]
    if last is None:
        print("no recorded freqtrade trade list for these candles: the shim is checked on the fixture only")
    else:
        for line in last.lines():
            print(line)
        if any(c is None or c.mismatches != last.mismatches or c.matched != last.matched for c in checks):
            print("  freqtrade's runs differed from one another")
    if unexpected:
        print(f"freqtrade asked the market shim for more than exchangeInfo: {sorted(set(unexpected))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of each side (default 3)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the candle folder (default: the fixture)")
    parser.add_argument("--freqtrade-venv", type=Path, default=DEFAULT_FREQTRADE_VENV,
                        help="freqtrade's venv (default: FREQTRADE_VENV, else ../ftvenv beside the repository)")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    data = args.data.resolve()
    if not data.is_dir():
        sys.exit(f"no candle folder at {data}")
    version = installed_freqtrade(args.freqtrade_venv)
    if version is None:
        progress(f"no freqtrade in {args.freqtrade_venv} (make freqtrade installs it): our side only")
    elif version != FREQTRADE_VERSION:
        progress(f"freqtrade {version} in {args.freqtrade_venv}, the recorded run used {FREQTRADE_VERSION}")
    alternate(args.repeats, data, None if version is None else (args.freqtrade_venv, version))


if __name__ == "__main__":
    main()
