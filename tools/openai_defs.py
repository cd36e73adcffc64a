"""OpenAI function definitions for the agent-facing tools, ready for `tools=` in Chat Completions.

`[{"type": "function", "function": {"name", "description", "parameters"}}]`, the parameters being each
tool's published input schema. The `$schema` dialect marker and the model's title are left out: the
function's name says what it is, and some OpenAI-compatible servers refuse unknown top-level keys.

`strict=True` publishes the strict-mode form (`"strict": true`, parameters from `tools.strict_schema`) that
OpenAI and DeepSeek's /beta strict function calling accept. `prefix` puts a namespace in front of every
name (`cx_trade`) so the tools do not collide with another tool set in the same agent. Nothing in the
executor receives function names: whoever executes a model's tool call removes the prefix to get the tool
(`executor.py trade`, or the MCP tool `trade`) and passes the arguments as they are; nulls in strict-shaped
arguments mean "not given".
"""

from __future__ import annotations

import re
from typing import Any

from core.errors import InvalidArgument
from tools.registry import agent_specs, input_schema
from tools.spec import ToolSpec
from tools.strict_schema import strict_parameters

_OMITTED_KEYS = frozenset({"$schema", "title"})
# OpenAI and DeepSeek allow function names of 1 to 64 letters, digits, _ and -: a prefix keeps every name within.
PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")


class InvalidPrefix(InvalidArgument):
    def __init__(self, prefix: str) -> None:
        super().__init__(f"--prefix {prefix!r}: a prefix is a letter then up to 31 letters, digits, _ or -, so that "
                         "every prefixed name stays a valid function name", option="--prefix", value=prefix,
                         pattern=PREFIX.pattern)


def function_parameters(spec: ToolSpec) -> dict[str, Any]:
    return {k: v for k, v in input_schema(spec).items() if k not in _OMITTED_KEYS}


def function_name(spec: ToolSpec, prefix: str = "") -> str:
    return prefix + spec.name


def openai_definition(spec: ToolSpec, *, strict: bool = False, prefix: str = "") -> dict[str, Any]:
    function: dict[str, Any] = {"name": function_name(spec, prefix), "description": spec.description}
    if strict:
        function["strict"] = True
        function["parameters"] = strict_parameters(spec.name, input_schema(spec))
    else:
        function["parameters"] = function_parameters(spec)
    return {"type": "function", "function": function}


def openai_tools(*, strict: bool = False, prefix: str = "") -> list[dict[str, Any]]:
    """Every agent-facing tool as an OpenAI function definition (never a command-line-only tool)."""
    if prefix and not PREFIX.fullmatch(prefix):
        raise InvalidPrefix(prefix)
    return [openai_definition(spec, strict=strict, prefix=prefix) for spec in agent_specs()]
