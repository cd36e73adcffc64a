"""Where market events come from in replay and backtest: recorded files or the seeded synthetic market."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import ExecutorError
from core.events import Bar
from core.filters import SymbolRules, rules_from_exchange_info
from exchange.feeds.candles import iter_bars, load_candles
from exchange.feeds.recording import iter_recording
from exchange.feeds.rules import offline_rules
from exchange.feeds.synthetic import SyntheticMarket

RECORDING_FORMAT = "crypto-executor-recording"


class InvalidData(ExecutorError):
    code = "INVALID_DATA"


@dataclass(frozen=True)
class MarketSource:
    events: Iterable[object]
    rules: dict[str, SymbolRules]
    symbols: list[str]
    start_ms: int
    total_events: int | None
    description: str
    rules_origin: str
    live: bool = False  # live data: never skipped on resume, and the world does not re-run after a crash
    end_ms: int | None = None  # market time at which the data ends, when known without counting the events


def _is_recording(path: Path) -> bool:
    if not path.is_file() or path.suffix not in (".jsonl", ".ndjson", ".rec"):
        return False
    with path.open() as handle:
        try:
            header = json.loads(handle.readline())
        except json.JSONDecodeError:
            return False
    return isinstance(header, dict) and header.get("format") == RECORDING_FORMAT


def load_exchange_info(path: Path) -> dict[str, SymbolRules]:
    try:
        return rules_from_exchange_info(json.loads(path.read_text()))
    except (OSError, json.JSONDecodeError, KeyError) as exc:
        raise InvalidData(f"cannot read exchangeInfo from {path}: {exc}", path=str(path)) from None


def synthetic_source(seed: int, symbols: Sequence[str] | None = None, steps: int | None = None) -> MarketSource:
    market = SyntheticMarket(seed=seed, symbols=symbols, **({"steps": steps} if steps else {}))
    rules = rules_from_exchange_info(market.exchange_info())
    names = sorted(rules)
    return MarketSource(events=market.events(), rules=rules, symbols=names, start_ms=market.start_ms,
                        total_events=None, description=f"synthetic market, seed {seed}, {len(names)} pairs",
                        rules_origin="synthetic exchangeInfo",
                        end_ms=market.start_ms + market.steps * market.step_ms)


def recorded_source(path: Path, symbols: Sequence[str] | None = None, from_ms: int | None = None,
                    to_ms: int | None = None, exchange_info: Path | None = None,
                    cache_dir: Path | None = None) -> MarketSource:
    """Recorded events or candles from a file or folder; `cache_dir` keeps parsed candle files for the next run."""
    if not path.exists():
        raise InvalidData(f"no such data file or folder: {path}", path=str(path))
    if _is_recording(path):
        events = list(_window(iter_recording(path), from_ms, to_ms, symbols))
        first = next((e for e in events if hasattr(e, "symbol")), None)
        if first is None:
            raise InvalidData(f"{path} holds no market events in the requested window", path=str(path))
        names = sorted({e.symbol for e in events if hasattr(e, "symbol")})  # type: ignore[attr-defined]
        prices = _first_prices(events)
        start = _event_time(events[0])
        total: int | None = len(events)
        description = f"recording {path.name}, {len(names)} symbols"
        source_events: Iterable[object] = events
    else:
        series = load_candles(path, symbols=symbols, start_ms=from_ms, end_ms=to_ms, cache_dir=cache_dir)
        if not series:
            raise InvalidData(f"no candles found in {path} for the requested symbols and dates", path=str(path))
        names = sorted(series)
        prices = {s: float(c.close[0]) for s, c in series.items() if len(c)}
        start = min(int(c.open_time[0]) for c in series.values() if len(c))
        total = sum(len(c) for c in series.values())
        description = f"candles from {path.name}: {len(names)} symbols, {total} bars"
        source_events = iter_bars(series)
    if exchange_info is not None:
        rules = load_exchange_info(exchange_info)
        missing = [s for s in names if s not in rules]
        if missing:
            raise InvalidData(f"{exchange_info} has no rules for {', '.join(missing)}", missing=missing)
        origin = f"exchangeInfo {exchange_info.name}"
    else:
        rules = offline_rules(prices)
        origin = "offline rules derived from price levels (pass --exchange-info for the exchange's own)"
    return MarketSource(events=source_events, rules=rules, symbols=names, start_ms=start, total_events=total,
                        description=description, rules_origin=origin)


def _event_time(event: object) -> int:
    if isinstance(event, Bar):
        return event.open_time_ms
    return int(getattr(event, "time_ms", 0))


def _first_prices(events: Iterable[object]) -> dict[str, float]:
    prices: dict[str, float] = {}
    for event in events:
        symbol = getattr(event, "symbol", None)
        if symbol is None or symbol in prices:
            continue
        price = getattr(event, "close", None) or getattr(event, "price", None)
        bids = getattr(event, "bids", None)
        if price is None and bids:
            price = bids[0][0]
        if price:
            prices[symbol] = float(price)
    return prices


def _window(events: Iterator[object], from_ms: int | None, to_ms: int | None,
            symbols: Sequence[str] | None) -> Iterator[object]:
    wanted = set(symbols) if symbols else None
    for event in events:
        t = _event_time(event)
        if from_ms is not None and t < from_ms:
            continue
        if to_ms is not None and t >= to_ms:
            break
        if wanted is not None and getattr(event, "symbol", None) not in wanted and hasattr(event, "symbol"):
            continue
        yield event
