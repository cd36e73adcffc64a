"""`record`: live public Binance data written as a native recording that `backtest`/`run --data` replay."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from core.errors import InvalidArgument
from exchange.feeds.recorder import record
from runtime.settings import StartSettings
from runtime.view import progress_reporter

MAX_MINUTES = 24 * 60


def record_command(args: argparse.Namespace, settings: StartSettings) -> dict[str, Any]:
    if not 0 < args.minutes <= MAX_MINUTES:
        raise InvalidArgument(f"--minutes must be above 0 and at most {MAX_MINUTES}", value=args.minutes)
    out = args.out.resolve()
    if out.exists():
        raise InvalidArgument(f"{out} already exists; choose another --out (a recording is never overwritten)",
                              path=str(out))
    rest, stream = settings.binance_rest, settings.binance_stream
    steps = 1000
    with progress_reporter(steps, f"recording {','.join(args.symbols)}", enabled=args.format == "text") as done:
        summary = asyncio.run(record(args.symbols, args.minutes, out, stream, rest,
                                     progress=(lambda f: done(int(f * steps))) if done else None))
    return {"path": str(summary.path), "symbols": list(summary.symbols), "started_ms": summary.started_ms,
            "ended_ms": summary.ended_ms, "records": summary.records, "by_kind": summary.by_kind,
            "events": summary.events}
