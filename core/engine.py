"""The engine's decision logic, one code path for replay, backtest, paper, testnet and live.

Market events, execution reports and requests go in; commands (place, protect, cancel, exit) and
records (decisions, breaker events, closed trades, notices, equity points) come out, accumulated in
`commands` and `records` for the runtime to drain. Time is the event's time: the engine never reads a
clock. Client order ids are deterministic (`cx-` + kind + event time + sequence), so a replay that is
restarted from a checkpoint re-decides the same orders under the same ids and the journal sees them once.

Protection (Invariant 6): as soon as an entry is done filling, a SELL OCO (take-profit LIMIT_MAKER above,
STOP_LOSS_LIMIT below) is placed; if the exchange refuses the OCO a lone stop is placed; if no protection
can be placed, the position is closed at market. Stops only move up: where the symbol allows trailing stops the
OCO's stop leg carries a trailing delta and the exchange trails it (`core.risk.trailing.native_trailing_delta`);
elsewhere the engine's ladder moves it, and a replacement is built and checked before the working one is
cancelled. A position whose Signal carried a stop plan (`core.stop_plan`: breakeven plus fees, then a trail) is
moved by its plan instead of the ladder, always with fixed stops the engine re-places. A stop-limit whose
trigger the market crossed without filling it (a gap through its limit: Binance leaves it resting, unfilled) is
cancelled at the end of that cycle and the position is sold at market (`STOP_GAPPED`). An exit never sells
before the exchange confirms that the protection it replaces is cancelled: a leg that filled meanwhile is never
sold twice.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from decimal import Decimal
from typing import Any

from core.clock import MS_PER_DAY, MS_PER_HOUR, utc_text
from core.config import ExecutorConfig, RiskConfig
from core.errors import ExecutorError, FilterRejected
from core.events import Bar, Book, BookTop, DataGap, DataOutage, DataRestored, Tick, TradePrint
from core.exchange_port import ExecutionReport
from core.features import PairSpread, SymbolFeatures
from core.filters import SymbolRules, conform_oco, conform_order, conform_quantity
from core.performance import StrategyPerformance, TradeOutcome, returns_stats, strategy_performance
from core.portfolio import ClosedTrade, Portfolio
from core.regime import Regime, RegimeTracker
from core.review import EntryReview, review_cause
from core.risk.breakers import BreakerEvent, BreakerState, QuietBand, quiet_band, reset_kill, update_breakers
from core.risk.clamp import ALL_SYMBOLS, advice_pauses, clamp_advice
from core.risk.gate import RiskContext, entry_blockers, evaluate_entry, evaluate_manual_entry
from core.risk.sizing import KellyBasis, KellySizing, kelly_sizing
from core.risk.trailing import native_trailing_delta, trailing_stop, trailing_trigger
from core.stop_plan import StopPlan, next_move_price, planned_stop
from core.strategies.base import ReadOnlySymbol
from core.strategies.guard import checked_signal, fault_message
from core.strategies.pairs import PairTrack
from core.strategies.registry import Active, StrategySet
from core.types import (
    BIPS_PER_UNIT,
    Advice,
    Decision,
    DecisionAction,
    Fill,
    OcoRequest,
    OrderRequest,
    OrderStatus,
    OrderType,
    Reason,
    ReasonKind,
    RuleId,
    Side,
    Signal,
    StrategyName,
    TimeInForce,
)

STATE_VERSION = 1
HUNDRED = Decimal(100)
BIPS = Decimal(BIPS_PER_UNIT)
# Fills already applied, by (symbol, trade id): a fill delivered twice (stream and query) is applied once.
SEEN_FILLS_KEPT = 50_000
# Live advice an engine keeps at most: more is refused (never dropped: dropping advice could only loosen).
MAX_LIVE_ADVICE = 500
_KILL_SWITCH = Reason(rule=RuleId.KILL_SWITCH, message="kill switch is on (manual)", kind=ReasonKind.REFUSAL)


# Every command carries `time_ms`, the time of the engine cycle that decided it (the event being handled, which
# in a replay of several symbols can be earlier than the engine's clock, the latest time seen): the journal
# records it as the order's creation time and the exchange is asked at that time.


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    order: OrderRequest
    position_id: str | None
    strategy: StrategyName | None
    purpose: str  # "entry" | "exit" | "stop"
    reason: str
    time_ms: int


@dataclass(frozen=True, slots=True)
class PlaceOco:
    oco: OcoRequest
    position_id: str
    reason: str
    time_ms: int
    # The entry order this OCO is the first protection of: its decision row is given the prices sent.
    entry_client_order_id: str | None = None
    # Where the stop leg triggers at placement: its stop price, or for a trailing leg the last price less the delta.
    stop_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class CancelOrderList:
    symbol: str
    list_client_id: str
    reason: str
    time_ms: int


@dataclass(frozen=True, slots=True)
class CancelOrder:
    symbol: str
    client_order_id: str
    reason: str
    time_ms: int


Command = PlaceOrder | PlaceOco | CancelOrderList | CancelOrder


@dataclass(frozen=True, slots=True)
class Notice:
    """Something a person should see that is not a decision: a data gap, an outage, a protection failure."""

    time_ms: int
    kind: str
    symbol: str | None
    message: str


@dataclass(frozen=True, slots=True)
class EquityPoint:
    time_ms: int
    equity: Decimal
    cash: Decimal
    exposure: Decimal


Record = Decision | BreakerEvent | ClosedTrade | Notice | EquityPoint


@dataclass(slots=True)
class Holding:
    """What the engine knows about an open position beyond the portfolio's quantity and cost."""

    position_id: str
    symbol: str
    strategy: StrategyName | None
    take_profit_pct: Decimal
    stop_loss_pct: Decimal
    entry_price: Decimal  # break-even of the entry (fees included): the trailing ladder's base
    stop_price: Decimal
    take_profit_price: Decimal
    high: float  # the highest price seen since entry (since the trailing stop was placed, for an exchange trail)
    next_rung: float  # the price at which the trailing ladder next moves the stop
    protection_id: str | None = None
    protection_kind: str | None = None  # "oco" | "stop"
    exiting: bool = False
    # `stop_price` as a float, for the per-event "has the market crossed the stop" comparison.
    stop_trigger: float = 0.0
    # An exit waiting for the exchange to confirm that this protection (OCO list or stop id) is cancelled.
    cancelling: str | None = None
    # Why the position is to be sold once the cancel is confirmed; kept when the cancel is refused, so that the
    # exit still happens (one cycle later, after the reports of an order that filled meanwhile have arrived).
    exit_reason: str | None = None
    # The entry's last fill price: the latest trade on the exchange until the engine sees a newer market price,
    # so the price Binance checks a new protection against (tp > last > stop), not the previous bar's close.
    fill_last: Decimal | None = None
    # The OCO's stop leg trails on the exchange by this many BIPS (None: a fixed stop moved by the ladder). Then
    # `stop_price` mirrors the exchange's trigger (the high less the delta) and `stop_floor` is the leg's fixed
    # limit price: a trigger always sells at or above it, so only a trade below it while the position is still
    # held means the stop was gapped.
    trailing_delta: int | None = None
    stop_floor: Decimal | None = None
    # The exchange refused this position's trailing OCO: its protection stays a fixed stop moved by the ladder.
    ladder_only: bool = False
    # The strategy's own trailing ladder (`core.strategies.base.Protection`); None: the risk configuration's.
    trailing_start_pct: float | None = None
    trailing_step_pct: float | None = None
    # The Signal's stop plan (`core.stop_plan.StopPlan.to_strings`) and the entry's fill price under "fill": the
    # engine moves the stop by the plan (breakeven, then trailing) instead of the ladder. None: the ladder.
    stop_plan: dict[str, str] | None = None

    def set_stop(self, price: Decimal) -> None:
        self.stop_price = price
        self.stop_trigger = float(price if self.stop_floor is None else self.stop_floor)


@dataclass(slots=True)
class PendingEntry:
    client_order_id: str
    position_id: str
    strategy: StrategyName | None
    reserved_quote: Decimal
    take_profit_pct: Decimal
    stop_loss_pct: Decimal
    cost: Decimal = Decimal(0)  # quote paid by this entry's fills, fees included
    received: Decimal = Decimal(0)  # base received, net of a base-asset fee
    filled_quote: Decimal = Decimal(0)  # price × quantity of this entry's fills, no fee
    filled_quantity: Decimal = Decimal(0)  # quantity executed, no fee
    last_fill_price: Decimal | None = None
    trailing_start_pct: float | None = None
    trailing_step_pct: float | None = None
    stop_plan: dict[str, str] | None = None  # the Signal's stop plan (`StopPlan.to_strings`), for the holding

    def add_fill(self, fill: Fill, base_asset: str, quote_asset: str) -> None:
        self.cost += fill.price * fill.quantity
        self.received += fill.quantity
        self.filled_quote += fill.price * fill.quantity
        self.filled_quantity += fill.quantity
        self.last_fill_price = fill.price
        if fill.commission_asset == base_asset:
            self.received -= fill.commission
        elif fill.commission_asset == quote_asset:
            self.cost += fill.commission

    @property
    def entry_price(self) -> Decimal | None:
        """Break-even of this entry alone: leftover dust from earlier trades must not move its exits."""
        return self.cost / self.received if self.received > 0 else None

    @property
    def fill_price(self) -> Decimal | None:
        """The entry's average fill price: what a take-profit of "+1.5 %" and a stop of "−0.8 %" are measured from."""
        return self.filled_quote / self.filled_quantity if self.filled_quantity > 0 else None


@dataclass(slots=True)
class Controls:
    """Pauses and the manual kill switch, set by control tools or LLM advice (which can only tighten)."""

    paused_symbols: dict[str, int] = field(default_factory=dict)
    all_paused_until: int = 0
    killed: bool = False


class Engine:
    def __init__(self, config: ExecutorConfig, rules: dict[str, SymbolRules], portfolio: Portfolio,
                 symbols: list[str], now_ms: int, strategies: StrategySet | None = None) -> None:
        """`strategies`: the registry's strategies with their settings (`core.strategies.registry`); None: the
        built-ins with the settings of `config.strategies`."""
        missing = [s for s in symbols if s not in rules]
        if missing:
            raise ExecutorError(f"no exchange rules for {', '.join(missing)}", symbols=missing)
        self.config = config
        self.rules = rules
        self.portfolio = portfolio
        portfolio.set_rules(rules)  # LOT_SIZE and the minimum notional decide what remainder is dust
        self.symbols = list(symbols)
        self.strategies = strategies if strategies is not None else StrategySet.resolve(config.strategies)
        self.features = {s: SymbolFeatures(s, self.strategies.momentum_window) for s in symbols}
        self._views = {s: ReadOnlySymbol(f) for s, f in self.features.items()}
        # Each pair strategy's spread, when both its legs are traded here (`core.strategies.pairs`).
        self.pairs: dict[StrategyName, PairTrack] = {}
        for active in self.strategies.pair:
            leg_a, leg_b = active.strategy.pair(active.config)  # type: ignore[attr-defined]
            if all(leg in rules and leg in symbols for leg in (leg_a, leg_b)):
                self.pairs[active.name] = PairTrack(
                    PairSpread(leg_a, leg_b, active.strategy.window(active.config)))  # type: ignore[attr-defined]
        self._pair_symbols = frozenset(leg for track in self.pairs.values() for leg in track.legs)
        self.breakers = BreakerState.initial(portfolio.equity_float(), now_ms)
        # What CAPITAL_RULE=base_plus_profits measures its base from: the equity the engine started trading with.
        self.starting_capital: Decimal = portfolio.equity()
        self.holdings: dict[str, Holding] = {}
        self.pending: dict[str, PendingEntry] = {}
        self.controls = Controls()
        self.advice: list[Advice] = []  # live advice (scouts, analyzer), dropped by engine time at expiry
        # The analyzer port (`core.review`), set by the runtime; None (replays, backtests, no key): no review.
        self.review: EntryReview | None = None
        self.outages: dict[str, str] = {}
        self.pnls: dict[StrategyName, list[float]] = {s: [] for s in self.strategies.names}
        # Closed trades as the learning sees them (return per unit staked, regime at entry), per strategy.
        self.outcomes: dict[StrategyName, list[TradeOutcome]] = {s: [] for s in self.strategies.names}
        self.regimes = {s: RegimeTracker() for s in symbols}
        self.entry_regimes: dict[str, str | None] = {}  # position id → its symbol's regime when it was entered
        self._stats: dict[StrategyName, KellyBasis] = {}
        for strategy in self.strategies.names:
            self._update_stats(strategy)
        self.seq = 0
        self.now_ms = now_ms
        self.cycle_ms = now_ms  # the time of the event being handled (see the commands' `time_ms`)
        self.max_drawdown_pct = 0.0
        self._high_water = portfolio.equity_float()
        self._equity_hour = now_ms // MS_PER_HOUR
        self._seen_fills: dict[tuple[str, int], None] = {}
        # Per symbol, per strategy (by its slot): is one of its signals lasting right now. A flag list, not a
        # set of (symbol, strategy) tuples: it is read on every bar, and a flag needs no tuple built and hashed.
        self._slots: dict[StrategyName, int] = {name: slot for slot, name in enumerate(self.strategies.names)}
        self._episodes: dict[str, list[bool]] = {s: [False] * len(self._slots) for s in symbols}
        # Strategies that raised, silenced until restart (not checkpointed): name -> the fault's notice text.
        self.faulted: dict[StrategyName, str] = {}
        self._symbol_rules: tuple[tuple[int, StrategyName, Any, Any, Any, bool], ...] = ()
        self._symbol_exits: dict[StrategyName, tuple[Any, Any, bool]] = {}
        self._bar_hooks: tuple[tuple[StrategyName, Any, Any], ...] = ()
        # The checkpointed state of strategies not loaded now (a file no longer trusted, a control run on the
        # built-ins alone): kept as it was and saved again, so that a restart with them loaded resumes it.
        self._unloaded_state: dict[str, Any] = {}
        self._wire_symbol_rules()
        self._silenced: set[StrategyName] = set()
        self._equity = portfolio.equity_float()
        self._equity_dirty = False
        self._breakers_ms = now_ms
        self._quiet: tuple[BreakerState, RiskConfig, QuietBand] | None = None
        self.commands: list[Command] = []
        self.records: list[Record] = []

    # ----- market events -------------------------------------------------------------------------
    def on_market(self, event: object) -> None:
        if type(event) is Bar:  # the hot path in a replay: checked first, by identity
            self.on_bar(event)
        elif isinstance(event, Book):
            self._on_book(event)
        elif isinstance(event, TradePrint):
            self._on_trade(event)
        elif isinstance(event, BookTop):
            self.features[event.symbol].on_book_top(event)
            self._after_price(event.symbol, event.time_ms, event.bid)
        elif isinstance(event, Tick):
            self._advance(event.time_ms)
        elif isinstance(event, DataOutage):
            self._on_outage(event)
        elif isinstance(event, DataRestored):
            if self.outages.pop(event.symbol, None) is not None:
                self._notice("data_restored", event.symbol, "market data is back")
        elif isinstance(event, DataGap):
            minutes = (event.to_ms - event.from_ms) // 60_000
            self._notice("data_gap", event.symbol, f"no data from {event.from_ms} to {event.to_ms} ({minutes} min)")

    def on_bar(self, bar: Bar) -> None:
        symbol = bar.symbol
        features = self.features.get(symbol)
        if features is None:
            return
        features.on_bar(bar)
        if self._bar_hooks:
            self._strategy_bars(bar)
        close_ms = bar.close_time_ms
        regime = self.regimes[symbol]
        regime.update(close_ms, bar.high, bar.low, bar.close)
        features.regime_reading = regime.reading  # the last completed hour's: strategies read it, never ahead
        self.cycle_ms = close_ms
        if close_ms > self.now_ms:
            self.now_ms = close_ms
        self._after_price(symbol, close_ms, bar.close, bar.high, bar.low)
        if self._symbol_exits and symbol in self.holdings:
            self._symbol_exit(symbol)
        if symbol in self._pair_symbols:
            self._on_pair_bar(symbol, close_ms)
        if symbol in self.outages:
            return
        self._symbol_episodes(features, close_ms)

    def _on_book(self, book: Book) -> None:
        features = self.features.get(book.symbol)
        if features is None or not book.bids or not book.asks:
            return
        features.on_book(book)
        self._advance(book.time_ms)
        self._after_price(book.symbol, book.time_ms, book.bids[0][0])
        if book.symbol in self.outages:
            return
        self._symbol_episodes(features, book.time_ms)

    def _on_trade(self, trade: TradePrint) -> None:
        features = self.features.get(trade.symbol)
        if features is None:
            return
        features.on_trade(trade)
        self._advance(trade.time_ms)
        self._after_price(trade.symbol, trade.time_ms, trade.price)

    def _on_outage(self, event: DataOutage) -> None:
        if self.outages.get(event.symbol) != event.reason:
            self.outages[event.symbol] = event.reason
            self._notice("data_outage", event.symbol, f"DATA_OUTAGE: {event.reason}; entries blocked")

    def _advance(self, now_ms: int) -> None:
        self.cycle_ms = now_ms
        if now_ms > self.now_ms:
            self.now_ms = now_ms

    def _quiet_band(self) -> QuietBand:
        """The band of equity in which the breakers' current state would not change, cached for that state and
        risk configuration (both immutable, so an identity check tells when it must be worked out again)."""
        quiet = self._quiet
        risk = self.config.risk
        if quiet is None or quiet[0] is not self.breakers or quiet[1] is not risk:
            quiet = self._quiet = (self.breakers, risk, quiet_band(self.breakers, risk))
        return quiet[2]

    def _after_price(self, symbol: str, time_ms: int, price: float, high: float | None = None,
                     low: float | None = None) -> None:
        """Mark to market, catch crossed stops, move trailing stops, run the breakers. The common path is a few
        comparisons.

        Every symbol the account holds is marked (a position, dust, any other balance), so the equity the
        breakers, the drawdown and the journal's equity points see is the one the summary reports.

        This runs at the end of a market cycle: the exchange (or the simulator) has already seen the same price
        and filled what it could, so a position whose stop trigger this cycle crossed and that is still held
        here was not sold by its stop. The stop checked is the one that worked during the cycle: trailing moves
        it only afterwards."""
        portfolio = self.portfolio
        equity_before = self._equity  # in force until now: a day that began since the last update starts from it
        holding = self.holdings.get(symbol)
        # A holding without a position (dust, another balance) is re-marked only when its price moved: on the hot
        # path of a replay most events repeat the last price.
        moved = portfolio.holds(symbol) and (holding is not None or portfolio.mark_of(symbol) != price)
        if moved:
            self._equity = portfolio.mark(symbol, price)
        if holding is not None:
            holding.fill_last = None
            bottom = price if low is None else low
            if bottom <= holding.stop_trigger or holding.exit_reason is not None:
                self._stop_crossed(holding, bottom)
            else:
                top = price if high is None else high
                if top > holding.high:
                    holding.high = top
                    if holding.trailing_delta is not None:
                        self._follow_exchange_trail(holding, top)
                    elif top >= holding.next_rung:
                        self._trail(holding, time_ms)
        elif not moved and not self._equity_dirty and time_ms == self._breakers_ms:
            return  # nothing held on this symbol moved and the breakers already saw this moment's equity
        if self._equity_dirty:  # a fill changed the books (marks change only above, where equity was taken)
            self._equity = portfolio.equity_float()
            self._equity_dirty = False
        equity = self._equity
        self._breakers_ms = time_ms
        if not self._quiet_band().holds(equity, time_ms):
            self.breakers, events = update_breakers(self.breakers, equity, time_ms, self.config.risk,
                                                    equity_before=equity_before)
            if events:
                self.records.extend(events)
        if equity > self._high_water:
            self._high_water = equity
        elif self._high_water > 0.0:
            drawdown = (1.0 - equity / self._high_water) * 100.0
            if drawdown > self.max_drawdown_pct:
                self.max_drawdown_pct = drawdown
        hour = time_ms // MS_PER_HOUR
        if hour != self._equity_hour:
            self._equity_hour = hour
            self.records.append(EquityPoint(time_ms, portfolio.equity(), portfolio.cash, portfolio.exposure()))

    # ----- strategies: wiring, exits, pairs, faults -------------------------------------------------------
    def _wire_symbol_rules(self) -> None:
        """The per-bar loop's view of the symbol strategies that have not faulted: (slot, name, rule, settings,
        builder, reads the features directly), and the exit rules of those that have one. Only a built-in (its
        source in core/) reads the features directly; any other strategy is handed the enforcing read-only view."""
        live = [a for a in self.strategies.symbol if a.name not in self.faulted]
        self._symbol_rules = tuple((self._slots[a.name], a.name, a.strategy.fires, a.config, a.strategy.signal,
                                    a.built_in) for a in live)
        self._symbol_exits = {a.name: (a.strategy.exit_reason, a.config, a.built_in) for a in live
                              if a.strategy.has_exit_rule}  # type: ignore[attr-defined]
        self._bar_hooks = tuple((a.name, a.strategy.on_bar, a.config) for a in live
                                if a.strategy.has_bar_hook)  # type: ignore[attr-defined]

    def _strategy_bars(self, bar: Bar) -> None:
        """Each stateful strategy sees the closed bar before its rules run on it."""
        for name, on_bar, cfg in self._bar_hooks:
            try:
                on_bar(bar, cfg)
            except Exception as exc:  # a plugin's fault must not stop the engine
                self._strategy_faulted(name, bar.symbol, exc)

    def _stateful(self) -> tuple[Active, ...]:
        return tuple(a for a in self.strategies.symbol if a.strategy.has_bar_hook)  # type: ignore[attr-defined]

    def _strategy_faulted(self, name: StrategyName, symbol: str | None, exc: Exception) -> None:
        """The safe wrapper's other half: a strategy that raised is silenced until restart, with one notice (the
        runtime journals it and sends an `error` alert); every other strategy goes on."""
        if name in self.faulted:
            return
        message = fault_message(name, symbol, exc)
        self.faulted[name] = message
        self._wire_symbol_rules()
        for flags in self._episodes.values():
            flags[self._slots[name]] = False
        self._notice("strategy_fault", symbol, message)

    def _symbol_exit(self, symbol: str) -> None:
        holding = self.holdings[symbol]
        rule = self._symbol_exits.get(holding.strategy) if holding.strategy is not None else None
        if rule is None or holding.exiting:
            return
        exit_reason, cfg, direct = rule
        try:
            reason = exit_reason(self.features[symbol] if direct else self._views[symbol], cfg)
        except Exception as exc:  # a plugin's fault, whatever it is, must not stop the engine
            self._strategy_faulted(holding.strategy, symbol, exc)  # type: ignore[arg-type]
            return
        if reason:
            self._exit(holding, str(reason))

    def _on_pair_bar(self, symbol: str, close_ms: int) -> None:
        for name, track in self.pairs.items():
            if symbol not in track.legs or name in self.faulted:
                continue
            a, b = self.features[track.symbol_a], self.features[track.symbol_b]
            if track.on_bar(symbol, close_ms, a.last_price, b.last_price):
                self._pair_decide(name, track, close_ms)

    def _pair_decide(self, name: StrategyName, track: PairTrack, close_ms: int) -> None:
        active = self.strategies.by_name[name]
        strategy, cfg = active.strategy, active.config
        pair, a, b = self._pair_inputs(track, active.built_in)
        try:
            reason = strategy.exit_reason(pair, cfg)
            laggard = strategy.laggard(pair, a, b, cfg)  # type: ignore[attr-defined]
        except Exception as exc:  # a plugin's fault must not stop the engine
            self._strategy_faulted(name, None, exc)
            return
        if reason:
            for holding in list(self.holdings.values()):
                if holding.strategy == name and not holding.exiting:
                    self._exit(holding, str(reason))
        slot = self._slots[name]
        for leg in (a, b):
            episodes = self._episodes[leg.symbol]
            if leg is not laggard or leg.symbol in self.outages:
                episodes[slot] = False
            elif not episodes[slot]:
                episodes[slot] = True
                if self._worth_a_signal(leg.symbol, name):
                    try:
                        signal = checked_signal(name, (leg.symbol,), strategy.signal(  # type: ignore[call-arg]
                            pair, a, b, cfg, close_ms))
                    except Exception as exc:
                        self._strategy_faulted(name, leg.symbol, exc)
                        return
                    if signal is not None:
                        self._consider(signal)

    def _pair_inputs(self, track: PairTrack, direct: bool) -> tuple[Any, Any, Any]:
        """What a pair strategy reads: the spread and both legs' features, through enforcing read-only views unless
        the strategy is a built-in."""
        if direct:
            return track.spread, self.features[track.symbol_a], self.features[track.symbol_b]
        return track.view, self._views[track.symbol_a], self._views[track.symbol_b]

    # ----- entries ---------------------------------------------------------------------------------
    def _symbol_episodes(self, features: SymbolFeatures, now_ms: int) -> None:
        """Edge-triggered: a signal that lasts over many bars is one episode, considered once, when it starts.

        Re-deciding a lasting signal every bar would stack entries if a rule were ever missed, flood the
        journal with identical refusals, and enter late into a move that has already run.
        """
        symbol = features.symbol
        episodes = self._episodes[symbol]
        for slot, name, fires, cfg, build, direct in self._symbol_rules:
            seen = features if direct else self._views[symbol]
            try:  # free in Python 3.11 until something raises
                fired = fires(seen, cfg)
            except Exception as exc:  # a plugin's fault must not stop the engine
                self._strategy_faulted(name, symbol, exc)
                continue
            if not fired:
                episodes[slot] = False
            elif not episodes[slot]:
                episodes[slot] = True
                if self._worth_a_signal(symbol, name):
                    try:
                        signal = checked_signal(name, (symbol,), build(seen, cfg, now_ms))
                    except Exception as exc:
                        self._strategy_faulted(name, symbol, exc)
                        continue
                    if signal is not None:
                        self._consider(signal)

    def signals_now(self, symbol: str) -> list[Signal]:
        """Every strategy's signal on `symbol` as of now, whether or not an episode is starting (what `scan`
        shows): the symbol strategies on its features, and each pair strategy whose laggard it is. A strategy
        that raises is silenced as on a bar."""
        view = self._views.get(symbol)
        if view is None:
            return []
        signals: list[Signal] = []
        for _slot, name, _fires, cfg, build, direct in self._symbol_rules:
            try:
                signal = checked_signal(name, (symbol,), build(self.features[symbol] if direct else view, cfg,
                                                               self.now_ms))
            except Exception as exc:  # a plugin's fault must not stop the caller
                self._strategy_faulted(name, symbol, exc)
                continue
            if signal is not None:
                signals.append(signal)
        for name, track in self.pairs.items():
            if symbol not in track.legs or name in self.faulted:
                continue
            active = self.strategies.by_name[name]
            pair, a, b = self._pair_inputs(track, active.built_in)
            try:
                signal = checked_signal(name, track.legs, active.strategy.signal(  # type: ignore[call-arg]
                    pair, a, b, active.config, self.now_ms))
            except Exception as exc:
                self._strategy_faulted(name, symbol, exc)
                continue
            if signal is not None and signal.symbol == symbol:
                signals.append(signal)
        return signals

    def _worth_a_signal(self, symbol: str, strategy: StrategyName) -> bool:
        """False for the refusals that are not journaled, decided before a Signal is built: one position per
        symbol (a lasting signal must not stack entries; the risk gate enforces the same rule for every other
        caller) and a strategy that sizes to zero. With the kill switch on, the refusal is journaled."""
        if self.controls.killed:
            return True
        return symbol not in self.holdings and symbol not in self.pending and not self._sized_out(strategy)

    def risk_context(self) -> RiskContext:
        """The account as the risk gate sees it. Cash is exact; equity and exposure come from the float marks the
        engine keeps every bar (sizing is analytics; the order itself is conformed to the filters in Decimal).
        Exposure counts every non-quote holding at mark, dust included, so it can only err on the safe side."""
        portfolio = self.portfolio
        reserved = sum((p.reserved_quote for p in self.pending.values()), Decimal(0))
        equity = portfolio.equity_float()
        cash = portfolio.cash
        return RiskContext(
            equity=Decimal(repr(equity)),
            free_quote=max(cash - reserved, Decimal(0)),
            exposure=Decimal(repr(max(equity - float(cash), 0.0))) + reserved,
            open_symbols=frozenset(self.holdings),
            pending_symbols=frozenset(self.pending),
            breakers=self.breakers,
            strategy_stats=self._stats,
            paused_symbols=self.controls.paused_symbols,
            data_outages=self.outages,
            all_paused_until=self.controls.all_paused_until,
            starting_capital=self.starting_capital,
            realized_pnl=portfolio.realized_pnl,
        )

    def _consider(self, signal: Signal) -> None:
        """Journal the decision on a signal that is worth one, and enter when the risk gate says so."""
        if self.controls.killed:
            decision = Decision(symbol=signal.symbol, strategy=signal.strategy, action=DecisionAction.SKIP,
                                reasons=(_KILL_SWITCH,), time_ms=signal.time_ms)
        else:
            decision = evaluate_entry(signal, self.risk_context(), self.rules[signal.symbol], self.config,
                                      signal.time_ms, self.live_advice())
        decision = self._reviewed(decision)
        if decision.action is DecisionAction.ENTER:
            protection = self.strategies.by_name[signal.strategy].protection
            trailing = (None, None) if protection is None else (protection.trailing_start_pct,
                                                                protection.trailing_step_pct)
            decision = self._enter(decision, signal.take_profit_pct, signal.stop_loss_pct, signal.reason, trailing,
                                   signal.stop_plan)
        self.records.append(decision)

    def _sized_out(self, strategy: StrategyName) -> bool:
        """Whether a strategy's signals can no longer size above zero (its Kelly estimate or its allocation is
        zero). Said once, as a notice, when it happens: re-deciding each of its signals would only journal the
        same zero-size refusal thousands of times. It lifts as soon as the estimate or the allocation does."""
        allocation = self.config.strategies.allocation.get(strategy, 0.0)
        sizing = self.kelly(strategy)
        if allocation > 0 and not sizing.sized_out:
            if strategy in self._silenced:
                self._silenced.discard(strategy)
                self._notice("strategy_sizes_again", None, f"{strategy} sizes above zero again: "
                             f"{sizing.message}")
            return False
        if strategy not in self._silenced:
            self._silenced.add(strategy)
            self._notice("strategy_sized_out", None,
                         f"{strategy} sizes to zero: allocation {allocation}, Kelly {sizing.message}; "
                         "its signals are not traded until that changes")
        return True

    def request_entry(self, symbol: str, quote_amount: Decimal, take_profit_pct: Decimal, stop_loss_pct: Decimal,
                      now_ms: int, advice: tuple[Advice, ...] = ()) -> Decision:
        """A trade asked for by a person or an agent: same gate, same caps, no way around them."""
        self._advance(now_ms)
        features = self.features.get(symbol)
        price = features.last_price if features is not None else None
        if self.controls.killed:
            reasons: tuple[Reason, ...] = (_KILL_SWITCH,)
        elif price is None:
            reasons = (Reason(rule=RuleId.DATA_OUTAGE, message=f"DATA_OUTAGE: no market price for {symbol} yet",
                              kind=ReasonKind.REFUSAL),)
        else:
            reasons = ()
        if reasons:
            decision = Decision(symbol=symbol, strategy=None, action=DecisionAction.SKIP, reasons=reasons,
                                time_ms=self.now_ms)
        else:
            decision = evaluate_manual_entry(symbol, quote_amount, take_profit_pct, stop_loss_pct,
                                             Decimal(repr(price)), self.risk_context(), self.rules[symbol],
                                             self.config, self.now_ms, (*advice, *self.live_advice()))
        decision = self._reviewed(decision)
        if decision.action is DecisionAction.ENTER:
            decision = self._enter(decision, take_profit_pct, stop_loss_pct, "requested by the operator")
        self.records.append(decision)
        return decision

    def _reviewed(self, decision: Decision) -> Decision:
        """An entry the analyzer must review, with its verdict (or fallback) applied through the clamp: the
        verdict is data the port returns, and the clamp lets it only keep or shrink the entry."""
        review = self.review
        if review is None or decision.action is not DecisionAction.ENTER:
            return decision
        equity = Decimal(repr(self.portfolio.equity_float()))
        cause = review_cause(decision, equity, review.min_trade_pct)
        if cause is None:
            return decision
        advice = review(decision, cause, equity, decision.time_ms)
        return clamp_advice(decision, [advice], decision.time_ms, rules=self.rules[decision.symbol])

    def _enter(self, decision: Decision, take_profit_pct: Decimal, stop_loss_pct: Decimal, reason: str,
               trailing: tuple[float | None, float | None] = (None, None),
               stop_plan: StopPlan | None = None) -> Decision:
        """Place the entry; the decision comes back naming it, to be journaled."""
        take_profit_pct, stop_loss_pct = _advised_exits(decision, take_profit_pct, stop_loss_pct)
        symbol = decision.symbol
        client_id = self._next_id("e", decision.time_ms)
        position_id = self.portfolio.next_position_id(symbol, decision.time_ms)
        # A quote-amount market buy (quoteOrderQty): the exchange never spends more than the amount the risk gate
        # capped, whatever the price it fills at (see core.risk.gate).
        order = OrderRequest(client_order_id=client_id, symbol=symbol, side=Side.BUY, type=OrderType.MARKET,
                             quote_order_qty=decision.quote_amount)
        reserved = decision.quote_amount * (1 + self.config.risk.fee_rate)  # the fee needs cash too
        self.pending[symbol] = PendingEntry(client_id, position_id, decision.strategy, reserved,
                                            take_profit_pct, stop_loss_pct, trailing_start_pct=trailing[0],
                                            trailing_step_pct=trailing[1],
                                            stop_plan=None if stop_plan is None else stop_plan.to_strings())
        regime = self.regimes[symbol].regime if symbol in self.regimes else None
        self.entry_regimes[position_id] = None if regime is None else regime.value
        self.commands.append(PlaceOrder(order, position_id, decision.strategy, "entry", reason, self.cycle_ms))
        return decision.model_copy(update={"entry_client_order_id": client_id})

    def entry_blockers(self, symbol: str) -> list[Reason]:
        blockers = entry_blockers(symbol, self.risk_context(), self.config, self.now_ms)
        if self.controls.killed:
            blockers.insert(0, _KILL_SWITCH)
        return blockers

    # ----- execution reports -----------------------------------------------------------------------
    def on_report(self, report: ExecutionReport) -> None:
        """An ExecutionReport from the exchange adapter."""
        self._advance(report.time_ms)
        fill: Fill | None = report.fill
        if fill is not None:
            key = (fill.symbol, fill.trade_id)
            if key in self._seen_fills:
                fill = None
            else:
                self._equity_dirty = True
                self._seen_fills[key] = None
                if len(self._seen_fills) > SEEN_FILLS_KEPT:
                    del self._seen_fills[next(iter(self._seen_fills))]
        self._apply_report(report, fill)
        if fill is not None and report.time_ms < self.breakers.day_start_ms + MS_PER_DAY:
            # A fill before the next 00:00 UTC belongs to the day the breakers are in: a day that begins before
            # their next update starts with it. A later fill (a stop hit by the new day's first bar) does not.
            self._equity = self.portfolio.equity_float()

    def _apply_report(self, report: Any, fill: Fill | None) -> None:
        symbol = report.symbol
        pending = self.pending.get(symbol)
        if pending is not None and report.client_order_id == pending.client_order_id:
            if fill is not None:
                rules = self.rules[symbol]
                pending.add_fill(fill, rules.base_asset, rules.quote_asset)
                self.portfolio.apply_fill(fill, base_asset=rules.base_asset, strategy=pending.strategy,
                                          position_id=pending.position_id)
            if report.status.is_final:
                del self.pending[symbol]
                if self.portfolio.position(symbol) is not None:
                    self._protect_new(symbol, pending)
                elif report.status is not OrderStatus.FILLED:
                    self._notice("entry_not_filled", symbol,
                                 f"entry {report.client_order_id} ended {report.status}: {report.reject_reason or ''}")
            return
        if fill is not None and fill.side is Side.SELL:
            holding = self.holdings.get(symbol)
            closed = self.portfolio.apply_fill(fill, base_asset=self.rules[symbol].base_asset,
                                               strategy=holding.strategy if holding else None)
            if closed is not None:
                self._closed(closed)
        elif fill is not None:
            self.portfolio.apply_fill(fill, base_asset=self.rules[symbol].base_asset, strategy=None)
        holding = self.holdings.get(symbol)
        if holding is not None and holding.cancelling is not None and report.status.is_final \
                and holding.cancelling in (report.list_client_id, report.client_order_id):
            # The protection an exit waits for is done (cancelled, or filled: then the position may be gone).
            self._market_exit(holding, holding.exit_reason or "exit")

    def _closed(self, closed: ClosedTrade) -> None:
        self.holdings.pop(closed.symbol, None)
        self.records.append(closed)
        regime = self.entry_regimes.pop(closed.position_id, None)
        if closed.strategy is not None:
            self.pnls.setdefault(closed.strategy, []).append(float(closed.pnl))
            self.outcomes.setdefault(closed.strategy, []).append(TradeOutcome(
                closed.pnl_pct, float(closed.pnl), None if regime is None else Regime(regime), closed.closed_ms))
            self._update_stats(closed.strategy)

    def performance(self, strategy: StrategyName) -> StrategyPerformance:
        """The strategy's record on returns per unit staked (see core.performance)."""
        return strategy_performance(self.outcomes.get(strategy, []))

    def kelly(self, strategy: StrategyName) -> KellySizing:
        """How the strategy's next signal would be sized by Kelly now, with its basis."""
        return kelly_sizing(self._stats.get(strategy, KellyBasis()), self.config.risk, self.now_ms)

    def _update_stats(self, strategy: StrategyName) -> None:
        """A strategy's Kelly basis (closed trades, estimate on returns, last close): worked out when a trade
        closes, not on each of the thousands of signals that ask."""
        outcomes = self.outcomes.setdefault(strategy, [])
        if not outcomes:
            self._stats[strategy] = KellyBasis()
            return
        returns = returns_stats(outcomes)  # not the whole strategy_performance: its drawdown walk is not needed here
        self._stats[strategy] = KellyBasis(returns.count, returns.kelly, outcomes[-1].closed_ms)

    def on_rejected(self, command: Command, error: ExecutorError) -> None:
        """The exchange refused a command. Entries are dropped; protection falls back to a stop, then an exit.

        A refused cancel (Binance -2011: the order is no longer open) of a protection an exit waits for means the
        protection filled or ended meanwhile, and its reports may still be on their way: the exit is not sized
        now (it could sell what the stop already sold) but stays owed, and is placed at the next price."""
        if isinstance(command, (CancelOrderList, CancelOrder)):
            holding = self.holdings.get(command.symbol)
            target = command.list_client_id if isinstance(command, CancelOrderList) else command.client_order_id
            if holding is not None and holding.cancelling == target:
                holding.cancelling = None
                holding.exiting = False
                self._notice("cancel_rejected", holding.symbol,
                             f"cancel of {target} refused ({error.message}); the exit waits one price update "
                             "for that order's fills")
            return
        if isinstance(command, PlaceOrder):
            symbol = command.order.symbol
            if command.purpose == "entry":
                self.pending.pop(symbol, None)
                self._notice("entry_rejected", symbol, error.message)
            elif command.purpose == "stop":
                holding = self.holdings.get(symbol)
                if holding is not None:
                    self._notice("protection_failed", symbol, f"stop refused ({error.message}); closing")
                    holding.protection_id = None
                    self._exit(holding, "no protection could be placed")
            else:
                holding = self.holdings.get(symbol)
                if holding is not None:
                    holding.exiting = False
                self._notice("exit_rejected", symbol, error.message)
        elif isinstance(command, PlaceOco):
            holding = self.holdings.get(command.oco.symbol)
            if holding is not None and holding.protection_id == command.oco.list_client_id:
                holding.protection_id = None
                if holding.trailing_delta is not None:  # the lone stop is a fixed one: the ladder trails it
                    holding.ladder_only = True
                holding.trailing_delta = None
                holding.stop_floor = None
                holding.set_stop(holding.stop_price)
                self._notice("oco_refused", holding.symbol, f"OCO refused ({error.message}); placing a stop")
                self._place_stop(holding)

    # ----- protection and exits --------------------------------------------------------------------
    def _protect_new(self, symbol: str, pending: PendingEntry) -> None:
        position = self.portfolio.position(symbol)
        assert position is not None
        entry = pending.entry_price or position.avg_entry
        fill = pending.fill_price or entry
        stop = fill * (1 - pending.stop_loss_pct / HUNDRED)
        holding = Holding(position_id=pending.position_id, symbol=symbol, strategy=pending.strategy,
                          take_profit_pct=pending.take_profit_pct, stop_loss_pct=pending.stop_loss_pct,
                          entry_price=entry, stop_price=stop,
                          take_profit_price=fill * (1 + pending.take_profit_pct / HUNDRED),
                          high=float(entry), next_rung=0.0, stop_trigger=float(stop),
                          fill_last=pending.last_fill_price, trailing_start_pct=pending.trailing_start_pct,
                          trailing_step_pct=pending.trailing_step_pct)
        if pending.stop_plan is not None:
            # Moved by the engine: an exchange trailing delta cannot express breakeven-then-trail (core.stop_plan).
            holding.stop_plan = {**pending.stop_plan, "fill": str(fill)}
            holding.ladder_only = True
            holding.next_rung = float(next_move_price(_plan_of(holding.stop_plan), fill, fill))
        else:
            holding.next_rung = float(entry) * (1 + self._trailing(holding)[0] / 100.0)
        self.holdings[symbol] = holding
        self._place_oco(holding, "protect a new position", entry_client_order_id=pending.client_order_id)

    def _protection_market(self, holding: Holding) -> tuple[SymbolRules, Decimal] | None:
        """The symbol's rules and last price, or None when there is nothing to protect or no price yet. Right
        after the entry filled, the last price is its last fill (the latest trade), not the previous bar's close."""
        last = holding.fill_last or self._last_price(holding.symbol)
        if self.portfolio.position(holding.symbol) is None or last is None:
            return None
        return self.rules[holding.symbol], last

    def _unprotectable(self, holding: Holding, what: str, exc: Exception) -> None:
        self._notice("protection_failed", holding.symbol, f"cannot place {what} ({exc}); closing the position")
        self._exit(holding, "no valid protection at the current price")

    def _place_oco(self, holding: Holding, reason: str, entry_client_order_id: str | None = None) -> None:
        market = self._protection_market(holding)
        if market is None:
            return
        rules, last = market
        try:
            built = self._build_oco(holding, rules, last, holding.stop_price, holding.take_profit_price)
        except (FilterRejected, ValueError) as exc:
            self._unprotectable(holding, "an OCO", exc)
            return
        self._send_oco(holding, built, reason, entry_client_order_id)

    def _build_oco(self, holding: Holding, rules: SymbolRules, last: Decimal, stop: Decimal,
                   take_profit: Decimal) -> tuple[OcoRequest, Decimal]:
        """The protective OCO for what is held, conformed to the filters and checked against the last price
        (tp > last > stop), with where its stop triggers at placement; raises FilterRejected (or ValueError) when
        it cannot be placed. Sends nothing.

        Where the symbol allows it, the stop leg is an exchange trailing stop (no stop price, `belowTrailingDelta`)
        when its trigger at placement, the last price less the delta, is not below `stop`: a replacement never
        loosens the stop it replaces. Its limit price is fixed at placement (the starting trigger less the stop
        limit buffer), below every later trigger, so a triggered leg sells at the market down to that floor."""
        quantity = conform_quantity(rules, self.portfolio.sellable_quantity(holding.symbol), market=False)
        list_client_id = self._next_id("p", self.now_ms)
        delta = None if holding.ladder_only else native_trailing_delta(rules, holding.stop_loss_pct,
                                                                        self._trailing(holding)[0])
        if delta is not None:
            start = trailing_trigger(last, delta)
            if start >= stop:
                try:
                    oco = conform_oco(rules, OcoRequest(
                        list_client_id=list_client_id, symbol=holding.symbol, quantity=quantity,
                        take_profit_price=take_profit, stop_limit_price=self._stop_limit(start),
                        trailing_delta=delta), last_price=last)
                except (FilterRejected, ValueError):
                    pass  # e.g. the floor under PERCENT_PRICE: a fixed stop at `stop` may still be placeable
                else:
                    return oco, start
        oco = conform_oco(rules, OcoRequest(
            list_client_id=list_client_id, symbol=holding.symbol, quantity=quantity,
            take_profit_price=take_profit, stop_price=stop, stop_limit_price=self._stop_limit(stop)),
            last_price=last)
        assert oco.stop_price is not None  # sent with one
        return oco, oco.stop_price

    def _send_oco(self, holding: Holding, built: tuple[OcoRequest, Decimal], reason: str,
                  entry_client_order_id: str | None = None) -> None:
        oco, stop = built
        holding.trailing_delta = oco.trailing_delta
        holding.stop_floor = None if oco.trailing_delta is None else oco.stop_limit_price
        if oco.trailing_delta is not None:
            # The exchange tracks from the last price at placement, which is what `stop` was measured from.
            holding.high = float(stop * BIPS / (BIPS - oco.trailing_delta))
        holding.set_stop(stop)
        holding.take_profit_price = oco.take_profit_price
        holding.protection_id = oco.list_client_id
        holding.protection_kind = "oco"
        self.portfolio.set_protection(holding.symbol, stop, oco.take_profit_price, oco.list_client_id)
        self.commands.append(PlaceOco(oco, holding.position_id, reason, self.cycle_ms, entry_client_order_id, stop))

    def _follow_exchange_trail(self, holding: Holding, high: float) -> None:
        """A new high under an exchange trailing stop: mirror where the exchange's trigger now sits (for status
        and for a fallback stop); nothing is sent, the exchange trails by itself."""
        assert holding.trailing_delta is not None
        stop = trailing_trigger(Decimal(repr(high)), holding.trailing_delta)
        if stop > holding.stop_price:
            holding.set_stop(stop)
            if self.portfolio.position(holding.symbol) is not None:
                self.portfolio.set_protection(holding.symbol, stop, holding.take_profit_price, holding.protection_id)

    def _place_stop(self, holding: Holding) -> None:
        symbol = holding.symbol
        market = self._protection_market(holding)
        if market is None:
            return
        rules, last = market
        try:
            order = conform_order(rules, OrderRequest(
                client_order_id=self._next_id("s", self.now_ms), symbol=symbol, side=Side.SELL,
                type=OrderType.STOP_LOSS_LIMIT, quantity=self.portfolio.sellable_quantity(symbol),
                stop_price=holding.stop_price,
                price=self._stop_limit(holding.stop_price), time_in_force=TimeInForce.GTC),
                reference_price=last)
            if order.stop_price is None or order.stop_price >= last:
                raise FilterRejected(symbol, "STOP", "stop_price", order.stop_price, last, "stop not below last price")
        except (FilterRejected, ValueError) as exc:
            self._unprotectable(holding, "a stop", exc)
            return
        holding.set_stop(order.stop_price)
        holding.protection_id = order.client_order_id
        holding.protection_kind = "stop"
        self.portfolio.set_protection(symbol, order.stop_price, None, order.client_order_id)
        self.commands.append(PlaceOrder(order, holding.position_id, holding.strategy, "stop", "protect (OCO refused)",
                                        self.cycle_ms))

    def _trail(self, holding: Holding, time_ms: int) -> None:
        """Move the stop up the ladder (or by the holding's stop plan). The replacement OCO is built and checked
        before the working protection is cancelled: a replacement that cannot be placed leaves the old one working
        (never a window with none), and a new stop already at or above the last price means the market is below
        it: sell now."""
        if holding.stop_plan is not None:
            new_stop = self._planned_stop(holding)
        else:
            start, step = self._trailing(holding)
            new_stop = trailing_stop(holding.entry_price, holding.stop_price, Decimal(repr(holding.high)), start, step)
            rungs_done = int(((holding.high / float(holding.entry_price)) - 1.0) * 100.0 / step + 1e-9)
            holding.next_rung = float(holding.entry_price) * (1 + (rungs_done + 1) * step / 100.0)
        if new_stop <= holding.stop_price or holding.exiting or holding.protection_id is None:
            return
        market = self._protection_market(holding)
        if market is None:
            return
        rules, last = market
        if new_stop >= last:
            self._notice("stop_through_market", holding.symbol,
                         f"trailing stop {new_stop} is not below the last price {last}; exiting at market")
            self._exit(holding, f"trailing stop {new_stop} already through the market ({last})")
            return
        take_profit = holding.take_profit_price
        if take_profit <= new_stop:
            take_profit = new_stop * (1 + holding.take_profit_pct / HUNDRED)
        try:
            built = self._build_oco(holding, rules, last, new_stop, take_profit)
        except (FilterRejected, ValueError) as exc:
            self._notice("trail_skipped", holding.symbol,
                         f"trailing stop to {new_stop} cannot be placed ({exc}); the working protection stays")
            return
        self._cancel_protection(holding, "trailing stop moves up")
        self._send_oco(holding, built, f"trailing stop to {new_stop}")

    def _planned_stop(self, holding: Holding) -> Decimal:
        """The stop the holding's plan asks for at its high (never lower than the working one), and the next high at
        which the plan may move it again."""
        assert holding.stop_plan is not None
        plan, fill, high = _plan_of(holding.stop_plan), Decimal(holding.stop_plan["fill"]), Decimal(repr(holding.high))
        holding.next_rung = float(next_move_price(plan, fill, high))
        return planned_stop(plan, fill, self.config.risk.fee_rate, high, holding.stop_price)

    def _trailing(self, holding: Holding) -> tuple[float, float]:
        """The holding's trailing ladder (start, step): its strategy's own, else the risk configuration's."""
        risk = self.config.risk
        start, step = holding.trailing_start_pct, holding.trailing_step_pct
        return (risk.trailing_start_pct if start is None else start, risk.trailing_step_pct if step is None else step)

    def reprotect(self, symbol: str) -> None:
        """Place protection again for a position whose exit orders are not working (found at start-up)."""
        holding = self.holdings.get(symbol)
        if holding is not None and not holding.exiting:
            holding.protection_id = None
            self._place_oco(holding, "re-protect: no working exit order found")

    def _cancel_protection(self, holding: Holding, reason: str) -> None:
        if holding.protection_id is None:
            return
        if holding.protection_kind == "oco":
            self.commands.append(CancelOrderList(holding.symbol, holding.protection_id, reason, self.cycle_ms))
        else:
            self.commands.append(CancelOrder(holding.symbol, holding.protection_id, reason, self.cycle_ms))
        holding.protection_id = None
        holding.protection_kind = None

    def request_exit(self, symbol: str, now_ms: int, reason: str) -> bool:
        """Close a position at market. Always allowed, whatever the breakers say."""
        self._advance(now_ms)
        holding = self.holdings.get(symbol)
        if holding is None or holding.exiting:
            return False
        self._exit(holding, reason)
        return True

    def _stop_crossed(self, holding: Holding, price: float) -> None:
        """The market reached the stop this cycle and the position is still held: its stop-limit was gapped (the
        market went past its limit, so Binance leaves it resting unfilled) or no stop is working. Sell at market
        now rather than ride the fall; an exit already on its way is left alone."""
        if holding.exiting:
            return
        reason = holding.exit_reason
        if reason is None:
            if holding.protection_id is not None:
                limit = holding.stop_floor or self._stop_limit(holding.stop_price)
                self._notice("stop_gapped", holding.symbol,
                             f"stop {holding.stop_price} (limit {limit}) crossed at "
                             f"{price!r} and not filled; cancelling it and exiting at market")
                reason = "stop gapped"
            else:
                self._notice("stop_gapped", holding.symbol,
                             f"stop {holding.stop_price} crossed at {price!r} with no working stop; exiting at market")
                reason = "stop crossed, no working stop"
        self._exit(holding, reason)

    def _exit(self, holding: Holding, reason: str) -> None:
        """Close a position at market. A working protection is cancelled first and the sell is placed only when
        the exchange confirms the cancel (`on_report`): sized then, it counts any fill of the protection that
        came before, so it can never sell what a stop or take-profit has already sold."""
        symbol = holding.symbol
        position = self.portfolio.position(symbol)
        if position is None:
            self.holdings.pop(symbol, None)
            return
        holding.exit_reason = reason
        if holding.protection_id is not None:
            holding.exiting = True
            holding.cancelling = holding.protection_id
            self._cancel_protection(holding, f"exit: {reason}")
            return
        self._market_exit(holding, reason)

    def _market_exit(self, holding: Holding, reason: str) -> None:
        """The sell itself, for the quantity the books say is held now (no protection is working any more)."""
        symbol = holding.symbol
        holding.exit_reason = None
        holding.cancelling = None
        if self.portfolio.position(symbol) is None:
            self.holdings.pop(symbol, None)
            return
        try:
            quantity = conform_quantity(self.rules[symbol], self.portfolio.sellable_quantity(symbol), market=True)
        except FilterRejected as exc:
            # Below what the exchange lets us sell: the position ends and its units become the account's dust
            # (in the balances and equity at mark, in no later position); re-trying every bar would change nothing.
            self.holdings.pop(symbol, None)
            self._notice("dust", symbol, f"position too small to sell or protect ({exc.message}); left as dust")
            closed = self.portfolio.to_dust(symbol, self.now_ms)
            if closed is not None:
                self._closed(closed)
            return
        holding.exiting = True
        order = OrderRequest(client_order_id=self._next_id("x", self.now_ms), symbol=symbol, side=Side.SELL,
                             type=OrderType.MARKET, quantity=quantity)
        self.commands.append(PlaceOrder(order, holding.position_id, holding.strategy, "exit", reason, self.cycle_ms))

    # ----- advice ----------------------------------------------------------------------------------------
    def on_advice(self, advice: Advice, now_ms: int) -> bool:
        """Keep `advice` until its expiry by engine time; a PAUSE also pauses its symbol (or all) in the controls.

        Returns whether it was kept: advice already expired at the engine's time, or beyond `MAX_LIVE_ADVICE`, is
        refused with a notice. What it does to an entry is decided by the risk clamp, so it can only tighten."""
        self._advance(now_ms)
        live = self.live_advice()
        what = f"{advice.action.value} advice from {advice.source} on {advice.symbol or 'every symbol'}"
        if not advice.live_at(self.now_ms):
            self._notice("advice_expired", advice.symbol,
                         f"{what} expired at {utc_text(advice.expires_ms)}, before the engine took it; ignored")
            return False
        if len(live) >= MAX_LIVE_ADVICE:
            self._notice("advice_refused", advice.symbol,
                         f"{what} refused: {MAX_LIVE_ADVICE} pieces of advice are live already")
            return False
        self.advice.append(advice)
        for key, until in advice_pauses([advice], self.now_ms).items():
            self.pause(None if key == ALL_SYMBOLS else key, until)
        self._notice("advice_applied", advice.symbol,
                     f"{what} live until {utc_text(advice.expires_ms)}: {advice.reason or 'no reason given'}")
        return True

    def live_advice(self) -> tuple[Advice, ...]:
        """The advice still live at engine time; expired advice is dropped here, the same way in every replay."""
        if self.advice and any(not a.live_at(self.now_ms) for a in self.advice):
            self.advice = [a for a in self.advice if a.live_at(self.now_ms)]
        return tuple(self.advice)

    # ----- controls --------------------------------------------------------------------------------
    def pause(self, symbol: str | None, until_ms: int) -> None:
        if symbol is None:
            self.controls.all_paused_until = max(self.controls.all_paused_until, until_ms)
        else:
            self.controls.paused_symbols[symbol] = max(self.controls.paused_symbols.get(symbol, 0), until_ms)

    def resume(self, symbol: str | None) -> None:
        if symbol is None:
            self.controls.all_paused_until = 0
            self.controls.paused_symbols.clear()
        else:
            self.controls.paused_symbols.pop(symbol, None)

    def kill(self) -> None:
        self.controls.killed = True
        self._notice("kill", None, "kill switch engaged: no new entries until a manual reset")

    def reset_kill(self) -> None:
        """Only the command line's explicit reset flag calls this; no agent-facing tool does."""
        self.controls.killed = False
        self.breakers, events = reset_kill(self.breakers, self.portfolio.equity_float(), self.now_ms)
        self.records.extend(events)
        self._notice("kill_reset", None, "kill switch reset by hand: entries allowed again where nothing else blocks")

    # ----- persistence -----------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        """Everything the engine knows, JSON-able (Decimals as strings), for a checkpoint."""
        return {
            "version": STATE_VERSION,
            "symbols": self.symbols,
            "now_ms": self.now_ms,
            "seq": self.seq,
            "max_drawdown_pct": self.max_drawdown_pct,
            "high_water": self._high_water,
            "starting_capital": str(self.starting_capital),
            "equity_hour": self._equity_hour,
            "portfolio": self.portfolio.to_dict(),
            "breakers": self.breakers.to_dict(),
            "features": {s: f.to_dict() for s, f in self.features.items()},
            "pairs": {name: track.to_dict() for name, track in self.pairs.items()},
            "holdings": {s: _plain(asdict(h)) for s, h in self.holdings.items()},
            "pending": {s: _plain(asdict(p)) for s, p in self.pending.items()},
            "controls": asdict(self.controls),
            "advice": [a.model_dump(mode="json") for a in self.advice],
            "outages": self.outages,
            "pnls": {str(k): v for k, v in self.pnls.items()},
            "outcomes": {str(k): [o.to_list() for o in v] for k, v in self.outcomes.items()},
            "regimes": {s: r.to_dict() for s, r in self.regimes.items()},
            "entry_regimes": self.entry_regimes,
            "seen_fills": [list(k) for k in self._seen_fills],
            "live_signals": sorted([s, str(k)] for s, flags in self._episodes.items()
                                   for k, slot in self._slots.items() if flags[slot]),
            "silenced": sorted(str(k) for k in self._silenced),
            "strategy_state": {**self._unloaded_state,
                               **{str(a.name): a.strategy.state() for a in self._stateful()}},  # type: ignore[attr-defined]
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], config: ExecutorConfig, rules: dict[str, SymbolRules],
                   strategies: StrategySet | None = None) -> Engine:
        """The engine of a checkpoint. Records of a strategy no longer registered are kept (its closed trades
        still count in reports); its lasting signals are dropped."""
        if state.get("version") != STATE_VERSION:
            raise ExecutorError(f"checkpoint version {state.get('version')} is not {STATE_VERSION}",
                                version=state.get("version"))
        engine = cls(config, rules, Portfolio.from_dict(state["portfolio"]), state["symbols"], state["now_ms"],
                     strategies)
        engine.seq = state["seq"]
        engine.max_drawdown_pct = state["max_drawdown_pct"]
        engine._high_water = state["high_water"]
        # A checkpoint from before the capital rule: the equity it started with is what realized P&L did not add.
        engine.starting_capital = (Decimal(state["starting_capital"]) if "starting_capital" in state
                                   else engine.portfolio.equity() - engine.portfolio.realized_pnl)
        engine._equity_hour = state["equity_hour"]
        engine.breakers = BreakerState.from_dict(state["breakers"])
        engine.features = {s: SymbolFeatures.from_dict(d) for s, d in state["features"].items()}
        engine._views = {s: ReadOnlySymbol(f) for s, f in engine.features.items()}
        engine._restore_pairs(state)
        engine.holdings = {s: _restore(Holding, d) for s, d in state["holdings"].items()}
        for holding in engine.holdings.values():
            holding.set_stop(holding.stop_price)  # a checkpoint from before `stop_trigger` existed has none
        engine.pending = {s: _restore(PendingEntry, d) for s, d in state["pending"].items()}
        engine.controls = Controls(**state["controls"])
        engine.advice = [Advice.model_validate(a) for a in state.get("advice", [])]  # none before advice existed
        engine.outages = dict(state["outages"])
        engine.pnls.update({StrategyName(k): list(v) for k, v in state["pnls"].items()})
        if "outcomes" in state:
            engine.outcomes.update({StrategyName(k): [TradeOutcome.from_list(o) for o in v]
                                    for k, v in state["outcomes"].items()})
        elif any(engine.pnls.values()):  # written before returns were kept: a P&L in quote is no return
            engine._notice("strategy_record_restarted", None, "the checkpoint predates per-trade returns: each "
                           "strategy's Kelly estimate starts again from the prior")
        for symbol, tracker in state.get("regimes", {}).items():
            if symbol in engine.regimes:
                engine.regimes[symbol] = RegimeTracker.from_dict(tracker)
        for symbol, features in engine.features.items():
            if symbol in engine.regimes:
                features.regime_reading = engine.regimes[symbol].reading
        engine.entry_regimes = dict(state.get("entry_regimes", {}))
        engine._seen_fills = {(s, int(t)): None for s, t in state["seen_fills"]}
        for symbol, name in state["live_signals"]:
            slot = engine._slots.get(name)
            if slot is not None and symbol in engine._episodes:
                engine._episodes[symbol][slot] = True
        engine._silenced = {StrategyName(k) for k in state["silenced"]}
        engine._restore_strategy_state(state.get("strategy_state", {}))
        engine._breakers_ms = engine.now_ms
        engine.cycle_ms = engine.now_ms
        for name in engine.outcomes:
            engine._update_stats(name)
        return engine

    def _restore_strategy_state(self, saved: dict[str, Any]) -> None:
        """Each stateful strategy's own state from the checkpoint. One that cannot take it back is silenced with a
        notice; one the checkpoint has no state for (new since) starts from nothing and warms up on the bars."""
        stateful = self._stateful()
        loaded = {str(a.name) for a in stateful}
        self._unloaded_state = {name: state for name, state in saved.items() if name not in loaded}
        for active in stateful:
            if active.name not in saved:
                continue
            try:
                active.strategy.restore(saved[active.name], active.config)  # type: ignore[attr-defined]
            except Exception as exc:  # a plugin's fault must not stop the restore
                self._strategy_faulted(active.name, None, exc)

    def _restore_pairs(self, state: dict[str, Any]) -> None:
        """Each pair strategy's spread from the checkpoint. A checkpoint from before strategies were plugins has
        one spread (`pair`, `pair_bar_ms`): it is stat-arb's, restored when it tracks the same legs."""
        saved: dict[str, Any] = dict(state.get("pairs", {}))
        if "pairs" not in state and state.get("pair") is not None:
            saved["stat_arb"] = {"spread": state["pair"], "bar_ms": state.get("pair_bar_ms", {})}
        for name, track in self.pairs.items():
            if name in saved:
                restored = PairTrack.from_dict(saved[name])
                if restored.legs == track.legs:
                    self.pairs[name] = restored

    # ----- helpers ---------------------------------------------------------------------------------
    def _stop_limit(self, stop: Decimal) -> Decimal:
        return stop * (HUNDRED - self.config.risk.stop_limit_buffer_pct) / HUNDRED

    def _last_price(self, symbol: str) -> Decimal | None:
        price = self.features[symbol].last_price
        return None if price is None else Decimal(repr(price))

    def _next_id(self, kind: str, time_ms: int) -> str:
        self.seq += 1
        return f"cx-{kind}-{time_ms:x}-{self.seq:x}"

    def _notice(self, kind: str, symbol: str | None, message: str) -> None:
        self.records.append(Notice(self.now_ms, kind, symbol, message))


def _advised_exits(decision: Decision, take_profit_pct: Decimal, stop_loss_pct: Decimal) -> tuple[Decimal, Decimal]:
    """The take-profit and stop percents the position is protected with: a stop the advice clamp tightened or a
    take-profit it lowered (measured from the decision's reference price) replaces the asked percent, never
    loosening it; the protection is built from these percents once the entry has filled."""
    price = decision.reference_price
    if price is None or price <= 0 or not decision.clamps:
        return take_profit_pct, stop_loss_pct
    rules = {clamp.rule for clamp in decision.clamps}
    if RuleId.ADVICE_STOP_TIGHTENED in rules and decision.stop_price is not None:
        stop_loss_pct = min(stop_loss_pct, (price - decision.stop_price) / price * HUNDRED)
    if RuleId.ADVICE_TAKE_PROFIT_LOWERED in rules and decision.take_profit_price is not None:
        take_profit_pct = min(take_profit_pct, (decision.take_profit_price - price) / price * HUNDRED)
    return take_profit_pct, stop_loss_pct


def _plan_of(saved: dict[str, str]) -> StopPlan:
    """A holding's stop plan from its exact strings (the entry's "fill" is kept beside them)."""
    return StopPlan.model_validate({k: v for k, v in saved.items() if k != "fill"})


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in values.items()}


def _restore(kind: type, values: dict[str, Any]) -> Any:
    """Rebuild a Holding or PendingEntry: Decimal fields come back from their exact strings."""
    converted = {}
    for f in fields(kind):
        if f.name not in values:  # a field added since the checkpoint was written keeps its default
            continue
        value = values[f.name]
        converted[f.name] = Decimal(value) if f.type in ("Decimal", "Decimal | None") and value is not None \
            else value
    if converted.get("strategy") is not None:
        converted["strategy"] = StrategyName(converted["strategy"])
    return kind(**converted)
