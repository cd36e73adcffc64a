"""`doctor`'s checks of the services around trading, each only when configured: Telegram (`getMe`), the Discord
webhooks (`GET` of the webhook: Discord answers its description and posts nothing), LM Studio
(`/api/v1/models`, with `capabilities.trained_for_tool_use`) and DeepSeek (`GET /models`).

Nothing is ever sent to a chat. A URL that carries a credential (Telegram's `/bot<token>/`, a webhook's token)
is never put in a message or a detail.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import httpx

from core.errors import ConfigError
from reports.notify import TELEGRAM_API_BASE
from runtime.doctor.model import Check, CheckId, fail, ok, skipped, warn
from scouts.llm.settings import LlmSettings
from scouts.lmstudio import ScoutServerUnreachable, api_root, tool_use_models

TIMEOUT_S = 5.0
DISCORD_WEBHOOKS = {CheckId.DISCORD_EXECUTION: "DISCORD_WEBHOOK_EXECUTION",
                    CheckId.DISCORD_RESEARCH: "DISCORD_WEBHOOK_RESEARCH"}


def notifier_checks(env: Mapping[str, str]) -> list[Check]:
    return [_telegram(env), *(_discord(check, variable, env) for check, variable in DISCORD_WEBHOOKS.items())]


def llm_checks(env: Mapping[str, str]) -> list[Check]:
    try:
        settings = LlmSettings.from_env(env)
    except ConfigError as refused:
        return [fail(CheckId.LMSTUDIO, refused.message), fail(CheckId.DEEPSEEK, refused.message)]
    return [_lmstudio(settings), _deepseek(settings)]


def _telegram(env: Mapping[str, str]) -> Check:
    token, chats = _value(env, "TELEGRAM_BOT_TOKEN"), _value(env, "TELEGRAM_CHAT_ID")
    if token is None and chats is None:
        return skipped(CheckId.TELEGRAM, "TELEGRAM_BOT_TOKEN is not set: no Telegram alerts or reports")
    if token is None or chats is None:
        missing = "TELEGRAM_BOT_TOKEN" if token is None else "TELEGRAM_CHAT_ID"
        return fail(CheckId.TELEGRAM, f"{missing} is not set, so Telegram sends nothing: set both or neither")
    base = (_value(env, "TELEGRAM_API_BASE") or TELEGRAM_API_BASE).rstrip("/")
    try:
        answer = _request("POST", f"{base}/bot{token}/getMe")
        body = _object(answer)
    except httpx.HTTPError as failed:
        return fail(CheckId.TELEGRAM, f"the Telegram Bot API at {base} did not answer ({type(failed).__name__}): "
                                      "check the network and TELEGRAM_API_BASE")
    if answer.status_code == 401:
        return fail(CheckId.TELEGRAM, "Telegram refused TELEGRAM_BOT_TOKEN (401): copy the token again from "
                                      "@BotFather")
    result = body.get("result")
    if answer.status_code != 200 or body.get("ok") is not True or not isinstance(result, dict):
        return fail(CheckId.TELEGRAM, f"getMe answered HTTP {answer.status_code}: "
                                      f"{body.get('description') or 'no description'}")
    name = result.get("username") or result.get("first_name") or "the bot"
    return ok(CheckId.TELEGRAM, f"the bot @{name} is reachable (nothing was sent)", bot=name)


def _discord(check: CheckId, variable: str, env: Mapping[str, str]) -> Check:
    url = _value(env, variable)
    if url is None:
        return skipped(check, f"{variable} is not set")
    try:
        answer = _request("GET", url)
    except httpx.HTTPError as failed:
        return fail(check, f"the webhook of {variable} did not answer ({type(failed).__name__}): check the network")
    if answer.status_code in (401, 404):
        return fail(check, f"Discord does not know the webhook of {variable} (HTTP {answer.status_code}): it was "
                           "deleted or mistyped; copy its URL again from the channel's Integrations > Webhooks")
    if answer.status_code != 200:
        return fail(check, f"the webhook of {variable} answered HTTP {answer.status_code}")
    name = _object(answer).get("name") or "the webhook"
    return ok(check, f"{name} is reachable (nothing was posted)", webhook=name)


def _lmstudio(settings: LlmSettings) -> Check:
    if not settings.scout_models:
        return skipped(CheckId.LMSTUDIO, "SCOUT_MODELS is empty: no scouts")
    root = api_root(settings.lmstudio_base_url.rstrip("/"))
    try:  # the same probe a scout round makes before it picks native tool calls or json_schema
        listed = asyncio.run(tool_use_models(settings.lmstudio_base_url.rstrip("/"), TIMEOUT_S))
    except ScoutServerUnreachable as down:
        return fail(CheckId.LMSTUDIO, down.message, url=root)
    missing = [m for m in settings.scout_models if m not in listed]
    if missing:
        return fail(CheckId.LMSTUDIO, f"LM Studio at {root} lists no model {', '.join(missing)} of SCOUT_MODELS: "
                                      f"download it (lms get) or fix SCOUT_MODELS; it lists "
                                      f"{', '.join(sorted(listed)) or 'none'}", url=root, available=sorted(listed))
    tools = {m: listed[m] for m in settings.scout_models}
    without = [m for m, native in tools.items() if not native]
    if without:
        return warn(CheckId.LMSTUDIO, f"{', '.join(without)} not trained for tool use: those scouts answer through "
                                      "a json_schema-constrained reply instead of native tool calls", url=root,
                    trained_for_tool_use=tools)
    return ok(CheckId.LMSTUDIO, f"{', '.join(settings.scout_models)} loaded, trained for tool use", url=root,
              trained_for_tool_use=tools)


def _deepseek(settings: LlmSettings) -> Check:
    if settings.deepseek_api_key is None:
        return skipped(CheckId.DEEPSEEK, "DEEPSEEK_API_KEY is not set: no analyzer reviews")
    base = settings.deepseek_base_url.rstrip("/")
    headers = {"Authorization": f"Bearer {settings.deepseek_api_key.get_secret_value()}"}
    try:
        answer = _request("GET", f"{base}/models", headers)
    except httpx.HTTPError as failed:
        return fail(CheckId.DEEPSEEK, f"DeepSeek at {base} did not answer ({_why(failed)}): check the network and "
                                      "DEEPSEEK_BASE_URL", url=base)
    if answer.status_code == 401:
        return fail(CheckId.DEEPSEEK, "DeepSeek refused DEEPSEEK_API_KEY (401): make a new key at "
                                      "platform.deepseek.com/api_keys", url=base)
    try:
        models = sorted(str(m.get("id")) for m in _object(answer.raise_for_status()).get("data", [])
                        if isinstance(m, dict))
    except (httpx.HTTPError, ValueError) as failed:
        return fail(CheckId.DEEPSEEK, f"DeepSeek's /models failed ({_why(failed)})", url=base)
    if settings.deepseek_model not in models:
        return fail(CheckId.DEEPSEEK, f"DEEPSEEK_MODEL={settings.deepseek_model} is not offered (model names "
                                      f"change): set one of {', '.join(models) or 'none'}", url=base, models=models)
    return ok(CheckId.DEEPSEEK, f"the key is accepted and {settings.deepseek_model} is offered", url=base,
              models=models)


def _request(method: str, url: str, headers: dict[str, str] | None = None) -> httpx.Response:
    with httpx.Client(timeout=TIMEOUT_S, follow_redirects=False) as client:
        return client.request(method, url, headers=headers)


def _object(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _value(env: Mapping[str, str], name: str) -> str | None:
    return (env.get(name) or "").strip() or None


def _why(failed: BaseException) -> str:
    if isinstance(failed, httpx.HTTPStatusError):
        return f"HTTP {failed.response.status_code}"
    return type(failed).__name__
