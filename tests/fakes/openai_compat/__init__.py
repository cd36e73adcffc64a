"""An OpenAI-compatible server of our own, on 127.0.0.1, for tests: DeepSeek's and LM Studio's dialects of
`/v1/chat/completions` and `/v1/models` (and LM Studio's `/api/v1/models`), answering from a script, and
recording every request it receives so that a test can count attempts and read every prompt. The real
`openai` package talks to it over sockets.

Start it in a test::

    from tests.fakes.openai_compat import FakeOpenAI, Mode, Reply

    with FakeOpenAI(Mode.DEEPSEEK, api_key=KEY) as fake:
        fake.script(Reply.json({"verdict": "approve"}), Reply.error(429, retry_after=1))
        client = openai.OpenAI(base_url=fake.base_url, api_key=KEY, max_retries=0)
        ...
        assert len(fake.completions()) == 1

A reply can answer an error status (400/401/402/422/429/500/503, with `Retry-After`), blank content, tool
calls, usage with DeepSeek's cache fields, keep-alive blank lines trickled before the answer (streaming or
not), a delay before answering (so that openai times out and resends the POST), a hang, or a dropped
connection: see `Reply`. By hand, it prints its URL and takes a script as JSON::

    python -m tests.fakes.openai_compat --mode lmstudio --port 1234
    curl -d '[{"content": "{\\"ok\\": true}"}]' http://127.0.0.1:1234/fake/script
    curl http://127.0.0.1:1234/fake/requests
"""

from tests.fakes.openai_compat.script import Received, Reply
from tests.fakes.openai_compat.server import FakeOpenAI, Mode

__all__ = ["FakeOpenAI", "Mode", "Received", "Reply"]
