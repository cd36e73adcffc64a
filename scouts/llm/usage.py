"""Token counts of one answer, read from the OpenAI-style `usage` object.

DeepSeek adds `prompt_cache_hit_tokens` and `prompt_cache_miss_tokens` beside the standard fields; the
`openai` package keeps unknown fields in `model_extra` (ARCHITECTURE.md, "LLMs"). OpenAI-style servers
report cached input in `prompt_tokens_details.cached_tokens` instead; either is read.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class TokenUsage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    cache_hit_tokens: int | None = Field(default=None, ge=0)
    cache_miss_tokens: int | None = Field(default=None, ge=0)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def usage_of(usage: Any) -> TokenUsage | None:
    """The usage of an `openai` completion (`completion.usage`), or None when the server sent none or sent
    numbers that cannot be counts (negative, not integers)."""
    if usage is None:
        return None
    extra = getattr(usage, "model_extra", None) or {}
    details = getattr(usage, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) if details is not None else None
    hit = extra.get("prompt_cache_hit_tokens", cached)
    try:
        return TokenUsage(prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
                          cache_hit_tokens=hit, cache_miss_tokens=extra.get("prompt_cache_miss_tokens"))
    except ValidationError:
        return None
