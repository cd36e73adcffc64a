"""Control tools: `pause` and `resume` entries (one symbol or all), `kill` (the kill switch), and the
command-line-only `kill_reset`.

Each runs on the home's engine through `runtime.commands.submit`: queued to a running `run`, or executed
by this process under the single-writer lock. `kill` also creates the kill flag file `<home>/KILL` first,
so a running engine engages the switch even if its answer never reaches us, and a restarted one does too.
Resetting the kill switch loosens risk, so no agent-facing front end offers it (agent_facing=False).
`pause` and `kill` only reduce risk: they are not destructive, so an MCP host does not put a confirmation
prompt in front of the emergency stop; `resume` lifts a protection and is. Every control is idempotent: applying
it twice leaves the same state (a pause keeps the later end, a kill stays on).
"""

from __future__ import annotations

import secrets
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.errors import ExecutorError
from core.types import Reason
from runtime.commands import CommandKind, Outcome, QueueTimeout, submit
from runtime.home import Home, HomeNotWritable
from tools.spec import ToolContext, ToolSpec

SymbolName = Annotated[str, Field(pattern=r"^[A-Z0-9]{2,20}$")]
WAIT_DESCRIPTION = "How long to wait for a running engine's answer, in seconds."


class KillPending(ExecutorError):
    """The running engine did not take the kill request in time. The request is withdrawn, but the kill flag
    file stays: the engine engages the switch when it next looks at the flag, so "nothing was done" is false."""

    code = "KILL_PENDING"

    def __init__(self, home: Home, timeout: QueueTimeout) -> None:
        waited = timeout.details.get("waited_s")
        super().__init__(f"the running engine did not answer the kill request within {waited} s. The kill flag file "
                         f"{home.kill_flag} is in place, so the engine engages the kill switch the next time it checks "
                         "the flag (every few hundred market events while it runs, and at every start): whether it "
                         "has yet is unknown. Check `python executor.py status` (kill_switch.engaged)",
                         kill_flag_file=str(home.kill_flag), **timeout.details)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class PauseInput(Strict):
    symbol: SymbolName | None = Field(default=None, description="Symbol to pause, e.g. BTCUSDT; omit to pause "
                                      "every symbol.")
    minutes: int = Field(ge=1, le=10_080, description="How long new entries stay blocked, in minutes (1 to 10080, "
                         "one week). Exits and protective orders keep working.")
    wait_s: float = Field(default=30.0, gt=0, le=300, description=WAIT_DESCRIPTION)


class ResumeInput(Strict):
    symbol: SymbolName | None = Field(default=None, description="Symbol to resume; omit to lift every pause.")
    wait_s: float = Field(default=30.0, gt=0, le=300, description=WAIT_DESCRIPTION)


class KillInput(Strict):
    wait_s: float = Field(default=30.0, gt=0, le=300, description=WAIT_DESCRIPTION)


class KillResetInput(Strict):
    yes_i_understand: Literal[True] = Field(description="Must be true: resetting the kill switch lets the engine "
                                            "open new positions again.")
    wait_s: float = Field(default=30.0, gt=0, le=300, description=WAIT_DESCRIPTION)


class ControlOutput(BaseModel):
    action: Literal["pause", "resume", "kill", "kill_reset"] = Field(description="What was done.")
    symbol: str | None = Field(description="The symbol it applied to; null for every symbol.")
    message: str = Field(description="One-line summary for a person.")
    kill_switch: bool = Field(description="Whether the kill switch is engaged now.")
    kill_flag_file: bool = Field(description="Whether the kill flag file <home>/KILL exists now.")
    paused_until_ms: int | None = Field(description="Pause: until when entries are blocked (engine time, ms).")
    paused_symbols: dict[str, int] = Field(description="Every paused symbol and until when (engine time, ms).")
    all_paused_until_ms: int = Field(description="Until when every symbol is paused (0: not paused).")
    entry_blockers: dict[str, list[Reason]] = Field(description="Per symbol, every reason an entry is blocked now "
                                                 "([] means entries are allowed).")
    executed_by: str = Field(description="running engine, this process, or stored answer.")
    engine_time_ms: int = Field(description="The engine's clock when it acted.")


def handle_pause(args: PauseInput, ctx: ToolContext) -> ControlOutput:
    outcome = _submit(ctx, CommandKind.PAUSE, {"symbol": args.symbol, "minutes": args.minutes}, args.wait_s)
    target = args.symbol or "every symbol"
    return _output("pause", args.symbol, outcome, ctx, f"entries on {target} paused for {args.minutes} min")


def handle_resume(args: ResumeInput, ctx: ToolContext) -> ControlOutput:
    payload = {"symbol": args.symbol, "expires_ms": ctx.now_ms() + int(args.wait_s * 1000)}
    outcome = _submit(ctx, CommandKind.RESUME, payload, args.wait_s)
    return _output("resume", args.symbol, outcome, ctx, f"pause lifted on {args.symbol or 'every symbol'}")


def handle_kill(args: KillInput, ctx: ToolContext) -> ControlOutput:
    try:
        ctx.home.kill_flag.touch(exist_ok=True)
    except OSError as exc:
        raise HomeNotWritable(ctx.home.kill_flag, exc) from None
    try:
        outcome = _submit(ctx, CommandKind.KILL, {}, args.wait_s)
    except QueueTimeout as timeout:
        raise KillPending(ctx.home, timeout) from None
    return _output("kill", None, outcome, ctx, "kill switch engaged: no new entries until a manual reset "
                   "(exits and protective orders keep working)")


def handle_kill_reset(args: KillResetInput, ctx: ToolContext) -> ControlOutput:
    try:
        ctx.home.kill_flag.unlink(missing_ok=True)
    except OSError as exc:
        raise HomeNotWritable(ctx.home.kill_flag, exc) from None
    payload = {"expires_ms": ctx.now_ms() + int(args.wait_s * 1000)}
    outcome = _submit(ctx, CommandKind.RESET_KILL, payload, args.wait_s)
    return _output("kill_reset", None, outcome, ctx, "kill switch reset: entries allowed again where nothing "
                   "else blocks them")


def _submit(ctx: ToolContext, kind: CommandKind, payload: dict[str, object], wait_s: float) -> Outcome:
    """Every call is its own command: each control is safe to apply twice (a pause keeps the later end, a kill
    stays on), while folding a repeat into an earlier answer would drop a pause asked again after a resume."""
    payload = {k: v for k, v in payload.items() if v is not None}
    return submit(ctx.home, ctx.config, kind, payload, f"{kind}:{secrets.token_hex(16)}", ctx.now_ms, wait_s=wait_s,
                  safety_control=True)


def _output(action: Literal["pause", "resume", "kill", "kill_reset"], symbol: str | None, outcome: Outcome,
            ctx: ToolContext, message: str) -> ControlOutput:
    data = outcome.data
    return ControlOutput(action=action, symbol=symbol, message=message, kill_switch=data["kill_switch"],
                         kill_flag_file=ctx.home.kill_flag.exists(), paused_until_ms=data.get("paused_until_ms"),
                         paused_symbols=data["paused_symbols"], all_paused_until_ms=data["all_paused_until_ms"],
                         entry_blockers=data["entry_blockers"], executed_by=outcome.executed_by,
                         engine_time_ms=data["engine_time_ms"])


PAUSE_SPEC = ToolSpec(
    name="pause",
    description="Block new entries on one symbol (or all) for 1 to 10080 minutes; open positions stay protected.",
    input_model=PauseInput, output_model=ControlOutput, handler=handle_pause, read_only=False, destructive=False,
    title="Pause entries", idempotent=True, needs_strategy_settings=False)
RESUME_SPEC = ToolSpec(
    name="resume",
    description="Lift a pause on one symbol, or every pause; the risk engine's own limits still apply.",
    input_model=ResumeInput, output_model=ControlOutput, handler=handle_resume, read_only=False, destructive=True,
    title="Resume entries", idempotent=True, needs_strategy_settings=False)
KILL_SPEC = ToolSpec(
    name="kill",
    description="Engage the kill switch: no new entries until a person resets it on the command line; exits and "
                "protection keep working.",
    input_model=KillInput, output_model=ControlOutput, handler=handle_kill, read_only=False, destructive=False,
    title="Kill switch: stop new entries", idempotent=True, needs_strategy_settings=False)
RESET_SPEC = ToolSpec(
    name="kill_reset",
    description="Reset the kill switch (command line only: python executor.py kill --reset --yes-i-understand).",
    input_model=KillResetInput, output_model=ControlOutput, handler=handle_kill_reset, read_only=False,
    destructive=True, agent_facing=False, title="Reset the kill switch", idempotent=True, needs_strategy_settings=False)
SPECS: tuple[ToolSpec, ...] = (PAUSE_SPEC, RESUME_SPEC, KILL_SPEC, RESET_SPEC)
