"""Parity with freqtrade: the EMA/RSI cross through the full engine, compared trade for trade with freqtrade's list.

The run. `strategies.examples.ema_rsi_cross:EmaRsiCross` (loaded through `STRATEGIES`, as any import-path plugin)
trades the 8-pair 5m candles through `run_backtest`: strategy plugin → risk gate → paper simulator → journal. Its
configuration is committed, in one place:

- the home's `strategies.json`: `strategies/examples/ema_rsi_cross.strategies.json` (a fixed stake of 100 USDT per
  trade, no allocation to the built-ins, the strategy's settings);
- the environment, `parity_env()`: `STRATEGIES` naming the plugin, `MAX_OPEN_POSITIONS=8` (freqtrade's
  max_open_trades), `MAX_POSITIONS_PER_SECTOR=8` (no sector limit: freqtrade has none);
- the flags, `backtest_flags()`: `--balance 100000` (freqtrade's wallet: it never limits a trade) and
  `--to 2021-07-17` (freqtrade's timerange 20201201-20210717 ends there; the files run on to 21:05 that day).
  The fee is the default `fee_rate` 0.001, freqtrade's 0.1 % per side.

The same run from a shell (what `bench/vs_freqtrade.py` times):

    STRATEGIES=strategies.examples.ema_rsi_cross:EmaRsiCross MAX_OPEN_POSITIONS=8 MAX_POSITIONS_PER_SECTOR=8 \\
      python executor.py backtest --data <fixture> --home <tmp> --balance 100000 --to 2021-07-17 --format json

with `<tmp>/strategies.json` copied from that file (`prepare_home`).

The comparison. Our trades are the journal's closed trades (`reports.trades.replay_trades` over its fills), each
with the candle its entry and its exit filled in (a fill's time floored to the 5-minute candle: an entry at the
next bar's open is stamped at that open, a stop or take-profit inside a bar at the bar's close, which floors to the
bar's open, as freqtrade dates it). A trade matches when (pair, open_date, close_date) are equal. Every trade of
either side that does not match is given one mismatch class (`Mismatch`), decided in the order the enum lists them;
UNEXPLAINED is what no rule accounts for.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import json
import shutil
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from core.filters import SymbolRules
from core.types import OrderType, Side
from exchange.feeds.candles import load_candles
from memory.journal import Journal
from reports.trades import replay_trades

REPO_ROOT = Path(__file__).resolve().parent.parent
STRATEGY_PATH = "strategies.examples.ema_rsi_cross:EmaRsiCross"
SETTINGS_PATH = REPO_ROOT / "strategies" / "examples" / "ema_rsi_cross.strategies.json"
BALANCE = Decimal(100_000)
TO_DATE = "2021-07-17"
QUOTE = "USDT"
CANDLE_MS = 300_000
CROSS_DOWN = "ema cross down"  # the plugin's exit reason (strategies.examples.ema_rsi_cross.CROSS_DOWN)


def parity_env() -> dict[str, str]:
    """The environment of the parity run, on top of the caller's."""
    return {"STRATEGIES": STRATEGY_PATH, "MAX_OPEN_POSITIONS": "8", "MAX_POSITIONS_PER_SECTOR": "8"}


def backtest_flags() -> list[str]:
    """The `executor.py backtest` flags of the parity run, besides --data and --home."""
    return ["--balance", str(BALANCE), "--to", TO_DATE]


def prepare_home(home: Path) -> None:
    """A home for the parity run: its `strategies.json` is the committed one."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SETTINGS_PATH, home / "strategies.json")


def run_parity_backtest(data: Path, home: Path) -> dict[str, Any]:
    """The parity backtest, in this process, built as `executor.py backtest` builds it with the parity environment
    and flags (`cmd_backtest`), minus the home's stored limits: the risk limits are the defaults with the parity
    environment's. Returns the backtest's summary (its `journal` is the file to compare)."""
    from core.config import ExecutorConfig, env_settings, risk_config
    from runtime.backtest import run_backtest, run_id
    from runtime.home import Home
    from runtime.settings import sector_map
    from runtime.sources import recorded_source
    from runtime.strategy_loader import home_config, load_strategies

    prepare_home(home)
    env = {**parity_env()}
    the_home = Home.resolve(str(home)).ensure()
    config: ExecutorConfig = home_config(the_home, risk_config(env_settings(env))).model_copy(
        update={"sector_map": sector_map(env)})
    strategies = load_strategies(the_home, env, config.strategies).strategies
    to_ms = end_ms()
    source = recorded_source(data.resolve(), None, None, to_ms, None, cache_dir=the_home.candle_cache)
    out = the_home.root / "backtests" / run_id({"parity": str(data.resolve()), "config": config.model_dump_json()})
    return run_backtest(source, config, out, quote_balance=BALANCE, strategies=strategies)


class ExitKind(StrEnum):
    EXIT_SIGNAL = "exit_signal"
    ROI = "roi"
    STOP_LOSS = "stop_loss"
    OTHER = "other"  # ours only: a market sale for another reason (a stop the market gapped through, ...)


@dataclass(frozen=True, slots=True)
class Trade:
    pair: str  # "BTC/USDT", freqtrade's spelling
    open_ms: int  # the open time of the candle the entry filled in
    close_ms: int  # the open time of the candle the exit filled in
    open_rate: float
    close_rate: float
    exit: ExitKind
    pnl: float

    @property
    def key(self) -> tuple[str, int, int]:
        return self.pair, self.open_ms, self.close_ms


def _day_ms(day: str) -> int:
    return int(datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp() * 1000)


def end_ms() -> int:
    """The end of freqtrade's timerange (exclusive), as `--to` gives it to the backtest."""
    return _day_ms(TO_DATE)


def _date_ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def date_text(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def freqtrade_trades(path: Path) -> list[Trade]:
    """freqtrade's trade list (its backtest export as CSV, gzipped or not)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:  # type: ignore[operator]
        return [Trade(row["pair"], _date_ms(row["open_date"]), _date_ms(row["close_date"]), float(row["open_rate"]),
                      float(row["close_rate"]), ExitKind(row["exit_reason"]), float(row["profit_abs"]))
                for row in csv.DictReader(handle)]


def _pair(symbol: str) -> str:
    return f"{symbol[:-len(QUOTE)]}/{QUOTE}"


def engine_trades(journal_path: Path) -> list[Trade]:
    """The backtest journal's closed trades, each dated by the candles its entry and exit filled in."""
    with Journal(journal_path, read_only=True) as journal:
        fills, orders = journal.fills(), journal.orders()
        checkpoint = journal.checkpoint()
    rules: Mapping[str, SymbolRules] | None = None
    if checkpoint is not None:
        rules = {s: SymbolRules.model_validate(r) for s, r in checkpoint.document["rules"].items()}
    kinds = {o.client_order_id: (o.type, o.reason) for o in orders}
    by_position: dict[str | None, list[Any]] = defaultdict(list)
    for fill in fills:
        by_position[fill.position_id].append(fill)
    trades = []
    for closed in replay_trades(fills, orders, 0, 2**62, quote_asset=QUOTE, rules=rules).closed:
        own = by_position[closed.position_id]
        buys = [f for f in own if f.side is Side.BUY]
        sells = [f for f in own if f.side is Side.SELL]
        if not buys or not sells:
            continue  # a position ended as dust: no sale to compare
        exit_order = kinds[sells[-1].client_order_id]
        trades.append(Trade(_pair(closed.symbol), buys[0].time_ms // CANDLE_MS * CANDLE_MS,
                            sells[-1].time_ms // CANDLE_MS * CANDLE_MS, float(_average(buys)),
                            float(_average(sells)), _exit_kind(*exit_order), float(closed.pnl)))
    return trades


def _average(fills: Sequence[Any]) -> Decimal:
    quantity = sum((f.quantity for f in fills), Decimal(0))
    return sum((f.price * f.quantity for f in fills), Decimal(0)) / quantity


def _exit_kind(order_type: OrderType, reason: str) -> ExitKind:
    if order_type is OrderType.LIMIT_MAKER:
        return ExitKind.ROI
    if order_type is OrderType.STOP_LOSS_LIMIT:
        return ExitKind.STOP_LOSS
    if order_type is OrderType.MARKET:
        return ExitKind.EXIT_SIGNAL if reason == CROSS_DOWN else ExitKind.OTHER
    raise ValueError(f"an exit by a {order_type} order is not one this comparison knows")


def opened_at_low(data: Path, to_ms: int) -> dict[str, frozenset[int]]:
    """Per pair, the open times of the candles that opened at their low (what the exit-later class is checked by)."""
    return {_pair(symbol): frozenset(int(t) for t, o, low in zip(series.open_time, series.open, series.low,
                                                                  strict=True) if o == low)
            for symbol, series in load_candles(data, end_ms=to_ms).items()}


def missing_candles(data: Path, to_ms: int) -> dict[str, frozenset[int]]:
    """Per pair, the open times of the 5-minute candles missing from the data (freqtrade fills them flat)."""
    missing: dict[str, frozenset[int]] = {}
    for symbol, series in load_candles(data, end_ms=to_ms).items():
        times = [int(t) for t in series.open_time]
        holes = {t for a, b in itertools.pairwise(times) for t in range(a + CANDLE_MS, b, CANDLE_MS)}
        missing[_pair(symbol)] = frozenset(holes)
    return missing


class Mismatch(StrEnum):
    """Why a trade of one side has no twin on the other, in the order the rules are tried."""

    GAP_FILLED_CANDLE = "gap_filled_candle"  # entered or exited on a candle missing from the data (freqtrade fills it)
    # Same entry, freqtrade exits later: its exit order for a signal exit did not fill in the candle we sold in (an
    # exit-order timeout; it reported 20) and it sold on the next candle or at its next exit. On the fixture 35 of
    # these 39 exit candles opened at their low (5.7 % of all signal exits do), where a sell limit priced at the
    # open, on freqtrade's tick, can sit outside the candle's range.
    FREQTRADE_EXIT_LATER = "freqtrade_exit_later"
    # Same entry; freqtrade's ROI filled in a bar whose high touched its price (or passed it by less than a tick),
    # where ours was not reached: the simulator's resting take-profit limit, on the tick of the offline rules (coarser
    # than freqtrade's 4 decimals for some pairs, rounded up), needs the market to trade through it.
    TAKE_PROFIT_NOT_REACHED = "take_profit_not_reached"
    # Same entry; freqtrade rounds its stop UP to Binance's price tick (0.01 on LTC/USDT) and the bar's low touched
    # that; ours, on the offline rules' finer tick, sits a fraction lower and was not reached.
    STOP_ROUNDED_UP = "stop_rounded_up"
    STOP_GAPPED = "stop_gapped"  # same entry; the bar opened below our stop's limit: the stop rested, sold at market
    EXIT_LATER = "exit_later"  # same entry, we exit later for another reason
    ENTRY_REFUSED = "entry_refused"  # the signal was there; the risk gate refused the entry (a cap)
    KNOCK_ON = "knock_on"  # the other side still held the pair then (an earlier mismatch): no entry possible
    EMA_TIE = "ema_tie"  # the cross turns on EMA(fast) and EMA(slow) equal to float noise at the signal bar
    UNEXPLAINED = "unexplained"


@dataclass(frozen=True, slots=True)
class CrossMargins:
    """Per pair and bar open time, |EMA(fast) − EMA(slow)| / close at that bar, for the bars where it is tiny."""

    near_ties: Mapping[str, frozenset[int]]

    def tie_at(self, pair: str, signal_ms: int) -> bool:
        """A cross decided on the bar `signal_ms` (or the bar before it) with the EMAs equal to float noise."""
        ties = self.near_ties.get(pair, frozenset())
        return signal_ms in ties or signal_ms - CANDLE_MS in ties


TIE_TOLERANCE = 1e-9  # relative: ~10^7 ulps of a double, far above rounding noise, far below any real spread


def cross_margins(data: Path, to_ms: int) -> CrossMargins:
    """The bars whose EMA spread is a tie to float noise, from the plugin's own indicator code (with its gap-filling),
    so that a cross one engine sees and the other does not is named for what it is."""
    from strategies.examples.ema_rsi_cross import CrossTrack, EmaRsiCrossConfig

    config = EmaRsiCrossConfig()
    ties: dict[str, frozenset[int]] = {}
    for symbol, series in load_candles(data, end_ms=to_ms).items():
        track = CrossTrack(config)
        found: set[int] = set()
        last: int | None = None
        for t, close, volume in zip(series.open_time, series.close, series.volume, strict=True):
            t = int(t)
            if last is not None:
                for hole in range(last + CANDLE_MS, t, CANDLE_MS):
                    track.step(track.last_close, 0.0, config)
                    _note_tie(track, hole, found)
            track.step(float(close), float(volume), config)
            _note_tie(track, t, found)
            last = t
        ties[_pair(symbol)] = frozenset(found)
    return CrossMargins(ties)


def _note_tie(track: Any, time_ms: int, found: set[int]) -> None:
    fast, slow = track.prev_fast, track.prev_slow
    if fast is not None and slow is not None and abs(fast - slow) <= TIE_TOLERANCE * abs(slow):
        found.add(time_ms)


@dataclass(slots=True)
class Comparison:
    freqtrade: int
    ours: int
    matched: int
    freqtrade_pnl: float
    our_pnl: float
    matched_freqtrade_pnl: float
    matched_our_pnl: float
    freqtrade_unmatched: Counter[Mismatch] = field(default_factory=Counter)
    our_unmatched: Counter[Mismatch] = field(default_factory=Counter)
    examples: dict[Mismatch, list[str]] = field(default_factory=dict)
    # Of freqtrade's FREQTRADE_EXIT_LATER trades, how many of our exit candles opened at their low; and of all our
    # signal exits, how many did (the base rate). None: the candles were not given.
    exit_later_opened_at_low: int | None = None
    signal_exits_opened_at_low: int | None = None
    signal_exits: int = 0

    @property
    def matched_pct(self) -> float:
        return 100.0 * self.matched / self.freqtrade if self.freqtrade else 0.0

    @property
    def pnl_difference_pct(self) -> float:
        return 100.0 * (self.our_pnl - self.freqtrade_pnl) / abs(self.freqtrade_pnl) if self.freqtrade_pnl else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"freqtrade_trades": self.freqtrade, "our_trades": self.ours, "matched": self.matched,
                "matched_pct": round(self.matched_pct, 2), "freqtrade_pnl": round(self.freqtrade_pnl, 3),
                "our_pnl": round(self.our_pnl, 3), "pnl_difference_pct": round(self.pnl_difference_pct, 2),
                "matched_freqtrade_pnl": round(self.matched_freqtrade_pnl, 3),
                "matched_our_pnl": round(self.matched_our_pnl, 3),
                "freqtrade_unmatched": {k.value: self.freqtrade_unmatched.get(k, 0) for k in Mismatch},
                "our_unmatched": {k.value: self.our_unmatched.get(k, 0) for k in Mismatch},
                "exit_later_opened_at_low": self.exit_later_opened_at_low,
                "signal_exits_opened_at_low": self.signal_exits_opened_at_low, "signal_exits": self.signal_exits,
                "examples": {k.value: v for k, v in self.examples.items()}}


def refused_entries(journal_path: Path) -> frozenset[tuple[str, int]]:
    """(pair, signal bar open time) of every entry decision the risk gate refused."""
    with Journal(journal_path, read_only=True) as journal:
        rows = journal.decisions(limit=10**9)
    return frozenset((_pair(row["symbol"]), int(row["time_ms"]) // CANDLE_MS * CANDLE_MS) for row in rows
                     if row["action"] == "skip")


def stop_loss_fraction() -> float:
    """The parity run's stop distance, as a fraction, from the committed settings."""
    settings = json.loads(SETTINGS_PATH.read_text(encoding="utf-8"))
    return float(settings["ema_rsi_cross"]["stop_loss_pct"]) / 100.0


def compare(freqtrade: Sequence[Trade], ours: Sequence[Trade], missing: Mapping[str, frozenset[int]],
            margins: CrossMargins, refused: Iterable[tuple[str, int]] = (), examples: int = 3,
            stop_loss: float | None = None, at_low: Mapping[str, frozenset[int]] | None = None) -> Comparison:
    """Match by (pair, open, close) and give every unmatched trade of either side its class. `stop_loss`: the stop
    distance as a fraction (default: the committed settings'). `at_low` (`opened_at_low`): count how many of the
    exit-later trades' candles, and of all our signal exits' candles, opened at their low."""
    stop = stop_loss_fraction() if stop_loss is None else stop_loss
    theirs_by_key = {t.key: t for t in freqtrade}
    ours_by_key = {t.key: t for t in ours}
    matched = theirs_by_key.keys() & ours_by_key.keys()
    result = Comparison(len(freqtrade), len(ours), len(matched), sum(t.pnl for t in freqtrade),
                        sum(t.pnl for t in ours), sum(theirs_by_key[k].pnl for k in matched),
                        sum(ours_by_key[k].pnl for k in matched))
    refusals = frozenset(refused)
    ours_by_entry = {(t.pair, t.open_ms): t for t in ours}
    if at_low is not None:
        signal_exits = [t for t in ours if t.exit is ExitKind.EXIT_SIGNAL]
        result.signal_exits = len(signal_exits)
        result.signal_exits_opened_at_low = sum(t.close_ms in at_low.get(t.pair, ()) for t in signal_exits)
        result.exit_later_opened_at_low = 0
    sides = ((freqtrade, ours, result.freqtrade_unmatched, True), (ours, freqtrade, result.our_unmatched, False))
    for own, other, counter, is_freqtrade in sides:
        other_by_entry = {(t.pair, t.open_ms): t for t in other}
        other_by_pair: dict[str, list[Trade]] = defaultdict(list)
        for t in other:
            other_by_pair[t.pair].append(t)
        for trade in own:
            if trade.key in matched:
                continue
            twin = other_by_entry.get((trade.pair, trade.open_ms))
            theirs, mine = (trade, twin) if is_freqtrade else (twin, trade)
            kind = _classify(trade, theirs, mine, other_by_pair[trade.pair], missing.get(trade.pair, frozenset()),
                             margins, refusals, is_freqtrade, stop)
            counter[kind] += 1
            if is_freqtrade and kind is Mismatch.FREQTRADE_EXIT_LATER and result.exit_later_opened_at_low is not None:
                mine_exit = ours_by_entry[(trade.pair, trade.open_ms)].close_ms
                result.exit_later_opened_at_low += mine_exit in (at_low or {}).get(trade.pair, ())
            shown = result.examples.setdefault(kind, [])
            if len(shown) < examples:
                shown.append(f"{'freqtrade' if is_freqtrade else 'ours'}: {trade.pair} {date_text(trade.open_ms)} → "
                             f"{date_text(trade.close_ms)} {trade.exit.value}"
                             + ("" if twin is None else f" (other: → {date_text(twin.close_ms)} {twin.exit.value})"))
    return result


def _classify(trade: Trade, theirs: Trade | None, mine: Trade | None, other_trades: Sequence[Trade],
              missing: frozenset[int], margins: CrossMargins, refusals: frozenset[tuple[str, int]],
              is_freqtrade: bool, stop_loss: float) -> Mismatch:
    """One unmatched trade's class; `theirs` and `mine` are freqtrade's and our trade of the same entry (one of them
    is `trade`, the other None when the other side has no trade with that entry)."""
    if trade.open_ms in missing or trade.close_ms in missing or trade.open_ms - CANDLE_MS in missing:
        return Mismatch.GAP_FILLED_CANDLE
    if theirs is not None and mine is not None:
        if theirs.close_ms > mine.close_ms:
            return Mismatch.FREQTRADE_EXIT_LATER
        if theirs.exit is ExitKind.ROI and mine.close_ms > theirs.close_ms:
            return Mismatch.TAKE_PROFIT_NOT_REACHED
        if theirs.exit is ExitKind.STOP_LOSS and mine.close_ms > theirs.close_ms \
                and theirs.close_rate > theirs.open_rate * (1 - stop_loss) * (1 + 1e-9):
            return Mismatch.STOP_ROUNDED_UP
        if mine.exit is ExitKind.OTHER:
            return Mismatch.STOP_GAPPED
        return Mismatch.EXIT_LATER
    signal_ms = trade.open_ms - CANDLE_MS
    if is_freqtrade and (trade.pair, signal_ms) in refusals:
        return Mismatch.ENTRY_REFUSED
    if any(t.open_ms <= trade.open_ms <= t.close_ms for t in other_trades):
        return Mismatch.KNOCK_ON
    if margins.tie_at(trade.pair, signal_ms):
        return Mismatch.EMA_TIE
    return Mismatch.UNEXPLAINED
