"""OpenAI function definitions for the agent-facing tools, ready for `tools=` in Chat Completions.

`[{"type": "function", "function": {"name", "description", "parameters"}}]`, the parameters being each
tool's published input schema. The `$schema` dialect marker and the model's title are left out: the
function's name says what it is, and some OpenAI-compatible servers refuse unknown top-level keys.
"""

from __future__ import annotations

from typing import Any

from tools.registry import agent_specs, input_schema
from tools.spec import ToolSpec

_OMITTED_KEYS = frozenset({"$schema", "title"})


def function_parameters(spec: ToolSpec) -> dict[str, Any]:
    return {k: v for k, v in input_schema(spec).items() if k not in _OMITTED_KEYS}


def openai_definition(spec: ToolSpec) -> dict[str, Any]:
    return {"type": "function",
            "function": {"name": spec.name, "description": spec.description, "parameters": function_parameters(spec)}}


def openai_tools() -> list[dict[str, Any]]:
    """Every agent-facing tool as an OpenAI function definition (never a command-line-only tool)."""
    return [openai_definition(spec) for spec in agent_specs()]
