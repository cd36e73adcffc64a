"""`doctor [--mode testnet|live] [--symbols A,B]`: is this machine ready to trade in that mode (paper without
--mode)? Configuration, home and lock, Binance (connectivity, clock skew, key permissions, the user-data
subscription, the universe's symbol rules), the notifiers and the LLM endpoints, each a check with an id, a
status (ok, warn, fail, skipped) and what to do.

Read-only: it never places an order, never sends a chat message and never posts to a webhook. Anything that
blocks trading (a `fail`) makes the answer an error (DOCTOR_BLOCKING, exit 1) that still carries every check.
Keys appear only masked (`abcde…wxyz`), and every credential of the environment is masked in the answer.
"""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.errors import ConfigError, ExecutorError
from memory.redact import credential_values, mask_values
from runtime.doctor.binance import binance_checks
from runtime.doctor.model import Check, CheckId, Status, fail, ok, text_lines, warn
from runtime.doctor.services import llm_checks, notifier_checks
from runtime.home import Home
from runtime.paper_live import DEFAULT_SYMBOLS
from runtime.run_mode import RunMode
from runtime.settings import MAX_SCAN_SYMBOLS, SYMBOL_PATTERN, check_settings, scan_symbols
from tools.spec import ToolContext, ToolSpec
from tools.state import engine_process

SymbolName = Annotated[str, Field(pattern=SYMBOL_PATTERN)]


class DoctorInput(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    mode: Literal["paper", "testnet", "live"] = Field(
        default="paper", description="The mode to check for: paper (public data, no keys), testnet or live (also the "
                                     "mode's keys, their permissions and the user-data stream).")
    symbols: list[SymbolName] | None = Field(
        default=None, min_length=1, max_length=MAX_SCAN_SYMBOLS,
        description="The symbols to be traded, upper case (e.g. [\"BTCUSDT\"]). Default: $SCAN_SYMBOLS, else run's "
                    "default BTCUSDT and ETHUSDT.")


class CheckView(BaseModel):
    id: str = Field(description="Stable check id, e.g. binance.clock or notify.telegram.")
    status: Literal["ok", "warn", "fail", "skipped"] = Field(description="fail blocks trading; warn does not.")
    message: str = Field(description="What was found and, unless ok, what to do.")
    details: dict[str, Any] = Field(description="Figures and names behind the message (keys masked).")


class DoctorOutput(BaseModel):
    mode: str
    symbols: list[str]
    checks: list[CheckView]
    warnings: int = Field(description="How many checks warn (none fail: a failing check makes the answer an error).")
    text: str = Field(description="One line per check, for a person.")


class DoctorBlocking(ExecutorError):
    """At least one check fails: trading in that mode would be refused or unsafe. `details` has every check."""

    code = "DOCTOR_BLOCKING"

    def __init__(self, mode: str, failing: list[dict[str, Any]], checks: list[dict[str, Any]]) -> None:
        lines = "; ".join(f"{c['id']}: {c['message']}" for c in failing)
        super().__init__(f"{len(failing)} check(s) block trading in {mode} mode: {lines}", mode=mode,
                         blocking=[c["id"] for c in failing], checks=checks)


def handle(args: DoctorInput, ctx: ToolContext) -> DoctorOutput:
    mode = RunMode(args.mode)
    symbols = args.symbols or _universe(ctx)
    checks = [_config(ctx), _home(ctx.home), _lock(ctx.home), *binance_checks(mode, ctx.env, symbols),
              *notifier_checks(ctx.env), *llm_checks(ctx.env)]
    # Defence in depth: no check puts a credential in its answer, and none gets out if one ever did.
    shown: list[dict[str, Any]] = mask_values([c.to_dict() for c in checks], credential_values(ctx.env))
    failing = [view for view, check in zip(shown, checks, strict=True) if check.status is Status.FAIL]
    if failing:
        raise DoctorBlocking(mode.value, failing, shown)
    return DoctorOutput(mode=mode.value, symbols=symbols, checks=[CheckView.model_validate(c) for c in shown],
                        warnings=sum(c.status is Status.WARN for c in checks),
                        text="\n".join(mask_values(text_lines(checks), credential_values(ctx.env))))


def _universe(ctx: ToolContext) -> list[str]:
    try:
        return scan_symbols(ctx.env) or list(DEFAULT_SYMBOLS)
    except ConfigError:
        return list(DEFAULT_SYMBOLS)  # the config check names SCAN_SYMBOLS


def _config(ctx: ToolContext) -> Check:
    try:
        check_settings(ctx.env)
    except ConfigError as refused:
        return fail(CheckId.CONFIG, f"{refused.message}: fix it (CONFIGURATION.md) before `run`",
                    setting=refused.setting)
    return ok(CheckId.CONFIG, "every setting of the environment is valid")


def _home(home: Home) -> Check:
    if not os.access(home.root, os.W_OK | os.X_OK):
        return fail(CheckId.HOME, f"the home {home.root} is not writable by this user: fix its permissions or use "
                                  "another --home / EXECUTOR_HOME", path=str(home.root))
    journal = "holds a journal" if home.journal.exists() else "has no journal yet (the first run starts one)"
    return ok(CheckId.HOME, f"{home.root} is writable and {journal}", path=str(home.root))


def _lock(home: Home) -> Check:
    try:
        process = engine_process(home)
    except ExecutorError as unusable:  # LockUnusable: nobody can tell whether an executor runs
        return fail(CheckId.LOCK, unusable.message, path=str(home.lock))
    if process.running:
        return warn(CheckId.LOCK, f"an executor (pid {process.pid or 'unknown'}) is running on this home: a second "
                                  "`run` is refused until it stops", pid=process.pid)
    return ok(CheckId.LOCK, "no executor is running on this home: `run` can take the lock")


SPEC = ToolSpec(
    name="doctor",
    title="Check readiness to trade",
    description="Check whether this machine is ready to trade in a mode (paper by default, or testnet/live): "
                "settings, data directory, Binance connectivity, clock, key permissions, symbols, notifiers, LLMs. "
                "Read-only; fails with every check when something blocks trading.",
    input_model=DoctorInput,
    output_model=DoctorOutput,
    handler=handle,
    read_only=True, needs_strategy_settings=False,
    idempotent=True,
    open_world=True,
)
