"""Per-symbol market features and the BTC/ETH pair spread, updated in O(1) on the hot path.

`SymbolFeatures` turns bars, books, book tops and trade prints into the handful of numbers the
strategies read: last price, order-book imbalance (and where it came from), spread in basis points and
the momentum over a fixed number of bars. `PairSpread` keeps a rolling z-score of log(price_a/price_b).

Both are plain slotted objects with float arithmetic: a replay pushes hundreds of thousands of bars a
second through them, so nothing here builds a pydantic model except `snapshot` (for scan/status) and
the restart state round-trip (`to_dict` / `from_dict`).

Where the imbalance comes from (Invariant 7, no fake data):

- "book": (bid qty − ask qty) / (bid qty + ask qty) over the top `depth` levels of a level-2 book, or
  the book top's own summary, or its best-level quantities.
- "trade_flow": recorded candles carry no book. When the bar has Binance's taker-buy base volume (the
  12-column klines do), the aggressor flow (2·taker_buy − volume) / volume stands in: +1 when every
  taker bought, −1 when every taker sold.
- "candle_close_location": without taker volume (freqtrade OHLCV files), where the close sits in the
  bar's range, ((close − low) − (high − close)) / (high − low).

A bar with no range (high == low), no volume, or inconsistent numbers gives no imbalance (None), never a
neutral 0. Spread needs a book: with candles only it is None, so a strategy that needs a spread cannot
fire on candle-only data.

A book counts as current for a bar when it was updated at or after the bar's open; an older book is
stale and the bar's proxy and a None spread replace it.
"""

from __future__ import annotations

import math
from collections import deque
from decimal import Decimal
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import ExecutorError
from core.events import Bar, Book, BookTop, TradePrint
from core.regime import Regime, RegimeReading
from core.types import BookLevel, MarketSnapshot, TradeTick

BOOK_DEPTH = 10
RECENT_TRADES = 20
# A log-ratio spread whose standard deviation is below this has no usable variance: its z-score would
# be rounding noise (one price tick moves log(a/b) by far more than 1e-12).
MIN_SPREAD_STD = 1e-12
STATE_VERSION = 1

ImbalanceSource = Literal["book", "trade_flow", "candle_close_location"]


class FeatureError(ExecutorError):
    """An event or saved state that the features cannot take without corrupting themselves."""

    code = "INVALID_FEATURE_STATE"

    def __init__(self, symbol: str, field: str, value: Any, reason: str) -> None:
        super().__init__(f"{symbol}: {field}={value!r} refused: {reason}", symbol=symbol, field=field, value=value)
        self.symbol = symbol
        self.field = field


class MissingMarketData(ExecutorError):
    """A symbol has no price yet, so there is nothing honest to show or trade on (a DATA_OUTAGE)."""

    code = "DATA_OUTAGE"

    def __init__(self, symbol: str, reason: str) -> None:
        super().__init__(f"{symbol}: no market data ({reason})", symbol=symbol, reason=reason)
        self.symbol = symbol


def bar_imbalance(bar: Bar) -> tuple[float, ImbalanceSource] | tuple[None, None]:
    """The documented candle proxy for book imbalance, or (None, None) when the bar cannot give one.

    Both formulas stay within [−1, 1] in floating point, without overflow: the numerator is a
    difference of two values, each between 0 and the denominator.
    """
    volume = bar.volume
    if not 0.0 < volume < math.inf:
        return None, None
    taker_buy = bar.taker_buy_volume
    if taker_buy is not None:
        if 0.0 <= taker_buy <= volume:
            return (taker_buy - (volume - taker_buy)) / volume, "trade_flow"
        return None, None
    high, low, close = bar.high, bar.low, bar.close
    if math.inf > high > low > 0.0 and low <= close <= high:
        return ((close - low) - (high - close)) / (high - low), "candle_close_location"
    return None, None


def quantity_imbalance(bid_qty: float, ask_qty: float) -> float | None:
    """(bid − ask) / (bid + ask) by quantity; None for an empty or nonsensical book."""
    total = bid_qty + ask_qty
    if not 0.0 < total < math.inf or bid_qty < 0.0 or ask_qty < 0.0:
        return None
    return (bid_qty - ask_qty) / total


def spread_bps(bid: float, ask: float) -> float | None:
    """(ask − bid) / mid in basis points; None for a crossed book or a non-positive or infinite price."""
    mid = ask * 0.5 + bid * 0.5
    if not (0.0 < bid <= ask < math.inf and mid > 0.0):
        return None
    return (ask - bid) / mid * 10_000.0


class SymbolFeatures:
    """One symbol's live features, mutated in place by the engine as events arrive.

    `momentum_pct` is 100·(close_t / close_{t−w} − 1) with w = `momentum_window` bars, so it is None
    until w + 1 bars have been seen. A hole in the bars (a bar opening later than one interval after
    the previous one, e.g. an exchange maintenance window) restarts the window: a rise across a gap is
    not a rise over w bars. A bar that opens at or before the previous bar's open is a replay of old
    data and is ignored.

    `last_price` is the latest trade price (trade print or bar close); a book's mid stands in only
    while no trade print has been seen.
    """

    __slots__ = (
        "_asks",
        "_bids",
        "_book_ms",
        "_closes",
        "_head",
        "_imbalance",
        "_imbalance_bar",
        "_imbalance_source",
        "_last_open_ms",
        "_trade_ms",
        "_trades",
        "last_price",
        "momentum_pct",
        "momentum_window",
        "regime_reading",
        "spread_bps",
        "symbol",
        "time_ms",
    )

    def __init__(self, symbol: str, momentum_window: int) -> None:
        if momentum_window < 1:
            raise FeatureError(symbol, "momentum_window", momentum_window, "must be at least 1 bar")
        self.symbol = symbol
        self.momentum_window = momentum_window
        self.time_ms = 0
        self.last_price: float | None = None
        self._imbalance: float | None = None
        self._imbalance_source: str | None = None
        self._imbalance_bar: Bar | None = None
        self.spread_bps: float | None = None
        self.momentum_pct: float | None = None
        self._closes: list[float | None] = [None] * momentum_window
        self._head = 0
        self._last_open_ms: int | None = None
        self._book_ms: int | None = None
        self._trade_ms: int | None = None
        self._bids: tuple[tuple[float, float], ...] = ()
        self._asks: tuple[tuple[float, float], ...] = ()
        self._trades: deque[tuple[int, float, float, bool]] = deque(maxlen=RECENT_TRADES)
        # The symbol's regime of the last completed hour, set by the engine from its `RegimeTracker` (not
        # checkpointed here: the engine's trackers are, and it sets this again on a restore).
        self.regime_reading: RegimeReading | None = None

    @property
    def regime(self) -> Regime | None:
        """The regime of the last completed UTC hour (`core.regime`), None while it warms up (about 27 hours)."""
        reading = self.regime_reading
        return None if reading is None else reading.regime

    @property
    def regime_confidence(self) -> float | None:
        reading = self.regime_reading
        return None if reading is None else reading.confidence

    @property
    def imbalance(self) -> float | None:
        if self._imbalance_bar is not None:
            self._take_bar_imbalance()
        return self._imbalance

    @imbalance.setter
    def imbalance(self, value: float | None) -> None:
        if self._imbalance_bar is not None:
            self._take_bar_imbalance()
        self._imbalance = value

    @property
    def imbalance_source(self) -> str | None:
        if self._imbalance_bar is not None:
            self._take_bar_imbalance()
        return self._imbalance_source

    @imbalance_source.setter
    def imbalance_source(self, value: str | None) -> None:
        if self._imbalance_bar is not None:
            self._take_bar_imbalance()
        self._imbalance_source = value

    def _take_bar_imbalance(self) -> None:
        bar = self._imbalance_bar
        assert bar is not None
        self._imbalance_bar = None
        self._imbalance, self._imbalance_source = bar_imbalance(bar)

    def _misrouted(self, symbol: str) -> FeatureError:
        return FeatureError(self.symbol, "symbol", symbol, "event routed to another symbol's features")

    def _restart_window(self) -> None:
        self._closes = [None] * self.momentum_window
        self._head = 0
        self.momentum_pct = None

    def on_bar(self, bar: Bar) -> None:
        if bar.symbol != self.symbol:
            raise self._misrouted(bar.symbol)
        open_ms = bar.open_time_ms
        last_open = self._last_open_ms
        if last_open is not None and open_ms <= last_open:
            return
        close = bar.close
        if not 0.0 < close < math.inf:
            raise FeatureError(self.symbol, "close", close, "a bar's close must be positive and finite")
        close_ms = bar.close_time_ms
        if last_open is not None and open_ms - last_open > close_ms - open_ms + 1:
            self._restart_window()
        self._last_open_ms = open_ms
        closes = self._closes
        head = self._head
        previous = closes[head]
        closes[head] = close
        head += 1
        self._head = 0 if head == self.momentum_window else head
        self.momentum_pct = None if previous is None else (close / previous - 1.0) * 100.0

        self.time_ms = close_ms
        trade_ms = self._trade_ms
        if trade_ms is None or trade_ms <= close_ms:
            self.last_price = close
        book_ms = self._book_ms
        if book_ms is None or book_ms < open_ms:
            # The candle proxy is worked out when first read: on most bars the strategies' rules fail on the
            # rise or the spread before they look at it.
            self._imbalance_bar = bar
            self.spread_bps = None

    def on_book(self, book: Book, depth: int = BOOK_DEPTH) -> None:
        """Imbalance over the top `depth` levels, spread from the best levels, mid as price until trades."""
        if book.symbol != self.symbol:
            raise self._misrouted(book.symbol)
        bids, asks = book.bids[:depth], book.asks[:depth]
        self._bids, self._asks = bids, asks
        bid_qty = 0.0
        for _, qty in bids:
            bid_qty += qty
        ask_qty = 0.0
        for _, qty in asks:
            ask_qty += qty
        imbalance = quantity_imbalance(bid_qty, ask_qty)
        self._set_book(book.time_ms, imbalance, bids[0][0] if bids else None, asks[0][0] if asks else None)

    def on_book_top(self, top: BookTop) -> None:
        """Best bid/ask; the top's own book summary is used when present, else the best-level quantities."""
        if top.symbol != self.symbol:
            raise self._misrouted(top.symbol)
        self._bids = ((top.bid, top.bid_qty),)
        self._asks = ((top.ask, top.ask_qty),)
        imbalance = top.imbalance
        if imbalance is None:
            imbalance = quantity_imbalance(top.bid_qty, top.ask_qty)
        elif not -1.0 <= imbalance <= 1.0:
            imbalance = None
        self._set_book(top.time_ms, imbalance, top.bid, top.ask)

    def _set_book(self, time_ms: int, imbalance: float | None, bid: float | None, ask: float | None) -> None:
        self.time_ms = time_ms
        self._book_ms = time_ms
        self._imbalance_bar = None
        self._imbalance = imbalance
        self._imbalance_source = None if imbalance is None else "book"
        if bid is None or ask is None:
            self.spread_bps = None
            return
        self.spread_bps = spread_bps(bid, ask)
        if self._trade_ms is None and self.spread_bps is not None:
            self.last_price = bid * 0.5 + ask * 0.5

    def on_trade(self, trade: TradePrint) -> None:
        if trade.symbol != self.symbol:
            raise self._misrouted(trade.symbol)
        if not 0.0 < trade.price < math.inf:
            raise FeatureError(self.symbol, "price", trade.price, "a trade price must be positive and finite")
        self.time_ms = trade.time_ms
        self._trade_ms = trade.time_ms
        self.last_price = trade.price
        self._trades.append((trade.time_ms, trade.price, trade.quantity, trade.buyer_is_maker))

    def snapshot(self, now_ms: int) -> MarketSnapshot:
        """A validated view for scan/status; raises `MissingMarketData` while there is no price."""
        if self.last_price is None:
            raise MissingMarketData(self.symbol, "no bar, book or trade has arrived yet")
        source: Any = self.imbalance_source
        return MarketSnapshot(
            symbol=self.symbol,
            time_ms=self.time_ms,
            age_ms=max(0, now_ms - self.time_ms),
            last_price=_decimal(self.last_price),
            bids=_levels(self._bids),
            asks=_levels(self._asks),
            trades=tuple(
                TradeTick(price=_decimal(p), quantity=_decimal(q), time_ms=t, buyer_is_maker=m)
                for t, p, q, m in self._trades
                if p > 0.0 and q > 0.0
            ),
            imbalance=self.imbalance,
            imbalance_source=source,
            spread_bps=self.spread_bps,
        )

    def _ordered_closes(self) -> list[float]:
        ring = self._closes[self._head:] + self._closes[: self._head]
        return [c for c in ring if c is not None]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state; `from_dict` of it continues exactly as this object would."""
        return _SymbolState(
            version=STATE_VERSION,
            symbol=self.symbol,
            momentum_window=self.momentum_window,
            time_ms=self.time_ms,
            last_price=self.last_price,
            imbalance=self.imbalance,
            imbalance_source=self.imbalance_source,  # type: ignore[arg-type]
            spread_bps=self.spread_bps,
            momentum_pct=self.momentum_pct,
            closes=self._ordered_closes(),
            last_open_ms=self._last_open_ms,
            book_ms=self._book_ms,
            trade_ms=self._trade_ms,
            bids=[list(level) for level in self._bids],
            asks=[list(level) for level in self._asks],
            trades=[list(t) for t in self._trades],
        ).model_dump(mode="json")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SymbolFeatures:
        symbol = str(d.get("symbol", "?")) if isinstance(d, dict) else "?"
        state = _validate(_SymbolState, d, symbol)
        if len(state.closes) > state.momentum_window:
            raise FeatureError(symbol, "closes", len(state.closes),
                               f"more closes than the momentum window of {state.momentum_window}")
        features = cls(state.symbol, state.momentum_window)
        features.time_ms = state.time_ms
        features.last_price = state.last_price
        features.imbalance = state.imbalance
        features.imbalance_source = state.imbalance_source
        features.spread_bps = state.spread_bps
        features.momentum_pct = state.momentum_pct
        count = len(state.closes)
        features._closes[:count] = state.closes
        features._head = count % state.momentum_window
        features._last_open_ms = state.last_open_ms
        features._book_ms = state.book_ms
        features._trade_ms = state.trade_ms
        features._bids = tuple((p, q) for p, q in state.bids)
        features._asks = tuple((p, q) for p, q in state.asks)
        features._trades.extend((t, p, q, m) for t, p, q, m in state.trades)
        return features


class PairSpread:
    """Rolling z-score of x = log(price_a) − log(price_b) over the last `window` updates.

    z = (x_t − mean) / std over a window that includes x_t, with the sample standard deviation
    (ddof = 1, as pandas' rolling std). None until the window is full, or while the window has no
    variance. Updates are O(1): running sums of (x − shift) and (x − shift)², where the shift is
    the window's mean at the last resync. Every `window` updates the sums are recomputed from the
    buffer with a fresh shift, so rounding cannot accumulate over months of 5-minute data and the
    shifted values stay small (no cancellation between a large mean² and a small variance).

    An update whose time is not after the previous one is a replay and changes nothing.
    """

    __slots__ = (
        "_count",
        "_head",
        "_shift",
        "_since_resync",
        "_sum",
        "_sum_sq",
        "_values",
        "symbol_a",
        "symbol_b",
        "time_ms",
        "window",
        "z",
    )

    def __init__(self, symbol_a: str, symbol_b: str, window: int) -> None:
        if window < 2:
            raise FeatureError(f"{symbol_a}/{symbol_b}", "window", window, "a z-score needs at least 2 values")
        self.symbol_a = symbol_a
        self.symbol_b = symbol_b
        self.window = window
        self.z: float | None = None
        self.time_ms: int | None = None
        self._values: list[float] = [0.0] * window
        self._head = 0
        self._count = 0
        self._shift = 0.0
        self._sum = 0.0
        self._sum_sq = 0.0
        self._since_resync = 0

    @property
    def pair_name(self) -> str:
        return f"{self.symbol_a}/{self.symbol_b}"

    def update(self, price_a: float, price_b: float, time_ms: int) -> float | None:
        if self.time_ms is not None and time_ms <= self.time_ms:
            return self.z
        if not (0.0 < price_a < math.inf):
            raise FeatureError(self.pair_name, f"price of {self.symbol_a}", price_a, "must be positive and finite")
        if not (0.0 < price_b < math.inf):
            raise FeatureError(self.pair_name, f"price of {self.symbol_b}", price_b, "must be positive and finite")
        self.time_ms = time_ms
        x = math.log(price_a) - math.log(price_b)
        if self._count == 0:
            self._shift = x
        window = self.window
        head = self._head
        if self._count == window:
            old = self._values[head] - self._shift
            self._sum -= old
            self._sum_sq -= old * old
        else:
            self._count += 1
        self._values[head] = x
        head += 1
        self._head = 0 if head == window else head
        d = x - self._shift
        self._sum += d
        self._sum_sq += d * d
        self._since_resync += 1
        if self._since_resync >= window:
            self._resync()
        self.z = self._z_of(x) if self._count == window else None
        return self.z

    def _resync(self) -> None:
        values = self._values[: self._count]
        shift = math.fsum(values) / self._count
        deviations = [v - shift for v in values]
        self._shift = shift
        self._sum = math.fsum(deviations)
        self._sum_sq = math.fsum(d * d for d in deviations)
        self._since_resync = 0

    def _z_of(self, x: float) -> float | None:
        n = self._count
        mean = self._sum / n
        variance = (self._sum_sq - self._sum * mean) / (n - 1)
        if not variance > MIN_SPREAD_STD * MIN_SPREAD_STD:
            return None
        return (x - self._shift - mean) / math.sqrt(variance)

    def _ordered_values(self) -> list[float]:
        if self._count < self.window:
            return self._values[: self._count]
        return self._values[self._head:] + self._values[: self._head]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state including the running sums, so a restored spread continues bit for bit."""
        return _PairState(
            version=STATE_VERSION,
            symbol_a=self.symbol_a,
            symbol_b=self.symbol_b,
            window=self.window,
            time_ms=self.time_ms,
            z=self.z,
            values=self._ordered_values(),
            shift=self._shift,
            sum=self._sum,
            sum_sq=self._sum_sq,
            since_resync=self._since_resync,
        ).model_dump(mode="json")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PairSpread:
        name = f"{d.get('symbol_a', '?')}/{d.get('symbol_b', '?')}" if isinstance(d, dict) else "?"
        state = _validate(_PairState, d, name)
        if len(state.values) > state.window:
            raise FeatureError(name, "values", len(state.values), f"more values than the window of {state.window}")
        if state.since_resync >= state.window:
            raise FeatureError(name, "since_resync", state.since_resync, f"must be below the window {state.window}")
        pair = cls(state.symbol_a, state.symbol_b, state.window)
        count = len(state.values)
        pair._values[:count] = state.values
        pair._count = count
        pair._head = count % state.window
        pair.time_ms = state.time_ms
        pair.z = state.z
        pair._shift = state.shift
        pair._sum = state.sum
        pair._sum_sq = state.sum_sq
        pair._since_resync = state.since_resync
        return pair


def _decimal(value: float) -> Decimal:
    return Decimal(repr(value))


def _levels(levels: tuple[tuple[float, float], ...]) -> tuple[BookLevel, ...]:
    return tuple(
        BookLevel(price=_decimal(p), quantity=_decimal(q)) for p, q in levels[:BOOK_DEPTH] if p > 0.0 and q > 0.0
    )


class _State(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, defer_build=True)


class _SymbolState(_State):
    version: Literal[1]
    symbol: str
    momentum_window: int = Field(ge=1)
    time_ms: int
    last_price: float | None = Field(gt=0)
    imbalance: float | None = Field(ge=-1.0, le=1.0)
    imbalance_source: ImbalanceSource | None
    spread_bps: float | None = Field(ge=0.0)
    momentum_pct: float | None
    closes: list[float]
    last_open_ms: int | None
    book_ms: int | None
    trade_ms: int | None
    bids: list[tuple[float, float]]
    asks: list[tuple[float, float]]
    trades: list[tuple[int, float, float, bool]] = Field(max_length=RECENT_TRADES)


class _PairState(_State):
    version: Literal[1]
    symbol_a: str
    symbol_b: str
    window: int = Field(ge=2)
    time_ms: int | None
    z: float | None
    values: list[float]
    shift: float
    sum: float
    sum_sq: float
    since_resync: int = Field(ge=0)


_StateT = TypeVar("_StateT", bound=_State)


def _validate(model: type[_StateT], d: Any, name: str) -> _StateT:
    try:
        return model.model_validate(d)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ())) or "state"
        raise FeatureError(name, where, err.get("input"), err.get("msg", "invalid")) from None
