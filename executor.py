"""crypto-executor command line: the composition root. Parses arguments, builds objects, calls them.

Tool commands print one JSON envelope on stdout (or short text with --format text); logs go to stderr.
With no command, or only options, it runs `run` (paper trading unless EXECUTOR_MODE or --mode says otherwise).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.config import ExecutorConfig
from core.errors import ExecutorError, InvalidArgument
from memory.redact import masked_output
from runtime.run_mode import RunMode, choose_mode
from tools.cli import (
    DEFINITION_FORMATS,
    add_tool_commands,
    is_tool_command,
    render_text,
    run_tool_command,
    tool_definitions,
)
from tools.envelope import dumps, exit_code, failure, from_error, ok
from tools.spec import wall_clock_ms

if TYPE_CHECKING:
    from core.strategies.registry import StrategySet
    from runtime.home import Home
    from runtime.settings import StartSettings

DEFAULT_BALANCE = Decimal("10000")
SEED_HELP = "seed of the synthetic market (default 7): the same seed replays the same market"
SYMBOLS_HELP = "comma-separated symbols, e.g. BTCUSDT,ETHUSDT"
BALANCE_HELP = "starting USDT of the paper account (default 10000)"
STEPS_HELP = "synthetic market length in seconds of market time"
EXCHANGE_INFO_HELP = "a real exchangeInfo JSON for the symbols' filters"
# A starting balance beyond this is a typo, not an account; the analytics' floats would overflow near 1e308.
MAX_BALANCE = Decimal("1e12")
_GIVEN = "_options_given"  # namespace attribute: the single-valued options seen so far in this parse
_ARGUMENT = re.compile(r"argument (?P<option>[^\s:/]+)")


class StoreOnce(argparse.Action):
    """argparse's `store`, except that an option given twice is refused: argparse would silently keep the last
    value (`trade --symbol BTCUSDT --symbol ETHUSDT` would trade ETH)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        given = namespace.__dict__.setdefault(_GIVEN, set())
        if self.dest in given:
            raise argparse.ArgumentError(self, "given more than once: give it once")
        given.add(self.dest)
        setattr(namespace, self.dest, values)


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting, so errors keep the JSON contract, and that
    refuses a repeated option (StoreOnce is every plain option's action, in every subcommand)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register("action", None, StoreOnce)
        self.register("action", "store", StoreOnce)

    def error(self, message: str) -> None:  # type: ignore[override]
        named = _ARGUMENT.match(message)
        option = {"option": named["option"]} if named else {}
        raise InvalidArgument(message, **option, usage=self.format_usage().strip())


def _date_ms(text: str) -> int:
    try:
        return int(datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC).timestamp() * 1000)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _symbols(text: str) -> list[str]:
    names = [s.strip().upper() for s in text.split(",") if s.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected a comma-separated list of symbols, e.g. BTCUSDT,ETHUSDT")
    return names


def _balance(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value.is_finite() or not 0 < value <= MAX_BALANCE:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number of at most {MAX_BALANCE:f}")
    return value


def _count(minimum: int) -> Callable[[str], int]:
    """A whole number of at least `minimum` (a seed from 0, a number of steps or events from 1)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} must be at least {minimum}")
        return value

    return parse


def _version(text: str) -> int:
    from memory.versions import parse_version_number

    try:
        return parse_version_number(text)
    except InvalidArgument as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def _speed(text: str) -> float | None:
    """Replay speed: a finite positive multiple of real time, or `max` (None: as fast as possible)."""
    if text == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number or 'max'") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive finite number or 'max'")
    return value


def _home(p: argparse.ArgumentParser) -> None:
    p.add_argument("--home", help="data directory (default $EXECUTOR_HOME or ~/.crypto-executor)")


def _common(p: argparse.ArgumentParser) -> None:
    _home(p)
    p.add_argument("--format", choices=("json", "text"), default=None,
                   help="json envelope (default for tools) or short text")


def build_parser(command: str | None = None) -> Parser:
    """The whole command line; given the command being run, a tool command adds only its own subparser, and the
    other commands none, so one call imports only what it uses (the tool modules are slow to import)."""
    parser = Parser(prog="executor.py", description="crypto-executor: Binance Spot executor, paper by default")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    bt = sub.add_parser("backtest", help="replay recorded or synthetic data through the full engine, fast")
    _common(bt)
    src = bt.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", type=Path, help="candle file/folder (freqtrade JSON, Binance kline CSV) or recording")
    src.add_argument("--synthetic", action="store_true", help="the seeded synthetic market")
    bt.add_argument("--seed", type=_count(0), default=7, help=SEED_HELP)
    bt.add_argument("--from", dest="from_ms", type=_date_ms, help="first day (UTC), YYYY-MM-DD")
    bt.add_argument("--to", dest="to_ms", type=_date_ms, help="day after the last (UTC), YYYY-MM-DD")
    bt.add_argument("--symbols", type=_symbols, help=f"{SYMBOLS_HELP} (default: every symbol of the data)")
    bt.add_argument("--exchange-info", type=Path, help=EXCHANGE_INFO_HELP)
    bt.add_argument("--balance", type=_balance, default=DEFAULT_BALANCE, help=BALANCE_HELP)
    bt.add_argument("--steps", type=_count(1), help=STEPS_HELP)
    bt.add_argument("--reports", action="store_true",
                    help="also archive the daily report of every simulated UTC day in the backtest's folder: "
                         "reports/daily/report_YYYY-MM-DD.{txt,json,png}, as `report --date` would build it")

    run = sub.add_parser("run", help="the long-lived executor (paper trading by default; also what "
                                     "`executor.py` with no command runs)")
    _common(run)
    run.add_argument("--mode", choices=tuple(RunMode), default=None,
                     help="replay: recorded or synthetic data, offline; paper: live public Binance data, simulated "
                          "orders (default: $EXECUTOR_MODE, else replay when --data or --synthetic is given, else "
                          "paper); testnet: the Binance Spot testnet with its own keys "
                          "(BINANCE_TESTNET_API_KEY with _SECRET or _PRIVATE_KEY_FILE); live: real orders on Binance "
                          "(BINANCE_API_KEY with BINANCE_API_SECRET or BINANCE_PRIVATE_KEY_FILE, and --confirm-live)")
    rsrc = run.add_mutually_exclusive_group()
    rsrc.add_argument("--data", type=Path, help="replay: candle file/folder (freqtrade JSON, Binance kline CSV) or "
                                                "recording")
    rsrc.add_argument("--synthetic", action="store_true", help="replay: the seeded synthetic market (the default "
                                                               "replay source)")
    run.add_argument("--seed", type=_count(0), default=7, help=SEED_HELP)
    run.add_argument("--speed", type=_speed, default="max", help="replay speed: a multiple of real time, or max")
    run.add_argument("--symbols", type=_symbols, help=f"{SYMBOLS_HELP} (default: paper BTCUSDT,ETHUSDT; replay "
                                                      "every symbol of the data)")
    run.add_argument("--exchange-info", type=Path, help=EXCHANGE_INFO_HELP)
    run.add_argument("--balance", type=_balance, default=DEFAULT_BALANCE,
                     help=f"{BALANCE_HELP}; testnet and live trade the account's own USDT")
    run.add_argument("--steps", type=_count(1), help=f"replay: {STEPS_HELP}")
    run.add_argument("--no-view", action="store_true", help="no live terminal view (logs only)")
    run.add_argument("--checkpoint-every", type=_count(1), default=5_000, help="events between checkpoints in replay")
    run.add_argument("--confirm-live", action="store_true",
                     help="--mode live only: you, a person, confirm trading real money (never read from the "
                          "environment; run `doctor --mode live` first)")
    run.add_argument("--accept-journal-rollback", action="store_true",
                     help="go on from what journal.db holds although it is older than the home's last checkpoint "
                          "(a restored backup, a lost -wal); journaled")

    rec = sub.add_parser("record", help="record live public Binance data for replay")
    _common(rec)
    rec.add_argument("--symbols", type=_symbols, required=True, help=SYMBOLS_HELP)
    rec.add_argument("--minutes", type=float, required=True, help="how long to record, in minutes of wall time")
    rec.add_argument("--out", type=Path, required=True, help="the recording to write (refused if it exists); "
                                                             "replay it with run --data or backtest --data")

    bk = sub.add_parser("backup", help="an online copy of the home's journal (orders, fills, checkpoint), safe "
                                       "during run")
    _common(bk)
    bk.add_argument("--out", type=Path, required=True, help="the file to write (refused if it exists)")

    cfg = sub.add_parser("config", help="a home's stored risk limits: show them, or set one (a person's command)")
    cfg_sub = cfg.add_subparsers(dest="action", required=True, parser_class=Parser)
    show = cfg_sub.add_parser("show", help="the effective limits, where each came from, and their change history")
    _common(show)
    setter = cfg_sub.add_parser("set", help="store one limit in the home, validated and journaled")
    _common(setter)
    setter.add_argument("name", help="e.g. MAX_POSITION_SIZE_PCT (or the field name max_position_size_pct)")
    setter.add_argument("value")

    mem = sub.add_parser("memory", help="the versions of what the executor learned: list, show, compare, roll back "
                                        "(rollback is a person's command)")
    mem_sub = mem.add_subparsers(dest="action", required=True, parser_class=Parser)
    _common(mem_sub.add_parser("history", help="every version, the current one and the journaled rollbacks"))
    mem_show = mem_sub.add_parser("show", help="one version's learned configuration")
    _common(mem_show)
    mem_show.add_argument("version", type=_version)
    mem_diff = mem_sub.add_parser("diff", help="what changed from version N to version M")
    _common(mem_diff)
    mem_diff.add_argument("version", type=_version)
    mem_diff.add_argument("other", type=_version)
    mem_back = mem_sub.add_parser("rollback", help="make version N's learned configuration current again (a new "
                                                   "version, journaled); refused while run runs or an entry is in "
                                                   "flight")
    _common(mem_back)
    mem_back.add_argument("version", type=_version)
    strat = sub.add_parser("strategies", help="the registered strategy plugins, their settings and JSON schemas, "
                           "where each came from; trust a file of <home>/strategies/ (a person's command)")
    strat_sub = strat.add_subparsers(dest="action", required=True, parser_class=Parser)
    _common(strat_sub.add_parser("list", help="every registered strategy and every refused file"))
    strat_show = strat_sub.add_parser("show", help="one strategy: its settings, their JSON schema, its origin")
    _common(strat_show)
    strat_show.add_argument("name")
    strat_trust = strat_sub.add_parser("trust", help="pin a strategy file's SHA-256 in the home, after reading it: "
                                       "only then is it loaded, and only while it is unchanged")
    _common(strat_trust)
    strat_trust.add_argument("file", type=Path, help="a .py file in <home>/strategies/ (its path or its name)")

    defs = sub.add_parser("tools", help="print the tool definitions: OpenAI tools=, MCP tool list, or JSON schemas")
    _home(defs)  # accepted like every command's; the definitions are the same for every home
    defs.add_argument("--format", choices=DEFINITION_FORMATS, default="jsonschema")
    defs.add_argument("--strict", action="store_true",
                      help="openai: the strict-mode form OpenAI and DeepSeek accept (every property required, "
                           "optional ones nullable: null means not given)")
    defs.add_argument("--prefix", default="", help="openai: put PREFIX before every function name (e.g. cx_)")
    mcp = sub.add_parser("mcp", help="serve the agent-facing tools as an MCP server on stdio")
    _home(mcp)
    mcp.add_argument("--format", choices=("json",), default="json",
                     help="json: MCP speaks JSON-RPC on stdio, and each tool answers the JSON envelope")
    if command not in sub.choices:
        add_tool_commands(sub, _common, only=command if command and is_tool_command(command) else None)
    return parser


def cmd_backtest(args: argparse.Namespace) -> dict[str, Any]:
    from runtime.backtest import run_backtest, run_id
    from runtime.home import Home
    from runtime.limits import BACKTEST_START, limits_at_start
    from runtime.settings import check_settings
    from runtime.sources import recorded_source, synthetic_source
    from runtime.strategy_loader import home_config

    settings = check_settings(os.environ)  # a bad value is refused by name before the home is touched
    home = Home.resolve(args.home).ensure()
    config = home_config(home, limits_at_start(home, settings.risk, BACKTEST_START, wall_clock_ms()).risk).model_copy(
        update={"sector_map": settings.sector_map})
    strategies = home_strategies(home, config)
    if args.synthetic:
        source = synthetic_source(args.seed, args.symbols, args.steps)
    else:
        source = recorded_source(args.data.resolve(), args.symbols, args.from_ms, args.to_ms, args.exchange_info,
                                 cache_dir=home.candle_cache)
    rid = run_id({"data": args.data.resolve() if args.data else "synthetic", "seed": args.seed,
                  "symbols": args.symbols, "from": args.from_ms, "to": args.to_ms, "balance": args.balance,
                  "steps": args.steps,
                  "exchange_info": args.exchange_info.resolve() if args.exchange_info else None,
                  "config": config.model_dump_json()})
    reporter: AbstractContextManager[Callable[[int], None] | None] = nullcontext(None)
    if args.format == "text":  # rich takes ~70 ms to import: only when a progress bar is drawn
        from runtime.view import progress_reporter

        reporter = progress_reporter(source.total_events, source.description, enabled=True)
    out = home.root / "backtests" / rid
    with reporter as progress:
        summary = run_backtest(source, config, out, quote_balance=args.balance, progress=progress,
                               strategies=strategies)
    if args.reports:
        summary["reports"] = _archive_backtest_days(out, source.start_ms, config, progress=args.format == "text")
    return summary


def _archive_backtest_days(out: Path, start_ms: int, config: ExecutorConfig, *, progress: bool) -> str:
    """`backtest --reports`: every simulated day's report in the backtest's folder; returns that folder."""
    from reports.periods import utc_date
    from runtime.home import Home
    from runtime.view import progress_reporter
    from tools.report import archive_days
    from tools.spec import ToolContext

    first = utc_date(start_ms)
    ctx = ToolContext(home=Home.resolve(str(out)), config=config)
    with progress_reporter(None, f"daily reports from {first.isoformat()}", enabled=progress) as reporter:
        archive_days(ctx, first, reporter)
    return str(out / "reports" / "daily")


# Replay-only options that a live-data mode would otherwise ignore without a word.
REPLAY_ONLY_OPTIONS = {"data": "--data", "synthetic": "--synthetic", "steps": "--steps", "speed": "--speed"}


def cmd_run(args: argparse.Namespace) -> dict[str, Any]:
    from runtime.limits import RUN_START, limits_at_start
    from runtime.live_preflight import preflight
    from runtime.settings import check_settings

    chosen = choose_mode(args.mode, os.environ, args.data is not None or args.synthetic)
    args.mode = chosen.mode.value
    if chosen.mode is not RunMode.REPLAY:
        for dest, option in REPLAY_ONLY_OPTIONS.items():
            if getattr(args, dest) not in (None, False):
                raise InvalidArgument(f"{option} does not apply to {chosen.describe()}, which trades on live market "
                                      f"data; leave it out, or replay that data with --mode replay",
                                      option=option, mode=args.mode, mode_from=chosen.origin.value)
    # Every setting, the notifiers' too, is checked by name before the home is touched: a typo found at the first
    # report would stop a long-running executor hours after it started.
    settings = check_settings(os.environ)
    # Testnet and live: keys, their permissions and live's typed confirmation, before anything is opened.
    preflight(chosen.mode, os.environ, confirmed_on_command_line=args.confirm_live)

    def configure(home: Home) -> ExecutorConfig:
        from runtime.strategy_loader import home_config

        # Called under the single-writer lock: a `run` refused because another holds the home stores nothing.
        return home_config(home, limits_at_start(home, settings.risk, RUN_START, wall_clock_ms()).risk).model_copy(
            update={"sector_map": settings.sector_map})

    return run_executor(args, configure, settings)


def run_executor(args: argparse.Namespace, configure: Callable[[Home], ExecutorConfig],
                 settings: StartSettings) -> dict[str, Any]:
    """`run` on the home of `args` (the composition root: source, session and runner are put together here);
    `configure(home)` gives the configuration once the home's lock is held; `settings` are the environment's,
    checked before anything ran."""
    from runtime.home import Home
    from runtime.lock import SingleWriterLock
    from runtime.paper_live import DEFAULT_SYMBOLS, live_source
    from runtime.runner import Runner
    from runtime.scout_schedule import ScoutSchedule
    from runtime.settings import binance_account, market_data_urls
    from runtime.sources import recorded_source, synthetic_source
    from runtime.state import refuse_diverged_journal
    from runtime.view import LiveView

    mode = RunMode(args.mode)
    account = None
    if mode in (RunMode.TESTNET, RunMode.LIVE):
        account = binance_account(os.environ, mode)  # the mode's own keys, refused by name when missing
        # Pre-flight checks of the account (key permissions, a person's confirmation for live) belong here: after
        # the keys are read, before the home is touched or anything is sent.
    home = Home.resolve(args.home).ensure()
    with SingleWriterLock(home.lock):
        refuse_diverged_journal(home, accept_rollback=args.accept_journal_rollback)  # before configure() writes
        config = configure(home)
        if mode is not RunMode.REPLAY:
            symbols = args.symbols or list(DEFAULT_SYMBOLS)
            rest, stream = market_data_urls(os.environ, mode)
            source = live_source(symbols, rest, stream, args.exchange_info)
            source_id = f"{mode.value}:{','.join(sorted(symbols))}"
        elif args.data is not None:
            source = recorded_source(args.data.resolve(), args.symbols, exchange_info=args.exchange_info,
                                     cache_dir=home.candle_cache)
            source_id = f"data:{args.data.resolve()}:{','.join(args.symbols or [])}"
        else:
            source = synthetic_source(args.seed, args.symbols, args.steps)
            source_id = f"synthetic:{args.seed}:{','.join(args.symbols or [])}:{args.steps}"
        view = None if args.no_view or args.format == "json" else LiveView(mode.value, source)
        runner = Runner(home, config, source, source_id, args.balance, args.checkpoint_every,
                        args.speed if mode is RunMode.REPLAY else None, view,
                        accept_rollback=args.accept_journal_rollback, notifiers=settings.notifiers,
                        alerts=settings.alerts, alert_outage_min=settings.alert_outage_min,
                        research=settings.research, background=background_services(home, settings),
                        confirmation_channel=settings.confirmation_channel, mode=mode, account=account,
                        strategies=home_strategies(home, config))
        if mode is not RunMode.REPLAY:  # a replay is never reviewed, and does not load the LLM client
            from runtime.analyzer import analyzer_factory

            # None without DEEPSEEK_API_KEY: then no entry is reviewed. Verdicts go to DISCORD_WEBHOOK_RESEARCH; a
            # budget reached, a 402 or a 401 becomes an `llm` alert. The same as a `trade` run by the tool itself.
            runner.engine.review = analyzer_factory(os.environ, wall_clock_ms)(runner.journal, mode.value)
        # The scouts run beside live trading only (a replay stays deterministic and fast), on their own thread.
        schedule = None
        if ScoutSchedule.wanted(settings.llm, mode.value):
            from runtime.research import intel_poster

            schedule = ScoutSchedule(home, config, os.environ, settings.llm, wall_clock_ms,
                                     post_intel=intel_poster(home, settings.research, wall_clock_ms))
        if schedule is not None:
            schedule.start()
        try:
            return runner.run_to_end()
        finally:
            if schedule is not None:
                schedule.stop()


def home_strategies(home: Home, config: ExecutorConfig) -> StrategySet:
    """The strategies `run` and `backtest` trade with (built-ins, STRATEGIES, the home's trusted files); each file
    refused (new or changed since it was trusted) is said on stderr with the command that trusts it."""
    from runtime.strategy_loader import load_strategies

    loaded = load_strategies(home, os.environ, config.strategies)
    for refused in loaded.refused:
        print(f"strategy file refused: {refused.file}: {refused.reason}", file=sys.stderr)
    return loaded.strategies


def background_services(home: Home, settings: StartSettings) -> list[Any]:
    """What runs beside the trading loop: the Telegram command bot when the settings ask for it."""
    if settings.telegram_bot is None:
        return []
    from tools.spec import ToolContext
    from tools.telegram.bot import TelegramBot

    return [TelegramBot(home, settings.telegram_bot, ToolContext.from_environment(str(home.root)))]


def cmd_config(args: argparse.Namespace) -> dict[str, Any]:
    """`config show` / `config set NAME VALUE`: a person's commands, never an agent tool (not in the registry)."""
    from memory.journal import Journal
    from runtime.home import Home
    from runtime.limits import change_lines, limits_for_tool, set_limit
    from tools.state import engine_process

    home = Home.resolve(args.home).ensure()
    if args.action == "set":
        limits = set_limit(home, args.name, args.value, wall_clock_ms())
        data: dict[str, Any] = {"changes": change_lines(limits.changes), "limits": limits.lines()}
        if not limits.changes:
            data["message"] = "unchanged: the home already stores that value"
        if engine_process(home).running:
            data["note"] = ("an executor is running on this home with the limits it started with; restart it "
                            "(stop, then run) for its own decisions to use this change")
        return data
    limits = limits_for_tool(home, os.environ)
    history: list[dict[str, Any]] = []
    if home.journal.exists():
        with Journal(home.journal) as journal:
            history = change_lines(journal.risk_setting_changes())
    return {"limits": limits.lines(), "history": history}


def cmd_memory(args: argparse.Namespace) -> dict[str, Any]:
    """`memory history|show N|diff N M|rollback N`: person's commands; none of them is an agent tool."""
    from runtime import learned_memory
    from runtime.home import Home

    home = Home.resolve(args.home).ensure()
    match args.action:
        case "history":
            data = learned_memory.history(home)
        case "show":
            data = learned_memory.show(home, args.version)
        case "diff":
            data = learned_memory.compare(home, args.version, args.other)
        case "rollback":
            data = learned_memory.rollback(home, args.version, wall_clock_ms())
        case _:
            raise InvalidArgument(f"unknown memory action {args.action!r}", action=args.action)
    return {"action": args.action, **data}


def cmd_backup(args: argparse.Namespace) -> dict[str, Any]:
    from runtime.backup import backup_home
    from runtime.home import Home

    return backup_home(Home.resolve(args.home), args.out)


def cmd_record(args: argparse.Namespace) -> dict[str, Any]:
    from runtime.recording import record_command
    from runtime.settings import check_settings

    return record_command(args, check_settings(os.environ))


def cmd_strategies(args: argparse.Namespace) -> dict[str, Any]:
    """`strategies list|show NAME|trust FILE`."""
    from runtime.home import Home
    from runtime.strategy_catalog import catalog, trust

    home = Home.resolve(args.home).ensure()
    if args.action == "trust":
        return trust(home, args.file, wall_clock_ms())
    return catalog(home, args.name if args.action == "show" else None)


COMMANDS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "backtest": cmd_backtest,
    "run": cmd_run,
    "record": cmd_record,
    "backup": cmd_backup,
    "config": cmd_config,
    "memory": cmd_memory,
    "strategies": cmd_strategies,
}
TEXT_BY_DEFAULT = frozenset({"backtest", "run", "record"})


def _answer_tool(args: argparse.Namespace) -> int:
    """A tool command: one envelope (or its short text) on stdout, exit 0 / 2 / 1."""
    document = run_tool_command(args)
    print(render_text(document) if args.format == "text" else dumps(document))
    return exit_code(document)


def _asked_for_text(argv: Sequence[str]) -> bool:
    """Whether a command line argparse refused asked for `--format text`: its refusal is then text too."""
    pairs = zip(argv, [*argv[1:], ""], strict=True)
    return any(a == "--format=text" or (a == "--format" and b == "text") for a, b in pairs)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. Everything it prints, on stdout or stderr (envelopes, text views, logs, tracebacks),
    passes one gate that masks every credential of the environment in any letter case (Invariant 9)."""
    with masked_output(os.environ):
        return _run(argv)


def _run(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["run", *argv]  # `python executor.py [run options]` launches the executor
    tool = argv[0] if argv and not argv[0].startswith("-") else "executor"
    try:
        args = build_parser(argv[0] if argv else None).parse_args(argv)
    except InvalidArgument as exc:
        document = from_error(tool, exc)
        print(render_text(document) if _asked_for_text(argv) else dumps(document))
        return exit_code(document)
    if args.command == "tools":
        try:
            definitions = tool_definitions(args.format, strict=args.strict, prefix=args.prefix)
        except InvalidArgument as exc:
            document = from_error("tools", exc)
            print(dumps(document))
            return exit_code(document)
        print(json.dumps(definitions, indent=2))
        return 0
    if args.command == "mcp":
        from tools.mcp_server import serve_stdio  # the MCP SDK takes most of a second to import: only here

        serve_stdio(args.home)
        return 0
    if is_tool_command(args.command):
        return _answer_tool(args)
    if args.format is None:
        args.format = "text" if args.command in TEXT_BY_DEFAULT and sys.stdout.isatty() else "json"
    try:
        data = COMMANDS[args.command](args)
        document = ok(args.command, data)
    except ExecutorError as exc:
        document = from_error(args.command, exc)
    except KeyboardInterrupt:
        document = failure(args.command, "INTERRUPTED", "interrupted by the user")
    if args.format == "text":
        from runtime.view import render_text as render_command_text

        render_command_text(args.command, document)
    else:
        print(dumps(document))
    return exit_code(document)


def _main_quiet_on_closed_pipe() -> int:
    """`executor.py status | head -1` closes our stdout early: that is the reader's choice, not an error."""
    try:
        return main()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(_main_quiet_on_closed_pipe())
