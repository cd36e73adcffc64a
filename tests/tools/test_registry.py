"""Registry lookup and the guarded call path (validation first, then the handler, always an envelope)."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.config import ExecutorConfig
from core.errors import ExecutorError, InvalidArgument
from runtime.home import Home
from tools.envelope import exit_code
from tools.registry import UnknownTool, agent_specs, all_specs, answer_schema, get_spec
from tools.spec import ToolContext, ToolSpec
from tools.validation import invoke, scrub_secrets, validate_arguments

REPO = Path(__file__).resolve().parents[2]
EXPECTED_AGENT_TOOLS = {"scan", "trade", "status", "report", "pause", "resume", "kill", "doctor"}


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class ProbeInput(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    symbol: str = Field(pattern=r"^[A-Z0-9]{2,20}$")
    side: Side
    quote: Decimal | None = Field(default=None, gt=0)
    pct: float | None = Field(default=None, gt=0, le=100)

    @model_validator(mode="after")
    def _one_size(self) -> ProbeInput:
        if (self.quote is None) == (self.pct is None):
            raise ValueError("give exactly one of quote and pct")
        return self


class ProbeOutput(BaseModel):
    symbol: str
    quote: Decimal | None


class Calls:
    def __init__(self) -> None:
        self.models: list[ProbeInput] = []

    def handler(self, args: ProbeInput, ctx: ToolContext) -> ProbeOutput:
        self.models.append(args)
        return ProbeOutput(symbol=args.symbol, quote=args.quote)


def probe(handler) -> ToolSpec:
    return ToolSpec(name="probe", description="a probe", input_model=ProbeInput, output_model=ProbeOutput,
                    handler=handler, read_only=False, destructive=True, title="Probe")


def context_for(tmp_path: Path):
    return lambda: ToolContext(home=Home(tmp_path).ensure(), config=ExecutorConfig(), env={})


def test_every_tool_the_architecture_names_is_registered_once():
    names = [s.name for s in all_specs()]
    assert len(names) == len(set(names))
    assert {s.name for s in agent_specs()} == EXPECTED_AGENT_TOOLS
    assert all(not s.read_only for s in all_specs() if s.destructive)


def test_read_only_and_destructive_hints_match_what_each_tool_does():
    for name in ("scan", "status", "report"):
        assert get_spec(name).read_only and not get_spec(name).destructive
    for name in ("trade", "resume", "kill_reset"):  # they can loosen risk
        assert not get_spec(name).read_only and get_spec(name).destructive
    for name in ("pause", "kill"):  # they only reduce risk: no host should ask twice before the emergency stop
        assert not get_spec(name).read_only and not get_spec(name).destructive
    assert {s.name for s in all_specs() if s.open_world} == {"scan", "trade", "scouts", "doctor"}
    assert get_spec("doctor").read_only and get_spec("doctor").agent_facing  # it never places an order
    assert not get_spec("scouts").read_only and not get_spec("scouts").destructive  # it can only tighten
    assert all(s.title for s in all_specs())


def test_the_kill_reset_is_command_line_only():
    hidden = [s for s in all_specs() if not s.agent_facing]
    assert [s.name for s in hidden] == ["kill_reset", "scouts"]
    with pytest.raises(UnknownTool):
        get_spec("kill_reset", agent_facing_only=True)
    assert get_spec("kill_reset").name == "kill_reset"


def test_unknown_tool_is_an_invalid_argument_listing_the_known_ones():
    with pytest.raises(UnknownTool) as caught:
        get_spec("withdraw")
    assert caught.value.code == "INVALID_ARGUMENT"
    assert "scan" in caught.value.details["known"]


@pytest.mark.parametrize(("arguments", "path", "schema_path_end"), [
    ({"side": "buy", "quote": "10"}, "/symbol", "/required"),
    ({"symbol": "btcusdt", "side": "buy", "quote": "10"}, "/symbol", "/pattern"),
    ({"symbol": "BTCUSDT", "side": "hold", "quote": "10"}, "/side", "/enum"),
    ({"symbol": "BTCUSDT", "side": "buy", "quote": "ten"}, "/quote", "/pattern"),
    ({"symbol": "BTCUSDT", "side": "buy", "quote": "-5"}, "/quote", "(model)"),
    ({"symbol": "BTCUSDT", "side": "buy", "pct": 101}, "/pct", "/maximum"),
    ({"symbol": "BTCUSDT", "side": "buy", "qoute": "10"}, "/qoute", "/additionalProperties"),
    ({"symbol": "BTCUSDT", "side": "buy", "pct": float("nan")}, "/pct", "(finite)"),
    ({"symbol": "BTCUSDT", "side": "buy"}, "", "(model)"),
    (["BTCUSDT"], "", "/type"),
])
def test_invalid_arguments_name_the_json_path_and_nothing_runs(tmp_path, arguments, path, schema_path_end):
    calls = Calls()
    document = invoke(probe(calls.handler), arguments, context_for(tmp_path / "home"))
    assert not document["ok"]
    assert document["error"]["code"] == "INVALID_ARGUMENT" and exit_code(document) == 2
    assert document["error"]["details"]["path"] == path
    assert document["error"]["details"]["schema_path"].endswith(schema_path_end)
    assert calls.models == []
    assert not (tmp_path / "home").exists(), "a rejected call must not even create the data directory"


def test_valid_arguments_reach_the_handler_as_the_model_with_exact_decimals(tmp_path):
    calls = Calls()
    for quote in ("10.10", 10.1):
        document = invoke(probe(calls.handler), {"symbol": "BTCUSDT", "side": "buy", "quote": quote},
                          context_for(tmp_path))
        assert document == {"ok": True, "tool": "probe", "data": {"symbol": "BTCUSDT", "quote": str(Decimal(
            str(quote)))}}
    assert [m.quote for m in calls.models] == [Decimal("10.10"), Decimal("10.1")]
    assert calls.models[0].side is Side.BUY


def test_a_typed_error_from_the_handler_becomes_the_error_envelope(tmp_path):
    def refuse(args, ctx):
        raise ExecutorError("no", symbol=args.symbol)

    document = invoke(probe(refuse), {"symbol": "BTCUSDT", "side": "buy", "quote": 1}, context_for(tmp_path))
    assert document["error"] == {"code": "EXECUTOR_ERROR", "message": "no", "details": {"symbol": "BTCUSDT"}}
    assert exit_code(document) == 1


def test_a_crashing_handler_answers_internal_error_without_its_message(tmp_path, monkeypatch, caplog):
    secret = "S3cr3tValueThatMustNotLeak0123456789abcdef"
    monkeypatch.setenv("BINANCE_API_SECRET", secret)

    def crash(args, ctx):
        raise RuntimeError(f"boom with {secret}")

    document = invoke(probe(crash), {"symbol": "BTCUSDT", "side": "buy", "quote": 1}, context_for(tmp_path))
    assert document["error"]["code"] == "INTERNAL_ERROR" and exit_code(document) == 1
    assert secret not in str(document)
    assert "boom" in caplog.text and secret not in caplog.text


def test_a_handler_returning_the_wrong_model_is_an_internal_error(tmp_path):
    document = invoke(probe(lambda args, ctx: ProbeInput.model_construct()), {"symbol": "BTCUSDT", "side": "buy",
                      "pct": 5}, context_for(tmp_path))
    assert document["error"]["code"] == "INTERNAL_ERROR"


def test_secrets_from_the_environment_are_masked_anywhere_in_an_answer():
    env = {"BINANCE_API_KEY": "k" * 64, "TELEGRAM_BOT_TOKEN": "123456789:" + "A" * 35, "TELEGRAM_CHAT_ID": "42",
           "DISCORD_WEBHOOK_EXECUTION": "https://discord.com/api/webhooks/1/tok" + "x" * 20}
    answer = {"a": ["key " + "k" * 64], "k" * 64: {"b": env["DISCORD_WEBHOOK_EXECUTION"]}, "chat": "42", "n": 3}
    scrubbed = scrub_secrets(answer, env)
    assert "k" * 64 not in str(scrubbed) and "x" * 20 not in str(scrubbed)
    assert scrubbed["chat"] == "42" and scrubbed["n"] == 3


def test_validate_arguments_is_typed():
    with pytest.raises(InvalidArgument):
        validate_arguments(probe(Calls().handler), {"symbol": 5})


def test_one_tool_command_imports_only_its_own_tool_module():
    """`executor.py status` must not pay for importing the report tool (matplotlib) or the others."""
    code = ("import sys, executor; executor.build_parser('status'); "
            "print(sorted(m for m in sys.modules if m in ('tools.scan', 'tools.trade', 'tools.status', "
            "'tools.report', 'tools.control')))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['tools.status']"


def test_status_and_trade_do_not_import_the_llm_client():
    """openai costs about a second of CPU to import: a `status` or `trade` call reads the analyzer's settings
    without it, and only an engine that is reviewed builds a client (runtime.analyzer.build_analyzer)."""
    code = ("import sys, tools.status, tools.trade; "
            "print(sorted(m for m in ('openai', 'scouts.llm.client') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_run_command_imports_no_tool_module():
    code = ("import sys, executor; executor.build_parser('run'); "
            "print([m for m in sys.modules if m.startswith('tools.') and m not in ('tools.cli', 'tools.chat', "
            "'tools.envelope', 'tools.registry', 'tools.spec', 'tools.validation', 'tools.openai_defs', "
            "'tools.strict_schema')])")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_rejected_value_is_echoed_as_strict_json_and_short(tmp_path):
    calls = Calls()
    for arguments in ({"symbol": "BTCUSDT", "side": "buy", "quote": [float("nan")]},
                      {"symbol": "X" * 5000, "side": "buy", "quote": 1}):
        document = invoke(probe(calls.handler), arguments, context_for(tmp_path))
        text = json.dumps(document, allow_nan=False)
        assert len(text) < 1200
    assert calls.models == []


class FloatOutput(BaseModel):
    ratio: float
    ratios: list[float]


def test_a_non_finite_float_in_an_answer_becomes_null_not_a_bare_nan(tmp_path):
    spec = ToolSpec(name="probe", description="a probe", input_model=ProbeInput, output_model=FloatOutput,
                    handler=lambda args, ctx: FloatOutput(ratio=float("nan"), ratios=[1.5, float("inf")]),
                    read_only=True, title="Probe")
    document = invoke(spec, {"symbol": "BTCUSDT", "side": "buy", "pct": 1}, context_for(tmp_path))
    assert document["data"] == {"ratio": None, "ratios": [1.5, None]}
    json.dumps(document, allow_nan=False)
    # and the answer still matches the published schema (MCP hosts validate structured content against it)
    assert Draft202012Validator(answer_schema(spec)).is_valid(document)
