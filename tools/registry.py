"""The tool registry: every `ToolSpec`, found by name, and the JSON schemas every front end publishes.

The specs come from the tool modules. A module may expose one spec as `SPEC`, several as `SPECS`, or
any number of module-level `ToolSpec` values (the control module has pause, resume, kill and the
command-line-only kill reset); all of them are collected, in the order the modules define them.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from pydantic import BaseModel

from core.errors import InvalidArgument
from tools.spec import ToolSpec

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
# A Decimal field accepts a number or a string; pydantic publishes the string branch without a pattern, which
# would let "ten" through the schema. Money given as text must at least look like a number (ASCII digits:
# Python's \d also matches other scripts' digits).
DECIMAL_STRING_PATTERN = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
TOOL_MODULES: tuple[str, ...] = ("tools.scan", "tools.trade", "tools.status", "tools.report", "tools.control")


class UnknownTool(InvalidArgument):
    """A tool name that is not in the registry (or not reachable from the front end that was asked)."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"no tool named {name!r}; known tools: {', '.join(known)}", tool=name, known=known)


def _specs_in(module: ModuleType) -> Iterator[ToolSpec]:
    for value in vars(module).values():
        if isinstance(value, ToolSpec):
            yield value
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, ToolSpec) for v in value):
            yield from value


@functools.cache
def all_specs() -> tuple[ToolSpec, ...]:
    """Every spec, agent-facing or not, each once. Two different specs with one name is a programming error."""
    by_name: dict[str, ToolSpec] = {}
    for module_name in TOOL_MODULES:
        for spec in _specs_in(importlib.import_module(module_name)):
            seen = by_name.setdefault(spec.name, spec)
            if seen is not spec:
                raise RuntimeError(f"two tool specs are named {spec.name!r} ({module_name})")
    return tuple(by_name.values())


def agent_specs() -> tuple[ToolSpec, ...]:
    """The specs an agent may see and call (MCP, OpenAI definitions): never the command-line-only ones."""
    return tuple(spec for spec in all_specs() if spec.agent_facing)


def get_spec(name: str, *, agent_facing_only: bool = False) -> ToolSpec:
    specs = agent_specs() if agent_facing_only else all_specs()
    for spec in specs:
        if spec.name == name:
            return spec
    raise UnknownTool(name, [spec.name for spec in specs])


def _with_dialect(schema: dict[str, Any]) -> dict[str, Any]:
    return {"$schema": JSON_SCHEMA_DIALECT, **schema}


@functools.cache
def _input_schema(model: type[BaseModel]) -> dict[str, Any]:
    return _with_dialect(_numeric_strings(model.model_json_schema(mode="validation")))


def _numeric_strings(schema: Any) -> Any:
    """Give the bare string branch of every number-or-string union (a Decimal) a numeric pattern."""
    if isinstance(schema, list):
        return [_numeric_strings(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    schema = {key: _numeric_strings(value) for key, value in schema.items()}
    branches = schema.get("anyOf")
    if isinstance(branches, list) and any(isinstance(b, dict) and b.get("type") == "number" for b in branches):
        schema["anyOf"] = [{**b, "pattern": DECIMAL_STRING_PATTERN} if b == {"type": "string"} else b
                           for b in branches]
    return schema


@functools.cache
def _output_schema(model: type[BaseModel]) -> dict[str, Any]:
    return _with_dialect(model.model_json_schema(mode="serialization"))


def input_schema(spec: ToolSpec) -> dict[str, Any]:
    """The published Draft 2020-12 schema of a tool's arguments: what arguments are validated against.

    A copy: callers may change it without changing what is validated.
    """
    return _deep_copy(_input_schema(spec.input_model))


def output_schema(spec: ToolSpec) -> dict[str, Any]:
    """The published Draft 2020-12 schema of a tool's `data` (the ok envelope's payload)."""
    return _deep_copy(_output_schema(spec.output_model))


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value
