"""LLM settings from the environment: defaults, validation naming the variable, the key masked everywhere."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.errors import ConfigError
from scouts.llm.errors import UnpricedModel
from scouts.llm.settings import LlmSettings, Provider, Role
from tests.llm.support import KEY


def test_defaults() -> None:
    settings = LlmSettings.from_env({})
    assert settings.lmstudio_base_url == "http://localhost:1234/v1"
    assert settings.deepseek_base_url == "https://api.deepseek.com"
    assert settings.deepseek_model == "deepseek-flash" and settings.scout_models == ()
    assert settings.max_retries == 1 and settings.deepseek_deadline_s == 30 and settings.lmstudio_deadline_s == 60
    assert settings.monthly_budget_usd == Decimal("1.00") and settings.daily_budget_usd == Decimal("0.10")
    assert settings.scouts() == []


def test_roles_each_get_their_own_url_model_and_key() -> None:
    settings = LlmSettings.from_env({"DEEPSEEK_API_KEY": KEY, "SCOUT_MODELS": " qwen2.5-3b-instruct, gemma-2-2b-it ,",
                                     "LMSTUDIO_BASE_URL": "http://10.0.0.5:1234/v1/", "LLM_MAX_RETRIES": "0"})
    analyzer = settings.analyzer()
    assert (analyzer.role, analyzer.provider, analyzer.base_url, analyzer.model) == (
        Role.ANALYZER, Provider.DEEPSEEK, "https://api.deepseek.com", "deepseek-flash")
    assert analyzer.api_key.get_secret_value() == KEY and analyzer.max_retries == 0
    scouts = settings.scouts()
    assert [(s.model, s.base_url, s.provider) for s in scouts] == [
        ("qwen2.5-3b-instruct", "http://10.0.0.5:1234/v1", Provider.LMSTUDIO),
        ("gemma-2-2b-it", "http://10.0.0.5:1234/v1", Provider.LMSTUDIO)]
    assert all(s.price.output == 0 for s in scouts)


@pytest.mark.parametrize(("variable", "value", "words"), [
    ("LLM_MAX_RETRIES", "5", "less than or equal to 3"),
    ("LLM_MAX_RETRIES", "-1", "greater than or equal to 0"),
    ("DEEPSEEK_DEADLINE_S", "nan", "finite"),
    ("LMSTUDIO_DEADLINE_S", "0", "greater than 0"),
    ("DEEPSEEK_DEADLINE_S", "601", "less than or equal to 600"),
    ("DEEPSEEK_DAILY_BUDGET_USD", "-0.01", "greater than or equal to 0"),
    ("DEEPSEEK_MONTHLY_BUDGET_TOKENS", "lots", "integer"),
    ("DEEPSEEK_BASE_URL", "api.deepseek.com", "http"),
    ("LMSTUDIO_BASE_URL", "ftp://host", "http"),
    ("DEEPSEEK_MODEL", "deepseek-v9-ultra", "no price"),
    ("LLM_PRICES", "{not json", "not JSON"),
    ("LLM_PRICES", '{"m": {"cache_hit": "-1", "cache_miss": "1", "output": "1"}}', "m.cache_hit"),
    ("LLM_PRICES", '{"m": {"cache_hit": "1", "cache_miss": "1"}}', "m.output"),
])
def test_an_invalid_value_names_its_variable(variable: str, value: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        LlmSettings.from_env({variable: value})
    assert caught.value.setting == variable and words in str(caught.value)


def test_prices_are_configuration_over_the_defaults() -> None:
    settings = LlmSettings.from_env({"DEEPSEEK_API_KEY": KEY, "DEEPSEEK_MODEL": "deepseek-v5",
                                     "LLM_PRICES": '{"deepseek-v5": {"cache_hit": "0.01", "cache_miss": "0.2", '
                                                   '"output": "0.8", "peak_multiplier": "1"}}'})
    assert settings.analyzer().price.cache_miss == Decimal("0.2")
    assert settings.prices["deepseek-flash"].output == Decimal("0.60")
    with pytest.raises(UnpricedModel, match="LLM_PRICES"):
        settings.price_of("unknown-model")


def test_the_analyzer_needs_a_key() -> None:
    with pytest.raises(ConfigError) as caught:
        LlmSettings.from_env({}).analyzer()
    assert caught.value.setting == "DEEPSEEK_API_KEY"


def test_the_key_is_masked_in_every_rendering() -> None:
    settings = LlmSettings.from_env({"DEEPSEEK_API_KEY": KEY})
    for text in (repr(settings), str(settings), repr(settings.analyzer()), str(settings.analyzer()),
                 settings.model_dump_json()):
        assert KEY not in text
    assert "sk-01…cdef" in repr(settings) and "sk-01…cdef" in repr(settings.analyzer())


def test_a_bad_key_value_is_masked_in_its_error() -> None:
    with pytest.raises(ConfigError) as caught:
        LlmSettings.from_env({"DEEPSEEK_API_KEY": KEY, "DEEPSEEK_MODEL": "nope"})
    assert KEY not in str(caught.value)
