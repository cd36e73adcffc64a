"""Bot commands → calls of the tool registry (the same specs, validation and handlers as the CLI and MCP), and
their answers → Telegram HTML.

A command is parsed into a `Call` (a tool name and its JSON arguments) or refused with a `BadCommand` that
names what was wrong. Every answer is built from plain text escaped for HTML parse mode (`<`, `>`, `&`: a
symbol or a reason can hold any of them) inside our own tags, and fits one message (4096 characters).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from reports.notify import TELEGRAM_TEXT_LIMIT
from tools.chat import positions_lines, status_text
from tools.cli import render_text

SYMBOL = re.compile(r"^[A-Z0-9]{2,20}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
PERIODS = ("day", "week")


class Command(StrEnum):
    STATUS = "status"
    POSITIONS = "positions"
    BALANCE = "balance"
    PROFIT = "profit"
    REPORT = "report"
    PAUSE = "pause"
    RESUME = "resume"
    KILL = "kill"
    SELL = "sell"
    TRADE = "trade"
    HELP = "help"


USAGE: dict[Command, str] = {
    Command.STATUS: "/status: the executor's state (equity, P&L today, breakers, kill switch, pauses)",
    Command.POSITIONS: "/positions: open positions and their protection",
    Command.BALANCE: "/balance: equity and cash",
    Command.PROFIT: "/profit [day|week]: P&L of the last complete day or week",
    Command.REPORT: "/report [day|week] [YYYY-MM-DD]: the report, with its chart",
    Command.PAUSE: "/pause SYMBOL|all MINUTES: block new entries (exits keep working)",
    Command.RESUME: "/resume [SYMBOL]: lift the pause (of one symbol, or every pause)",
    Command.KILL: "/kill: engage the kill switch now (reset it only from the terminal)",
    Command.SELL: "/sell SYMBOL: close the position at market, through the engine",
    Command.TRADE: "/trade SYMBOL buy QUOTE [TP%] [SL%]: buy for at most QUOTE USDT, through the risk engine",
    Command.HELP: "/help: this list",
}


class BadCommand(Exception):
    """A command the bot cannot run as written: what was wrong, and how to write it."""

    def __init__(self, problem: str, usage: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.usage = usage


@dataclass(frozen=True)
class Call:
    command: Command
    tool: str
    arguments: dict[str, Any] = field(default_factory=dict)


def parse(text: str) -> Call:
    """`/name args…` (a `@botname` suffix allowed, as Telegram adds in groups) → the tool call it stands for."""
    words = text.strip().split()
    if not words or not words[0].startswith("/"):
        raise BadCommand("commands start with /", USAGE[Command.HELP])
    name = words[0][1:].split("@", 1)[0].lower()
    try:
        command = Command(name)
    except ValueError:
        raise BadCommand(f"unknown command /{name}", USAGE[Command.HELP]) from None
    args = words[1:]
    usage = USAGE[command]
    match command:
        case Command.STATUS | Command.POSITIONS | Command.BALANCE | Command.KILL | Command.HELP:
            _count(args, 0, 0, usage)
            tool = {Command.STATUS: "status", Command.POSITIONS: "status", Command.BALANCE: "status",
                    Command.KILL: "kill", Command.HELP: ""}[command]
            return Call(command, tool)
        case Command.PROFIT:
            _count(args, 0, 1, usage)
            return Call(command, "report", {"period": _period(args[0] if args else "day", usage)})
        case Command.REPORT:
            _count(args, 0, 2, usage)
            arguments: dict[str, Any] = {"period": _period(args[0] if args else "day", usage)}
            if len(args) == 2:
                if not DATE.match(args[1]):
                    raise BadCommand(f"date {args[1]!r} is not YYYY-MM-DD", usage)
                arguments["date"] = args[1]
            return Call(command, "report", arguments)
        case Command.PAUSE:
            _count(args, 2, 2, usage)
            target = args[0].upper()
            if not args[1].isdigit() or not 1 <= int(args[1]) <= 10_080:
                raise BadCommand(f"MINUTES must be a whole number from 1 to 10080, not {args[1]!r}", usage)
            arguments = {"minutes": int(args[1])}
            if target != "ALL":
                arguments["symbol"] = _symbol(args[0], usage)
            return Call(command, "pause", arguments)
        case Command.RESUME:
            _count(args, 0, 1, usage)
            return Call(command, "resume", {"symbol": _symbol(args[0], usage)} if args else {})
        case Command.SELL:
            _count(args, 1, 1, usage)
            return Call(command, "trade", {"symbol": _symbol(args[0], usage), "side": "sell"})
        case Command.TRADE:
            _count(args, 3, 5, usage)
            if args[1].lower() != "buy":
                raise BadCommand(f"only buy is supported here, not {args[1]!r} (close a position with /sell)", usage)
            arguments = {"symbol": _symbol(args[0], usage), "side": "buy", "quote": _number("QUOTE", args[2], usage)}
            for name, value in zip(("tp", "sl"), args[3:], strict=False):
                arguments[name] = _number(f"{name.upper()}%", value.rstrip("%"), usage)
            return Call(command, "trade", arguments)
        case _:
            raise BadCommand(f"/{name} has no handler", USAGE[Command.HELP])


def _count(args: list[str], least: int, most: int, usage: str) -> None:
    if not least <= len(args) <= most:
        wanted = str(least) if least == most else f"{least} to {most}"
        raise BadCommand(f"expected {wanted} argument(s), got {len(args)}", usage)


def _period(word: str, usage: str) -> str:
    if word.lower() not in PERIODS:
        raise BadCommand(f"period must be day or week, not {word!r}", usage)
    return word.lower()


def _symbol(word: str, usage: str) -> str:
    symbol = word.upper()
    if not SYMBOL.match(symbol):
        raise BadCommand(f"{word!r} is not a symbol like BTCUSDT (2 to 20 letters and digits)", usage)
    return symbol


def _number(name: str, word: str, usage: str) -> str:
    try:
        value = Decimal(word)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or value <= 0:
        raise BadCommand(f"{name} must be a positive number, not {word!r}", usage)
    return format(value, "f")


# ----- answers -------------------------------------------------------------------------------------------


def escape(text: str) -> str:
    return html.escape(text, quote=False)


def message(title: str, body: str) -> str:
    """`<b>title</b>` then the body, both escaped, cut (before escaping, so no entity is split) to one message."""
    head = f"<b>{escape(title)}</b>"
    text = f"{head}\n{escape(body)}" if body else head
    while len(text) > TELEGRAM_TEXT_LIMIT:
        body = body[: max(0, len(body) - (len(text) - TELEGRAM_TEXT_LIMIT) - 1)].rstrip() + "…"
        text = f"{head}\n{escape(body)}"
    return text


def help_text() -> str:
    return message("Commands", "\n".join(USAGE.values()))


def bad_command_text(problem: BadCommand) -> str:
    return message("Not understood: " + problem.problem, f"Usage: {problem.usage}" if problem.usage else "")


def answer_text(call: Call, envelope: dict[str, Any]) -> str:
    """The reply to one command: its own view for the read-only ones, the tool's chat text for the others."""
    if not envelope.get("ok"):
        error = envelope["error"]
        return message(f"/{call.command.value} refused: {error['code']}", error["message"])
    data = envelope["data"]
    match call.command:
        case Command.STATUS:
            chat = status_text(data)
            return message("Status", "\n".join(chat.essential + chat.detail))
        case Command.POSITIONS:
            lines = positions_lines(data)
            return message(f"Positions ({len(lines)})", "\n".join(lines) or "no open position")
        case Command.BALANCE:
            if data["equity"] is None:
                return message("Balance", "unknown: no engine state yet")
            quote = data["quote_asset"]
            return message("Balance", f"Equity {data['equity']} {quote}\nCash {data['cash']} {quote}\n"
                                      f"{len(data['positions'])} open position(s)")
        case Command.PROFIT:
            numbers = data["numbers"]
            pct = "" if numbers["pnl_pct"] is None else f" ({numbers['pnl_pct']:+.2f} %)"
            return message(f"Profit, {data['period']} of {data['date']}",
                           f"P&L {numbers['pnl'] or 'n/a'}{pct}\nRealized {numbers['realized_pnl']} · fees "
                           f"{numbers['fees']}\n{numbers['trades']} trade(s), {numbers['fills']} fill(s)\n"
                           f"{data['chosen']['summary']}")
        case Command.REPORT:
            return message(f"Report, {data['period']} of {data['date']}", data["text"])
        case Command.PAUSE | Command.RESUME | Command.KILL | Command.SELL | Command.TRADE | Command.HELP:
            lines = render_text(envelope).splitlines()
            return message(lines[0], "\n".join(lines[1:]))
        case _:
            raise ValueError(f"no answer for /{call.command.value}")
