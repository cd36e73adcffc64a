"""The tool registry: every `ToolSpec`, found by name, and the JSON schemas every front end publishes.

`TOOL_MODULES` names every tool and the module that defines it, so one command imports only its own
module (a CLI call stays quick, and `run` imports no tool at all); a module that defines a spec the map
does not name, or lacks one it does, is refused. A module may expose one spec as `SPEC`, several as
`SPECS`, or any number of module-level `ToolSpec` values (control has pause, resume, kill and the
command-line-only kill reset).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from pydantic import BaseModel

from core.errors import InvalidArgument
from tools.envelope import envelope_schema
from tools.spec import ToolSpec

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
# A Decimal field accepts a number or a string; pydantic publishes the string branch without a pattern, which
# would let "ten" through the schema. Money given as text must at least look like a number (ASCII digits:
# Python's \d also matches other scripts' digits).
DECIMAL_STRING_PATTERN = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
TOOL_MODULES: dict[str, str] = {
    "scan": "tools.scan",
    "trade": "tools.trade",
    "status": "tools.status",
    "report": "tools.report",
    "pause": "tools.control",
    "resume": "tools.control",
    "kill": "tools.control",
    "kill_reset": "tools.control",
    "scouts": "tools.scouts",
    "doctor": "tools.doctor",
}


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
def module_specs(module_name: str) -> tuple[ToolSpec, ...]:
    """The specs one tool module defines, each once, exactly those `TOOL_MODULES` places there."""
    by_name: dict[str, ToolSpec] = {}
    for spec in _specs_in(importlib.import_module(module_name)):
        if by_name.setdefault(spec.name, spec) is not spec:
            raise RuntimeError(f"two tool specs are named {spec.name!r} in {module_name}")
    declared = {name for name, module in TOOL_MODULES.items() if module == module_name}
    if set(by_name) != declared:
        raise RuntimeError(f"{module_name} defines {sorted(by_name)}, the registry expects {sorted(declared)}")
    return tuple(by_name.values())


def all_specs() -> tuple[ToolSpec, ...]:
    """Every spec, agent-facing or not (imports every tool module)."""
    return tuple(spec for module in dict.fromkeys(TOOL_MODULES.values()) for spec in module_specs(module))


def agent_specs() -> tuple[ToolSpec, ...]:
    """The specs an agent may see and call (MCP, OpenAI definitions): never the command-line-only ones."""
    return tuple(spec for spec in all_specs() if spec.agent_facing)


def get_spec(name: str, *, agent_facing_only: bool = False) -> ToolSpec:
    """The spec named `name`, importing only its module; `UnknownTool` (INVALID_ARGUMENT) when there is none."""
    if name in TOOL_MODULES:
        spec = next(s for s in module_specs(TOOL_MODULES[name]) if s.name == name)
        if spec.agent_facing or not agent_facing_only:
            return spec
    known = agent_specs() if agent_facing_only else all_specs()
    raise UnknownTool(name, [spec.name for spec in known])


def sibling_specs(spec: ToolSpec) -> tuple[ToolSpec, ...]:
    """The specs defined in the same module as `spec` (e.g. kill and kill_reset)."""
    return module_specs(TOOL_MODULES[spec.name])


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
    return _with_dialect(_floats_nullable(model.model_json_schema(mode="serialization")))


def _floats_nullable(schema: Any) -> Any:
    """Let every float (`"type": "number"`; a Decimal is published as a string) be null: a NaN or infinite float
    goes out as null (`tools.validation.invoke`), and the answer must still match what is published."""
    if isinstance(schema, list):
        return [_floats_nullable(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    schema = {key: _floats_nullable(value) for key, value in schema.items()}
    if schema.get("type") == "number":
        schema["type"] = ["number", "null"]
    return schema


def answer_schema(spec: ToolSpec) -> dict[str, Any]:
    """The published Draft 2020-12 schema of every envelope the tool answers, ok or error (MCP `outputSchema`)."""
    return envelope_schema(spec.name, output_schema(spec))


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
