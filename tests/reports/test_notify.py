"""Notifiers against real loopback servers (a Telegram Bot API and a Discord webhook receiver), real httpx."""

from __future__ import annotations

import json
import logging
import socket
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import ConfigError
from reports.embeds import EMBED_DESCRIPTION_LIMIT
from reports.notify import (
    TELEGRAM_CAPTION_LIMIT,
    DiscordNotifier,
    NotifyError,
    TelegramNotifier,
    notifiers_from_env,
    notify_all,
    research_notifier_from_env,
    truncate,
)
from tests.reports.loopback import Answer, LoopbackServer, telegram_error, telegram_ok

# Deliberately not shaped like a real token, so that only the notifier's own masking can hide it.
TOKEN = "4242:planted_SECRET_token_value"
WEBHOOK_ID = "112233445566"
WEBHOOK_SECRET = "planted-WEBHOOK-secret_abc"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


class Sleeps(list[float]):
    """Records the waits the retry policy asks for instead of sleeping through them."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def chart(tmp_path: Path) -> Path:
    path = tmp_path / "chart.png"
    path.write_bytes(PNG)
    return path


@pytest.fixture(autouse=True)
def _all_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    assert TOKEN not in caplog.text and WEBHOOK_SECRET not in caplog.text


def _telegram(server: LoopbackServer, sleeps: Sleeps | None = None, **kwargs: object) -> TelegramNotifier:
    sleep = sleeps if sleeps is not None else Sleeps()
    return TelegramNotifier(TOKEN, "-100123", server.base_url, sleep=sleep, **kwargs)  # type: ignore[arg-type]


def _discord(server: LoopbackServer, sleeps: Sleeps | None = None, **kwargs: object) -> DiscordNotifier:
    url = f"{server.base_url}/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_SECRET}"
    sleep = sleeps if sleeps is not None else Sleeps()
    return DiscordNotifier(url, sleep=sleep, **kwargs)  # type: ignore[arg-type]


def _assert_secret_free(error: BaseException) -> None:
    texts = [str(error), repr(error), "".join(traceback.format_exception(error))]
    if isinstance(error, NotifyError):
        texts.append(json.dumps(error.to_dict()))
    for text in texts:
        assert TOKEN not in text and WEBHOOK_SECRET not in text, text


# -- Telegram -------------------------------------------------------------------------------------------


def test_telegram_send_message(caplog: pytest.LogCaptureFixture) -> None:
    with LoopbackServer([telegram_ok()]).running() as server:
        _telegram(server).send("📊 Daily report\nEquity +1.00")
    (request,) = server.received
    assert request.path == f"/bot{TOKEN}/sendMessage"
    assert request.json == {"chat_id": "-100123", "text": "📊 Daily report\nEquity +1.00"}
    # httpx logs every request's URL at INFO: the line is there, the token is masked in it.
    assert "sendMessage" in caplog.text


def test_telegram_send_photo_is_multipart_with_caption(chart: Path) -> None:
    with LoopbackServer([telegram_ok()]).running() as server:
        _telegram(server).send("short caption", chart)
    (request,) = server.received
    assert request.path == f"/bot{TOKEN}/sendPhoto"
    assert request.content_type.startswith("multipart/form-data")
    assert request.fields == {"chat_id": "-100123", "caption": "short caption"}
    assert request.files["photo"] == ("report.png", "image/png", PNG)


def test_telegram_text_too_long_for_a_caption_goes_as_a_message_first(chart: Path) -> None:
    text = "\n".join(f"line {n} " + "x" * 60 for n in range(20))
    assert len(text) > TELEGRAM_CAPTION_LIMIT
    with LoopbackServer([telegram_ok()]).running() as server:
        _telegram(server).send(text, chart)
    message, photo = server.received
    assert message.path.endswith("/sendMessage") and message.json["text"] == text
    assert photo.path.endswith("/sendPhoto") and "caption" not in photo.fields


def test_telegram_429_waits_the_retry_after_then_succeeds() -> None:
    sleeps = Sleeps()
    answers = [telegram_error(429, "Too Many Requests: retry after 3", retry_after=3), telegram_ok()]
    with LoopbackServer(answers).running() as server:
        _telegram(server, sleeps).send("hello")
    assert sleeps == [3.0]
    assert len(server.received) == 2


def test_telegram_5xx_is_retried_with_backoff() -> None:
    sleeps = Sleeps()
    answers = [telegram_error(502, "Bad Gateway"), telegram_error(500, "Internal"), telegram_ok()]
    with LoopbackServer(answers).running() as server:
        _telegram(server, sleeps).send("hello")
    assert len(server.received) == 3 and len(sleeps) == 2 and all(0 < s <= 8 for s in sleeps)


def test_telegram_400_fails_at_once_without_the_token() -> None:
    sleeps = Sleeps()
    # A server that echoes the URL in its answer must not smuggle the token into our error either.
    answer = telegram_error(400, f"Bad Request: chat not found (url /bot{TOKEN}/sendMessage)")
    with LoopbackServer([answer]).running() as server, pytest.raises(NotifyError) as caught:
        _telegram(server, sleeps).send("hello")
    error = caught.value
    assert len(server.received) == 1 and sleeps == []
    assert error.code == "NOTIFY_FAILED" and error.service == "telegram" and error.status == 400
    assert "telegram" in str(error) and "chat not found" in str(error)
    _assert_secret_free(error)


def test_telegram_ok_false_with_200_is_a_failure() -> None:
    with LoopbackServer([Answer(200, {"ok": False, "description": "odd"})]).running() as server, \
            pytest.raises(NotifyError, match="odd"):
        _telegram(server).send("hello")


def test_a_429_asking_for_longer_than_the_budget_fails_at_once() -> None:
    sleeps = Sleeps()
    with LoopbackServer([telegram_error(429, "Too Many Requests", retry_after=600)]).running() as server, \
            pytest.raises(NotifyError, match="retry after 600 s") as caught:
        _telegram(server, sleeps, max_wait_s=30.0).send("hello")
    assert sleeps == [] and len(server.received) == 1 and caught.value.status == 429
    _assert_secret_free(caught.value)


def test_retries_are_bounded_by_attempts() -> None:
    sleeps = Sleeps()
    with LoopbackServer([telegram_error(503, "Service Unavailable")]).running() as server, \
            pytest.raises(NotifyError, match="gave up after 3 attempt") as caught:
        _telegram(server, sleeps, max_attempts=3).send("hello")
    assert len(server.received) == 3 and len(sleeps) == 2
    _assert_secret_free(caught.value)


def test_connection_refused_is_retried_then_reported_without_the_token() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps = Sleeps()
    notifier = TelegramNotifier(TOKEN, "1", f"http://127.0.0.1:{port}", sleep=sleeps, max_attempts=2)
    with pytest.raises(NotifyError, match="ConnectError") as caught:
        notifier.send("hello")
    assert len(sleeps) == 1
    _assert_secret_free(caught.value)
    assert TOKEN not in repr(notifier)


def test_a_read_timeout_is_retried() -> None:
    sleeps = Sleeps()
    with LoopbackServer([Answer(200, {"ok": True}, delay_s=1.0), telegram_ok()]).running() as server:
        TelegramNotifier(TOKEN, "1", server.base_url, timeout_s=0.2, sleep=sleeps).send("hello")
    assert len(server.received) == 2 and len(sleeps) == 1


# -- Discord --------------------------------------------------------------------------------------------


def test_a_discord_report_is_one_embed_titled_by_its_first_line() -> None:
    with LoopbackServer([Answer(204, None)]).running() as server:
        _discord(server).send("Daily report 2026-01-02\nEquity 1000 (+1.5%)\nstat_arb: 2 trades")
    (request,) = server.received
    assert request.path == f"/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_SECRET}"
    assert request.json == {"embeds": [{"title": "Daily report 2026\\-01\\-02",
                                        "description": "Equity 1000 \\(+1.5%\\)\nstat\\_arb: 2 trades"}],
                            "allowed_mentions": {"parse": []}}


def test_a_long_discord_report_is_cut_to_the_embed_description_limit() -> None:
    text = "Daily report\n" + "\n".join(f"line {n} " + "x" * 80 for n in range(100))
    with LoopbackServer([Answer(204, None)]).running() as server:
        _discord(server).send(text)
    (embed,) = server.received[0].json["embeds"]
    assert len(embed["description"]) <= EMBED_DESCRIPTION_LIMIT and embed["description"].endswith("…")


@pytest.mark.parametrize("with_chart", [False, True])
def test_a_discord_message_can_never_ping_anyone(chart: Path, with_chart: bool) -> None:
    """A reason or a symbol quoting `@everyone`, a role or a user reaches the channel as text, pinging nobody."""
    text = "SKIP @everyone BTCUSDT: <@&1234> <@5678> @here"
    with LoopbackServer([Answer(204, None)]).running() as server:
        _discord(server).send(text, chart if with_chart else None)
    (request,) = server.received
    payload = json.loads(request.fields["payload_json"]) if with_chart else request.json
    assert "content" not in payload
    assert payload["embeds"][0]["title"] == "SKIP @\u200beveryone BTCUSDT: <@\u200b&1234\\> <@\u200b5678\\> @\u200bhere"
    assert payload["allowed_mentions"] == {"parse": []}


def test_discord_multipart_with_the_chart(chart: Path) -> None:
    with LoopbackServer([Answer(200, {"id": "1"})]).running() as server:
        _discord(server).send("report text", chart)
    (request,) = server.received
    payload = json.loads(request.fields["payload_json"])
    assert payload["embeds"] == [{"title": "report text", "image": {"url": "attachment://report.png"}}]
    assert payload["attachments"] == [{"id": 0, "filename": "report.png"}]
    assert request.files["files[0]"] == ("report.png", "image/png", PNG)


def test_discord_5xx_is_retried_with_backoff_then_succeeds() -> None:
    sleeps = Sleeps()
    answers = [Answer(502, {"message": "Bad Gateway"}), Answer(503, None), Answer(204, None)]
    with LoopbackServer(answers).running() as server:
        _discord(server, sleeps).send("hello")
    assert len(server.received) == 3 and len(sleeps) == 2 and all(0 < s <= 8 for s in sleeps)


def test_discord_alert_embeds_go_as_they_are_and_text_is_refused() -> None:
    embeds = ({"title": "Exit BTCUSDT", "fields": [{"name": "P&L", "value": "+1", "inline": True}]},)
    with LoopbackServer([Answer(204, None)]).running() as server:
        _discord(server).send_alert(embeds)
        with pytest.raises(TypeError):
            _discord(server).send_alert("<b>html</b>")
    (request,) = server.received
    assert request.json == {"embeds": list(embeds), "allowed_mentions": {"parse": []}}


def test_discord_429_honours_retry_after() -> None:
    sleeps = Sleeps()
    limited = Answer(429, {"message": "You are being rate limited.", "retry_after": 0.25, "global": False},
                     headers={"Retry-After": "1"})
    with LoopbackServer([limited, Answer(204, None)]).running() as server:
        _discord(server, sleeps).send("hello")
    assert sleeps == [0.25] and len(server.received) == 2


def test_discord_400_fails_without_the_webhook_secret() -> None:
    answer = Answer(400, {"message": "Cannot send an empty message", "code": 50006})
    with LoopbackServer([answer]).running() as server, pytest.raises(NotifyError, match="empty message") as caught:
        _discord(server).send("x")
    assert caught.value.service == "discord" and len(server.received) == 1
    _assert_secret_free(caught.value)
    assert WEBHOOK_SECRET not in repr(_discord(server))


def test_one_failing_service_does_not_stop_the_others() -> None:
    with LoopbackServer([telegram_error(401, "Unauthorized")]).running() as tg, \
            LoopbackServer([Answer(204, None)]).running() as dc:
        failures = notify_all([_telegram(tg), _discord(dc)], "hello")
    assert [f.service for f in failures] == ["telegram"] and len(dc.received) == 1


# -- configuration --------------------------------------------------------------------------------------


def test_no_configuration_means_no_notifiers() -> None:
    assert notifiers_from_env({}) == []
    assert notifiers_from_env({"TELEGRAM_BOT_TOKEN": " ", "DISCORD_WEBHOOK_EXECUTION": ""}) == []
    assert research_notifier_from_env({"DISCORD_WEBHOOK_RESEARCH": " "}) is None


def test_the_research_webhook_is_its_own_service_and_never_an_execution_notifier() -> None:
    env = {"DISCORD_WEBHOOK_RESEARCH": f"https://discord.com/api/webhooks/2/{WEBHOOK_SECRET}"}
    assert notifiers_from_env(env) == []
    research = research_notifier_from_env(env)
    assert research is not None and research.service == "discord_research"
    assert WEBHOOK_SECRET not in repr(research)
    with pytest.raises(ConfigError, match="DISCORD_WEBHOOK_RESEARCH") as bad_url:
        research_notifier_from_env({"DISCORD_WEBHOOK_RESEARCH": f"ftp://discord.com/{WEBHOOK_SECRET}"})
    _assert_secret_free(bad_url.value)


def test_notifiers_from_env_uses_the_configured_base_url() -> None:
    with LoopbackServer([telegram_ok()]).running() as server:
        notifiers = notifiers_from_env({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_CHAT_ID": "7",
                                        "TELEGRAM_API_BASE": server.base_url,
                                        "DISCORD_WEBHOOK_EXECUTION": f"https://discord.com/api/webhooks/1/{WEBHOOK_SECRET}"})
        assert [n.service for n in notifiers] == ["telegram", "discord"]
        notifiers[0].send("hi")
    assert server.received[0].path == f"/bot{TOKEN}/sendMessage"


def test_half_a_telegram_setup_is_a_config_error_without_the_token() -> None:
    with pytest.raises(ConfigError, match="TELEGRAM_CHAT_ID") as caught:
        notifiers_from_env({"TELEGRAM_BOT_TOKEN": TOKEN})
    _assert_secret_free(caught.value)
    with pytest.raises(ConfigError, match="TELEGRAM_BOT_TOKEN"):
        notifiers_from_env({"TELEGRAM_CHAT_ID": "7"})
    with pytest.raises(ConfigError, match="DISCORD_WEBHOOK_EXECUTION") as bad_url:
        notifiers_from_env({"DISCORD_WEBHOOK_EXECUTION": f"discord.com/api/webhooks/1/{WEBHOOK_SECRET}"})
    _assert_secret_free(bad_url.value)


def test_truncate_keeps_the_limit_and_prefers_a_line_break() -> None:
    text = "\n".join("z" * 50 for _ in range(100))
    cut = truncate(text, 1024)
    assert len(cut) <= 1024 and cut.endswith("z…")
    assert truncate("short", 10) == "short"
    assert len(truncate("y" * 5000, 4096)) == 4096
