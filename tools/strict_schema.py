"""A published input schema rewritten for strict function calling (OpenAI, and DeepSeek's /beta strict mode).

Strict mode constrains decoding with the schema, so it accepts only a subset of JSON Schema. What both
providers document (OpenAI "Structured Outputs: supported schemas"; DeepSeek "Tool Calls: strict mode"):
every object lists all its properties in `required` and sets `additionalProperties: false`; an optional
property is expressed as nullable instead; the root is an object, not an `anyOf`. Kept here: `type`,
`description`, `properties`, `required`, `additionalProperties`, `items`, `enum`, `anyOf`, `pattern`, the
number bounds (`minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`, `multipleOf`) and `format`
where DeepSeek knows it (email, hostname, ipv4, ipv6, uuid). Dropped: `title`, `default`, `$schema`, and
the bounds DeepSeek refuses (`minLength`, `maxLength`, `minItems`, `maxItems`); a `$ref` is written out and
a `const` becomes a one-value `enum`. Dropping a bound only widens what the model may send: every argument
is still validated against the full published schema (`tools.validation`), which says what is wrong.

Optional properties become nullable, and `tools.validation` reads a null for a property that does not
accept null as "not given", so strict-shaped arguments mean exactly what omitting them means. That reading
is made for the top level only; a nested object with optional properties is refused here rather than
published with a meaning the executor would not honour.
"""

from __future__ import annotations

from typing import Any

from core.errors import ExecutorError

STRICT_FORMATS = frozenset({"email", "hostname", "ipv4", "ipv6", "uuid"})
_COPIED = frozenset({"type", "description", "enum", "pattern", "minimum", "maximum", "exclusiveMinimum",
                     "exclusiveMaximum", "multipleOf"})
_DROPPED = frozenset({"title", "default", "$schema", "$defs", "minLength", "maxLength", "minItems", "maxItems",
                      "examples"})
_SCALAR_TYPES = frozenset({"string", "number", "integer", "boolean"})


class StrictSchemaUnsupported(ExecutorError):
    """A part of a tool's input schema that strict function calling cannot express without changing its meaning."""

    code = "STRICT_SCHEMA_UNSUPPORTED"

    def __init__(self, tool: str, path: str, keyword: str, reason: str) -> None:
        super().__init__(f"{tool}: {path or '(root)'}: {keyword}: {reason}", tool=tool, path=path, keyword=keyword)


def strict_parameters(tool: str, schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` (a published Draft 2020-12 input schema) in the form strict function calling accepts."""
    parameters = _Rewriter(tool, schema.get("$defs", {})).node(schema, "", depth=0, refs=())
    if parameters.get("type") != "object" or "anyOf" in parameters:
        raise StrictSchemaUnsupported(tool, "", "type", "the root must be a plain object")
    return parameters


class _Rewriter:
    def __init__(self, tool: str, defs: dict[str, Any]) -> None:
        self.tool = tool
        self.defs = defs

    def node(self, schema: dict[str, Any], path: str, depth: int, refs: tuple[str, ...]) -> dict[str, Any]:
        if "$ref" in schema:
            name = schema["$ref"].removeprefix("#/$defs/")
            if name in refs or name not in self.defs:
                raise StrictSchemaUnsupported(self.tool, path, "$ref", f"{schema['$ref']} is recursive or unknown")
            merged = {**self.defs[name], **{k: v for k, v in schema.items() if k != "$ref"}}
            return self.node(merged, path, depth, (*refs, name))
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key in _COPIED:
                out[key] = value
            elif key == "const":
                out["enum"] = [value]
            elif key == "format":
                if value in STRICT_FORMATS:
                    out[key] = value
            elif key == "anyOf":
                out[key] = [self.node(branch, f"{path}/anyOf/{i}", depth, refs) for i, branch in enumerate(value)]
            elif key == "items":
                out[key] = self.node(value, f"{path}/items", depth, refs)
            elif key not in _DROPPED and key not in ("properties", "required", "additionalProperties"):
                raise StrictSchemaUnsupported(self.tool, path, key, "not in the strict-mode subset")
        if schema.get("type") == "object" or "properties" in schema:
            out.update(self._object(schema, path, depth, refs))
        return out

    def _object(self, schema: dict[str, Any], path: str, depth: int, refs: tuple[str, ...]) -> dict[str, Any]:
        if schema.get("additionalProperties", False) is not False:
            raise StrictSchemaUnsupported(self.tool, path, "additionalProperties", "an open object or a map")
        properties: dict[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", []))
        if depth > 0 and set(properties) - required:
            raise StrictSchemaUnsupported(self.tool, path, "required",
                                          "optional properties below the top level: null would not mean omitted")
        rewritten = {}
        for name, prop in properties.items():
            node = self.node(prop, f"{path}/properties/{name}", depth + 1, refs)
            rewritten[name] = node if name in required else nullable(node)
        return {"type": "object", "properties": rewritten, "required": list(properties),
                "additionalProperties": False}


def accepts_null(schema: dict[str, Any]) -> bool:
    declared = schema.get("type")
    if declared == "null" or (isinstance(declared, list) and "null" in declared):
        return "enum" not in schema or None in schema["enum"]
    return any(accepts_null(branch) for branch in schema.get("anyOf", []))


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` that also accepts null: a type list for a plain scalar, else an `anyOf` with a null branch."""
    if accepts_null(schema):
        return schema
    if "anyOf" in schema:
        return {**schema, "anyOf": [*schema["anyOf"], {"type": "null"}]}
    declared = schema.get("type")
    if isinstance(declared, str) and declared in _SCALAR_TYPES and "enum" not in schema:
        return {**schema, "type": [declared, "null"]}
    inner = {k: v for k, v in schema.items() if k != "description"}
    outer = {"description": schema["description"]} if "description" in schema else {}
    return {**outer, "anyOf": [inner, {"type": "null"}]}
