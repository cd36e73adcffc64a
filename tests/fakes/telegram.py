"""A Telegram Bot API server on 127.0.0.1 for the command bot's tests: a real HTTP server with state.

The test plays the people: `say` (a message from a chat) and `press` (an inline button) queue updates that
`getUpdates` serves from the offset asked for, holding a long poll open until one arrives (as Telegram does;
updates are kept after they are confirmed, see `_updates_from`). `sendMessage`, `sendPhoto` and
`answerCallbackQuery` are recorded (with the monotonic time they arrived) and answered like Telegram; `fail`
makes the next calls of a method answer an error (429 with `retry_after`, 5xx, 403) instead.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "123456:fake-bot-token-for-tests"


@dataclass
class Call:
    method: str
    body: dict[str, Any]
    at: float
    files: dict[str, bytes] = field(default_factory=dict)


@dataclass
class Failure:
    status: int
    description: str
    retry_after: int | None = None


class FakeTelegram:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.offsets: list[int] = []  # the offset of every getUpdates, in order
        self._updates: list[dict[str, Any]] = []
        self._next_update = 1000
        self._next_message = 1
        self._failures: dict[str, list[Failure]] = {}
        self._changed = threading.Condition()
        self._closed = False
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                status, answer = fake._answer(self.path, self.headers.get("Content-Type", ""), self.rfile.read(length))
                payload = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    return

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # -- what the people do --------------------------------------------------------------------------------

    def say(self, chat_id: int, text: str, user_id: int | None = None) -> int:
        return self._push({"message": {"message_id": self._message_id(), "date": int(time.time()),
                                       "chat": {"id": chat_id, "type": "private"},
                                       "from": {"id": user_id or chat_id, "is_bot": False, "username": f"u{chat_id}"},
                                       "text": text}})

    def press(self, chat_id: int, data: str) -> int:
        return self._push({"callback_query": {"id": f"cb{self._next_update}", "data": data,
                                              "from": {"id": chat_id, "is_bot": False},
                                              "message": {"message_id": 1, "chat": {"id": chat_id}}}})

    def fail(self, method: str, status: int, description: str, retry_after: int | None = None,
             times: int = 1) -> None:
        with self._changed:
            self._failures.setdefault(method, []).extend([Failure(status, description, retry_after)] * times)

    # -- what the tests read --------------------------------------------------------------------------------

    def sent(self, method: str = "sendMessage", chat_id: int | None = None) -> list[Call]:
        with self._changed:
            return [c for c in self.calls if c.method == method and
                    (chat_id is None or str(c.body.get("chat_id")) == str(chat_id))]

    def wait_for(self, method: str, count: int, chat_id: int | None = None, timeout_s: float = 60) -> list[Call]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            calls = self.sent(method, chat_id)
            if len(calls) >= count:
                return calls
            time.sleep(0.05)
        raise AssertionError(f"{count} {method} call(s) expected, got {self.sent(method, chat_id)}")

    def wait_for_offset(self, offset: int, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._changed:
                if self.offsets and self.offsets[-1] >= offset:
                    return
            time.sleep(0.05)
        raise AssertionError(f"no getUpdates from offset {offset}; offsets asked: {self.offsets}")

    # -- the server -----------------------------------------------------------------------------------------

    @contextmanager
    def running(self) -> Iterator[FakeTelegram]:
        thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            with self._changed:
                self._closed = True
                self._changed.notify_all()
            self._httpd.shutdown()
            self._httpd.server_close()
            thread.join(timeout=5)

    def _push(self, update: dict[str, Any]) -> int:
        with self._changed:
            update_id = self._next_update
            self._next_update += 1
            self._updates.append({"update_id": update_id, **update})
            self._changed.notify_all()
            return update_id

    def _message_id(self) -> int:
        with self._changed:
            self._next_message += 1
            return self._next_message

    def _answer(self, path: str, content_type: str, raw: bytes) -> tuple[int, dict[str, Any]]:
        prefix = f"/bot{self.token}/"
        if not path.startswith(prefix):
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        method = path[len(prefix):]
        body, files = _parse(content_type, raw)
        with self._changed:
            queued = self._failures.get(method)
            failure = queued.pop(0) if queued else None
        if failure is not None:
            answer: dict[str, Any] = {"ok": False, "error_code": failure.status, "description": failure.description}
            if failure.retry_after is not None:
                answer["parameters"] = {"retry_after": failure.retry_after}
            with self._changed:
                self.calls.append(Call(method, body, time.monotonic(), files))
            return failure.status, answer
        if method == "getUpdates":
            return 200, {"ok": True, "result": self._updates_from(int(body.get("offset") or 0),
                                                                  float(body.get("timeout") or 0))}
        with self._changed:
            self.calls.append(Call(method, body, time.monotonic(), files))
        if method in ("sendMessage", "sendPhoto"):
            return 200, {"ok": True, "result": {"message_id": self._message_id(),
                                                "chat": {"id": body.get("chat_id")}}}
        if method == "answerCallbackQuery":
            return 200, {"ok": True, "result": True}
        if method == "getMe":
            return 200, {"ok": True, "result": {"id": int(self.token.split(":")[0]), "is_bot": True,
                                                "first_name": "Fake", "username": "fake_executor_bot"}}
        return 404, {"ok": False, "error_code": 404, "description": f"Not Found: method {method}"}

    def _updates_from(self, offset: int, timeout_s: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        with self._changed:
            self.offsets.append(offset)
            # Telegram forgets the updates below an offset it was given. This fake keeps them, so a client that
            # asks from an older offset after a restart is served them again: the bug the restart test looks for.
            while not (fresh := [u for u in self._updates if u["update_id"] >= offset]) and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(min(left, 0.2))
            return fresh


def _parse(content_type: str, raw: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
    if content_type.startswith("application/json"):
        return json.loads(raw or b"{}"), {}
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
        fields: dict[str, Any] = {}
        files: dict[str, bytes] = {}
        for part in message.iter_parts():
            name = str(part.get_param("name", header="content-disposition"))
            data = part.get_payload(decode=True) or b""
            if part.get_filename() is None:
                fields[name] = data.decode()
            else:
                files[name] = data
        return fields, files
    return {}, {}
