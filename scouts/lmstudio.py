"""What LM Studio says about a model before a scout uses it: is it loaded, and was it trained for tool use?

`GET {root}/api/v1/models` (LM Studio's own API, beside the OpenAI-compatible `/v1`) lists each model with
`capabilities.trained_for_tool_use`. A model it does not list, or lists without that capability, gets the
`json_schema` path (the read-only tools run first and their results are given as data).
"""

from __future__ import annotations

from typing import Any

import httpx2

from core.errors import ExecutorError

PROBE_TIMEOUT_S = 5.0


class ScoutServerUnreachable(ExecutorError):
    """LM Studio did not answer at LMSTUDIO_BASE_URL: the scouts cannot run."""

    code = "LLM_UNREACHABLE"

    def __init__(self, base_url: str, reason: str) -> None:
        super().__init__(f"LM Studio is not reachable at {base_url} ({reason}): start LM Studio's server "
                         "(Developer tab → Start Server, or `lms server start`) and load a model of SCOUT_MODELS, "
                         "or set LMSTUDIO_BASE_URL", setting="LMSTUDIO_BASE_URL", base_url=base_url)


def api_root(base_url: str) -> str:
    """`http://host:1234` from `http://host:1234/v1`."""
    return base_url[: -len("/v1")] if base_url.endswith("/v1") else base_url


async def tool_use_models(base_url: str, timeout_s: float = PROBE_TIMEOUT_S) -> dict[str, bool]:
    """Model key → trained for tool use, as LM Studio reports it. ScoutServerUnreachable when nothing answers;
    an answer we cannot read means no model is known to use tools (the json_schema path is always safe)."""
    url = f"{api_root(base_url)}/api/v1/models"
    try:
        async with httpx2.AsyncClient(timeout=timeout_s) as http:
            response = await http.get(url)
    except httpx2.TransportError as exc:
        raise ScoutServerUnreachable(base_url, type(exc).__name__) from None
    if response.status_code != 200:
        return {}
    try:
        document: Any = response.json()
    except ValueError:
        return {}
    models = document.get("models") if isinstance(document, dict) else None
    found: dict[str, bool] = {}
    for entry in models if isinstance(models, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("key"), str):
            capabilities = entry.get("capabilities")
            found[entry["key"]] = isinstance(capabilities, dict) and capabilities.get("trained_for_tool_use") is True
    return found
