"""What every tool is: a name, pydantic input and output models, hints, and a handler.

The front ends (CLI, MCP server, OpenAI function definitions) are generated from these specs, so a tool
is defined once. Handlers take the validated input model and a `ToolContext`, and return the output
model or raise an `ExecutorError` (which becomes the error envelope).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from core.config import ExecutorConfig
from core.errors import ConfigError
from core.strategies.registry import StrategySet
from runtime.home import Home
from runtime.limits import HomeLimits, limits_for_tool
from runtime.strategy_loader import home_config, load_strategies, strategies_for_safety


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class ToolContext:
    """Everything a handler may touch: the data directory, validated config, environment, and the clock.

    `limits` says where each risk limit in `config` came from (None: built by hand, every limit as in `config`).
    """

    home: Home
    config: ExecutorConfig
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    now_ms: Callable[[], int] = wall_clock_ms
    limits: HomeLimits | None = None
    # The home's strategy configuration could not be read (strategies.json, STRATEGIES, a strategy's settings):
    # `config` then carries the default strategy settings, and only the tools that need none run (`ToolSpec`).
    settings_problem: ConfigError | None = None

    @classmethod
    def from_environment(cls, home: str | None = None) -> ToolContext:
        """The context of a tool process: the home's stored risk limits, which this process's environment can
        only tighten (an agent that sets MAX_POSITION_SIZE_PCT=25 gets the home's 5)."""
        resolved = Home.resolve(home).ensure()
        limits = limits_for_tool(resolved, os.environ)
        try:
            config, problem = home_config(resolved, limits.risk), None
        except ConfigError as exc:
            config, problem = ExecutorConfig(risk=limits.risk), exc
        return cls(home=resolved, config=config, env=dict(os.environ), limits=limits, settings_problem=problem)

    def strategies(self) -> StrategySet:
        """The strategies of the home (built-ins, STRATEGIES, trusted files) with this context's settings: what a
        tool restores a saved engine with. Loaded when asked: a control tool never runs a strategy file."""
        if self.settings_problem is not None:
            raise self.settings_problem
        return load_strategies(self.home, self.env, self.config.strategies).strategies

    def strategies_for_reading(self) -> tuple[StrategySet, ConfigError | None]:
        """The strategies a read restores a saved engine with even when the configuration is broken, and the problem
        to show (`runtime.strategy_loader.strategies_for_safety`)."""
        strategies, problem = strategies_for_safety(self.home, self.env, self.config.strategies)
        return strategies, self.settings_problem or problem


Handler = Callable[[Any, ToolContext], BaseModel]


@dataclass(frozen=True)
class ToolSpec:
    """One tool. The hints are what MCP hosts read (`ToolAnnotations`) to decide how much to ask a person first.

    `destructive`: it may undo or loosen something (trade, resume); a control that only reduces risk (pause,
    kill) is not, so that no host puts a confirmation prompt in front of the emergency stop. `idempotent`: a
    repeat with the same arguments has no further effect. `open_world`: it reaches outside the home (Binance).
    `destructive` and `idempotent` only mean something when the tool is not read-only.
    """

    name: str
    description: str  # what an agent reads to decide when to call it: one or two sentences
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    handler: Handler
    read_only: bool
    destructive: bool = False
    agent_facing: bool = True  # False: command line only (e.g. resetting the kill switch)
    title: str = field(kw_only=True)  # a person's name for it, as a host shows it ("Pause entries")
    idempotent: bool = field(default=False, kw_only=True)
    open_world: bool = field(default=False, kw_only=True)
    # False: it runs even when the home's strategy configuration is broken (the safety controls, status, doctor),
    # because nothing it does depends on a strategy's settings. Every other tool refuses with the problem.
    needs_strategy_settings: bool = field(default=True, kw_only=True)
