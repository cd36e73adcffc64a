"""`tools --format openai --strict [--prefix P]`: definitions that OpenAI's and DeepSeek's strict function calling
accept, checked against the documented rules (a checker written from the docs, not from our converter), and
arguments in the strict shape (every property, null for the ones left out) meaning what omitting them means."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ConfigDict

from core.errors import InvalidArgument
from tests.tools.test_cli_support import EXECUTOR, executor_env
from tools.cli import tool_definitions
from tools.openai_defs import InvalidPrefix, openai_tools
from tools.registry import agent_specs, get_spec, input_schema
from tools.spec import ToolSpec
from tools.strict_schema import StrictSchemaUnsupported, strict_parameters
from tools.validation import ArgumentRejected, validate_arguments

SPECS = agent_specs()

# ----- the documented rules ------------------------------------------------------------------------------------
# OpenAI, Structured Outputs "Supported schemas": types string, number, boolean, integer, object, array, enum,
# anyOf (not at the root); string: pattern, format; number: multipleOf, maximum, exclusiveMaximum, minimum,
# exclusiveMinimum; array: minItems, maxItems; every object: all properties in `required`,
# `additionalProperties: false`; optional = a union with null; not supported: allOf, not, dependentRequired,
# dependentSchemas, if, then, else; limits: 5000 object properties, 10 levels of nesting, 1000 enum values,
# 120,000 characters of property names, definition names, enum and const values.
# DeepSeek, Tool Calls "strict mode (Beta)": types object, string, number, integer, boolean, array, enum, anyOf;
# string: pattern, format in email, hostname, ipv4, ipv6, uuid (not minLength, maxLength); number: const, default,
# minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf; array: not minItems, maxItems; every object:
# all properties required, additionalProperties false. Function names: 1-64 of a-z, A-Z, 0-9, _ and -.
# Accepted by both: the intersection.
BOTH_KEYWORDS = {"type", "description", "properties", "required", "additionalProperties", "items", "enum", "anyOf",
                 "pattern", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}
BOTH_FORMATS = {"email", "hostname", "ipv4", "ipv6", "uuid"}
BOTH_TYPES = {"string", "number", "integer", "boolean", "object", "array", "null"}
NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MAX_PROPERTIES, MAX_DEPTH, MAX_ENUM_VALUES, MAX_STRING_CHARS = 5000, 10, 1000, 120_000


def strict_mode_problems(definition: dict[str, Any]) -> list[str]:
    """Every way `definition` breaks the strict-mode rules both providers document (empty: accepted)."""
    problems: list[str] = []
    if definition.get("type") != "function" or set(definition) != {"type", "function"}:
        problems.append("not a function tool")
    function = definition.get("function", {})
    if function.get("strict") is not True:
        problems.append("strict is not true")
    if not NAME.fullmatch(str(function.get("name", ""))):
        problems.append(f"name {function.get('name')!r}")
    parameters = function.get("parameters", {})
    if parameters.get("type") != "object" or "anyOf" in parameters:
        problems.append("the root is not a plain object")
    try:
        Draft202012Validator.check_schema(parameters)
    except Exception as exc:  # any SchemaError
        problems.append(f"not a valid schema: {exc}")
    totals = {"properties": 0, "enum": 0, "chars": 0, "depth": 0}
    _walk(parameters, "", 0, problems, totals)
    if totals["properties"] > MAX_PROPERTIES or totals["depth"] > MAX_DEPTH:
        problems.append(f"too big: {totals}")
    if totals["enum"] > MAX_ENUM_VALUES or totals["chars"] > MAX_STRING_CHARS:
        problems.append(f"too many enum values or characters: {totals}")
    return problems


def _walk(node: dict[str, Any], path: str, depth: int, problems: list[str], totals: dict[str, int]) -> None:
    for key in set(node) - BOTH_KEYWORDS:
        problems.append(f"{path or '/'}: keyword {key}")
    declared = node.get("type")
    types = declared if isinstance(declared, list) else [declared] if declared else []
    for name in types:
        if name not in BOTH_TYPES:
            problems.append(f"{path}: type {name}")
    if isinstance(declared, list) and {"object", "array"} & set(declared):
        problems.append(f"{path}: a type list with object or array")
    if "format" in node and node["format"] not in BOTH_FORMATS:
        problems.append(f"{path}: format {node['format']}")
    if "enum" in node:
        totals["enum"] += len(node["enum"])
        totals["chars"] += sum(len(str(v)) for v in node["enum"])
    if "object" in types or "properties" in node:
        properties = node.get("properties", {})
        totals["properties"] += len(properties)
        totals["chars"] += sum(len(name) for name in properties)
        totals["depth"] = max(totals["depth"], depth + 1)
        if node.get("additionalProperties") is not False:
            problems.append(f"{path or '/'}: additionalProperties is not false")
        if set(node.get("required", [])) != set(properties) or len(node.get("required", [])) != len(properties):
            problems.append(f"{path or '/'}: required is not every property")
        for name, prop in properties.items():
            _walk(prop, f"{path}/{name}", depth + 1, problems, totals)
    if "items" in node:
        _walk(node["items"], f"{path}/items", depth, problems, totals)
    for index, branch in enumerate(node.get("anyOf", [])):
        _walk(branch, f"{path}/anyOf/{index}", depth, problems, totals)


# ----- what is published ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["", "cx_"])
def test_strict_definitions_follow_both_providers_rules(prefix: str) -> None:
    definitions = openai_tools(strict=True, prefix=prefix)
    assert [d["function"]["name"] for d in definitions] == [prefix + s.name for s in SPECS]
    for definition in definitions:
        assert strict_mode_problems(definition) == [], definition["function"]["name"]


def test_the_checker_refuses_what_strict_mode_refuses() -> None:
    """The checker can fail: the plain definitions (optional properties, defaults, titles, minItems) break it."""
    plain = openai_tools()
    assert "strict is not true" in strict_mode_problems(plain[0])
    for definition in plain:
        definition["function"]["strict"] = True
    problems = {d["function"]["name"]: strict_mode_problems(d) for d in plain}
    assert any("required is not every property" in p for p in problems["trade"])
    assert any("keyword default" in p for p in problems["trade"])
    assert any("keyword minItems" in p for p in problems["scan"])
    assert problems["status"] == []  # no properties: nothing to break


def test_optional_properties_are_nullable_and_required_ones_are_not() -> None:
    for spec in SPECS:
        parameters = strict_parameters(spec.name, input_schema(spec))
        required = set(input_schema(spec).get("required", []))
        for name, prop in parameters["properties"].items():
            assert Draft202012Validator(prop).is_valid(None) is (name not in required), (spec.name, name)


def test_null_always_means_the_default_because_no_nullable_input_has_another_default() -> None:
    """Strict arguments send null for "not given". That is only the same thing if every input that accepts null
    defaults to null; a nullable field with another default would make null and omission differ."""
    for spec in SPECS:
        for name, field in spec.input_model.model_fields.items():
            nullable = Draft202012Validator(input_schema(spec)["properties"][name]).is_valid(None)
            if nullable:
                assert field.default is None, (spec.name, name)


def test_prefixed_names_round_trip_to_the_tool() -> None:
    for definition in openai_tools(strict=True, prefix="cx_"):
        name = definition["function"]["name"]
        assert NAME.fullmatch(name)
        assert get_spec(name.removeprefix("cx_"), agent_facing_only=True).name == name[3:]


@pytest.mark.parametrize("prefix", ["9x", "cx prefix", "x" * 33, "cx.", "é_"])
def test_a_prefix_that_would_make_an_invalid_name_is_refused_by_name(prefix: str) -> None:
    with pytest.raises(InvalidPrefix) as raised:
        openai_tools(prefix=prefix)
    assert raised.value.details == {"option": "--prefix", "value": prefix, "pattern": raised.value.details["pattern"]}


@pytest.mark.parametrize("fmt", ["mcp", "jsonschema"])
def test_strict_and_prefix_only_apply_to_openai(fmt: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        tool_definitions(fmt, prefix="cx_")
    assert raised.value.details == {"option": "--prefix", "format": fmt}
    with pytest.raises(InvalidArgument):
        tool_definitions(fmt, strict=True)


def test_the_command_prints_strict_prefixed_definitions_from_any_folder(tmp_path) -> None:
    done = subprocess.run([sys.executable, str(EXECUTOR), "tools", "--format", "openai", "--strict", "--prefix",
                           "cx_"], cwd="/", env=executor_env(tmp_path / "home"), capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    definitions = json.loads(done.stdout)
    assert definitions == openai_tools(strict=True, prefix="cx_")
    bad = subprocess.run([sys.executable, str(EXECUTOR), "tools", "--format", "mcp", "--strict"], cwd="/",
                         env=executor_env(tmp_path / "home"), capture_output=True, text=True, timeout=120,
                         check=False)
    assert bad.returncode == 2 and json.loads(bad.stdout)["error"]["details"]["option"] == "--strict"


# ----- the converter refuses what it cannot express ------------------------------------------------------------


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Inner(_Closed):
    limit: int = 3


class _Nested(_Closed):
    inner: _Inner


class _Map(_Closed):
    weights: dict[str, float]


class _Tree(_Closed):
    children: list[_Tree]


@pytest.mark.parametrize(("model", "keyword"), [(_Nested, "required"), (_Map, "additionalProperties"),
                                                (_Tree, "$ref")])
def test_what_strict_mode_cannot_mean_the_same_is_refused_by_name(model: type[BaseModel], keyword: str) -> None:
    with pytest.raises(StrictSchemaUnsupported) as raised:
        strict_parameters("probe", model.model_json_schema())
    assert raised.value.details["keyword"] == keyword and raised.value.details["tool"] == "probe"


# ----- strict-shaped arguments mean what omitting them means ---------------------------------------------------


def test_a_null_for_an_argument_with_a_default_means_the_default() -> None:
    pause = get_spec("pause")
    assert validate_arguments(pause, {"minutes": 5, "wait_s": None, "symbol": None}) == \
        validate_arguments(pause, {"minutes": 5})
    report = get_spec("report")
    assert validate_arguments(report, {"period": None, "date": None}) == validate_arguments(report, {})
    with pytest.raises(ArgumentRejected) as raised:
        validate_arguments(pause, {"minutes": None, "wait_s": None, "symbol": None})
    assert raised.value.details["path"] == "/minutes"


def _values(schema: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values the published schema accepts (the subset of JSON Schema our input models use)."""
    if "$ref" in schema:
        return _values({**defs[schema["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in schema.items()
                                                                       if k != "$ref"}}, defs)
    if "anyOf" in schema:
        return st.one_of([_values(branch, defs) for branch in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "null":
        return st.none()
    if kind == "string":
        return st.from_regex(schema["pattern"], fullmatch=True) if "pattern" in schema else st.text(max_size=8)
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "number":
        low, high = schema.get("minimum", schema.get("exclusiveMinimum")), \
            schema.get("maximum", schema.get("exclusiveMaximum"))
        return st.floats(low, high, allow_nan=False, allow_infinity=False,
                         exclude_min="exclusiveMinimum" in schema, exclude_max="exclusiveMaximum" in schema)
    if kind == "array":
        return st.lists(_values(schema["items"], defs), min_size=schema.get("minItems", 0),
                        max_size=schema.get("maxItems", 5))
    raise AssertionError(f"no strategy for {schema}")


@st.composite
def _omitted_form(draw: st.DrawFn, spec: ToolSpec) -> dict[str, Any]:
    schema = input_schema(spec)
    required = set(schema.get("required", []))
    arguments = {}
    for name, prop in schema["properties"].items():
        if name in required or draw(st.booleans()):
            arguments[name] = draw(_values(prop, schema.get("$defs", {})))
    return arguments


def _outcome(spec: ToolSpec, arguments: dict[str, Any]) -> Any:
    try:
        return validate_arguments(spec, arguments)
    except ArgumentRejected as exc:
        return ("rejected", exc.details["path"])


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_strict_shaped_arguments_validate_and_mean_the_same_as_omitting(spec: ToolSpec) -> None:
    strict = Draft202012Validator(strict_parameters(spec.name, input_schema(spec)))
    names = list(input_schema(spec)["properties"])

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(_omitted_form(spec))
    def check(arguments: dict[str, Any]) -> None:
        shaped = {name: arguments.get(name) for name in names}
        assert strict.is_valid(shaped), shaped  # what a strict model may send for these arguments
        assert _outcome(spec, shaped) == _outcome(spec, arguments)

    check()
