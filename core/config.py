"""Risk and strategy configuration, validated at start-up against hard ceilings that live in code.

A value beyond its ceiling is refused (the process does not start), never silently clamped: a user who
wrote 40% should learn that 40% is not allowed. The risk engine also caps with the same ceilings, so a
config object built around validation still cannot loosen a limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from core.errors import ConfigError
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
}


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
    trailing_start_pct: float = Field(default=1.0, gt=0, le=50)
    trailing_step_pct: float = Field(default=1.0, gt=0, le=50)
    fee_rate: Decimal = Field(default=Decimal("0.001"), ge=0, le=Decimal("0.01"))
    stop_limit_buffer_pct: Decimal = Field(default=Decimal("0.2"), gt=0, le=Decimal("5"),
                                           description="a protective stop's limit price sits this far below its "
                                           "trigger, so that it fills in a fast market")

    @field_validator(*CEILINGS, mode="after")
    @classmethod
    def _within_ceiling(cls, value: float, info: ValidationInfo) -> float:
        ceiling = CEILINGS[str(info.field_name)]
        if value > ceiling:
            raise ValueError(f"{value} is above the hard ceiling {ceiling}")
        return value

    @model_validator(mode="after")
    def _kill_above_pause(self) -> RiskConfig:
        if self.drawdown_kill_pct <= self.drawdown_pause_pct:
            raise ValueError(f"drawdown_kill_pct={self.drawdown_kill_pct} must be above "
                             f"drawdown_pause_pct={self.drawdown_pause_pct} (DRAWDOWN_KILL_PCT > DRAWDOWN_PAUSE_PCT)")
        return self


class ScalpingConfig(Strict):
    min_imbalance: float = Field(default=0.10, ge=0, lt=1)
    max_spread_bps: float = Field(default=8.0, gt=0)
    take_profit_pct: Decimal = Field(default=Decimal("0.3"), gt=0)
    stop_loss_pct: Decimal = Field(default=Decimal("0.5"), gt=0)


class MomentumConfig(Strict):
    min_imbalance: float = Field(default=0.12, ge=0, lt=1)
    min_rise_pct: float = Field(default=0.8, gt=0)
    window_bars: int = Field(default=12, ge=2, le=10_000)
    take_profit_pct: Decimal = Field(default=Decimal("1.5"), gt=0)
    stop_loss_pct: Decimal = Field(default=Decimal("0.8"), gt=0)


class StatArbConfig(Strict):
    pair: tuple[str, str] = ("BTCUSDT", "ETHUSDT")
    z_entry: float = Field(default=2.0, gt=0)
    z_exit: float = Field(default=0.5, ge=0)
    window_bars: int = Field(default=288, ge=10, le=100_000)
    take_profit_pct: Decimal = Field(default=Decimal("1.0"), gt=0)
    stop_loss_pct: Decimal = Field(default=Decimal("1.0"), gt=0)


class StrategyConfig(Strict):
    allocation: dict[StrategyName, float] = Field(default_factory=lambda: {
        StrategyName.SCALPING: 0.70, StrategyName.MOMENTUM: 0.25, StrategyName.STAT_ARB: 0.05})
    scalping: ScalpingConfig = ScalpingConfig()
    momentum: MomentumConfig = MomentumConfig()
    stat_arb: StatArbConfig = StatArbConfig()

    @model_validator(mode="after")
    def _allocation(self) -> StrategyConfig:
        if any(w < 0 for w in self.allocation.values()):
            raise ValueError("strategy allocations must not be negative")
        total = sum(self.allocation.values())
        if total > 1.0 + 1e-9:
            raise ValueError(f"strategy allocations sum to {total:.4f}, above 1")
        return self


class ExecutorConfig(Strict):
    risk: RiskConfig = RiskConfig()
    strategies: StrategyConfig = StrategyConfig()


def _first_error(exc: ValidationError) -> tuple[str, str]:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "config"
    return where, err.get("msg", "invalid")


def load_config(values: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> ExecutorConfig:
    """Build the configuration from a mapping (e.g. a parsed file) overlaid with environment settings.

    Pure: the caller passes `os.environ`. Raises `ConfigError` naming the setting and the reason.
    """
    data: dict[str, Any] = {k: dict(v) if isinstance(v, Mapping) else v for k, v in (values or {}).items()}
    risk = dict(data.get("risk", {}))
    for var, field in ENV_SETTINGS.items():
        raw = (env or {}).get(var)
        if raw is None or raw.strip() == "":
            continue
        try:
            risk[field] = int(raw) if field == "max_open_positions" else float(raw)
        except ValueError:
            raise ConfigError(var, raw, "not a number") from None
    data["risk"] = risk
    try:
        return ExecutorConfig.model_validate(data)
    except ValidationError as exc:
        where, msg = _first_error(exc)
        field = where.split(".")[-1]
        env_name = next((v for v, f in ENV_SETTINGS.items() if f == field), where)
        value = _value_at(data, where)
        raise ConfigError(env_name, value, msg) from None


def _value_at(data: Mapping[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return None
    return node
