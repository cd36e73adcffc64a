"""`scan`: for each symbol, the live market (oracle), the strategies' signals and whether an entry is allowed.

Per symbol, three views that say where they come from:

* `oracle`: the market oracle's metrics from live Binance public data at BINANCE_BASE_URL, all symbols
  in parallel under one deadline. Without network (or in a replay with no reachable Binance) each
  symbol's oracle result is the oracle's typed error (DATA_OUTAGE, DEADLINE), never a made-up value.
* `strategies`: the signals the engine's own strategies would give now, computed from the features in
  the home's checkpoint (the engine's market data, with its time and age), or none when there is no
  checkpoint or the engine does not trade the symbol.
* `entry`: whether the risk engine restored from the checkpoint would allow an entry now, with every
  reason it would not (`Engine.entry_blockers`), plus the oracle's outage: no live data, no entry.

One bad symbol never fails the scan: an unknown symbol is a typed error for that symbol alone. Read-only:
no lock, no checkpoint or journal write.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.engine import Engine
from core.errors import ExecutorError
from core.types import Reason, ReasonKind, RuleId, Signal
from oracle.client import OracleClient
from oracle.model import OracleDocument, OracleFailure, OracleOk, OracleResult
from runtime.settings import MAX_SCAN_SYMBOLS, SYMBOL_PATTERN, scan_symbols
from tools.spec import ToolContext, ToolSpec
from tools.state import RegimeView, SavedEngine, money, read_saved_engine, regime_view

DEFAULT_SYMBOLS = ("BTCUSDT", "ETHUSDT")
ORACLE_DEADLINE_S = 5.0  # for all symbols together, once the workers are up
ORACLE_STARTUP_S = 20.0  # worker processes importing on a busy machine
# One worker answers its requests concurrently (one asyncio loop), so every symbol is in flight at once;
# a second worker for a long list keeps one wedged worker from taking every answer with it.
SYMBOLS_PER_WORKER = 10
# Older live data than this is stale (invariant 7: stale data is an outage): the oracle reports the age
# of its data; on a healthy symbol it is a few seconds.
ORACLE_STALE_MS = 300_000
# Oracle errors that mean "this symbol does not exist", as opposed to "no data right now".
_SYMBOL_ERRORS = frozenset({"INVALID_SYMBOL", "INVALID_REQUEST"})

SymbolName = Annotated[str, Field(pattern=SYMBOL_PATTERN)]
Universe = Literal["argument", "checkpoint", "env", "default"]


class ScanInput(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    symbols: list[SymbolName] | None = Field(
        default=None, min_length=1, max_length=MAX_SCAN_SYMBOLS,
        description="Binance Spot symbols to scan, upper case (e.g. [\"BTCUSDT\", \"ETHUSDT\"]), at most 20. "
                    "Default: the running engine's symbols, else $SCAN_SYMBOLS, else BTCUSDT and ETHUSDT.")


class ToolErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class OracleView(BaseModel):
    """The oracle's document for the symbol, or its typed error (no data is never shown as data)."""

    ok: bool
    metrics: OracleDocument | None = None
    error: ToolErrorBody | None = None


class MarketView(BaseModel):
    """The engine's own view of the symbol's market when it last saved its state."""

    last_price: str
    imbalance: float | None
    imbalance_source: str | None
    spread_bps: float | None
    momentum_pct: float | None
    regime: RegimeView


class SignalView(BaseModel):
    strategy: str
    confidence: float
    reference_price: str
    take_profit_pct: str
    stop_loss_pct: str
    reason: str


class StrategiesView(BaseModel):
    source: Literal["checkpoint", "none"] = Field(
        description="checkpoint: computed from the engine's saved features; none: no engine data for the symbol")
    as_of_ms: int | None = Field(description="time of the engine's last market data for the symbol")
    age_ms: int | None = Field(description="how old that data is now (wall clock); large for a replay's past")
    engine_time_ms: int | None = Field(description="the engine's clock when it saved its state")
    market: MarketView | None
    signals: list[SignalView]
    note: str | None = None


class EntryView(BaseModel):
    allowed: bool = Field(description="whether the risk engine would allow a new entry now")
    blockers: list[Reason] = Field(description="every rule that would refuse it, most severe first")


class SymbolScan(BaseModel):
    symbol: str
    ok: Literal[True] = True
    oracle: OracleView
    strategies: StrategiesView
    entry: EntryView


class SymbolScanError(BaseModel):
    symbol: str
    ok: Literal[False] = False
    error: ToolErrorBody


class ScanOutput(BaseModel):
    universe: Universe = Field(
        description="where the list of symbols came from")
    mode: str = Field(description="the home's engine mode (replay, paper, …) or 'not started'")
    engine_note: str | None = None
    results: list[SymbolScan | SymbolScanError]


def handle(args: ScanInput, ctx: ToolContext) -> ScanOutput:
    saved, engine_note = _saved_engine(ctx)
    symbols, universe = _universe(args, saved, ctx)
    oracle = _oracle_results(symbols, ctx)
    now_ms = ctx.now_ms()
    results: list[SymbolScan | SymbolScanError] = []
    for symbol in symbols:
        try:
            results.append(_scan_symbol(symbol, oracle[symbol], saved, engine_note, now_ms))
        except ExecutorError as exc:
            results.append(SymbolScanError(symbol=symbol, error=ToolErrorBody(**exc.to_dict())))
    output = ScanOutput(universe=universe, mode=saved.mode if saved else "not started", engine_note=engine_note,
                        results=results)
    return output


def _saved_engine(ctx: ToolContext) -> tuple[SavedEngine | None, str | None]:
    """The checkpointed engine, or None with the reason (no state yet, or state that cannot be read)."""
    try:
        saved = read_saved_engine(ctx.home, ctx.config, ctx.strategies())
    except ExecutorError as exc:
        return None, f"engine state unreadable ({exc.code}): {exc.message}"
    if saved is None:
        return None, "no engine state in this home yet: python executor.py run starts one"
    return saved, saved.warning


def _universe(args: ScanInput, saved: SavedEngine | None, ctx: ToolContext) -> tuple[list[str], Universe]:
    if args.symbols:
        return list(dict.fromkeys(args.symbols)), "argument"
    if saved is not None and saved.engine.symbols:
        return list(saved.engine.symbols)[:MAX_SCAN_SYMBOLS], "checkpoint"
    names = scan_symbols(ctx.env)
    if names is not None:
        return names, "env"
    return list(DEFAULT_SYMBOLS), "default"


def _oracle_results(symbols: list[str], ctx: ToolContext) -> dict[str, OracleResult]:
    """Every symbol's oracle result, all requests in flight together under one deadline."""
    workers = -(-len(symbols) // SYMBOLS_PER_WORKER)
    with OracleClient(workers=workers, deadline_s=ORACLE_DEADLINE_S, base_url=ctx.env.get("BINANCE_BASE_URL"),
                      env=ctx.env) as client:
        client.wait_ready(ORACLE_STARTUP_S)
        return client.analyse_many(symbols, deadline_s=ORACLE_DEADLINE_S)


def _scan_symbol(symbol: str, result: OracleResult, saved: SavedEngine | None, engine_note: str | None,
                 now_ms: int) -> SymbolScan:
    if isinstance(result, OracleFailure) and result.error.code in _SYMBOL_ERRORS:
        raise _SymbolRefused(symbol, result)
    oracle = (OracleView(ok=True, metrics=result.data) if isinstance(result, OracleOk)
              else OracleView(ok=False, error=ToolErrorBody(**result.error.model_dump())))
    engine = saved.engine if saved is not None else None
    blockers = _blockers(symbol, engine, engine_note)
    if isinstance(result, OracleFailure):
        blockers.append(_refusal(RuleId.DATA_OUTAGE, f"DATA_OUTAGE: {symbol}: no live market data "
                                 f"({result.error.code}: {result.error.message})"))
    elif result.data.age_ms is None or result.data.age_ms > ORACLE_STALE_MS:
        age = "unknown" if result.data.age_ms is None else f"{result.data.age_ms // 1000} s"
        blockers.append(_refusal(RuleId.DATA_OUTAGE, f"DATA_OUTAGE: {symbol}: live market data is stale "
                                 f"(age {age}, limit {ORACLE_STALE_MS // 1000} s)"))
    return SymbolScan(symbol=symbol, oracle=oracle, strategies=_strategies(symbol, engine, now_ms),
                      entry=EntryView(allowed=not blockers, blockers=blockers))


class _SymbolRefused(ExecutorError):
    """The oracle says the symbol does not exist (or is not a valid request); its code is kept."""

    def __init__(self, symbol: str, result: OracleFailure) -> None:
        super().__init__(result.error.message, **{**result.error.details, "symbol": symbol})
        self.code = result.error.code


def _blockers(symbol: str, engine: Engine | None, engine_note: str | None) -> list[Reason]:
    if engine is None:
        return [_refusal(RuleId.ENGINE_UNAVAILABLE, f"risk engine not available: {engine_note}")]
    blockers = engine.entry_blockers(symbol)
    if symbol not in engine.symbols:
        blockers.append(_refusal(RuleId.SYMBOL_NOT_TRADED, f"{symbol} is not traded by this engine "
                                 f"(its symbols: {', '.join(engine.symbols)})"))
    return blockers


def _refusal(rule: RuleId, message: str) -> Reason:
    return Reason(rule=rule, message=message, kind=ReasonKind.REFUSAL)


def _strategies(symbol: str, engine: Engine | None, now_ms: int) -> StrategiesView:
    features = engine.features.get(symbol) if engine is not None else None
    if engine is None or features is None:
        note = "no engine state in this home" if engine is None else "the engine does not follow this symbol"
        return StrategiesView(source="none", as_of_ms=None, age_ms=None,
                              engine_time_ms=engine.now_ms if engine else None, market=None, signals=[], note=note)
    if features.last_price is None:
        return StrategiesView(source="checkpoint", as_of_ms=None, age_ms=None, engine_time_ms=engine.now_ms,
                              market=None, signals=[], note="DATA_OUTAGE: the engine has no market data for it yet")
    snapshot = features.snapshot(engine.now_ms)
    market = MarketView(last_price=money(snapshot.last_price), imbalance=snapshot.imbalance,
                        imbalance_source=snapshot.imbalance_source, spread_bps=snapshot.spread_bps,
                        momentum_pct=features.momentum_pct, regime=regime_view(engine, symbol))
    signals = [_signal_view(s) for s in engine.signals_now(symbol)]
    return StrategiesView(source="checkpoint", as_of_ms=features.time_ms, age_ms=max(0, now_ms - features.time_ms),
                          engine_time_ms=engine.now_ms, market=market, signals=signals,
                          note=f"DATA_OUTAGE in the engine: {engine.outages[symbol]}" if symbol in engine.outages
                          else None)


def _signal_view(signal: Signal) -> SignalView:
    return SignalView(strategy=str(signal.strategy), confidence=signal.confidence,
                      reference_price=money(signal.reference_price), take_profit_pct=str(signal.take_profit_pct),
                      stop_loss_pct=str(signal.stop_loss_pct), reason=signal.reason)


SPEC = ToolSpec(
    name="scan",
    description="Scan symbols: live order-book metrics from the market oracle, the strategies' current signals, "
                "and whether the risk engine would allow an entry now (with every reason it would not).",
    input_model=ScanInput,
    output_model=ScanOutput,
    handler=handle,
    read_only=True,
    needs_strategy_settings=False,  # with a broken strategy configuration it shows the market and says why not more
    title="Scan the market",
    open_world=True,  # live order books from Binance
)
