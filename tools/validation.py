"""The one guarded path from raw tool arguments (CLI, MCP or an LLM) to a JSON envelope.

Arguments are checked against the PUBLISHED JSON schema first, with a Draft 2020-12 validator, so the
error names the JSON-schema path of the offending field exactly as the caller sees the schema
(`details: {"path": "/quote", "schema_path": "/properties/quote/...", "value": ...}`). Only then is the
pydantic model built (its validators may refuse combinations a schema cannot express). Nothing runs on
invalid input: the handler is only ever given a model instance. `invoke` is that path, shared by
every front end, so a call answers the same envelope whichever way it came in.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import traceback
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic import ValidationError as ModelViolation

from core.errors import ExecutorError, InvalidArgument
from memory.redact import credential_values, mask_values
from tools.envelope import dumps, failure, from_error, ok
from tools.registry import input_schema
from tools.spec import ToolContext, ToolSpec

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

log = logging.getLogger("tools")

MAX_ECHOED_CHARS = 200  # an offending value is echoed back, cut to this length so errors stay chat-sized
MAX_REASON_CHARS = 300


class ArgumentRejected(InvalidArgument):
    """One argument that the published schema or the input model refuses, with where and why."""

    def __init__(self, tool: str, path: str, schema_path: str, value: Any, reason: str) -> None:
        where = path or "(arguments)"
        if len(reason) > MAX_REASON_CHARS:  # jsonschema quotes the whole offending value in its message
            reason = reason[:MAX_REASON_CHARS] + "…"
        super().__init__(f"{tool}: {where}: {reason}", tool=tool, path=path, schema_path=schema_path,
                         value=_echo(value))


def _pointer(parts: Iterable[Any]) -> str:
    """RFC 6901 JSON pointer ('' is the whole document)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _echo(value: Any) -> Any:
    """The offending value as strict JSON can carry it (NaN cannot), shortened when long."""
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return repr(value)[:MAX_ECHOED_CHARS]
    if len(text) <= MAX_ECHOED_CHARS:
        return value
    return text[:MAX_ECHOED_CHARS] + "…"


@functools.cache
def _validator(spec: ToolSpec) -> Draft202012Validator:
    # Imported on first use: jsonschema costs ~60 ms at start-up, which `run` and `backtest` never need.
    from jsonschema import Draft202012Validator

    return Draft202012Validator(input_schema(spec))


def schema_violation(spec: ToolSpec, arguments: Any) -> ArgumentRejected | None:
    """The most relevant way `arguments` break the published schema, or None when they conform.

    A missing or unexpected property is reported at the property's own path (`/symbol`), not at the
    object that lacks or carries it, so the caller learns which field to fix.
    """
    from jsonschema.exceptions import best_match

    error = best_match(_validator(spec).iter_errors(arguments))
    if error is None:
        return _non_finite(spec, arguments, [])
    path, value = list(error.absolute_path), error.instance
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [name for name in error.validator_value if name not in error.instance]
        path, value = [*path, missing[0]], None
    elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        unexpected = [name for name in error.instance if name not in allowed]
        if unexpected:
            path, value = [*path, unexpected[0]], error.instance[unexpected[0]]
    return ArgumentRejected(spec.name, _pointer(path), _pointer(error.absolute_schema_path), value, error.message)


def _non_finite(spec: ToolSpec, value: Any, path: list[Any]) -> ArgumentRejected | None:
    """NaN and infinity pass a JSON schema's `number` (they are floats) but are never an amount."""
    if isinstance(value, float) and not math.isfinite(value):
        return ArgumentRejected(spec.name, _pointer(path), "(finite)", str(value), "not a finite number")
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _non_finite(spec, item, [*path, key])
        if found is not None:
            return found
    return None


@functools.cache
def _null_means_omitted(spec: ToolSpec) -> frozenset[str]:
    """The top-level properties whose published schema refuses null.

    Strict function calling (OpenAI, DeepSeek) sends every property and null for each one the model leaves
    out (`tools.strict_schema`), so a null there means "not given": the default applies, and a required
    property is reported missing at its own path. A property that accepts null keeps it (its default is null).
    """
    from jsonschema import Draft202012Validator

    schema = input_schema(spec)
    defs = schema.get("$defs", {})
    return frozenset(name for name, prop in schema.get("properties", {}).items()
                     if not Draft202012Validator({**prop, "$defs": defs}).is_valid(None))


def validate_arguments(spec: ToolSpec, arguments: Any) -> BaseModel:
    """The tool's input model built from raw arguments, or `ArgumentRejected` (INVALID_ARGUMENT, exit 2)."""
    if arguments is None:
        arguments = {}
    if isinstance(arguments, dict):
        omitted = _null_means_omitted(spec)
        arguments = {k: v for k, v in arguments.items() if not (v is None and k in omitted)}
    rejected = schema_violation(spec, arguments)
    if rejected is not None:
        raise rejected
    try:
        text = dumps(arguments)
    except (TypeError, ValueError):
        raise ArgumentRejected(spec.name, "", "(json)", arguments, "arguments are not JSON values") from None
    try:
        # JSON semantics, as the schema is published for JSON: "0.1" and 0.1 both become Decimal("0.1").
        return spec.input_model.model_validate_json(text)
    except ModelViolation as exc:
        first = exc.errors()[0]
        location = [p for p in first.get("loc", ()) if p != "__root__"]
        value = _value_at(arguments, location) if location else arguments
        raise ArgumentRejected(spec.name, _pointer(location), "(model)", value, first.get("msg", "invalid")) from None


def _value_at(document: Any, location: list[Any]) -> Any:
    node = document
    for part in location:
        in_mapping = isinstance(node, Mapping) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if not (in_mapping or in_list):
            return None
        node = node[part]
    return node


def invoke(spec: ToolSpec, arguments: Any, context: Callable[[], ToolContext]) -> dict[str, Any]:
    """Validate, run and wrap one call: always an envelope, never an exception.

    `context` is built only after the arguments are valid, so a rejected call touches nothing (not even the
    data directory). Any secret value from the environment that still made it into the answer is masked.
    """
    try:
        model = validate_arguments(spec, arguments)
        ctx = context()
        if ctx.settings_problem is not None and spec.needs_strategy_settings:
            raise ctx.settings_problem
        result = spec.handler(model, ctx)
        if not isinstance(result, spec.output_model):
            raise TypeError(f"handler returned {type(result).__name__}, not {spec.output_model.__name__}")
        # Through pydantic's JSON, as it goes on the wire: a NaN or infinite float becomes null, never a bare
        # NaN token that strict JSON parsers (and agents) refuse.
        document = ok(spec.name, json.loads(result.model_dump_json()))
    except ExecutorError as exc:
        document = from_error(spec.name, exc)
    except Exception as exc:  # a bug in a handler: answer with the contract, keep the trace on stderr
        trace = "".join(traceback.format_exception(exc))
        log.error("tool %s crashed:\n%s", spec.name, scrub_secrets(trace))
        document = failure(spec.name, "INTERNAL_ERROR", f"{spec.name} failed unexpectedly ({type(exc).__name__}); "
                           "the trace is in the executor's log (stderr)", {"exception": type(exc).__name__})
    return scrub_secrets(document)


def scrub_secrets(value: Any, env: Mapping[str, str] | None = None) -> Any:
    """A copy of `value` in which every credential from the environment is masked (`abcde…wxyz`)."""
    secrets = credential_values(os.environ if env is None else env)
    return mask_values(value, secrets) if secrets else value


