"""Every published schema is a valid Draft 2020-12 schema, and each front end publishes the same one."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from tools.mcp_server import mcp_tool_list
from tools.openai_defs import openai_tools
from tools.registry import JSON_SCHEMA_DIALECT, agent_specs, all_specs, input_schema, output_schema

SPECS = all_specs()


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_input_and_output_schemas_are_valid_draft_2020_12(spec):
    for schema in (input_schema(spec), output_schema(spec)):
        assert schema["$schema"] == JSON_SCHEMA_DIALECT
        Draft202012Validator.check_schema(schema)
    assert input_schema(spec)["type"] == "object"


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_input_schema_forbids_unknown_arguments(spec):
    """A misspelt argument (`qoute`) must be an error, never silently ignored."""
    assert input_schema(spec).get("additionalProperties") is False


def test_published_schemas_are_copies():
    spec = SPECS[0]
    input_schema(spec)["properties"] = "changed"
    assert input_schema(spec)["properties"] != "changed"


def test_openai_definitions_have_the_shape_chat_completions_expects():
    definitions = openai_tools()
    assert [d["function"]["name"] for d in definitions] == [s.name for s in agent_specs()]
    for definition, spec in zip(definitions, agent_specs(), strict=True):
        assert set(definition) == {"type", "function"}
        assert definition["type"] == "function"
        function = definition["function"]
        assert set(function) == {"name", "description", "parameters"}
        assert function["description"] == spec.description and 0 < len(function["description"]) <= 1024
        assert function["name"].isidentifier()
        parameters = function["parameters"]
        assert parameters["type"] == "object"
        assert "$schema" not in parameters
        Draft202012Validator.check_schema(parameters)
        assert {k: v for k, v in input_schema(spec).items() if k not in ("$schema", "title")} == parameters


def test_mcp_tool_list_publishes_the_input_schemas_with_hints():
    listed = mcp_tool_list()
    assert [t["name"] for t in listed] == [s.name for s in agent_specs()]
    for tool, spec in zip(listed, agent_specs(), strict=True):
        assert tool["inputSchema"] == input_schema(spec)
        assert tool["description"] == spec.description
        assert tool["annotations"]["readOnlyHint"] is spec.read_only
        if not spec.read_only:
            assert tool["annotations"]["destructiveHint"] is spec.destructive


def test_command_line_only_specs_are_never_published_to_agents():
    hidden = {s.name for s in all_specs() if not s.agent_facing}
    assert not hidden & {d["function"]["name"] for d in openai_tools()}
    assert not hidden & {t["name"] for t in mcp_tool_list()}
