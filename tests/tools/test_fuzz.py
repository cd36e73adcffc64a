"""Fuzzed tool arguments: never a crash, always a clean INVALID_ARGUMENT with a JSON path, nothing traded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from core.errors import ExecutorError
from tests.runtime.helpers import saved_checkpoint
from tests.tools.test_cli_support import envelope, executor_env, journal_counts, prepare_home, run_executor
from tools.envelope import exit_code, from_error
from tools.registry import agent_specs, input_schema
from tools.spec import ToolContext, ToolSpec
from tools.validation import ArgumentRejected, invoke, validate_arguments

# A valid call per tool: the fuzz mutates one of its fields (or adds one) so most cases are near misses.
VALID: dict[str, dict[str, Any]] = {
    "scan": {"symbols": ["BTCUSDT"]},
    "trade": {"symbol": "BTCUSDT", "side": "buy", "quote": "10"},
    "status": {},
    "report": {"period": "day"},
    "pause": {"minutes": 5},
    "resume": {},
    "kill": {},
    "doctor": {"mode": "live", "symbols": ["BTCUSDT"]},
}
TRICKY_TEXT = st.sampled_from(["", " ", "NaN", "nan", "Infinity", "-Infinity", "1e999999", "-0", "0", "0.0",
                               "10 ", "١٠", "1_000", "0x10", "BTCUSDT\n", "btcusdt", "buy ", "SELL", "day",
                               "'; DROP TABLE orders; --", "\u202e", "9" * 400])
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12) | TRICKY_TEXT
           | st.integers(min_value=-(10**30), max_value=10**30))
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)
SPECS = agent_specs()


def mutated_arguments(spec: ToolSpec) -> st.SearchStrategy[Any]:
    names = sorted(input_schema(spec).get("properties", {}))
    keys = st.sampled_from(names) | st.text(max_size=8) if names else st.text(max_size=8)
    one_field = st.tuples(keys, JSON_VALUES).map(lambda kv: {**VALID[spec.name], kv[0]: kv[1]})
    anything = st.dictionaries(keys, JSON_VALUES, max_size=4)
    not_an_object = JSON_VALUES.filter(lambda v: not isinstance(v, dict))
    return one_field | anything | not_an_object


def test_every_agent_tool_has_a_valid_call_to_mutate():
    assert set(VALID) == {spec.name for spec in SPECS}
    for spec in SPECS:
        assert isinstance(validate_arguments(spec, VALID[spec.name]), spec.input_model)


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
@given(data=st.data())
def test_validation_never_crashes_and_always_names_a_path(spec, data):
    arguments = data.draw(mutated_arguments(spec))
    try:
        model = validate_arguments(spec, arguments)
    except ArgumentRejected as rejected:
        document = from_error(spec.name, rejected)
        assert document["error"]["code"] == "INVALID_ARGUMENT" and exit_code(document) == 2
        path = rejected.details["path"]
        assert path == "" or path.startswith("/")
        assert rejected.details["schema_path"]
        assert len(str(rejected.details["value"])) <= 400
    except ExecutorError as other:  # pragma: no cover - the assertion explains
        raise AssertionError(f"validation raised {other.code}, not INVALID_ARGUMENT") from other
    else:
        assert isinstance(model, spec.input_model)


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return prepare_home(tmp_path_factory.mktemp("fuzz") / "home")


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_invalid_calls_through_invoke_change_nothing(spec, home, monkeypatch):
    for name, value in executor_env(home).items():
        monkeypatch.setenv(name, value)
    before = journal_counts(home)
    checkpoint = saved_checkpoint(home)
    contexts: list[ToolContext] = []

    def context() -> ToolContext:
        contexts.append(ToolContext.from_environment(str(home)))
        return contexts[-1]

    @settings(suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
    @given(arguments=mutated_arguments(spec))
    def check(arguments: Any) -> None:
        try:
            validate_arguments(spec, arguments)
        except ArgumentRejected:
            pass
        else:
            assume(False)  # a valid call would really run (and a valid trade would trade): not this test's case
        document = invoke(spec, arguments, context)
        assert document["error"]["code"] == "INVALID_ARGUMENT" and exit_code(document) == 2
        assert "path" in document["error"]["details"]
        assert len(json.dumps(document, allow_nan=False)) < 2000, "strict JSON, chat-sized"

    check()
    assert contexts == [], "a rejected call must not even open the home"
    assert journal_counts(home) == before
    assert saved_checkpoint(home) == checkpoint


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                HealthCheck.filter_too_much])
@given(quote=st.text(max_size=10) | TRICKY_TEXT, symbol=st.text(max_size=8) | TRICKY_TEXT)
def test_fuzzed_trade_flags_through_the_cli_subprocess(home, quote, symbol):
    trade = next(s for s in SPECS if s.name == "trade")
    assume("\x00" not in quote + symbol)
    try:
        validate_arguments(trade, {"symbol": symbol, "side": "buy", "quote": quote})
    except ArgumentRejected:
        pass
    else:
        assume(False)
    before = journal_counts(home)
    document = envelope(run_executor(home, "trade", f"--symbol={symbol}", "--side=buy", f"--quote={quote}"))
    assert document["error"]["code"] == "INVALID_ARGUMENT"
    assert document["error"]["details"]["path"] in ("/symbol", "/quote")
    assert journal_counts(home) == before
