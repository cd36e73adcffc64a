"""A report as chat text (Telegram, Discord) and as a PNG chart of equity and drawdown.

The text stays under `TEXT_LIMIT` characters: lines are ordered by importance and the least important
ones (notes, lists) are dropped first, so a busy day never cuts the equity line off.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memory.files import write_bytes_atomic
from reports.model import Report, TradeSummary

TEXT_LIMIT = 1500
_BREAKERS_SHOWN = 3
_ELLIPSIS = "…"


def render_text(report: Report) -> str:
    """Short, chat-friendly text with the key numbers; always under TEXT_LIMIT characters."""
    essential = _essential_lines(report)
    optional = _optional_lines(report)
    lines = essential + optional
    while len("\n".join(lines)) > TEXT_LIMIT and len(lines) > len(essential):
        lines.pop()
    text = "\n".join(lines)
    if len(text) > TEXT_LIMIT:
        text = text[: TEXT_LIMIT - 1].rstrip() + _ELLIPSIS
    return text


def _essential_lines(report: Report) -> list[str]:
    q = report.quote_asset
    title = "Daily" if report.period == "day" else "Weekly"
    span = report.date if report.period == "day" else f"week of {report.date}"
    lines = [f"📊 {title} report {span} (UTC){' — partial' if report.partial else ''}"]
    if report.equity_start is not None and report.equity_end is not None and report.pnl is not None:
        pct = "" if report.pnl_pct is None else f", {report.pnl_pct:+.2f}%"
        lines.append(f"Equity {_money(report.equity_start)} → {_money(report.equity_end)} {q} "
                     f"({_signed(report.pnl)}{pct})")
    else:
        lines.append("Equity: no snapshots in this period")
    if report.fills:
        lines.append(f"Realized {_signed(report.realized_pnl)} {q} · fees {_money(report.fees)} {q} "
                     f"({report.fills} fills)")
    else:
        lines.append("Fills: none")
    if report.dust or report.dust_pnl:
        lines.append(_dust_line(report))
    t = report.trades
    if t.count:
        lines.append(f"Trades {t.count}: {t.wins}W/{t.losses}L ({_pct(t.win_rate)}) · PF {_profit_factor(t)} · "
                     f"exp {_signed_float(t.expectancy)}")
        if t.count == 1 and t.best is not None:
            lines.append(f"Trade {_signed(t.best.pnl)} {t.best.symbol}")
        elif t.best is not None and t.worst is not None:
            lines.append(f"Best {_signed(t.best.pnl)} {t.best.symbol} · worst {_signed(t.worst.pnl)} {t.worst.symbol}")
    else:
        lines.append("Trades: none closed")
    risk = [f"Max DD {report.max_drawdown_pct:.2f}%"] if report.max_drawdown_pct is not None else []
    risk.append(f"Sharpe {_ratio(report.sharpe)} · Sortino {_ratio(report.sortino)} ({report.ratio_window_days}d)")
    lines.append(" · ".join(risk))
    for event in report.breaker_events[:_BREAKERS_SHOWN]:
        lines.append(f"⚠️ Breaker {event.breaker} {event.transition} ({event.level}) at {_hhmm(event.time_ms)}: "
                     f"{event.value_pct:.2f}% vs limit {event.limit_pct:.2f}%")
    hidden = len(report.breaker_events) - _BREAKERS_SHOWN
    if hidden > 0:
        lines.append(f"⚠️ …and {hidden} more breaker event(s)")
    return lines


def _dust_line(report: Report) -> str:
    """The account's dust: units no order can sell on their own, in no strategy's P&L."""
    q = report.quote_asset
    cost = sum((line.cost for line in report.dust), Decimal(0))
    parts = [f"Dust {len(report.dust)} symbol(s), cost {_money(cost)} {q}"]
    if report.dust_value is not None:
        parts.append(f"value {_money(report.dust_value)} {q}")
    if report.dust_pnl:
        parts.append(f"sold {_signed(report.dust_pnl)} {q}")
    return " · ".join(parts)


def _optional_lines(report: Report) -> list[str]:
    lines: list[str] = []
    d = report.decisions
    decided = f"Decisions: {d.entered} entered, {d.skipped} skipped, {d.exited} exits"
    if d.top_skip_reasons:
        decided += " — top skips: " + ", ".join(f"{r.label} ×{r.count}" for r in d.top_skip_reasons[:3])
    lines.append(_clip(decided))
    if report.per_strategy:
        lines.append(_clip("By strategy: " + ", ".join(
            f"{name} {s.trades} ({_signed(s.pnl)})" for name, s in report.per_strategy.items())))
    if report.clamps:
        lines.append(_clip("Clamps: " + ", ".join(f"{rule} ×{n}" for rule, n in report.clamps.items())))
    if report.open_positions is not None:
        if report.open_positions:
            lines.append(_clip("Open: " + ", ".join(
                f"{p.symbol} {_plain(p.quantity)} @ {_money(p.avg_entry)}" for p in report.open_positions)))
        else:
            lines.append("Open: no positions")
    health = []
    if report.errors:
        health.append("errors " + ", ".join(f"{code} ×{n}" for code, n in report.errors.items()))
    if report.llm.calls:
        health.append(f"LLM {report.llm.calls} calls, {report.llm.failures} failed")
    if health:
        lines.append(_clip(" · ".join(health)))
    lines.extend(_clip(f"ℹ️ {note}") for note in report.notes)
    return lines


if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _pyplot() -> Any:
    """matplotlib with the Agg backend (reports are drawn by a headless process), imported on first use:
    it costs about half a second, which every `report` call without a chart should not pay."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot


def render_chart(report: Report, equity: list[tuple[int, Decimal]], out: Path) -> Path:
    """Equity curve (top) and drawdown from its running peak (bottom) as a PNG at `out`, written atomically."""
    plt = _pyplot()
    figure = chart_figure(report, equity)
    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format="png", dpi=100)
    finally:
        plt.close(figure)
    write_bytes_atomic(out, buffer.getvalue())
    return out


def chart_figure(report: Report, equity: list[tuple[int, Decimal]]) -> Figure:
    """The chart as a matplotlib figure (closed by the caller), readable for any number of points.

    `equity` is (time_ms, equity) in time order. The x-axis is always the report's period in UTC, whatever
    the points span (matplotlib would otherwise widen a single point to years); with few points each one is
    drawn as a marker, a flat curve gets a visible y range, and with no points the chart says so.
    """
    plt = _pyplot()
    from matplotlib import dates

    figure, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5), sharex=True, height_ratios=(3, 1))
    span = report.date if report.period == "day" else f"week of {report.date}"
    top.set_title(f"Equity ({report.quote_asset}) — {span} UTC")
    top.set_xlim(_utc(report.start_ms), _utc(report.end_ms))
    locator = dates.HourLocator(byhour=range(0, 24, 3), tz=UTC) if report.period == "day" else \
        dates.DayLocator(tz=UTC)
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(dates.DateFormatter("%H:%M" if report.period == "day" else "%a %d", tz=UTC))
    bottom.set_ylabel("drawdown %")
    for axes in (top, bottom):
        axes.grid(True, alpha=0.3)
    if not equity:
        top.text(0.5, 0.5, "no equity snapshots in this period", ha="center", va="center", transform=top.transAxes)
        top.set_yticks([])
        bottom.set_ylim(-1.0, 0.0)
        figure.tight_layout()
        return figure
    times = [_utc(ms) for ms, _ in equity]
    values = [float(value) for _, value in equity]
    drawdown: list[float] = []
    peak = 0.0
    for value in values:
        peak = max(peak, value)
        drawdown.append(-(peak - value) / peak * 100.0 if peak > 0 else 0.0)
    marker = "o" if len(values) <= _MARKERS_UP_TO else None
    top.plot(times, values, color="tab:blue", linewidth=1.5, marker=marker)
    low, high = min(values), max(values)
    if high - low < _FLAT_SPAN * max(abs(high), 1.0):  # flat (or a single point): centre it in a visible range
        pad = _FLAT_SPAN * max(abs(high), 1.0)
        top.set_ylim(low - pad, high + pad)
    bottom.plot(times, drawdown, color="tab:red", linewidth=1.0, marker=marker)
    bottom.fill_between(times, drawdown, 0.0, color="tab:red", alpha=0.4)
    bottom.set_ylim(min(min(drawdown) * 1.1, -1.0), 0.0)
    figure.tight_layout()
    return figure


# Up to this many points, each is drawn as a marker (a line through one or two points says little).
_MARKERS_UP_TO = 48
# A curve whose range is under 0.1 % of its level is drawn in a ±0.1 % band instead of matplotlib's default.
_FLAT_SPAN = 0.001


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _money(value: Decimal) -> str:
    """Two decimals, or four below 1 so that a fee of 0.0012 does not show as 0.00."""
    return f"{value:,.2f}" if value == 0 or abs(value) >= 1 else f"{value:.4f}"


def _signed(value: Decimal) -> str:
    return ("+" if value >= 0 else "-") + _money(abs(value))


def _signed_float(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+,.2f}"


def _profit_factor(trades: TradeSummary) -> str:
    """Gross wins over gross losses; with wins and no loss it is unbounded, with neither undefined."""
    if trades.profit_factor is not None:
        return f"{trades.profit_factor:.2f}"
    return "∞" if trades.wins else "n/a"


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _pct(fraction: float | None) -> str:
    return "n/a" if fraction is None else f"{fraction * 100:.0f}%"


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _hhmm(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%m-%d %H:%M")


def _clip(line: str, limit: int = 300) -> str:
    return line if len(line) <= limit else line[: limit - 1] + _ELLIPSIS
