"""``python -m oracle``: one-shot analysis, ``--serve`` worker, or ``--schema``.

Exit codes (one-shot): 0 ok, 2 invalid input (INVALID_REQUEST / INVALID_SYMBOL), 1 anything else.
Stdout carries exactly one JSON document; logs go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import NoReturn

from pydantic import ValidationError

from oracle.errors import OracleError
from oracle.fetch import DEFAULT_BASE_URL, Fetcher
from oracle.model import OracleResult, dump_line, output_schema
from oracle.service import DEFAULT_DEPTH, Request, analyse_file, handle, invalid_request
from oracle.worker import serve


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """Bad arguments are an INVALID_REQUEST document too, not just a usage line."""
        self.print_usage(sys.stderr)
        print(dump_line(OracleError("INVALID_REQUEST", message, {"argv": sys.argv[1:]}).to_result()))
        sys.exit(2)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m oracle", description="Binance order-book oracle: one JSON document out.")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--serve", action="store_true", help="JSON-lines worker on stdin/stdout")
    mode.add_argument("--schema", action="store_true", help="print the output JSON schema")
    p.add_argument("--symbol", help="e.g. BTCUSDT")
    p.add_argument("--depth", type=int, default=DEFAULT_DEPTH, help="book levels per side (1..5000)")
    p.add_argument("--input", type=Path, help="analyse a Binance REST depth JSON file instead of the network")
    p.add_argument("--base-url", default=os.environ.get("BINANCE_BASE_URL", DEFAULT_BASE_URL))
    p.add_argument("--deadline", type=float, default=10.0, help="seconds for the whole analysis")
    return p


def exit_code(result: OracleResult) -> int:
    if result.ok:
        return 0
    return 2 if result.error.code in ("INVALID_REQUEST", "INVALID_SYMBOL") else 1


async def _one_shot(request: Request, base_url: str) -> OracleResult:
    fetcher = Fetcher(base_url)
    try:
        return await handle(request, fetcher)
    finally:
        await fetcher.aclose()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=os.environ.get("ORACLE_LOG_LEVEL", "WARNING"),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.schema:
        print(json.dumps(output_schema(), indent=2))
        return 0
    if args.serve:
        asyncio.run(serve(args.base_url))
        return 0
    if not args.symbol:
        result: OracleResult = OracleError("INVALID_REQUEST", "--symbol is required").to_result()
    elif args.input is not None:
        result = analyse_file(args.input, args.symbol)
    else:
        try:
            request = Request(symbol=args.symbol, depth=args.depth, deadline_ms=int(args.deadline * 1000))
        except ValidationError as exc:
            result = invalid_request(exc, None)
        else:
            result = asyncio.run(_one_shot(request, args.base_url))
    print(dump_line(result))
    return exit_code(result)


if __name__ == "__main__":
    sys.exit(main())
