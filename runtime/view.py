"""What a person sees in a terminal: a progress bar for long replays, summaries as tables, a live view for `run`.

Everything here writes to stderr except `render_text`, which is the command's answer and goes to stdout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

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
        stdout.print(f"[bold red]{command} failed[/]: {error['code']}: {error['message']}")
        for key, value in error.get("details", {}).items():
            stdout.print(f"  {key}: {value}")
        return
    data = document["data"]
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
    """The `run` terminal view: positions, P&L, breakers, last decisions, data health. Redrawn a few times a second."""

    def __init__(self) -> None:
        from collections import deque

        from rich.live import Live

        self._live = Live(console=stderr, refresh_per_second=4, transient=False)
        self._recent: deque[str] = deque(maxlen=8)

    def __enter__(self) -> LiveView:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.__exit__(None, None, None)

    def record(self, record: object) -> None:
        from core.types import Decision, DecisionAction

        if isinstance(record, Decision) and record.action is DecisionAction.ENTER:
            self._recent.append(f"ENTER {record.symbol} {record.strategy} {record.quote_amount:.2f} — "
                                f"{'; '.join(record.reasons)[:80]}")
        elif hasattr(record, "message") and hasattr(record, "kind"):
            self._recent.append(f"{record.kind}: {record.message}"[:110])  # type: ignore[attr-defined]

    def update(self, engine: Any, done: int, total: int | None) -> None:
        from rich.console import Group

        portfolio = engine.portfolio
        head = _table("executor", [
            ("time (UTC)", _utc(engine.now_ms)),
            ("progress", f"{done}/{total}" if total else str(done)),
            ("equity", f"{portfolio.equity_float():.2f}"),
            ("realized P&L", str(portfolio.realized_pnl.quantize(Decimal('0.01')))),
            ("max drawdown %", f"{engine.max_drawdown_pct:.2f}"),
            ("breakers", engine.breakers.level(engine.now_ms).value),
            ("kill switch", "ON" if engine.controls.killed else "off"),
            ("data outages", ", ".join(f"{s}: {r}" for s, r in engine.outages.items()) or "none"),
        ])
        positions = Table(title="positions", title_justify="left")
        for col in ("symbol", "qty", "entry", "stop", "take-profit", "protected"):
            positions.add_column(col)
        for symbol, holding in sorted(engine.holdings.items()):
            position = portfolio.position(symbol)
            if position is None:
                continue
            positions.add_row(symbol, str(position.quantity), f"{holding.entry_price:.6g}", f"{holding.stop_price:.6g}",
                              f"{holding.take_profit_price:.6g}", "yes" if holding.protection_id else "NO")
        recent = Table(title="last decisions and notices", title_justify="left", show_header=False)
        recent.add_column()
        for line in self._recent:
            recent.add_row(line)
        self._live.update(Group(head, positions, recent))


def _utc(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
