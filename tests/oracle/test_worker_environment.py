"""Oracle workers fetch public order books: they inherit no exchange key, bot token or LLM key from the
executor's environment, while what Python needs to start and the oracle's own settings still reach them."""

from __future__ import annotations

from pathlib import Path

import pytest

from oracle.client import OracleClient

PLANTED = {
    "BINANCE_API_KEY": "planted-key-7f3a", "BINANCE_API_SECRET": "planted-secret-7f3a",
    "TELEGRAM_BOT_TOKEN": "123:planted-token-7f3a", "DEEPSEEK_API_KEY": "sk-planted-7f3a",
    "DISCORD_WEBHOOK_EXECUTION": "https://discord.invalid/api/webhooks/1/planted-7f3a",
}


def _environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(entry.split("=", 1) for entry in raw.decode().split("\0") if "=" in entry)


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads a process's environment from /proc")
def test_a_worker_sees_no_secret_of_the_executor(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in PLANTED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ORACLE_LOG_LEVEL", "ERROR")
    with OracleClient(workers=1, env={"ORACLE_TEST_HOOKS": "1"}) as client:
        assert client.wait_ready(30.0)
        environ = _environ_of(client._workers[0].proc.pid)
    assert not set(PLANTED) & set(environ)
    assert not any("planted" in value for value in environ.values())
    assert environ["ORACLE_LOG_LEVEL"] == "ERROR"  # the oracle's own settings are inherited
    assert environ["ORACLE_TEST_HOOKS"] == "1"  # what the caller passes explicitly is kept
    assert environ["PATH"]
