"""One request in, one result out, never an exception: shared by the CLI and the serve loop."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from oracle.analysis import analyse
from oracle.errors import OracleError
from oracle.fetch import Fetcher, Tickers
from oracle.model import DataSource, OracleOk, OracleResult
from oracle.snapshot import ParseError, Snapshot, from_document

log = logging.getLogger("oracle")

# Binance's own symbol pattern (exchangeInfo docs): ^[A-Z0-9-_.]{1,20}$
SYMBOL_PATTERN = re.compile(r"^[A-Z0-9\-_.]{1,20}$")
DEFAULT_DEPTH = 100
DEFAULT_DEADLINE_MS = 10_000


class Request(BaseModel):
    """One ``--serve`` request line. ``snapshot`` (REST depth shape, optionally with "trades" and
    "ticker") analyses given data instead of calling Binance."""

    model_config = ConfigDict(extra="forbid")

    id: int | str | None = None
    kind: Literal["analyse"] = "analyse"
    symbol: str
    depth: int = Field(DEFAULT_DEPTH, ge=1, le=5000, description="levels per side (Binance max 5000)")
    deadline_ms: int = Field(DEFAULT_DEADLINE_MS, ge=1, le=120_000)
    snapshot: dict[str, Any] | None = None
    as_of_ms: int | None = Field(None, description="exchange time of an inline snapshot, when known")


MAX_BATCH_REQUESTS = 100


class BatchItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int | str | None = None
    symbol: str


class BatchRequest(BaseModel):
    """Several live analyses in one line, under one deadline and depth: each item gets its own answer
    line (echoing the item's ``id``) as soon as it is ready. Their 24hr and bookTicker data come from
    shared ``symbols=`` calls (see ``oracle.fetch.Tickers``); depth and aggTrades stay per symbol."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["batch"]
    requests: list[BatchItem] = Field(min_length=1, max_length=MAX_BATCH_REQUESTS)
    depth: int = Field(DEFAULT_DEPTH, ge=1, le=5000, description="levels per side (Binance max 5000)")
    deadline_ms: int = Field(DEFAULT_DEADLINE_MS, ge=1, le=120_000)


def now_ms() -> int:
    return int(time.time() * 1000)


def normalise_symbol(symbol: str) -> str:
    clean = symbol.strip().upper()
    if not SYMBOL_PATTERN.fullmatch(clean):
        raise OracleError(
            "INVALID_SYMBOL", f"{symbol!r} is not a Binance symbol (pattern ^[A-Z0-9-_.]{{1,20}}$)",
            {"symbol": symbol, "reason": "pattern"},
        )
    return clean


def invalid_request(exc: ValidationError, request_id: int | str | None) -> OracleResult:
    errors = [
        {"loc": ".".join(str(p) for p in e["loc"]), "msg": e["msg"]}
        for e in exc.errors(include_url=False, include_context=False, include_input=False)
    ]
    return OracleError("INVALID_REQUEST", "request does not match the oracle request schema",
                       {"errors": errors}).to_result(request_id)


def _document(snapshot: Snapshot, source: DataSource, request_id: int | str | None) -> OracleOk:
    return OracleOk(id=request_id, data=analyse(snapshot, source, now_ms()))


async def handle(request: Request, fetcher: Fetcher, tickers: Tickers | None = None,
                 deadline: float | None = None) -> OracleResult:
    """Analyse one request within its deadline; every failure becomes a typed error document.

    ``tickers`` and ``deadline`` (``time.monotonic()``) come from a batch sharing its ticker calls."""
    if deadline is None:
        deadline = time.monotonic() + request.deadline_ms / 1000
    try:
        symbol = normalise_symbol(request.symbol)
        if request.snapshot is not None:
            try:
                snapshot = from_document(request.snapshot, symbol, now_ms(), request.as_of_ms, "request")
            except ParseError as exc:
                raise OracleError("INVALID_REQUEST", f"snapshot: {exc}", {"reason": "snapshot"}) from None
            return _document(snapshot, "inline", request.id)
        loop = asyncio.get_running_loop()
        async with asyncio.timeout_at(loop.time() + (deadline - time.monotonic())):
            snapshot = await fetcher.snapshot(symbol, request.depth, deadline, tickers)
        return _document(snapshot, "rest", request.id)
    except OracleError as exc:
        return exc.to_result(request.id)
    except TimeoutError:
        return OracleError("DEADLINE", f"no answer within {request.deadline_ms} ms",
                           {"deadline_ms": request.deadline_ms}).to_result(request.id)
    except Exception as exc:  # a bug must still produce a document, not kill the worker
        log.exception("internal error while handling %s", request.symbol)
        return OracleError("DATA_OUTAGE", f"oracle internal error: {type(exc).__name__}",
                           {"reason": "internal_error"}).to_result(request.id)


def _valid_symbol(item: BatchItem) -> str | None:
    try:
        return normalise_symbol(item.symbol)
    except OracleError:
        return None


async def handle_batch(batch: BatchRequest, fetcher: Fetcher,
                       emit: Callable[[OracleResult], None]) -> None:
    """Every item of a batch, concurrently; ``emit`` gets each answer as soon as it is ready.

    A symbol that cannot exist is answered at once and never sent; the others share one 24hr and
    one bookTicker call (a batch of one valid symbol makes the ordinary single-symbol calls)."""
    deadline = time.monotonic() + batch.deadline_ms / 1000
    unique = list(dict.fromkeys(s for s in map(_valid_symbol, batch.requests) if s is not None))
    tickers = fetcher.tickers(unique, deadline) if len(unique) > 1 else None

    async def one(item: BatchItem) -> None:
        request = Request(id=item.id, symbol=item.symbol, depth=batch.depth, deadline_ms=batch.deadline_ms)
        emit(await handle(request, fetcher, tickers, deadline))

    await asyncio.gather(*(one(item) for item in batch.requests))


def analyse_file(path: Path, symbol: str) -> OracleResult:
    """``--input FILE``: the file's mtime stands in for the data time when it has no trades/ticker."""
    try:
        clean = normalise_symbol(symbol)
        raw = path.read_bytes()
        mtime_ms = int(os.stat(path).st_mtime * 1000)
        try:
            payload = json.loads(raw)
            snapshot = from_document(payload, clean, now_ms(), mtime_ms, "file_mtime")
        except ValueError as exc:  # bad JSON or a ParseError (a ValueError)
            raise OracleError("INVALID_REQUEST", f"{path}: not a Binance depth document: {exc}",
                              {"path": str(path)}) from None
        return _document(snapshot, "file", None)
    except OSError as exc:
        return OracleError("INVALID_REQUEST", f"cannot read {path}: {exc.strerror}",
                           {"path": str(path)}).to_result()
    except OracleError as exc:
        return exc.to_result()
