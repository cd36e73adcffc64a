"""`scouts --once`: one round of every LM Studio scout of SCOUT_MODELS, now; the same round `run` schedules.

The scouts get the read-only tools `scan` and `status` from this registry, called through the one guarded
path (`tools.validation.invoke`: the published schema first, then the handler), and give intel; intel that
asks for caution becomes tightening advice (skip, shrink, pause, with an expiry; see `scouts.intel`)
handed to the home's engine. A round never trades and never loosens anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.advice import SubmitAdvice
from core.errors import ExecutorError, InvalidArgument
from core.types import Advice
from memory.journal import Journal
from memory.redact import credential_values
from runtime.advice import advice_key
from runtime.commands import CommandKind, submit
from runtime.settings import MAX_SCAN_SYMBOLS, scan_symbols
from scouts.llm.settings import LlmSettings
from scouts.round import PostIntel, RoundReport, ScoutTool
from scouts.runner import scout_all
from tools.openai_defs import openai_definition
from tools.registry import get_spec
from tools.scan import DEFAULT_SYMBOLS
from tools.spec import ToolContext, ToolSpec
from tools.state import read_saved_engine
from tools.validation import invoke

ADVICE_WAIT_S = 30.0  # for a running engine to take one advice
SCOUT_TOOLS: dict[str, tuple[str, ...]] = {"scan": ("symbols",), "status": ()}  # read-only tool → symbol fields


class ScoutsInput(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    once: bool = Field(default=False, description="Run one round of every scout now (required: the scheduled "
                                                  "rounds run inside `run`, every SCOUT_INTERVAL_MIN minutes).")


class RoundView(BaseModel):
    model: str
    path: str = Field(description="tools: native tool calling; json_schema: tools run first, one constrained answer")
    turns: int
    tool_calls: list[str] = Field(description="the read-only tools the round ran, in order")
    intel: list[dict[str, Any]] = Field(description="accepted intel: symbol, bias, confidence, horizon_min, "
                                        "rationale, expires_in_min")
    advice: list[dict[str, Any]] = Field(description="tightening advice made from the intel, with expires_ms")
    rejections: list[dict[str, Any]] = Field(description="what was refused and why (rule, detail); also journaled")
    failure: str | None = Field(description="why the round gave nothing (LM Studio, the model, the loop bound)")


class ScoutsOutput(BaseModel):
    watched: list[str] = Field(description="the symbols the scouts may speak about")
    rounds: list[RoundView]
    advice_delivered: int = Field(description="advice the home's engine took")
    notes: list[str]
    text: str = Field(description="one line per scout, for a person")


def watched_symbols(ctx: ToolContext) -> list[str]:
    """The scouts' universe, as scan's default: the engine's symbols, else SCAN_SYMBOLS, else BTCUSDT, ETHUSDT."""
    try:
        saved = read_saved_engine(ctx.home, ctx.config, ctx.strategies())
    except ExecutorError:
        saved = None
    if saved is not None and saved.engine.symbols:
        return list(saved.engine.symbols)[:MAX_SCAN_SYMBOLS]
    return scan_symbols(ctx.env) or list(DEFAULT_SYMBOLS)


def scout_tools(ctx: ToolContext) -> list[ScoutTool]:
    """`scan` and `status` from the registry, each called through `invoke` on this context."""
    tools = []
    for name, symbol_fields in SCOUT_TOOLS.items():
        spec = get_spec(name, agent_facing_only=True)
        if not spec.read_only:
            raise RuntimeError(f"tool {name} is not read-only and may not be given to a scout")
        tools.append(ScoutTool(name, openai_definition(spec), _caller(spec, ctx), symbol_fields))
    return tools


def _caller(spec: ToolSpec, ctx: ToolContext) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda arguments: invoke(spec, arguments, lambda: ctx)


def run_round(ctx: ToolContext, submit: SubmitAdvice, post_intel: PostIntel | None = None) -> list[RoundReport]:
    """One round of every scout on the home of `ctx` (the LLM calls journaled in its journal)."""
    settings = LlmSettings.from_env(ctx.env)
    watched = frozenset(watched_symbols(ctx))
    with Journal(ctx.home.journal) as journal:
        return asyncio.run(scout_all(settings, journal, scout_tools(ctx), watched, submit, ctx.now_ms,
                                     post_intel=post_intel, secrets=credential_values(ctx.env)))


def handle(args: ScoutsInput, ctx: ToolContext) -> ScoutsOutput:
    if not args.once:
        raise InvalidArgument("scouts runs one round with --once; scheduled rounds run inside `run` every "
                              "SCOUT_INTERVAL_MIN minutes", option="--once")
    delivered: list[Advice] = []
    notes: list[str] = []

    def deliver(advice: Advice) -> int | None:
        try:
            command_id = deliver_advice(ctx, advice)
        except ExecutorError as exc:
            notes.append(f"advice on {advice.symbol} not delivered ({exc.code}): {exc.message}")
            return None
        delivered.append(advice)
        return command_id

    reports = run_round(ctx, deliver)
    return ScoutsOutput(watched=watched_symbols(ctx), rounds=[RoundView.model_validate(r.to_dict()) for r in reports],
                        advice_delivered=len(delivered), notes=notes, text="\n".join(_line(r) for r in reports))


def deliver_advice(ctx: ToolContext, advice: Advice) -> int:
    """Hand one advice to the home's engine as an "advice" command (`runtime.commands.submit`: queued to a running
    `run`, or executed under the lock), where `Engine.on_advice` keeps it until it expires and the clamp lets it
    only tighten. The key is the advice itself (`runtime.advice.advice_key`): delivering it twice applies it once."""
    return submit(ctx.home, ctx.config, CommandKind.ADVICE, {"advice": advice.model_dump(mode="json")},
                  advice_key(advice), ctx.now_ms, wait_s=ADVICE_WAIT_S).command_id


def _line(report: RoundReport) -> str:
    if report.failure is not None:
        return f"{report.model}: no intel ({report.failure})"
    intel = ", ".join(f"{i.symbol} {i.bias.value} {i.confidence:.2f}" for i in report.intel) or "no intel"
    return f"{report.model}: {intel}; {len(report.advice)} advice, {len(report.rejections)} refused"


SPEC = ToolSpec(
    name="scouts",
    title="Run the LLM scouts",
    description="Run one round of the local LM Studio scouts now: they read scan and status and give intel, which "
                "can only tighten (skip, shrink or pause entries on a symbol, with an expiry). Needs SCOUT_MODELS.",
    input_model=ScoutsInput,
    output_model=ScoutsOutput,
    handler=handle,
    read_only=False,
    destructive=False,
    # Command line and `run` only: an agent is a model itself, and scouts are the executor's own models; an
    # agent that wants their view reads it from status and the journal.
    agent_facing=False,
    open_world=True,
)
