"""The oracle's output: a versioned pydantic document inside an ok/error envelope.

Every line the oracle prints (one-shot CLI or ``--serve`` worker) validates against
``OracleResult``; ``output_schema()`` publishes its JSON schema. Bump ``SCHEMA_VERSION`` on any
change a consumer could notice (renamed, removed or re-defined field).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

SCHEMA_VERSION = "1.0"

ErrorCode = Literal["INVALID_SYMBOL", "DATA_OUTAGE", "INVALID_REQUEST", "DEADLINE"]
AsOfSource = Literal["ticker_close_time", "last_trade", "file_mtime", "request", "unknown"]
DataSource = Literal["rest", "file", "inline"]

VOLATILITY_DEFINITION = (
    "P(t) = price of the last trade at or before t; t0 = first trade time; grid t_i = t0 + i*D, "
    "D = sample_interval_ms, i = 0..n, n = floor((t_last - t0)/D); r_i = ln(P(t_i)/P(t_{i-1})); "
    "window_bps = 1e4*sqrt(sum r_i^2); per_minute_bps = window_bps*sqrt(60000/(n*D)) "
    "(random-walk scaling). Null when n < 2."
)


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class TopOfBook(_Frozen):
    """Best bid/ask as reported by /api/v3/ticker/bookTicker (fetched beside the depth snapshot)."""

    bid: float
    bid_qty: float
    ask: float
    ask_qty: float


class Imbalance(_Frozen):
    """(bid - ask) / (bid + ask) over the top ``levels`` levels of each side, in [-1, 1]."""

    levels: int = Field(description="levels requested per side")
    bid_levels_used: int = Field(description="levels actually present (fewer when the book is shallow)")
    ask_levels_used: int
    by_quantity: float = Field(ge=-1.0, le=1.0)
    by_notional: float = Field(ge=-1.0, le=1.0)


class DepthBand(_Frozen):
    """Quote notional (sum price*qty) resting within ``bps`` of mid on each side."""

    bps: float
    bid_notional: float = Field(ge=0.0)
    ask_notional: float = Field(ge=0.0)
    bid_complete: bool = Field(description="false: the fetched book ends inside the band (a lower bound)")
    ask_complete: bool


class Vwap(_Frozen):
    """VWAPs and the mid's distance to them: (mid - vwap) / vwap * 1e4."""

    vwap_24h: float | None = Field(description="ticker/24hr weightedAvgPrice; null when absent or 0")
    vwap_trades: float | None = Field(description="sum(p*q)/sum(q) over the recent aggTrades")
    mid_vs_vwap_24h_bps: float | None
    mid_vs_vwap_trades_bps: float | None


class TradeFlow(_Frozen):
    """Aggressor flow over the recent aggTrades. ``m: true`` = buyer is maker = aggressor SOLD."""

    trades: int
    buy_qty: float
    sell_qty: float
    buy_notional: float
    sell_notional: float
    imbalance_qty: float = Field(ge=-1.0, le=1.0, description="(buy - sell) / (buy + sell) by quantity")
    imbalance_notional: float = Field(ge=-1.0, le=1.0)
    first_trade_ms: int
    last_trade_ms: int


class Volatility(_Frozen):
    """Short-horizon realized volatility of recent trade prices."""

    model_config = ConfigDict(json_schema_extra={"description": VOLATILITY_DEFINITION})

    sample_interval_ms: int
    returns: int
    window_ms: int
    window_bps: float = Field(ge=0.0)
    per_minute_bps: float = Field(ge=0.0)


class Liquidity(_Frozen):
    """Grade from spread and the thinner side's notional within 50 bps (thresholds in ``oracle.metrics``)."""

    grade: Literal["A", "B", "C", "D", "F"]
    basis: Literal["spread+depth", "spread_only"] = Field(
        description="spread_only when the quote asset is not a USD stablecoin (notional not comparable)"
    )
    spread_bps: float
    min_side_depth_50bps: float


class OracleDocument(_Frozen):
    schema_version: Literal["1.0"] = SCHEMA_VERSION
    symbol: str
    source: DataSource
    last_update_id: int | None
    as_of_ms: int | None = Field(description="exchange time of the data when known (see as_of_source)")
    as_of_source: AsOfSource
    received_ms: int = Field(description="local wall clock when the data arrived / was read")
    age_ms: int | None = Field(description="local now minus as_of_ms when the document was built")
    bid_levels: int
    ask_levels: int
    best_bid: float
    best_bid_qty: float
    best_ask: float
    best_ask_qty: float
    mid: float
    microprice: float = Field(description="(bid*ask_qty + ask*bid_qty)/(bid_qty + ask_qty), depth top")
    spread: float = Field(ge=0.0)
    spread_bps: float = Field(ge=0.0)
    top_of_book: TopOfBook | None
    imbalance: list[Imbalance]
    depth: list[DepthBand]
    vwap: Vwap
    trade_flow: TradeFlow | None
    volatility: Volatility | None
    liquidity: Liquidity


class ErrorBody(_Frozen):
    code: ErrorCode
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class OracleOk(_Frozen):
    ok: Literal[True] = True
    id: int | str | None = None
    data: OracleDocument


class OracleFailure(_Frozen):
    ok: Literal[False] = False
    id: int | str | None = None
    error: ErrorBody


OracleResult = OracleOk | OracleFailure
RESULT_ADAPTER: TypeAdapter[OracleResult] = TypeAdapter(OracleResult)


def output_schema() -> dict[str, Any]:
    """JSON schema of one oracle output line (success or error envelope)."""
    schema = RESULT_ADAPTER.json_schema()
    schema["title"] = f"OracleResult v{SCHEMA_VERSION}"
    return schema


def dump_line(result: OracleResult) -> str:
    """One JSON line; ``id`` is left out when the request had none (one-shot CLI)."""
    exclude = {"id"} if result.id is None else None
    return result.model_dump_json(exclude=exclude)
