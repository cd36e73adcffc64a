"""The fake OpenAI-compatible server: aiohttp on 127.0.0.1 in a thread of its own, so that a test's client
(sync or with its own event loop) talks to it over a real socket.

Two modes: `Mode.DEEPSEEK` checks the bearer key (401), refuses `json_schema` and a `json_object` request
whose prompt lacks the word "json" (400), as DeepSeek does; `Mode.LMSTUDIO` refuses `json_object` (400,
LM Studio accepts `json_schema` and `text` only) and any `tool_choice` other than "none", "auto",
"required", and serves LM Studio's `GET /api/v1/models` with `capabilities.trained_for_tool_use`.

A DeepSeek reply that scripts no `usage` gets one computed from the request, with DeepSeek's context cache:
the part of the prompt that repeats the start of an earlier prompt, in whole 64-token units, is
`prompt_cache_hit_tokens`, the rest `prompt_cache_miss_tokens`.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from enum import StrEnum
from typing import Any

from aiohttp import web

from tests.fakes.loop_thread import LoopThread
from tests.fakes.openai_compat.script import Received, Reply, error_body, estimated_tokens

LMSTUDIO_TOOL_CHOICES = frozenset({"none", "auto", "required"})
HANG_S = 3600.0
CACHE_UNIT_TOKENS = 64  # DeepSeek's context cache stores prompt prefixes in units of 64 tokens


class Mode(StrEnum):
    DEEPSEEK = "deepseek"
    LMSTUDIO = "lmstudio"


class FakeOpenAI:
    """Scripted chat completions on 127.0.0.1. `script(*replies)` queues answers; `requests` is everything
    received, in order. With the queue empty, a completion request answers 500 ("no scripted reply")."""

    def __init__(self, mode: Mode = Mode.DEEPSEEK, *, api_key: str | None = None,
                 models: dict[str, bool] | None = None) -> None:
        self.mode = mode
        self.api_key = api_key
        self.models = models if models is not None else {"deepseek-flash": True}  # id → trained_for_tool_use
        self.port = 0
        self._replies: deque[Reply] = deque()
        self._requests: list[Received] = []
        self._prompts: list[str] = []  # the prompts answered, for DeepSeek's prefix cache
        self._lock = threading.Lock()
        self._loop_thread = LoopThread("fake-openai")
        self._runner: web.AppRunner | None = None

    # ----- life cycle ------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """What a client's `base_url` is set to: LM Studio's ends in /v1, DeepSeek's is the host alone."""
        root = f"http://127.0.0.1:{self.port}"
        return f"{root}/v1" if self.mode is Mode.LMSTUDIO else root

    def start(self, port: int = 0) -> FakeOpenAI:
        self._loop_thread.start(self._serve(port))
        return self

    def stop(self) -> None:
        self._loop_thread.stop(self._shutdown())

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    async def _serve(self, port: int) -> None:
        app = web.Application()
        for prefix in ("", "/v1"):
            app.router.add_post(f"{prefix}/chat/completions", self._chat)
            app.router.add_get(f"{prefix}/models", self._models)
        app.router.add_get("/api/v1/models", self._lmstudio_models)
        app.router.add_post("/fake/script", self._control_script)
        app.router.add_get("/fake/requests", self._control_requests)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[union-attr]
        self.port = int(server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        # Handlers still hanging or trickling (their client gave up) end here, not as destroyed pending tasks.
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    # ----- the driver (any thread) -----------------------------------------------------------------------

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._replies.extend(replies)

    def reset(self) -> None:
        """Forget the replies not served yet and the requests received (a new test case on a running fake)."""
        with self._lock:
            self._replies.clear()
            self._requests.clear()
            self._prompts.clear()

    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._requests)

    def completions(self) -> list[Received]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def wait_answered(self, count: int, timeout_s: float = 5.0) -> bool:
        """Wait until `count` completion requests were answered in full (a late answer to a request the
        client gave up on still finishes on the server, and a real provider bills it)."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if sum(r.answered for r in self.completions()) >= count:
                return True
            time.sleep(0.02)
        return False

    # ----- handlers --------------------------------------------------------------------------------------

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        raw = await request.text()
        try:
            body: Any = json.loads(raw)
        except json.JSONDecodeError:
            body = None
        received = Received(request.method, request.path, dict(request.headers), body, raw=raw)
        with self._lock:
            self._requests.append(received)
            reply = self._replies.popleft() if self._replies else None
        refusal = self._refusal(request, body)
        if refusal is not None:
            received.answered = True
            return refusal
        if reply is None:
            received.answered = True
            return web.json_response(error_body(500, "fake: no scripted reply left"), status=500,
                                     headers={"x-should-retry": "false"})
        return await self._answer(request, body, reply, received)

    def _refusal(self, request: web.Request, body: Any) -> web.Response | None:
        """What the real server refuses before it generates anything."""
        if self.api_key is not None and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return web.json_response(error_body(401), status=401)
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return web.json_response(error_body(400, "messages is required"), status=400)
        kind = (body.get("response_format") or {}).get("type")
        if self.mode is Mode.LMSTUDIO:
            if kind == "json_object":
                return web.json_response({"error": "'response_format.type' must be 'json_schema' or 'text'"},
                                         status=400)
            choice = body.get("tool_choice")
            if choice is not None and (not isinstance(choice, str) or choice not in LMSTUDIO_TOOL_CHOICES):
                return web.json_response({"error": "tool_choice must be one of none, auto, required"}, status=400)
        else:
            if kind == "json_schema":
                return web.json_response(error_body(400, "This response_format type is unavailable now"), status=400)
            if kind == "json_object" and "json" not in json.dumps(body["messages"]).lower():
                return web.json_response(error_body(
                    400, "Prompt must contain the word 'json' in some form to use 'response_format' of type "
                         "'json_object'."), status=400)
        return None

    def _cached_tokens(self, body: dict[str, Any]) -> int:
        """Prompt tokens DeepSeek's cache would serve: the longest start shared with an earlier prompt, in whole
        units. The prompt is then remembered for later requests."""
        prompt = json.dumps(body.get("messages"))
        with self._lock:
            shared = max((_common_prefix(prompt, earlier) for earlier in self._prompts), default=0)
            self._prompts.append(prompt)
        tokens = estimated_tokens(prompt[:shared]) if shared else 0
        return tokens // CACHE_UNIT_TOKENS * CACHE_UNIT_TOKENS

    async def _answer(self, request: web.Request, body: dict[str, Any], reply: Reply,
                      received: Received) -> web.StreamResponse:
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if reply.hang:
            await asyncio.sleep(HANG_S)
        if reply.drop:
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError  # the handler ends with the connection; nothing is sent
        if reply.status != 200:
            headers = {} if reply.retry_after is None else {"Retry-After": f"{reply.retry_after:g}"}
            received.answered = True
            return web.json_response(error_body(reply.status), status=reply.status, headers=headers)
        stream = bool(body.get("stream"))
        completion = _completion(body, reply, self.mode, self._cached_tokens(body))
        # Generated: a real provider bills it now, whether or not the client is still there to read it. With
        # keep-alive lines the answer is generated while they trickle, so only once they are all sent.
        received.answered = reply.keepalive_lines == 0
        response = web.StreamResponse(status=200, headers={
            "Content-Type": "text/event-stream" if stream else "application/json"})
        try:
            await response.prepare(request)
            for _ in range(reply.keepalive_lines):
                await response.write(b": keep-alive\n\n" if stream else b"\n")
                await asyncio.sleep(reply.keepalive_every_s)
            received.answered = True
            if stream:
                for chunk in _chunks(completion):
                    await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
                await response.write(b"data: [DONE]\n\n")
            else:
                await response.write(json.dumps(completion).encode())
            await response.write_eof()
        except ConnectionResetError:
            pass  # the client gave up (its deadline): nothing more to send
        return response

    async def _models(self, request: web.Request) -> web.Response:
        if self.api_key is not None and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return web.json_response(error_body(401), status=401)
        return web.json_response({"object": "list", "data": [
            {"id": model, "object": "model", "owned_by": self.mode.value} for model in self.models]})

    async def _lmstudio_models(self, request: web.Request) -> web.Response:
        return web.json_response({"models": [
            {"type": "llm", "key": model, "display_name": model,
             "capabilities": {"vision": False, "trained_for_tool_use": tools}}
            for model, tools in self.models.items()]})

    async def _control_script(self, request: web.Request) -> web.Response:
        docs = await request.json()
        self.script(*(Reply.from_dict(doc) for doc in docs))
        return web.json_response({"queued": len(docs)})

    async def _control_requests(self, request: web.Request) -> web.Response:
        return web.json_response([{"method": r.method, "path": r.path, "body": r.body, "answered": r.answered}
                                  for r in self.requests])


def _common_prefix(one: str, other: str) -> int:
    length = min(len(one), len(other))
    for index in range(length):
        if one[index] != other[index]:
            return index
    return length


def _completion(body: dict[str, Any], reply: Reply, mode: Mode, cached: int = 0) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.tool_calls is not None:
        message["tool_calls"] = reply.tool_calls
    usage = reply.usage
    if usage is None:
        prompt = estimated_tokens(json.dumps(body.get("messages")))
        completion = estimated_tokens(reply.content or json.dumps(reply.tool_calls or ""))
        usage = {"prompt_tokens": prompt, "completion_tokens": completion}
        if mode is Mode.DEEPSEEK:
            hit = min(cached, prompt)
            usage |= {"prompt_cache_hit_tokens": hit, "prompt_cache_miss_tokens": prompt - hit}
    if "total_tokens" not in usage and {"prompt_tokens", "completion_tokens"} <= usage.keys():
        usage = {**usage, "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"]}
    return {
        "id": f"chatcmpl-fake-{time.monotonic_ns()}", "object": "chat.completion", "created": int(time.time()),
        "model": body.get("model", ""), "system_fingerprint": "fake",
        "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason, "logprobs": None}],
        "usage": usage,
    }


def _chunks(completion: dict[str, Any]) -> list[dict[str, Any]]:
    """The completion as streamed chunks: the message in one delta, then the finish with the usage."""
    choice = completion["choices"][0]
    base = {k: completion[k] for k in ("id", "created", "model", "system_fingerprint")} | {
        "object": "chat.completion.chunk"}
    return [
        base | {"choices": [{"index": 0, "delta": choice["message"], "finish_reason": None}]},
        base | {"choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}],
                "usage": completion["usage"]},
    ]
