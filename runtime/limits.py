"""A home's risk limits (issue 9, item 8): they belong to the home, not to the caller's environment.

The limits are stored in the home's journal (`risk_settings`, every change journaled in
`risk_setting_changes` with who, when, old and new) by a person's commands only:

- the first `run` or `backtest` on a home stores every limit, from that process's environment or the
  defaults: the person who starts the service decides them;
- `run` is a person's command, so a limit set in its environment at a later start replaces the stored one,
  journaled as a change by "run start" (a limit it does not set keeps its stored value: starting the
  service without a variable never undoes a `config set`);
- `config set NAME VALUE` changes one limit.

Every other process (the tools, the MCP server) trades with the stored limits; its own environment can
only tighten them (`core.config.effective_risk`). A backtest after the first is a what-if: its environment
overrides the stored limits for that backtest only, and nothing is stored.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.config import (
    CEILINGS,
    LOWER_IS_STRICTER,
    EnvOverride,
    RiskConfig,
    effective_risk,
    parse_setting,
    risk_config,
    risk_field,
    setting_name,
)
from memory.journal import Journal, JournalError, SettingChange, StoredSetting, read_risk_settings
from runtime.home import Home

DEFAULT = "default"
CONFIG_SET = "config set"
RUN_START = "run start"
BACKTEST_START = "backtest start"


@dataclass(frozen=True)
class HomeLimits:
    """The risk limits a process runs with, where each came from, and what this process changed."""

    risk: RiskConfig
    sources: dict[str, str]  # field -> default, config set, run start, backtest start, or an environment note
    changes: list[SettingChange] = field(default_factory=list)
    overrides: dict[str, EnvOverride] = field(default_factory=dict)

    def lines(self) -> list[dict[str, Any]]:
        """One JSON-ready line per setting: its name, value, source and hard ceiling (null: none)."""
        values = self.risk.model_dump(mode="json")
        out = []
        for name, value in values.items():
            line: dict[str, Any] = {"setting": setting_name(name), "field": name, "value": value,
                                    "source": self.sources.get(name, DEFAULT), "ceiling": CEILINGS.get(name)}
            override = self.overrides.get(name)
            if override is not None and not override.applied:
                why = ("cannot be changed by a tool's environment" if name not in LOWER_IS_STRICTER else
                       "is not stricter than the home's value")
                line["ignored"] = (f"{override.variable}={override.requested} in this process's environment {why}, "
                                   "so the home's value stands")
            out.append(line)
        return out


def actor() -> str:
    """Who changed a setting, as far as this process can tell: the OS user and the process id."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid {os.getuid()}"
    return f"{user} (pid {os.getpid()})"


def _stored(settings: Mapping[str, StoredSetting]) -> tuple[dict[str, Any], dict[str, str]]:
    """Values and sources of the stored settings this version knows (a field added later is its default)."""
    known = {name: s for name, s in settings.items() if name in RiskConfig.model_fields}
    return {n: s.value for n, s in known.items()}, {n: s.source for n, s in known.items()}


def limits_for_tool(home: Home, env: Mapping[str, str]) -> HomeLimits:
    """What a tool process trades with: the home's stored limits (the defaults before any are stored), each
    tightened where this process's environment is stricter. Reads only; never writes the journal.

    A journal that cannot be read gives the defaults, marked as such, instead of an error: `kill` must still
    create the kill flag on a damaged home, and nothing can trade with those defaults, since every command
    that acts on the engine opens the same journal first and fails there.
    """
    try:
        values, sources = _stored(read_risk_settings(home.journal))
    except JournalError as exc:
        values, sources = {}, dict.fromkeys(RiskConfig.model_fields, f"default (stored limits unreadable: "
                                                                         f"{exc.message})")
    risk, overrides = effective_risk(risk_config(values), env)
    for name, override in overrides.items():
        if override.applied:
            sources[name] = f"tightened by environment ({override.variable})"
    return HomeLimits(risk, sources, overrides=overrides)


def limits_at_start(home: Home, env_values: Mapping[str, Any], source: str, wall_ms: int) -> HomeLimits:
    """The limits `run` or `backtest` (`source`) starts with, storing what a person's start decides.

    `env_values` are the limits set in the starting process's environment (`core.config.env_settings`).
    `run` stores them (and, on a home with none yet, every other limit at its default); a `backtest` stores
    only on a home that has no limits yet, and otherwise applies its environment to itself alone. The
    check and the write are one journal transaction; a refused value writes nothing.
    """
    stores = source == RUN_START

    def update(current: dict[str, StoredSetting]) -> dict[str, tuple[Any, str]]:
        if current and not stores:
            return {}
        values, _ = _stored(current)
        chosen = risk_config({**values, **env_values}).model_dump(mode="json")
        return {name: (value, source if name in env_values else DEFAULT) for name, value in chosen.items()
                if name in env_values or name not in current}

    with Journal(home.journal) as journal:
        changes = journal.update_risk_settings(update, actor=actor(), time_ms=wall_ms)
        values, sources = _stored(journal.risk_settings())
    if not stores:
        for name in env_values:
            if values.get(name) != env_values[name]:
                sources[name] = f"environment ({setting_name(name)}), this backtest only"
        values = {**values, **env_values}
    return HomeLimits(risk_config(values), sources, changes)


def set_limit(home: Home, name: str, raw: str, wall_ms: int) -> HomeLimits:
    """`config set NAME VALUE`: one limit of the home, validated with the others and journaled.

    NAME is an environment name (MAX_POSITION_SIZE_PCT) or a field name (max_position_size_pct); an
    unknown name, a value that is not a finite number, beyond its bounds or ceiling, or that breaks a
    rule between settings (DRAWDOWN_KILL_PCT above DRAWDOWN_PAUSE_PCT) raises ConfigError and stores nothing.
    """
    field_name = risk_field(name)
    value = parse_setting(field_name, raw)

    def update(current: dict[str, StoredSetting]) -> dict[str, tuple[Any, str]]:
        values, _ = _stored(current)
        chosen = risk_config({**values, field_name: value}).model_dump(mode="json")
        return {field_name: (chosen[field_name], CONFIG_SET)}

    with Journal(home.journal) as journal:
        changes = journal.update_risk_settings(update, actor=actor(), time_ms=wall_ms)
        values, sources = _stored(journal.risk_settings())
    return HomeLimits(risk_config(values), sources, changes)


def change_lines(changes: list[SettingChange]) -> list[dict[str, Any]]:
    return [{"setting": setting_name(c.name), "old": c.old, "new": c.new, "source": c.source, "actor": c.actor,
             "time_ms": c.time_ms} for c in changes]
