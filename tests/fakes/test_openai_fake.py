"""The fake OpenAI-compatible server speaks DeepSeek's and LM Studio's dialects to the real `openai` package."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx2
import openai
import pytest

from tests.fakes.openai_compat import FakeOpenAI, Mode, Reply

KEY = "sk-fake-0123456789abcdef0123"
ASK = [{"role": "user", "content": "answer in json"}]


@pytest.fixture
def lmstudio() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(Mode.LMSTUDIO, models={"qwen2.5-3b-instruct": True, "gemma-2-2b-it": False}) as fake:
        yield fake


@pytest.fixture
def deepseek() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(Mode.DEEPSEEK, api_key=KEY) as fake:
        yield fake


def client(fake: FakeOpenAI, key: str = KEY, **kwargs: object) -> openai.OpenAI:
    return openai.OpenAI(base_url=fake.base_url, api_key=key, **({"max_retries": 0} | kwargs))  # type: ignore[arg-type]


def test_lm_studio_refuses_json_object_and_foreign_tool_choices(lmstudio: FakeOpenAI) -> None:
    lm = client(lmstudio)
    with pytest.raises(openai.BadRequestError) as refused:
        lm.chat.completions.create(model="qwen2.5-3b-instruct", messages=ASK,  # type: ignore[arg-type]
                                   response_format={"type": "json_object"})
    assert "json_schema" in str(refused.value.body)
    tool = {"type": "function", "function": {"name": "scan", "parameters": {"type": "object", "properties": {}}}}
    with pytest.raises(openai.BadRequestError) as refused:
        lm.chat.completions.create(model="qwen2.5-3b-instruct", messages=ASK, tools=[tool],  # type: ignore[arg-type,list-item]
                                   tool_choice={"type": "function", "function": {"name": "scan"}})
    assert "tool_choice" in str(refused.value.body)
    lmstudio.script(Reply(content=None, tool_calls=[
        {"id": "call_1", "type": "function", "function": {"name": "scan", "arguments": '{"symbols": ["BTCUSDT"]}'}}],
        finish_reason="tool_calls"))
    answer = lm.chat.completions.create(model="qwen2.5-3b-instruct", messages=ASK, tools=[tool],  # type: ignore[arg-type,list-item]
                                        tool_choice="required")
    [call] = answer.choices[0].message.tool_calls or []
    assert call.function.name == "scan" and json.loads(call.function.arguments) == {"symbols": ["BTCUSDT"]}  # type: ignore[union-attr]
    assert [r.body.get("tool_choice") for r in lmstudio.completions()] == [
        None, {"type": "function", "function": {"name": "scan"}}, "required"]


def test_lm_studio_lists_models_and_their_tool_use(lmstudio: FakeOpenAI) -> None:
    assert [m.id for m in client(lmstudio).models.list()] == ["qwen2.5-3b-instruct", "gemma-2-2b-it"]
    root = lmstudio.base_url.removesuffix("/v1")
    models = httpx2.get(f"{root}/api/v1/models").json()["models"]
    assert {m["key"]: m["capabilities"]["trained_for_tool_use"] for m in models} == {
        "qwen2.5-3b-instruct": True, "gemma-2-2b-it": False}


def test_deepseek_checks_the_key_and_the_json_word(deepseek: FakeOpenAI) -> None:
    with pytest.raises(openai.AuthenticationError):
        client(deepseek, key="sk-other").chat.completions.create(model="deepseek-flash", messages=ASK)  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError, match="json"):
        client(deepseek).chat.completions.create(model="deepseek-flash", messages=[{"role": "user", "content": "hi"}],
                                                 response_format={"type": "json_object"})
    with pytest.raises(openai.BadRequestError, match="unavailable"):
        client(deepseek).chat.completions.create(model="deepseek-flash", messages=ASK,  # type: ignore[arg-type]
                                                 response_format={"type": "json_schema", "json_schema": {"name": "x"}})
    assert len(deepseek.completions()) == 3


def test_deepseek_usage_carries_the_cache_split(deepseek: FakeOpenAI) -> None:
    deepseek.script(Reply.json({"ok": True}, usage={"prompt_tokens": 30, "completion_tokens": 4,
                                                    "prompt_cache_hit_tokens": 20, "prompt_cache_miss_tokens": 10}))
    answer = client(deepseek).chat.completions.create(model="deepseek-flash", messages=ASK,  # type: ignore[arg-type]
                                                      response_format={"type": "json_object"})
    assert answer.usage is not None and answer.usage.model_extra == {
        "prompt_cache_hit_tokens": 20, "prompt_cache_miss_tokens": 10}


def test_deepseek_computed_usage_serves_a_repeated_prefix_from_its_cache(deepseek: FakeOpenAI) -> None:
    system = {"role": "system", "content": "You review entries and answer in json. " * 40}  # ~400 tokens
    deepseek.script(Reply.json({"ok": True}), Reply.json({"ok": True}), Reply.json({"ok": True}))
    usages = []
    for question in ("BTCUSDT 350", "ETHUSDT 420", "answer in json: something else entirely"):
        messages = [system, {"role": "user", "content": question}] if question[0] != "a" else \
            [{"role": "user", "content": question}]
        answer = client(deepseek).chat.completions.create(model="deepseek-flash", messages=messages,  # type: ignore[arg-type]
                                                          response_format={"type": "json_object"})
        assert answer.usage is not None and answer.usage.model_extra is not None
        usages.append((answer.usage.prompt_tokens, answer.usage.model_extra["prompt_cache_hit_tokens"],
                       answer.usage.model_extra["prompt_cache_miss_tokens"]))
    (_, first_hit, _), (second, second_hit, second_miss), (_, third_hit, _) = usages
    assert first_hit == 0 and third_hit == 0  # nothing before it; no shared start
    assert second_hit > 0 and second_hit % 64 == 0 and second_hit + second_miss == second
    assert second_hit <= second - 4  # the differing question is a miss


@pytest.mark.parametrize("status", [400, 401, 402, 422, 429, 500, 503])
def test_error_statuses_reach_openai_as_its_typed_errors(deepseek: FakeOpenAI, status: int) -> None:
    deepseek.script(Reply.error(status, retry_after=7))
    with pytest.raises(openai.APIStatusError) as caught:
        client(deepseek).chat.completions.create(model="deepseek-flash", messages=ASK)  # type: ignore[arg-type]
    assert caught.value.status_code == status
    assert caught.value.response.headers.get("retry-after") == "7"


@pytest.mark.parametrize("stream", [False, True])
def test_keep_alive_lines_keep_a_per_read_timeout_from_firing(deepseek: FakeOpenAI, stream: bool) -> None:
    # The fact the client's wall-clock deadline exists for: every read arrives within 0.3 s, so a 0.3 s read
    # timeout never fires, however long the answer takes.
    deepseek.script(Reply(content="late", keepalive_lines=12, keepalive_every_s=0.1))
    started = time.monotonic()
    slow = client(deepseek, timeout=httpx2.Timeout(0.3))
    if stream:
        chunks = slow.chat.completions.create(model="deepseek-flash", messages=ASK, stream=True)  # type: ignore[arg-type]
        content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        content = slow.chat.completions.create(model="deepseek-flash", messages=ASK).choices[0].message.content or ""  # type: ignore[arg-type]
    assert content == "late" and time.monotonic() - started > 1.1


def test_a_delayed_answer_is_still_generated_after_the_client_gave_up(deepseek: FakeOpenAI) -> None:
    deepseek.script(Reply.json({"ok": 1}, delay_s=0.6))
    with pytest.raises(openai.APITimeoutError):
        client(deepseek, timeout=httpx2.Timeout(0.2)).chat.completions.create(model="deepseek-flash", messages=ASK)  # type: ignore[arg-type]
    assert deepseek.wait_answered(1)


def test_a_hang_and_a_drop(deepseek: FakeOpenAI) -> None:
    deepseek.script(Reply(hang=True), Reply(drop=True))
    with pytest.raises(openai.APITimeoutError):
        client(deepseek, timeout=httpx2.Timeout(0.3)).chat.completions.create(model="deepseek-flash", messages=ASK)  # type: ignore[arg-type]
    with pytest.raises(openai.APIConnectionError):
        client(deepseek).chat.completions.create(model="deepseek-flash", messages=ASK)  # type: ignore[arg-type]
    assert [r.answered for r in deepseek.completions()] == [False, False]


def test_no_scripted_reply_left_is_a_500_that_says_so(deepseek: FakeOpenAI) -> None:
    with pytest.raises(openai.InternalServerError, match="no scripted reply"):
        client(deepseek, max_retries=3).chat.completions.create(model="deepseek-flash", messages=ASK)  # type: ignore[arg-type]
    assert len(deepseek.completions()) == 1
