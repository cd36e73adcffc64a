"""Every tool through `python executor.py <tool> ...` as a person or an agent's exec tool runs it.

Each tool runs once as a real subprocess (the process boundary: stdout, stderr, exit code, environment);
the many argument cases go through `executor.main` in-process, which is the same code without the
start-up cost.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from tests.fakes.binance import FakeBinance
from tests.fakes.binance_support import KEY, RULES, SECRET, SYMBOL
from tests.tools.test_cli_support import envelope, journal_counts, parsed, prepare_home, run_executor, run_in_process
from tools.cli import LINE_LIMIT, TEXT_LIMIT, render_text
from tools.registry import agent_specs, get_spec, output_schema

# One call per tool, in an order that exercises the mutating ones on the prepared home.
CALLS: list[tuple[str, ...]] = [
    ("status",),
    ("scan", "--symbols", "BTCUSDT,ETHUSDT"),
    ("report", "--period", "week", "--date", "2023-11-14"),
    ("pause", "--symbol", "BTCUSDT", "--minutes", "30"),
    ("resume", "--symbol", "BTCUSDT"),
    ("trade", "--symbol", "BNBUSDT", "--side", "sell"),  # BNB: alone in its sector, so it can be bought back
    ("trade", "--symbol", "BNBUSDT", "--side", "buy", "--quote", "25", "--tp", "1.5", "--sl", "0.8"),
    ("kill",),
    ("kill", "--reset", "--yes-i-understand"),
    ("doctor", "--symbols", "BTCUSDT"),  # against a loopback Binance, without the planted notifier and LLM keys
]
DOCTOR_UNSET = {"TELEGRAM_BOT_TOKEN": "", "TELEGRAM_CHAT_ID": "", "DEEPSEEK_API_KEY": ""}


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return prepare_home(tmp_path_factory.mktemp("cli") / "home")


def _check_data(call: tuple[str, ...], document: dict) -> None:
    assert document["ok"], (call, document)
    spec = get_spec("kill_reset" if "--reset" in call else call[0])
    assert document["tool"] == spec.name
    errors = list(Draft202012Validator(output_schema(spec)).iter_errors(document["data"]))
    assert errors == [], (call, errors[:1])


def test_every_agent_facing_tool_has_a_call_here():
    assert {call[0] for call in CALLS} == {spec.name for spec in agent_specs()}


def test_every_tool_as_a_subprocess_answers_one_envelope_matching_its_published_schema(home):
    with FakeBinance({SYMBOL: RULES}, {}, api_key=KEY, api_secret=SECRET) as binance:
        for call in CALLS:
            env = DOCTOR_UNSET | {"BINANCE_BASE_URL": binance.rest_url} if call[0] == "doctor" else {}
            done = run_executor(home, *call, "--format", "json", **env)
            _check_data(call, envelope(done))
            assert done.stdout.count("\n") == 1, "one line of JSON on stdout, logs on stderr"
    trade = [json.loads(run_executor(home, "trade", "--symbol", "ETHUSDT", "--side", "sell").stdout)]
    assert trade[0]["data"]["status"] == "executed"


def test_text_as_a_subprocess_fits_one_chat_message(home):
    done = run_executor(home, "status", "--format", "text")
    assert done.returncode == 0
    assert 0 < len(done.stdout) <= TEXT_LIMIT + 1
    assert all(len(line) <= 3 * LINE_LIMIT for line in done.stdout.splitlines())


@pytest.mark.parametrize("call", [("status",), ("report",), ("pause", "--minutes", "5"), ("resume",),
                                  ("trade", "--symbol", "BTCUSDT", "--side", "buy", "--pct", "101")])
def test_text_answers_fit_one_chat_message_on_a_phone(home, monkeypatch, capsys, call):
    code, out = run_in_process(home, monkeypatch, capsys, *call, "--format", "text")
    assert code in (0, 2)
    assert 0 < len(out) <= TEXT_LIMIT + 1
    assert all(len(line) <= 3 * LINE_LIMIT for line in out.splitlines())
    assert not out.lstrip().startswith("{")


@pytest.mark.parametrize(("call", "path"), [
    (("trade", "--symbol", "BTCUSDT", "--side", "buy", "--quote", "ten"), "/quote"),
    (("trade", "--symbol", "btc", "--side", "buy", "--quote", "10"), "/symbol"),
    (("trade", "--symbol", "BTCUSDT", "--side", "hold", "--quote", "10"), "/side"),
    (("trade", "--side", "buy", "--quote", "10"), "/symbol"),
    (("trade", "--symbol", "BTCUSDT", "--side", "buy", "--quote", "-5"), "/quote"),
    (("trade", "--symbol", "BTCUSDT", "--side", "buy", "--quote", "NaN"), "/quote"),
    (("trade", "--symbol", "BTCUSDT", "--side", "buy", "--quote", "5", "--confirm", "yes"), "/confirm"),
    (("pause", "--minutes", "many"), "/minutes"),
    (("pause", "--minutes", "0"), "/minutes"),
    (("scan", "--symbols", "BTCUSDT,eth"), "/symbols/1"),
    (("report", "--period", "year"), "/period"),
    (("kill", "--reset"), "/yes_i_understand"),
    (("kill", "--yes-i-understand"), "/yes_i_understand"),
])
def test_invalid_flags_exit_2_with_the_json_path_and_trade_nothing(home, monkeypatch, capsys, call, path):
    before = journal_counts(home)
    document = parsed(*run_in_process(home, monkeypatch, capsys, *call))
    assert document["error"]["code"] == "INVALID_ARGUMENT"
    assert document["error"]["details"]["path"] == path
    assert journal_counts(home) == before


def test_an_invalid_flag_as_a_subprocess_exits_2(home):
    before = journal_counts(home)
    done = run_executor(home, "trade", "--symbol", "BTCUSDT", "--side", "buy", "--quote", "0")
    assert envelope(done)["error"]["details"]["path"] == "/quote"
    assert journal_counts(home) == before


def test_the_kill_reset_is_not_a_command_of_its_own(home, monkeypatch, capsys):
    document = parsed(*run_in_process(home, monkeypatch, capsys, "kill_reset", "--yes-i-understand"))
    assert document["error"]["code"] == "INVALID_ARGUMENT"


def test_a_two_phase_trade_previews_first_and_executes_only_with_its_code(tmp_path, monkeypatch, capsys):
    """TRADE_CONFIRMATION=always (what live does anyway): a preview places nothing; `--confirm CODE` acts once."""
    home = prepare_home(tmp_path / "home")
    parsed(*run_in_process(home, monkeypatch, capsys, "trade", "--symbol", "BNBUSDT", "--side", "sell"))
    call = ("trade", "--symbol", "BNBUSDT", "--side", "buy", "--pct", "1")
    before = journal_counts(home)
    preview = parsed(*run_in_process(home, monkeypatch, capsys, *call, TRADE_CONFIRMATION="always"))
    assert preview["data"]["status"] == "preview", preview
    assert journal_counts(home)["orders"] == before["orders"]
    code = preview["data"]["confirmation"]["code"]
    confirmed = parsed(*run_in_process(home, monkeypatch, capsys, *call, "--confirm", code,
                                       TRADE_CONFIRMATION="always"))
    assert confirmed["data"]["status"] == "executed", confirmed
    assert journal_counts(home)["orders"] > before["orders"]
    executed = journal_counts(home)["orders"]
    reused = parsed(*run_in_process(home, monkeypatch, capsys, *call, "--confirm", code, TRADE_CONFIRMATION="always"))
    assert reused["data"]["replayed"] is True, "the same call with its code again is a retry: the first answer"
    assert journal_counts(home)["orders"] == executed


@pytest.mark.parametrize("fmt", ["openai", "mcp", "jsonschema"])
def test_tools_prints_the_definitions(tmp_path, monkeypatch, capsys, fmt):
    code, out = run_in_process(tmp_path, monkeypatch, capsys, "tools", "--format", fmt)
    assert code == 0
    definitions = json.loads(out)
    if fmt == "openai":
        assert {d["function"]["name"] for d in definitions} == {s.name for s in agent_specs()}
        assert all(d["type"] == "function" for d in definitions)
    elif fmt == "mcp":
        assert {t["name"] for t in definitions} == {s.name for s in agent_specs()}
        assert all("readOnlyHint" in t["annotations"] for t in definitions)
    else:
        assert "kill_reset" in definitions and definitions["kill_reset"]["agent_facing"] is False
        for entry in definitions.values():
            Draft202012Validator.check_schema(entry["input"])
            Draft202012Validator.check_schema(entry["output"])


def test_tools_as_a_subprocess_prints_openai_definitions(tmp_path):
    done = run_executor(tmp_path, "tools", "--format", "openai")
    assert done.returncode == 0
    assert [d["function"]["name"] for d in json.loads(done.stdout)] == [s.name for s in agent_specs()]


def test_an_unknown_flag_is_an_envelope_not_a_usage_dump(home, monkeypatch, capsys):
    document = parsed(*run_in_process(home, monkeypatch, capsys, "status", "--verbose"))
    assert document["error"]["code"] == "INVALID_ARGUMENT"


@pytest.mark.parametrize("fmt", [("--format", "text"), ("--format=text",)])
def test_a_refused_command_line_answers_in_the_format_it_asked_for(home, monkeypatch, capsys, fmt):
    code, out = run_in_process(home, monkeypatch, capsys, "memory", "show", "0", *fmt)
    assert code == 2 and out.startswith("memory failed: INVALID_ARGUMENT")
    assert "not a version number" in out and not out.lstrip().startswith("{")


JSON_DATA = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=300),
                         lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=20), inner,
                                                                                      max_size=6), max_leaves=25)


@settings(max_examples=100)
@given(data=st.dictionaries(st.text(max_size=20), JSON_DATA, max_size=10), ok=st.booleans())
def test_any_answer_renders_within_one_chat_message(data, ok):
    # `report`: a tool answered by the generic flattening (status and scan have their own, tested with their data)
    document = ({"ok": True, "tool": "report", "data": data} if ok else
                {"ok": False, "tool": "trade", "error": {"code": "X", "message": "m" * 500, "details": data}})
    text = render_text(document)
    assert len(text) <= TEXT_LIMIT
    assert all(len(line) <= 3 * LINE_LIMIT for line in text.splitlines())
    assert text.splitlines()[0] in ("report: ok", "trade failed: X")


def test_long_decimals_are_shortened_for_chat_but_ids_and_times_are_not():
    text = render_text({"ok": True, "tool": "report", "data": {
        "avg_entry": "0.4504104104104104104104104104104104", "equity": "9997.9126031660000",
        "time_ms": 1700001499999, "client_order_id": "cx-p-18bcfe573b8-e", "text": "Daily report\nEquity: 1"}})
    assert text.splitlines()[:3] == ["report: ok", "Daily report", "Equity: 1"]
    assert "avg_entry: 0.45041041" in text and "equity: 9997.9126" in text
    assert "time_ms: 1700001499999" in text and "cx-p-18bcfe573b8-e" in text
