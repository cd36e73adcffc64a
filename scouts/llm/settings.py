"""The LLM settings, read from the environment and validated at start-up; every error names its variable.

`DEEPSEEK_API_KEY` is a secret: it is held as a `SecretStr` and appears anywhere only as `mask_secret`
shows it (`sk-ab…wxyz`). Prices are configuration because model names and prices change: `LLM_PRICES` is a
JSON object `{"model": {"cache_hit": "0.003", "cache_miss": "0.15", "output": "0.60"}}` (dollars per 1M
tokens, optional `peak_multiplier`, default 2) laid over the defaults of `scouts.llm.pricing`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from core.errors import ConfigError
from memory.redact import mask_secret
from scouts.llm.errors import UnpricedModel
from scouts.llm.pricing import DEFAULT_PRICES, FREE, ModelPrice

# LM Studio ignores the key, but the `openai` package refuses to build a client without one.
LMSTUDIO_PLACEHOLDER_KEY = "lm-studio"
MAX_DEADLINE_S = 600.0
MAX_RETRIES_CEILING = 3
MAX_OUTPUT_TOKENS_CEILING = 32_768
MAX_SCOUT_ROUNDS = 10  # model turns in one scout's tool loop
MAX_SCOUT_CALLS = 8  # tool calls run in one turn
MAX_SCOUT_ADVICE_MINUTES = 1440  # a scout's advice never outlives a day


class Provider(StrEnum):
    LMSTUDIO = "lmstudio"  # local: costs nothing, never budgeted
    DEEPSEEK = "deepseek"  # paid: priced, budgeted, stopped on 402


class JsonDialect(StrEnum):
    """How a server is asked for a JSON answer. Servers differ and none says which it takes, so it is configured
    per server (LMSTUDIO_JSON_DIALECT, DEEPSEEK_JSON_DIALECT), never sniffed. Every dialect also puts the schema
    and an example in the prompt, and every answer is validated whatever the server claims."""

    JSON_SCHEMA = "json_schema"  # LM Studio: response_format json_schema (it refuses json_object)
    JSON_OBJECT = "json_object"  # DeepSeek: response_format json_object only, the schema in the prompt
    JSON_OBJECT_SCHEMA = "json_object_schema"  # llama-cpp-python's server: json_object carrying the schema (its
    # json_schema answers HTTP 500)
    FORCED_TOOL = "forced_tool"  # the answer as the arguments of one function named in tool_choice (servers that
    # call tools but constrain no JSON; LM Studio's tool_choice takes no function name)


class Role(StrEnum):
    SCOUT = "scout"
    ANALYZER = "analyzer"


# Environment variable → field.
ENV_FIELDS: dict[str, str] = {
    "LMSTUDIO_BASE_URL": "lmstudio_base_url",
    "SCOUT_MODELS": "scout_models",
    "LMSTUDIO_DEADLINE_S": "lmstudio_deadline_s",
    "LMSTUDIO_JSON_DIALECT": "lmstudio_json_dialect",
    "DEEPSEEK_BASE_URL": "deepseek_base_url",
    "DEEPSEEK_API_KEY": "deepseek_api_key",
    "DEEPSEEK_MODEL": "deepseek_model",
    "DEEPSEEK_DEADLINE_S": "deepseek_deadline_s",
    "DEEPSEEK_JSON_DIALECT": "deepseek_json_dialect",
    "LLM_MAX_RETRIES": "max_retries",
    "LLM_MAX_OUTPUT_TOKENS": "max_output_tokens",
    "LLM_PRICES": "prices",
    "DEEPSEEK_DAILY_BUDGET_USD": "daily_budget_usd",
    "DEEPSEEK_MONTHLY_BUDGET_USD": "monthly_budget_usd",
    "DEEPSEEK_DAILY_BUDGET_TOKENS": "daily_budget_tokens",
    "DEEPSEEK_MONTHLY_BUDGET_TOKENS": "monthly_budget_tokens",
    "SCOUT_INTERVAL_MIN": "scout_interval_min",
    "SCOUT_MAX_ROUNDS": "scout_max_rounds",
    "SCOUT_MAX_CALLS_PER_ROUND": "scout_max_calls_per_round",
    "SCOUT_ADVICE_MINUTES": "scout_advice_minutes",
}
VARIABLE_OF: dict[str, str] = {field: var for var, field in ENV_FIELDS.items()}
SECRET_VARIABLES = frozenset({"DEEPSEEK_API_KEY"})


class RoleConfig(BaseModel):
    """Everything one client needs: where, which model, which key, how long, how many retries, what it costs."""

    model_config = ConfigDict(frozen=True)

    role: Role
    provider: Provider
    base_url: str
    model: str
    api_key: SecretStr
    key_variable: str  # named in a 401 error
    deadline_s: float
    deadline_variable: str
    json_dialect: JsonDialect
    max_retries: int
    max_output_tokens: int
    price: ModelPrice

    def __repr__(self) -> str:
        return (f"RoleConfig(role={self.role.value}, provider={self.provider.value}, base_url={self.base_url}, "
                f"model={self.model}, api_key={mask_secret(self.api_key.get_secret_value())}, "
                f"deadline_s={self.deadline_s:g}, json_dialect={self.json_dialect.value}, "
                f"max_retries={self.max_retries})")

    __str__ = __repr__


class LlmSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    lmstudio_base_url: str = "http://localhost:1234/v1"
    scout_models: tuple[str, ...] = ()
    lmstudio_deadline_s: float = Field(default=60.0, gt=0, le=MAX_DEADLINE_S, allow_inf_nan=False)
    lmstudio_json_dialect: JsonDialect = JsonDialect.JSON_SCHEMA
    deepseek_base_url: str = "https://api.deepseek.com"
    deepseek_api_key: SecretStr | None = None
    deepseek_model: str = "deepseek-flash"
    deepseek_deadline_s: float = Field(default=30.0, gt=0, le=MAX_DEADLINE_S, allow_inf_nan=False)
    deepseek_json_dialect: JsonDialect = JsonDialect.JSON_OBJECT
    max_retries: int = Field(default=1, ge=0, le=MAX_RETRIES_CEILING)
    # Sent as `max_tokens`: without it a small model may generate until its context is full, past any deadline.
    max_output_tokens: int = Field(default=1_024, ge=16, le=MAX_OUTPUT_TOKENS_CEILING)
    prices: dict[str, ModelPrice] = Field(default_factory=lambda: dict(DEFAULT_PRICES))
    daily_budget_usd: Decimal = Field(default=Decimal("0.10"), ge=0, allow_inf_nan=False)
    monthly_budget_usd: Decimal = Field(default=Decimal("1.00"), ge=0, allow_inf_nan=False)
    daily_budget_tokens: int = Field(default=300_000, ge=0)
    monthly_budget_tokens: int = Field(default=5_000_000, ge=0)
    scout_interval_min: int = Field(default=30, ge=1, le=1440)
    scout_max_rounds: int = Field(default=4, ge=1, le=MAX_SCOUT_ROUNDS)
    scout_max_calls_per_round: int = Field(default=4, ge=1, le=MAX_SCOUT_CALLS)
    scout_advice_minutes: int = Field(default=60, ge=1, le=MAX_SCOUT_ADVICE_MINUTES)

    @field_validator("lmstudio_base_url", "deepseek_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith(("http://", "https://")) or len(value) <= len("https://"):
            raise PydanticCustomError("url", "must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("scout_models", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(name.strip() for name in value.split(",") if name.strip())
        return value

    @field_validator("deepseek_model")
    @classmethod
    def _model_name(cls, value: str) -> str:
        if not value.strip():
            raise PydanticCustomError("model", "must name a model")
        return value.strip()

    @field_validator("prices", mode="before")
    @classmethod
    def _prices_over_defaults(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise PydanticCustomError("json", "is not JSON: {error}", {"error": str(exc)}) from None
        if not isinstance(value, Mapping):
            raise PydanticCustomError("prices", "must be a JSON object of model → prices")
        return {**DEFAULT_PRICES, **value}

    @model_validator(mode="after")
    def _paid_model_has_price(self) -> LlmSettings:
        if self.deepseek_model not in self.prices:
            raise PydanticCustomError("unpriced", "model {model} has no price: add it to LLM_PRICES",
                                      {"model": self.deepseek_model, "field": "deepseek_model"})
        return self

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LlmSettings:
        """The settings an environment gives (blank variables are unset). ConfigError names the variable."""
        values = {field: env[var] for var, field in ENV_FIELDS.items() if env.get(var, "").strip() != ""}
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            err = exc.errors()[0]
            ctx = err.get("ctx") or {}
            loc = [str(part) for part in err.get("loc", ())]
            field = str(ctx.get("field") or (loc[0] if loc else "prices"))
            variable = VARIABLE_OF.get(field, field)
            raw = values.get(field)
            shown = mask_secret(str(raw)) if variable in SECRET_VARIABLES and raw is not None else raw
            where = f" at {'.'.join(loc[1:])}" if len(loc) > 1 else ""
            raise ConfigError(variable, shown, f"{err.get('msg', 'invalid')}{where}") from None

    def price_of(self, model: str) -> ModelPrice:
        """The configured price of a paid model; UnpricedModel when it has none."""
        price = self.prices.get(model)
        if price is None:
            raise UnpricedModel(model, VARIABLE_OF["prices"])
        return price

    def analyzer(self) -> RoleConfig:
        """The DeepSeek role. ConfigError naming DEEPSEEK_API_KEY when no key is set."""
        if self.deepseek_api_key is None:
            raise ConfigError("DEEPSEEK_API_KEY", None, "is not set; the analyzer needs a DeepSeek API key")
        return RoleConfig(role=Role.ANALYZER, provider=Provider.DEEPSEEK, base_url=self.deepseek_base_url,
                          model=self.deepseek_model, api_key=self.deepseek_api_key, key_variable="DEEPSEEK_API_KEY",
                          deadline_s=self.deepseek_deadline_s, deadline_variable="DEEPSEEK_DEADLINE_S",
                          json_dialect=self.deepseek_json_dialect,
                          max_retries=self.max_retries, max_output_tokens=self.max_output_tokens,
                          price=self.price_of(self.deepseek_model))

    def scouts(self) -> list[RoleConfig]:
        """One LM Studio role per model of SCOUT_MODELS, free of charge."""
        return [RoleConfig(role=Role.SCOUT, provider=Provider.LMSTUDIO, base_url=self.lmstudio_base_url, model=model,
                           api_key=SecretStr(LMSTUDIO_PLACEHOLDER_KEY), key_variable="LMSTUDIO_BASE_URL",
                           deadline_s=self.lmstudio_deadline_s, deadline_variable="LMSTUDIO_DEADLINE_S",
                           json_dialect=self.lmstudio_json_dialect,
                           max_retries=self.max_retries, max_output_tokens=self.max_output_tokens, price=FREE)
                for model in self.scout_models]

    def secrets(self) -> list[str]:
        """Values that must never leave in a prompt or land in the journal."""
        return [] if self.deepseek_api_key is None else [self.deepseek_api_key.get_secret_value()]

    def __repr__(self) -> str:
        key = None if self.deepseek_api_key is None else mask_secret(self.deepseek_api_key.get_secret_value())
        shown = {name: getattr(self, name) for name in type(self).model_fields if name != "deepseek_api_key"}
        return f"LlmSettings(deepseek_api_key={key!r}, {', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    __str__ = __repr__
