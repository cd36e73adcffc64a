"""`python -m tests.fakes.openai_compat [--mode deepseek|lmstudio] [--port N]`: the fake by hand, until Ctrl-C."""

from __future__ import annotations

import argparse
import json

from tests.fakes.loop_thread import serve_until_signalled
from tests.fakes.openai_compat.server import FakeOpenAI, Mode


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.openai_compat", description=__doc__)
    parser.add_argument("--mode", choices=[m.value for m in Mode], default=Mode.LMSTUDIO.value)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--api-key", default=None, help="DeepSeek mode: the bearer key it accepts (any when unset)")
    parser.add_argument("--models", default="local-model", help="comma list of model ids it lists")
    args = parser.parse_args(argv)
    models = {name.strip(): True for name in args.models.split(",") if name.strip()}
    fake = FakeOpenAI(Mode(args.mode), api_key=args.api_key, models=models).start(args.port)
    print(json.dumps({"base_url": fake.base_url, "script": f"http://127.0.0.1:{fake.port}/fake/script",
                      "requests": f"http://127.0.0.1:{fake.port}/fake/requests"}), flush=True)
    serve_until_signalled(fake.stop)


if __name__ == "__main__":
    main()
