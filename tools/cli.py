"""The tool registry as command-line subcommands: flags generated from each input model's published schema.

A field becomes a flag of the same name (`max_quote` → `--max-quote`). Values are turned into the JSON
types the schema allows, and nothing more: a value that does not fit is passed on as the string it was,
so the published schema rejects it with its path, exactly as it would reject an agent's argument.
Lists are comma-separated (`--symbols BTCUSDT,ETHUSDT`); booleans are `--flag` / `--no-flag`.

A command-line-only spec named `<tool>_<word>` (e.g. `kill_reset`) is reachable only as `<tool> --<word>`
on its parent's command, so an agent that can run `kill` cannot reset the kill switch by accident.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.display import significant
from core.errors import InvalidArgument
from tools.chat import RENDERERS, wrapped
from tools.openai_defs import openai_tools
from tools.registry import TOOL_MODULES, all_specs, get_spec, input_schema, output_schema, sibling_specs
from tools.spec import ToolContext, ToolSpec
from tools.validation import invoke

SIGNIFICANT_DIGITS = 8
TEXT_LIMIT = 1500  # characters: one Discord message with room to spare
LINE_LIMIT = 60  # characters: readable on a phone; a chat line holds at most three of these (tools.chat)
_ARG_PREFIX = "arg__"
_VARIANT_PREFIX = "variant__"


@dataclass(frozen=True)
class FieldFlag:
    """How one schema property is read from the command line."""

    name: str  # the property's name in the published schema
    types: frozenset[str]  # JSON types the schema allows
    item_types: frozenset[str]  # for arrays: the items' JSON types
    help: str


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = {**defs.get(schema["$ref"].rsplit("/", 1)[-1], {}), **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _json_types(schema: dict[str, Any], defs: dict[str, Any]) -> set[str]:
    schema = _resolve(schema, defs)
    found: set[str] = set()
    declared = schema.get("type")
    if isinstance(declared, str):
        found.add(declared)
    elif isinstance(declared, list):
        found.update(declared)
    if "enum" in schema or "const" in schema:
        values = schema.get("enum", [schema.get("const")])
        found.update(_type_of(v) for v in values)
    for key in ("anyOf", "oneOf", "allOf"):
        for branch in schema.get(key, []):
            found |= _json_types(branch, defs)
    return found


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if value is None:
        return "null"
    return "string"


def _items(schema: dict[str, Any], defs: dict[str, Any]) -> set[str]:
    schema = _resolve(schema, defs)
    found: set[str] = set()
    if "items" in schema:
        found |= _json_types(schema["items"], defs)
    for key in ("anyOf", "oneOf", "allOf"):
        for branch in schema.get(key, []):
            found |= _items(branch, defs)
    return found


def field_flags(spec: ToolSpec) -> list[FieldFlag]:
    schema = input_schema(spec)
    defs = schema.get("$defs", {})
    flags = []
    for name, prop in schema.get("properties", {}).items():
        resolved = _resolve(prop, defs)
        words = [prop.get("description") or resolved.get("description", "")]
        if "enum" in resolved:
            words.append("One of: " + ", ".join(str(v) for v in resolved["enum"]) + ".")
        if "default" in prop and prop["default"] is not None:
            words.append(f"Default: {prop['default']}.")
        flags.append(FieldFlag(name, frozenset(_json_types(prop, defs)), frozenset(_items(prop, defs)),
                               " ".join(w for w in words if w).replace("%", "%%")))
    return flags


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _add_field_flags(parser: argparse.ArgumentParser, flags: list[FieldFlag]) -> None:
    for field in flags:
        dest = _ARG_PREFIX + field.name
        if field.types == {"boolean"} or field.types == {"boolean", "null"}:
            parser.add_argument(_flag(field.name), dest=dest, action=argparse.BooleanOptionalAction, default=None,
                                help=field.help)
        else:
            metavar = "A,B" if "array" in field.types else field.name.upper()
            parser.add_argument(_flag(field.name), dest=dest, default=None, metavar=metavar, help=field.help)


def _variants(parent: ToolSpec) -> list[tuple[str, ToolSpec]]:
    """Command-line-only specs of the parent's module reached as `<parent> --<word>`: (word, spec)."""
    prefix = parent.name + "_"
    return [(spec.name[len(prefix):], spec) for spec in sibling_specs(parent)
            if not spec.agent_facing and spec.name.startswith(prefix)]


def _is_variant(name: str) -> bool:
    return any(name.startswith(other + "_") for other in TOOL_MODULES if other != name) and \
        not get_spec(name).agent_facing


def command_names() -> list[str]:
    """The tools that are subcommands of their own (every tool that is not a variant of another)."""
    return [name for name in TOOL_MODULES if not _is_variant(name)]


def is_tool_command(command: str) -> bool:
    return command in TOOL_MODULES and not _is_variant(command)


def add_tool_commands(sub: Any, common: Callable[[argparse.ArgumentParser], None], only: str | None = None) -> None:
    """Add tool subcommands to an argparse subparsers object (`common` adds --home and --format): every one,
    or only the command `only` (which then imports only that tool's module)."""
    for name in [only] if only else command_names():
        spec = get_spec(name)
        parser = sub.add_parser(spec.name, help=spec.description, description=spec.description)
        common(parser)
        own = field_flags(spec)
        _add_field_flags(parser, own)
        own_names = {f.name for f in own}
        for word, variant in _variants(spec):
            parser.add_argument(_flag(word), dest=_VARIANT_PREFIX + word, action="store_true",
                                help=f"command line only: {variant.description}")
            extra = [f for f in field_flags(variant) if f.name not in own_names]
            _add_field_flags(parser, extra)
            own_names |= {f.name for f in extra}


def _coerce(text: str, types: frozenset[str], item_types: frozenset[str]) -> Any:
    """The JSON value a flag's text stands for, as far as the schema's types allow; else the text itself."""
    if "array" in types:
        return [_coerce(part.strip(), item_types, frozenset()) for part in text.split(",") if part.strip()]
    if "string" in types:
        return text
    if "integer" in types:
        try:
            return int(text)
        except ValueError:
            pass
    if "number" in types:
        try:
            return float(text) if any(c in text for c in ".eE") else int(text)
        except ValueError:
            pass
    if "object" in types:
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


def selected_spec(args: argparse.Namespace) -> ToolSpec:
    """The spec a parsed tool command calls: the command's own, or a variant whose flag was given."""
    spec = get_spec(args.command)
    for word, variant in _variants(spec):
        if getattr(args, _VARIANT_PREFIX + word, False):
            return variant
    return spec


def raw_arguments(spec: ToolSpec, args: argparse.Namespace) -> dict[str, Any]:
    """The arguments a parsed command line gives `spec`, as JSON values: flags left out are absent.

    A flag that belongs to the command but not to the selected spec is kept too, so that the published
    schema refuses it (`kill --confirm X` without `--reset` is an error, not silently ignored).
    """
    flags = {f.name: f for f in field_flags(spec)}
    raw: dict[str, Any] = {}
    for dest, value in vars(args).items():
        if not dest.startswith(_ARG_PREFIX) or value is None:
            continue
        name = dest[len(_ARG_PREFIX):]
        field = flags.get(name)
        if isinstance(value, bool) or field is None:
            raw[name] = value
        else:
            raw[name] = _coerce(value, field.types, field.item_types)
    return raw


def run_tool_command(args: argparse.Namespace) -> dict[str, Any]:
    """Validate and run a parsed tool command; the JSON envelope (never raises for a tool's own errors)."""
    spec = selected_spec(args)
    return invoke(spec, raw_arguments(spec, args), lambda: ToolContext.from_environment(args.home))


DEFINITION_FORMATS = ("openai", "mcp", "jsonschema")


def tool_definitions(fmt: str, *, strict: bool = False, prefix: str = "") -> Any:
    """What `executor.py tools --format FMT` prints: OpenAI `tools=` (strict-mode form and a name prefix on
    request), the MCP tool list, or every schema."""
    if fmt == "openai":
        return openai_tools(strict=strict, prefix=prefix)
    for option, given in (("--strict", strict), ("--prefix", prefix)):
        if given:
            raise InvalidArgument(f"{option} applies to --format openai only, not {fmt}", option=option, format=fmt)
    if fmt == "mcp":
        # Imported here: the MCP SDK takes most of a second to import, which every other command would pay.
        from tools.mcp_server import mcp_tool_list

        return mcp_tool_list()
    return {spec.name: {"description": spec.description, "read_only": spec.read_only, "destructive": spec.destructive,
                        "agent_facing": spec.agent_facing, "input": input_schema(spec), "output": output_schema(spec)}
            for spec in all_specs()}


def render_text(document: dict[str, Any]) -> str:
    """A short chat-friendly answer (Discord, Telegram): one fact per line, no tables, at most TEXT_LIMIT chars.

    `status` and `scan` have answers of their own (`tools.chat`): the lines that must be seen first, then detail.
    Any other tool's own chat text (`data.text`) or one-line summary (`data.message`) comes first, then its
    data flattened; empty values are left out and long decimals rounded. Long lines are wrapped at word
    boundaries, never cut; what does not fit is left out in whole lines, and the last line says so.
    """
    tool = document.get("tool", "executor")
    if not document.get("ok"):
        error = document["error"]
        lines = [f"{tool} failed: {error['code']}", *wrapped(error["message"])]
        return _fit(tool, lines + _lines(error.get("details", {}), ""))
    data = dict(document.get("data") or {})
    lines = [f"{tool}: ok"]
    renderer = RENDERERS.get(tool)
    if renderer is not None:
        chat = renderer(data)
        return _fit(tool, lines + chat.essential + chat.detail)
    for lead in ("text", "message"):
        if isinstance(data.get(lead), str):
            lines += data.pop(lead).splitlines()
    return _fit(tool, lines + _lines(data, ""))


def _short_number(text: str) -> str:
    """'0.4504104104104104104' → '0.45041041': eight significant digits are plenty in a chat line."""
    if "." not in text:
        return text  # ids, times and whole amounts stay as they are
    try:
        return significant(text, SIGNIFICANT_DIGITS)
    except ValueError:
        return text


def _scalar(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str):
        return _short_number(value)
    return str(value)


def _lines(value: Any, prefix: str) -> list[str]:
    """Nested data flattened to `a.b: value` lines; a list of records as one `- k=v k=v` line each."""
    if isinstance(value, dict):
        out: list[str] = []
        for key, item in value.items():
            if item is None or item == [] or item == {}:
                continue
            out += _lines(item, f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(value, list):
        if not value:
            return [f"{prefix}: none"]
        if all(not isinstance(v, (dict, list)) for v in value):
            return [f"{prefix}: " + ", ".join(_scalar(v) for v in value)]
        out = [f"{prefix}:"]
        for item in value:
            if isinstance(item, dict):
                flat = _lines(item, "")
                out.append("- " + " ".join(line.replace(": ", "=", 1) for line in flat))
            else:
                out += _lines(item, prefix)
        return out
    return [f"{prefix}: {_scalar(value)}"]


def _fit(tool: str, lines: list[str]) -> str:
    """The lines, each wrapped to LINE_LIMIT × 3, until TEXT_LIMIT; then one line saying how many were left out."""
    whole = [part for line in lines for part in wrapped(line)]
    kept: list[str] = []
    used = 0
    for index, line in enumerate(whole):
        more = f"… {len(whole) - index} more line(s): `{tool} --format json` has everything"
        if used + len(line) + 1 > TEXT_LIMIT - len(more) - 1:
            kept.append(more)
            break
        kept.append(line)
        used += len(line) + 1
    return "\n".join(kept)
