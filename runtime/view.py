"""What a person sees in a terminal: a progress bar for long replays, summaries as tables, a live view for `run`.

Everything here writes to stderr except `render_text`, which is the command's answer and goes to stdout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from rich.console import Console, Group
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from core.display import money, percent, price, quantity, signed_money, utc_text
from runtime.sources import MarketSource

stderr = Console(stderr=True)
stdout = Console()


@contextmanager
def progress_reporter(total: int | None, description: str, *, enabled: bool) -> Iterator[Callable[[int], None] | None]:
    """Yields a callback taking the number of events done so far (or None when disabled)."""
    if not enabled:
        yield None
        return
    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn()]
    with Progress(*columns, console=stderr, transient=True) as progress:
        task = progress.add_task(description, total=total)
        yield lambda done: progress.update(task, completed=done)


def _table(title: str, rows: list[tuple[str, Any]]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows:
        table.add_row(key, "" if value is None else str(value))
    return table


def render_text(command: str, document: dict[str, Any]) -> None:
    if not document.get("ok"):
        error = document["error"]
        stdout.print(f"[bold red]{command} failed[/]: {error['code']}: {error['message']}", soft_wrap=True)
        for key, value in error.get("details", {}).items():
            stdout.print(f"  {key}: {value}", soft_wrap=True)
        return
    data = document["data"]
    if command == "memory":
        from runtime.memory_text import memory_text

        stdout.print(memory_text(data["action"], data), soft_wrap=True, markup=False, highlight=False)
        return
    if command == "strategies":
        from runtime.strategy_catalog import render

        stdout.print(render(data), soft_wrap=True, markup=False, highlight=False)
        return
    if command in ("backtest", "run"):
        stdout.print(_summary_table(command, data))
        per_strategy = data.get("per_strategy") or {}
        if per_strategy:
            table = Table(title="per strategy", title_justify="left")
            for col in ("strategy", "trades", "wins", "win rate", "P&L"):
                table.add_column(col)
            for name, row in per_strategy.items():
                table.add_row(name, str(row["trades"]), str(row["wins"]), str(row["win_rate"]), row["pnl"])
            stdout.print(table)
        stdout.print(f"journal: {data.get('journal')}\nreport:  {data.get('report')}", soft_wrap=True)
        return
    stdout.print(_table(command, sorted(data.items())))


def _summary_table(command: str, data: dict[str, Any]) -> Table:
    keys = ("source", "rules", "bars", "events", "orders", "trades", "equity_start", "equity_end", "return_pct",
            "cash", "realized_pnl", "fees", "max_drawdown_pct", "breaker_level", "notices", "elapsed_s", "resumed_from",
            "stopped_because")
    rows = [(k, data[k]) for k in keys if k in data]
    dust = data.get("dust")
    if dust is not None:  # the account's, in no strategy's P&L: cash moves by realized P&L − dust cost (+ BNB fees)
        rows.append(("dust", f"{len(dust['holdings'])} symbol(s), value {dust['value']}, cost {dust['cost']}, "
                             f"sold {dust['realized_pnl']}"))
    rows.append(("open positions", len(data.get("open_positions", {}))))
    return _table(f"{command} summary", rows)


class LiveView:
    """The `run` terminal view: mode and source, progress, equity and P&L, positions at their mark, breakers, the
    last decisions and notices with their whole reasons. Redrawn a few times a second, on stderr."""

    def __init__(self, mode: str, source: MarketSource, console: Console | None = None) -> None:
        from collections import deque

        from rich.live import Live

        self.mode = mode
        self.source = source
        self._live = Live(console=console or stderr, refresh_per_second=4, transient=False)
        self._recent: deque[str] = deque(maxlen=8)

    def __enter__(self) -> LiveView:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.__exit__(None, None, None)

    def record(self, record: object) -> None:
        from core.types import Decision, DecisionAction

        if isinstance(record, Decision) and record.action is DecisionAction.ENTER:
            self._recent.append(f"{utc_text(record.time_ms)} ENTER {record.symbol} {record.strategy} "
                                f"{money(record.quote_amount)} — {'; '.join(r.message for r in record.reasons)}")
        elif hasattr(record, "message") and hasattr(record, "kind"):
            self._recent.append(f"{record.kind}: {record.message}")  # type: ignore[attr-defined]

    def update(self, engine: Any, done: int) -> None:
        self._live.update(self.renderable(engine, done))

    def renderable(self, engine: Any, done: int) -> Group:
        portfolio = engine.portfolio
        quote = portfolio.quote_asset
        head = _table("executor", [
            ("mode", self.mode),
            ("source", self.source.description),
            ("progress", self.progress(engine.now_ms, done)),
            ("market time", utc_text(engine.now_ms)),
            ("equity", f"{money(portfolio.equity())} {quote}"),
            ("realized P&L", f"{signed_money(portfolio.realized_pnl)} {quote}"),
            ("max drawdown", percent(engine.max_drawdown_pct)),
            ("breakers", engine.breakers.level(engine.now_ms).value),
            ("kill switch", "ON" if engine.controls.killed else "off"),
            ("data outages", ", ".join(f"{s}: {r}" for s, r in engine.outages.items()) or "none"),
        ])
        positions = Table(title="positions", title_justify="left")
        for col in ("symbol", "qty", "entry", "mark", "unrealized P&L", "stop", "take-profit", "protected"):
            positions.add_column(col, overflow="fold")
        marks = portfolio.last_marks()
        for symbol, position in sorted(portfolio.positions().items()):
            holding = engine.holdings.get(symbol)
            mark = marks.get(symbol)
            unrealized = None if mark is None else position.quantity * (Decimal(repr(mark)) - position.avg_entry)
            positions.add_row(
                symbol, quantity(position.quantity), price(position.avg_entry), "n/a" if mark is None else price(mark),
                "n/a" if unrealized is None else signed_money(unrealized),
                _price_or_none(holding.stop_price if holding else position.stop_price),
                _price_or_none(holding.take_profit_price if holding else position.take_profit_price),
                "yes" if (holding.protection_id if holding else position.protection_list_id) else "NO")
        recent = Table(title="last decisions and notices", title_justify="left", show_header=False)
        recent.add_column(overflow="fold")
        for line in self._recent:
            recent.add_row(line)
        return Group(head, positions, recent)

    def progress(self, now_ms: int, done: int) -> str:
        """Events done out of the total when it is known, else how far the market time is through the data."""
        source = self.source
        if source.total_events:
            return f"{done:,} / {source.total_events:,} events ({done / source.total_events:.0%})"
        if source.end_ms is not None and source.end_ms > source.start_ms:
            share = min(1.0, max(0.0, (now_ms - source.start_ms) / (source.end_ms - source.start_ms)))
            return f"{done:,} events · market time {share:.0%} of the data (ends {utc_text(source.end_ms)})"
        return f"{done:,} events (live data: no end)"


def _price_or_none(value: Decimal | None) -> str:
    """A Holding keeps 0 for a price it does not have yet."""
    return "none" if value is None or value == 0 else price(value)
