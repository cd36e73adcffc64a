"""Whether freqtrade, run offline through the shim, reproduced the recorded trade list of `../shared/parity/`.

A trade is keyed by pair, open time and close time; a keyed trade matches when its exit reason, rates, amount
and profit are the recorded ones too. Anything else is counted by class, so a wrong shim (a different price
tick or amount step moves rates and amounts; a missing pair or a different start-up moves whole trades) shows
as what it is.
"""

from __future__ import annotations

import csv
import gzip
import json
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

TradeKey = tuple[str, str, str]
# `../shared/parity/README.md`: "freqtrade reported 20 exit-order timeouts in this run".
RECORDED_EXIT_TIMEOUTS = 20
_COMPARED = ("exit_reason", "open_rate", "close_rate", "amount", "profit_abs")


class Mismatch(StrEnum):
    """Why one trade of one list has no equal in the other."""

    ONLY_RECORDED = "only in the recorded list"
    ONLY_RUN = "only in this run"
    EXIT_REASON = "same times, other exit reason"
    OPEN_RATE = "same times, other open rate"
    CLOSE_RATE = "same times, other close rate"
    AMOUNT = "same times, other amount"
    PROFIT = "same times, other profit"


_FIELD_MISMATCH = {"exit_reason": Mismatch.EXIT_REASON, "open_rate": Mismatch.OPEN_RATE,
                   "close_rate": Mismatch.CLOSE_RATE, "amount": Mismatch.AMOUNT, "profit_abs": Mismatch.PROFIT}


class ResultMissing(Exception):
    """freqtrade wrote no readable backtest result where it was told to."""

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(f"{message}: {path}")
        self.path = path


@dataclass(frozen=True)
class TradeList:
    """Trades by key, with the values compared, and the list's net profit."""

    trades: dict[TradeKey, dict[str, str]]
    net: float
    exit_timeouts: int | None = None


@dataclass(frozen=True)
class ParityCheck:
    recorded: TradeList
    run: TradeList
    matched: int
    mismatches: Counter[Mismatch] = field(default_factory=Counter)

    @property
    def identical(self) -> bool:
        return not self.mismatches and len(self.recorded.trades) == len(self.run.trades) == self.matched

    def lines(self) -> list[str]:
        """The check in words, for the bench's output."""
        head = (f"freqtrade offline vs the recorded list: {len(self.run.trades):,} trades (recorded "
                f"{len(self.recorded.trades):,}), net {self.run.net:,.3f} USDT (recorded {self.recorded.net:,.3f}), "
                f"{self.matched:,} trades identical")
        if self.run.exit_timeouts is not None:
            head += f", {self.run.exit_timeouts} exit-order timeouts (recorded {RECORDED_EXIT_TIMEOUTS})"
        verdict = ["  shim reproduces the recorded trade list exactly" if self.identical else
                   "  shim does NOT reproduce the recorded trade list:"]
        return [head, *verdict, *(f"    {kind.value}: {count:,}" for kind, count in self.mismatches.most_common())]


def _normalized(row: dict[str, object]) -> dict[str, str]:
    return {name: str(row[name]) if name == "exit_reason" else repr(float(str(row[name]))) for name in _COMPARED}


def _keyed(rows: list[dict[str, object]]) -> dict[TradeKey, dict[str, str]]:
    return {(str(r["pair"]), str(r["open_date"]), str(r["close_date"])): _normalized(r) for r in rows}


def recorded_trades(path: Path) -> TradeList:
    """The recorded list (`freqtrade_emarsicross_5m_8p.csv.gz`)."""
    with gzip.open(path, "rt", newline="") as handle:
        rows: list[dict[str, object]] = list(csv.DictReader(handle))
    return TradeList(_keyed(rows), sum(float(str(r["profit_abs"])) for r in rows))


def freqtrade_trades(user_data: Path, strategy: str) -> TradeList:
    """The trades of the latest `freqtrade backtesting --export trades` run under `user_data`."""
    results = user_data / "backtest_results"
    try:
        latest = json.loads((results / ".last_result.json").read_text())["latest_backtest"]
        with zipfile.ZipFile(results / latest) as archive:
            name = next(n for n in archive.namelist() if n.endswith(".json") and not n.endswith("_config.json"))
            document = json.loads(archive.read(name))
    except (OSError, KeyError, StopIteration, ValueError, zipfile.BadZipFile) as exc:
        raise ResultMissing(f"no backtest result ({exc})", results) from exc
    stats = document["strategy"][strategy]
    trades = stats["trades"]
    return TradeList(_keyed(trades), float(stats["profit_total_abs"]), int(stats["timedout_exit_orders"]))


def compare(recorded: TradeList, run: TradeList) -> ParityCheck:
    """Match the two lists trade by trade and count every difference by class."""
    mismatches: Counter[Mismatch] = Counter()
    matched = 0
    for key, values in recorded.trades.items():
        other = run.trades.get(key)
        if other is None:
            mismatches[Mismatch.ONLY_RECORDED] += 1
            continue
        differing = [name for name in _COMPARED if values[name] != other[name]]
        mismatches.update(_FIELD_MISMATCH[name] for name in differing)
        matched += not differing
    mismatches[Mismatch.ONLY_RUN] += len(run.trades.keys() - recorded.trades.keys())
    return ParityCheck(recorded, run, matched, +mismatches)
