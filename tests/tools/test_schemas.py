"""Every published schema is a valid Draft 2020-12 schema, and each front end publishes the same one."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from tools.mcp_server import mcp_tool_list
from tools.openai_defs import openai_tools
from tools.registry import JSON_SCHEMA_DIALECT, agent_specs, all_specs, answer_schema, input_schema, output_schema

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


def test_mcp_tool_list_publishes_the_input_and_answer_schemas_with_hints():
    listed = mcp_tool_list()
    assert [t["name"] for t in listed] == [s.name for s in agent_specs()]
    for tool, spec in zip(listed, agent_specs(), strict=True):
        assert tool["inputSchema"] == input_schema(spec)
        assert tool["outputSchema"] == answer_schema(spec)
        assert tool["description"] == spec.description
        assert tool["title"] == tool["annotations"]["title"] == spec.title
        assert tool["annotations"]["readOnlyHint"] is spec.read_only
        assert tool["annotations"]["openWorldHint"] is spec.open_world
        if spec.read_only:  # the spec: destructive and idempotent only mean something for a tool that changes state
            assert "destructiveHint" not in tool["annotations"] and "idempotentHint" not in tool["annotations"]
        else:
            assert tool["annotations"]["destructiveHint"] is spec.destructive
            assert tool["annotations"]["idempotentHint"] is spec.idempotent


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_the_answer_schema_is_the_envelope_ok_or_error(spec):
    schema = answer_schema(spec)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    error = {"code": "INVALID_ARGUMENT", "message": "m", "details": {"path": "/x"}}
    assert validator.is_valid({"ok": False, "tool": spec.name, "error": error})
    assert not validator.is_valid({"ok": False, "tool": "other", "error": error})
    assert not validator.is_valid({"ok": True, "tool": spec.name, "error": error})
    assert not validator.is_valid({"ok": False, "tool": spec.name, "error": {**error, "code": "not a code"}})
    assert not validator.is_valid({"ok": True, "tool": spec.name, "data": {}})  # the data's own schema applies
    assert not validator.is_valid({"ok": True, "tool": spec.name, "data": {}, "error": error})


def test_command_line_only_specs_are_never_published_to_agents():
    hidden = {s.name for s in all_specs() if not s.agent_facing}
    assert not hidden & {d["function"]["name"] for d in openai_tools()}
    assert not hidden & {t["name"] for t in mcp_tool_list()}
