"""Risk and strategy configuration, validated at start-up against hard ceilings that live in code.

A value beyond its ceiling is refused (the process does not start), never silently clamped: a user who
wrote 40% should learn that 40% is not allowed. The risk engine also caps with the same ceilings, so a
config object built around validation still cannot loosen a limit.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from core.errors import ConfigError
from core.sectors import DEFAULT_SECTORS, Sector
from core.types import StrategyName

# Absolute ceilings: no configuration can go past these.
CEILINGS: dict[str, float] = {
    "max_position_size_pct": 25.0,
    "daily_loss_limit_pct": 10.0,
    "weekly_loss_limit_pct": 20.0,
    "drawdown_pause_pct": 20.0,
    "drawdown_kill_pct": 30.0,
    "max_open_positions": 20,
    "max_total_exposure_pct": 90.0,
    "kelly_fraction": 1.0,
    "max_stop_loss_pct": 25.0,
    "max_positions_per_sector": 20,
    "base_deploy_pct": 100.0,
}

# Environment variable → field, for the settings ARCHITECTURE.md names.
ENV_SETTINGS: dict[str, str] = {
    "MAX_POSITION_SIZE_PCT": "max_position_size_pct",
    "DAILY_LOSS_LIMIT_PCT": "daily_loss_limit_pct",
    "WEEKLY_LOSS_LIMIT_PCT": "weekly_loss_limit_pct",
    "DRAWDOWN_PAUSE_PCT": "drawdown_pause_pct",
    "DRAWDOWN_KILL_PCT": "drawdown_kill_pct",
    "MAX_OPEN_POSITIONS": "max_open_positions",
    "MAX_TOTAL_EXPOSURE_PCT": "max_total_exposure_pct",
    "KELLY_FRACTION": "kelly_fraction",
    "MAX_STOP_LOSS_PCT": "max_stop_loss_pct",
    "MAX_POSITIONS_PER_SECTOR": "max_positions_per_sector",
    "BASE_DEPLOY_PCT": "base_deploy_pct",
}
# Environment variable → field, for the settings that take one of a few words rather than a number. A tool
# process's environment cannot change them (they have no "lower"): the home's value stands.
ENV_CHOICES: dict[str, str] = {
    "CAPITAL_RULE": "capital_rule",
}
_ENV_NAMES: dict[str, str] = {**ENV_SETTINGS, **ENV_CHOICES}


class CapitalRule(StrEnum):
    """How much capital may be deployed at once, on top of MAX_TOTAL_EXPOSURE_PCT (`core.risk.capital`)."""

    OFF = "off"  # only MAX_TOTAL_EXPOSURE_PCT of equity
    BASE_PLUS_PROFITS = "base_plus_profits"  # BASE_DEPLOY_PCT of the starting capital + realized P&L since start


class Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class RiskConfig(Strict):
    max_position_size_pct: float = Field(default=12.0, gt=0)
    daily_loss_limit_pct: float = Field(default=2.0, gt=0)
    daily_pause_hours: float = Field(default=2.0, gt=0, le=24 * 7)
    weekly_loss_limit_pct: float = Field(default=5.0, gt=0)
    weekly_size_multiplier: float = Field(default=0.5, gt=0, le=1.0)
    drawdown_pause_pct: float = Field(default=7.0, gt=0)
    drawdown_pause_hours: float = Field(default=48.0, gt=0, le=24 * 30)
    drawdown_kill_pct: float = Field(default=10.0, gt=0)
    max_open_positions: int = Field(default=10, ge=1)
    max_total_exposure_pct: float = Field(default=60.0, gt=0)
    kelly_fraction: float = Field(default=0.5, gt=0)
    max_stop_loss_pct: float = Field(default=10.0, gt=0, description="the farthest a protective stop may sit below "
                                     "the entry, in percent, for signals and manual trades alike")
    kelly_prior: float = Field(default=0.10, gt=0, le=0.25, description="full-Kelly fraction assumed until "
                               "a strategy has min_trades_for_kelly closed trades")
    min_trades_for_kelly: int = Field(default=30, ge=1)
    kelly_recovery_half_life_hours: float = Field(
        default=168.0, gt=0, le=24 * 365, description="half-life with which a strategy's Kelly estimate ages "
        "toward kelly_prior while none of its trades closes (core.risk.sizing.kelly_sizing)")
    kelly_min_full: float = Field(default=0.01, gt=0, le=0.1, description="a full-Kelly value below this sizes a "
                                  "strategy out (its positions would be noise) until its aged estimate recovers")
    trailing_start_pct: float = Field(default=1.0, gt=0, le=50)
    trailing_step_pct: float = Field(default=1.0, gt=0, le=50)
    fee_rate: Decimal = Field(default=Decimal("0.001"), ge=0, le=Decimal("0.01"))
    stop_limit_buffer_pct: Decimal = Field(default=Decimal("0.2"), gt=0, le=Decimal("5"),
                                           description="a protective stop's limit price sits this far below its "
                                           "trigger, so that it fills in a fast market")
    max_positions_per_sector: int = Field(default=2, ge=1, description="open or pending positions at once in "
                                          "one sector of the sector map (core.sectors)")
    capital_rule: CapitalRule = Field(default=CapitalRule.OFF, description="off, or base_plus_profits: deployed "
                                      "capital at most base_deploy_pct of the starting capital plus the realized "
                                      "profits since the start (losses shrink it), never above max_total_exposure_pct")
    base_deploy_pct: float = Field(default=50.0, gt=0, description="the share of the starting capital that "
                                   "capital_rule=base_plus_profits deploys before any profit, in percent")
    entry_slippage_allowance_pct: Decimal = Field(
        default=Decimal("0.5"), ge=0, le=Decimal("5"),
        description="how far above the reference price an entry is assumed to fill at worst: the entry is a "
        "market buy of a quote amount (quoteOrderQty), whose cost the exchange caps, and the quantity it must at "
        "least buy (for the lot, notional and protection checks) is counted at this worse price")

    @field_validator(*CEILINGS, mode="after")
    @classmethod
    def _within_ceiling(cls, value: float, info: ValidationInfo) -> float:
        ceiling = CEILINGS[str(info.field_name)]
        if value > ceiling:
            raise PydanticCustomError("above_ceiling", "{value} is above the hard ceiling {limit}",
                                      {"value": value, "limit": ceiling})
        return value

    @model_validator(mode="after")
    def _kill_above_pause(self) -> RiskConfig:
        if self.drawdown_kill_pct <= self.drawdown_pause_pct:
            # A model-level error has no field in its location: ctx["field"] names the setting to fix.
            raise PydanticCustomError(
                "kill_above_pause",
                "drawdown_kill_pct={kill} must be above drawdown_pause_pct={pause} (DRAWDOWN_KILL_PCT > "
                "DRAWDOWN_PAUSE_PCT)",
                {"field": "drawdown_kill_pct", "kill": self.drawdown_kill_pct, "pause": self.drawdown_pause_pct,
                 "limit": self.drawdown_pause_pct})
        return self


# The built-in strategies' shares of new entries by default (a strategy without one sizes to zero).
DEFAULT_ALLOCATION: dict[str, float] = {"scalping": 0.70, "momentum": 0.25, "stat_arb": 0.05}
_STRATEGY_KEYS = frozenset({"allocation", "fixed_stake", "settings"})
# A fixed stake above this is refused at start-up: a typo of a few zeros must not reach the risk gate (which caps
# every entry anyway, at MAX_POSITION_SIZE_PCT of equity and the rest).
MAX_FIXED_STAKE = Decimal("1e12")


class StrategyConfig(Strict):
    """Allocations and per-strategy settings, keyed by strategy name.

    `settings[name]` is validated by that strategy's own config model when the registry is resolved
    (`core.strategies.registry`), since only the registry knows which strategies exist. A section given at the
    top level (`{"momentum": {"min_rise_pct": 1.0}}`) is the same as one under `settings`."""

    allocation: dict[StrategyName, float] = Field(default_factory=lambda: dict(DEFAULT_ALLOCATION))
    # name -> the quote amount each entry of that strategy asks for, instead of Kelly × confidence × allocation
    # (freqtrade's stake_amount). Empty by default: every strategy is sized by Kelly. The risk gate still caps it.
    fixed_stake: dict[StrategyName, Decimal] = Field(default_factory=dict)
    settings: dict[StrategyName, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _sections(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or _STRATEGY_KEYS.issuperset(data):
            return data
        settings = dict(data.get("settings", {}))
        for key, value in data.items():
            if key not in _STRATEGY_KEYS:
                settings[key] = value.model_dump() if isinstance(value, BaseModel) else value
        return {**{k: v for k, v in data.items() if k in _STRATEGY_KEYS}, "settings": settings}

    @model_validator(mode="after")
    def _allocation(self) -> StrategyConfig:
        if any(w < 0 for w in self.allocation.values()):
            raise ValueError("strategy allocations must not be negative")
        total = sum(self.allocation.values())
        if total > 1.0 + 1e-9:
            raise ValueError(f"strategy allocations sum to {total:.4f}, above 1")
        for name, stake in self.fixed_stake.items():
            if not stake.is_finite() or not 0 < stake <= MAX_FIXED_STAKE:
                raise ValueError(f"fixed_stake.{name} is {stake}: a quote amount above 0 and at most {MAX_FIXED_STAKE}")
        return self


class AdaptConfig(Strict):
    """How the strategy mix adapts to the strategies' own closed trades (`core.adaptive`): once per UTC day of
    engine time and on a person's `memory adapt`. Shares are fractions of 1 of new entries, like allocations.
    Kept in the home's `strategies.json` under `adapt` (CONFIGURATION.md, "Adaptive strategy mix")."""

    enabled: bool = Field(default=True, description="adjust the mix once per UTC day (engine time)")
    floor: float = Field(default=0.05, gt=0, le=1, description="the smallest share a strategy that takes part "
                         "may be given (above 0: learning never switches a strategy off)")
    ceiling: float = Field(default=0.80, gt=0, le=1, description="the largest share any strategy may be given")
    max_step: float = Field(default=0.05, gt=0, le=0.5, description="the most one adjustment moves a share")
    min_trades: int = Field(default=30, ge=2, le=100_000, description="closed trades a strategy needs before its "
                            "share moves")
    window_trades: int = Field(default=200, ge=2, le=100_000, description="a strategy is scored on its last this "
                               "many closed trades")
    confidence_z: float = Field(default=1.0, ge=0, le=5, description="the score is mean − z·sd/√n of the "
                                "window's returns per trade: how much thin evidence is discounted")
    temperature_pct: float = Field(default=0.5, gt=0, le=100, description="a score difference of this many percent "
                                   "per trade is a factor e between two strategies' target shares")

    @model_validator(mode="after")
    def _floor_below_ceiling(self) -> AdaptConfig:
        if self.floor > self.ceiling:
            raise PydanticCustomError("floor_above_ceiling", "adapt.floor={floor} must not be above "
                                      "adapt.ceiling={ceiling}", {"field": "floor", "floor": self.floor,
                                                                  "ceiling": self.ceiling, "limit": self.ceiling})
        return self


class ManualTradeConfig(Strict):
    """A trade a person or an agent asks for without --tp / --sl is protected with these (a manual trade belongs
    to no strategy, so it borrows none's)."""

    take_profit_pct: Decimal = Field(default=Decimal("1.5"), gt=0, lt=100)
    stop_loss_pct: Decimal = Field(default=Decimal("0.8"), gt=0, lt=100)


class ExecutorConfig(Strict):
    risk: RiskConfig = RiskConfig()
    strategies: StrategyConfig = StrategyConfig()
    # symbol -> sector for the sector guard: DEFAULT_SECTORS with SECTOR_MAP's overrides (core.sectors)
    sector_map: dict[str, Sector] = Field(default_factory=lambda: dict(DEFAULT_SECTORS))
    manual: ManualTradeConfig = ManualTradeConfig()
    adapt: AdaptConfig = AdaptConfig()

    @model_validator(mode="after")
    def _adaptable_mix(self) -> ExecutorConfig:
        """With two or more strategies on, a mix within [floor, ceiling] that sums to the configured total must
        exist, or the adaptation could never satisfy its own bounds."""
        if not self.adapt.enabled:
            return self
        shares = [w for w in self.strategies.allocation.values() if w > 0]
        total = sum(shares)
        if len(shares) >= 2 and not len(shares) * self.adapt.floor <= total + 1e-9:
            raise PydanticCustomError("adapt_floor_infeasible", "adapt.floor={floor} × {n} strategies is above "
                                      "their allocations' total {total}",
                                      {"field": "adapt.floor", "n": len(shares), "floor": self.adapt.floor,
                                       "total": round(total, 6), "limit": total / len(shares)})
        if len(shares) >= 2 and not len(shares) * self.adapt.ceiling >= total - 1e-9:
            raise PydanticCustomError("adapt_ceiling_infeasible", "adapt.ceiling={ceiling} × {n} strategies is below "
                                      "their allocations' total {total}", {"field": "adapt.ceiling",
                                      "n": len(shares), "ceiling": self.adapt.ceiling, "total": round(total, 6),
                                      "limit": total / len(shares)})
        return self


def setting_name(field: str) -> str:
    """The name a person or an error uses for a risk field: its environment variable when it has one."""
    return next((var for var, f in _ENV_NAMES.items() if f == field), field)


def known_settings() -> list[str]:
    """Every name `config set` accepts: the environment names, then the risk fields without one."""
    return [*_ENV_NAMES, *(f for f in RiskConfig.model_fields if f not in _ENV_NAMES.values())]


def risk_field(name: str) -> str:
    """The RiskConfig field a setting names, by its environment name or its field name (any case)."""
    if name.upper() in _ENV_NAMES:
        return _ENV_NAMES[name.upper()]
    if name.lower() in RiskConfig.model_fields:
        return name.lower()
    raise ConfigError(name, None, f"unknown setting; known: {', '.join(known_settings())}",
                      known=known_settings())


@functools.cache
def _field_adapter(field: str) -> TypeAdapter[Any]:
    info = RiskConfig.model_fields[field]
    return TypeAdapter(Annotated[info.annotation, info])


def parse_setting(field: str, raw: str, setting: str | None = None) -> Any:
    """One risk setting from its text (an environment value, `config set`'s argument), checked on its own:
    a finite number of the field's type, within the field's bounds and its hard ceiling.

    Raises ConfigError naming `setting` (default: the field's environment name) with the text as given,
    so a NaN or an infinity is named and still serialises to JSON.
    """
    setting = setting or setting_name(field)
    text = raw.strip()
    kind = RiskConfig.model_fields[field].annotation
    if isinstance(kind, type) and issubclass(kind, StrEnum):
        return _parse_choice(kind, setting, raw)
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ConfigError(setting, raw, "not a number") from None
    if not number.is_finite():
        raise ConfigError(setting, raw, "not a finite number")
    if kind is int and number != number.to_integral_value():
        raise ConfigError(setting, raw, "not a whole number")
    value: Any = int(number) if kind is int else float(number) if kind is float else number
    try:
        value = _field_adapter(field).validate_python(value)
    except ValidationError as exc:
        raise ConfigError(setting, raw, exc.errors()[0].get("msg", "invalid")) from None
    ceiling = CEILINGS.get(field)
    if ceiling is not None and value > ceiling:
        raise ConfigError(setting, raw, f"{value} is above the hard ceiling {ceiling}", limit=ceiling)
    return value


def _parse_choice(kind: type[StrEnum], setting: str, raw: str) -> StrEnum:
    """One of an enum's words, in any case; ConfigError listing the words otherwise."""
    try:
        return kind(raw.strip().lower())
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise ConfigError(setting, raw, f"must be one of {choices}", choices=choices) from None


def env_settings(env: Mapping[str, str] | None) -> dict[str, Any]:
    """The risk settings an environment sets (blank variables are unset): field → checked value."""
    values: dict[str, Any] = {}
    for var, field in _ENV_NAMES.items():
        raw = (env or {}).get(var)
        if raw is not None and raw.strip() != "":
            values[field] = parse_setting(field, raw, var)
    return values


def risk_config(values: Mapping[str, Any]) -> RiskConfig:
    """A RiskConfig from field values (defaults for the rest); ConfigError naming the setting at fault."""
    try:
        return RiskConfig.model_validate(dict(values))
    except ValidationError as exc:
        raise _config_error(exc, {"risk": dict(values)}, root=("risk",)) from None


# A stricter value of these is a lower one: each is a ceiling-bounded limit (a size, a loss, a drawdown, a count,
# a Kelly fraction). Only these can be moved by a tool process's environment, and only downwards.
LOWER_IS_STRICTER: frozenset[str] = frozenset(CEILINGS)


@dataclass(frozen=True)
class EnvOverride:
    """A risk setting found in a tool process's environment and what became of it."""

    variable: str
    requested: Any
    applied: bool  # False: not stricter than the home's value (or not a limit), so the home's value stands


def effective_risk(stored: RiskConfig, env: Mapping[str, str] | None) -> tuple[RiskConfig, dict[str, EnvOverride]]:
    """The limits a process that is not a person's command (a tool, the MCP server) runs with: the home's
    stored limits, each tightened by the process's environment where that is stricter, never loosened.

    For every field in LOWER_IS_STRICTER the lower of the two values wins; every other field (fees,
    trailing, pause durations) is the home's whatever the environment says. An environment value that is
    invalid on its own (NaN, above its ceiling) is refused with ConfigError rather than ignored; so is a
    combination the model forbids (a tightened DRAWDOWN_KILL_PCT at or below the home's DRAWDOWN_PAUSE_PCT:
    tighten the pause too). Returns the limits and, per field the environment set, what it did.
    """
    values = stored.model_dump()
    overrides: dict[str, EnvOverride] = {}
    for field, requested in env_settings(env).items():
        stricter = field in LOWER_IS_STRICTER and requested < values[field]
        if stricter:
            values[field] = requested
        overrides[field] = EnvOverride(setting_name(field), requested, stricter)
    return risk_config(values), overrides


def _config_error(exc: ValidationError, data: Mapping[str, Any], root: tuple[str, ...] = ()) -> ConfigError:
    """The first validation error as a ConfigError naming the setting (its environment name where it has one),
    the value found there and the bound it broke. A model validator names its field in the error's ctx
    (`field`), since the error's location is the model itself."""
    err = exc.errors()[0]
    ctx = err.get("ctx") or {}
    loc = [*root, *(str(p) for p in err.get("loc", ())), *([str(ctx["field"])] if "field" in ctx else [])]
    where = ".".join(loc) or "config"
    field = loc[-1] if loc else where
    setting = setting_name(field) if field in RiskConfig.model_fields else where
    limit = next((ctx[k] for k in ("limit", "gt", "ge", "lt", "le") if k in ctx), None)
    return ConfigError(setting, _value_at(data, where), err.get("msg", "invalid"), limit=limit)


def load_config(values: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> ExecutorConfig:
    """Build the configuration from a mapping (e.g. a parsed file) overlaid with environment settings.

    Pure: the caller passes `os.environ`. Raises `ConfigError` naming the setting and the reason.
    """
    data: dict[str, Any] = {k: dict(v) if isinstance(v, Mapping) else v for k, v in (values or {}).items()}
    data["risk"] = {**dict(data.get("risk", {})), **env_settings(env)}
    try:
        return ExecutorConfig.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, data) from None


def executor_config(risk: RiskConfig, strategies: StrategyConfig, manual: ManualTradeConfig,
                    adapt: AdaptConfig) -> ExecutorConfig:
    """The configuration from its validated parts, checked together (the adaptive mix's bounds against the
    allocations); ConfigError naming the setting at fault."""
    try:
        return ExecutorConfig(risk=risk, strategies=strategies, manual=manual, adapt=adapt)
    except ValidationError as exc:
        raise _config_error(exc, {"adapt": adapt.model_dump()}) from None


def _value_at(data: Mapping[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return None
    return node
