"""Circuit breakers on equity: a weekly size reduction, a daily pause, a drawdown pause and a kill switch.

Each breaker fires once per breach and emits an event only on a transition (tripped, expired, reset):

* drawdown from the high-water mark > drawdown_kill_pct → KILLED until `reset_kill` (manual only);
* drawdown > drawdown_pause_pct → entries paused for drawdown_pause_hours, once per drawdown episode
  (an episode ends at a new high-water mark, so an expired pause does not re-fire on the same drawdown);
* daily loss > daily_loss_limit_pct → entries paused for daily_pause_hours. The daily loss is measured from
  the equity at 00:00 UTC; once a pause has expired, from the equity at the moment it expired, so a further
  fall of the limit on the same day pauses again (a loss the pause already answered does not re-fire);
* loss since the UTC week's start (Monday 00:00) > weekly_loss_limit_pct → sizes × weekly_size_multiplier
  until the week ends.

They are evaluated most severe first and independently, with no early return, so a step that jumps past
the kill threshold always lands on KILLED (the kill subsumes the drawdown pause; the daily and weekly
breakers measure other periods and trip on their own). `level` reports the most severe one in force.
Period starts are UTC from `core.clock`, never local time. A reference is the equity *at* its instant (a
boundary, or a pause's expiry): the equity in force just before it, which is the `equity_before` of the first
update at or after it (nothing moved equity between two updates). So a Monday 23:59:59.999 equity of 9 900
followed by 9 850 at Tuesday 00:00 is a loss of 50 on Tuesday, not a loss on neither day. The caller passes
`equity_before` rather than the state remembering it: recording every update's equity would allocate a new
state on every bar, and the common path must allocate nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from core.clock import MS_PER_DAY, MS_PER_HOUR, MS_PER_WEEK, utc_day_start, utc_text, utc_week_start
from core.config import CEILINGS, RiskConfig
from core.risk.errors import InvalidRiskInput

DRAWDOWN_KILL = "drawdown_kill"
MANUAL_KILL = "manual_kill"
DRAWDOWN_PAUSE = "drawdown_pause"
DAILY_LOSS = "daily_loss"
WEEKLY_LOSS = "weekly_loss"

TRIPPED = "tripped"
EXPIRED = "expired"
RESET = "reset"

_STATE_VERSION = 2
# Version 1 measured a day from `day_start_equity`, always taken at `day_start_ms`: read exactly as version 2's
# reference equity and time.
_READABLE_VERSIONS = (1, _STATE_VERSION)


class BreakerLevel(StrEnum):
    NORMAL = "normal"
    WEEKLY_REDUCED = "weekly_reduced"
    DAILY_PAUSE = "daily_pause"
    DRAWDOWN_PAUSE = "drawdown_pause"
    KILLED = "killed"


@dataclass(frozen=True, slots=True)
class BreakerEvent:
    """A breaker transition. `level` is the level in force after the update that produced the event."""

    time_ms: int
    breaker: str
    transition: str  # "tripped" | "expired" | "reset"
    level: BreakerLevel
    value_pct: float
    limit_pct: float
    message: str


@dataclass(frozen=True, slots=True)
class Trip:
    """Why a breaker is tripped: which one, when, the measured loss and the limit it exceeded (percent)."""

    breaker: str
    time_ms: int
    value_pct: float
    limit_pct: float

    def to_dict(self) -> dict[str, Any]:
        return {"breaker": self.breaker, "time_ms": self.time_ms, "value_pct": self.value_pct,
                "limit_pct": self.limit_pct}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Trip:
        return cls(str(d["breaker"]), int(d["time_ms"]), float(d["value_pct"]), float(d["limit_pct"]))



@dataclass(frozen=True, slots=True)
class BreakerState:
    """Everything the breakers remember between equity updates. Immutable; `update_breakers` returns a new one."""

    day_start_ms: int
    daily_ref_equity: float  # what the daily loss is measured from: the equity at `daily_ref_ms`
    daily_ref_ms: int  # 00:00 UTC of the day (or the start), or the expiry of a daily pause later that day
    week_start_ms: int
    week_start_equity: float
    high_water: float
    kill: Trip | None = None
    drawdown_pause_until_ms: int = 0
    drawdown_trip: Trip | None = None
    drawdown_fired: bool = False  # the drawdown pause already fired in this episode (until a new high)
    daily_pause_until_ms: int = 0
    daily_trip: Trip | None = None
    daily_fired: bool = False  # the daily breaker fired since `daily_ref_ms` (re-armed when its pause expires)
    weekly_trip: Trip | None = None  # set while sizes are reduced for the week starting at week_start_ms
    weekly_multiplier: float = 1.0

    def __post_init__(self) -> None:
        for name in ("daily_ref_equity", "week_start_equity", "high_water"):
            _check_equity(getattr(self, name), name)
        if not 0.0 <= self.weekly_multiplier <= 1.0:
            raise InvalidRiskInput("weekly_multiplier", self.weekly_multiplier, "[0, 1]",
                                   "a breaker multiplier may only shrink sizes")

    @classmethod
    def initial(cls, equity: float, now_ms: int) -> BreakerState:
        return cls(day_start_ms=utc_day_start(now_ms), daily_ref_equity=equity, daily_ref_ms=now_ms,
                   week_start_ms=utc_week_start(now_ms), week_start_equity=equity, high_water=equity)

    @property
    def killed(self) -> bool:
        return self.kill is not None

    def level(self, now_ms: int) -> BreakerLevel:
        if self.kill is not None:
            return BreakerLevel.KILLED
        if now_ms < self.drawdown_pause_until_ms:
            return BreakerLevel.DRAWDOWN_PAUSE
        if now_ms < self.daily_pause_until_ms:
            return BreakerLevel.DAILY_PAUSE
        if self._weekly_active(now_ms):
            return BreakerLevel.WEEKLY_REDUCED
        return BreakerLevel.NORMAL

    def entries_allowed(self, now_ms: int) -> tuple[bool, str | None]:
        """Whether a new entry may be taken now, and if not, which breaker forbids it with its value and limit."""
        block = self.entry_block(now_ms)
        return (True, None) if block is None else (False, f"{block[0]}: {block[1]}")

    def entry_block(self, now_ms: int) -> tuple[str, str] | None:
        """(breaker, message) of the breaker that forbids a new entry now, or None when entries are allowed."""
        kill = self.kill
        if kill is not None:
            if kill.breaker == MANUAL_KILL:
                return MANUAL_KILL, f"entries stopped since {utc_text(kill.time_ms)} until a manual reset"
            return kill.breaker, (f"drawdown {kill.value_pct:.2f}% > limit {kill.limit_pct:.2f}%, "
                                  f"entries stopped since {utc_text(kill.time_ms)} until a manual reset")
        trip = self.drawdown_trip
        if now_ms < self.drawdown_pause_until_ms and trip is not None:
            return DRAWDOWN_PAUSE, (f"drawdown {trip.value_pct:.2f}% > limit {trip.limit_pct:.2f}%, "
                                    f"entries paused until {utc_text(self.drawdown_pause_until_ms)}")
        trip = self.daily_trip
        if now_ms < self.daily_pause_until_ms and trip is not None:
            return DAILY_LOSS, (f"daily loss {trip.value_pct:.2f}% > limit {trip.limit_pct:.2f}%, "
                                f"entries paused until {utc_text(self.daily_pause_until_ms)}")
        return None

    def size_multiplier(self, now_ms: int) -> float:
        """1.0, or the weekly multiplier while the weekly breaker holds (it ends with the UTC week)."""
        return self.weekly_multiplier if self._weekly_active(now_ms) else 1.0

    def _weekly_active(self, now_ms: int) -> bool:
        return self.weekly_trip is not None and now_ms < self.week_start_ms + MS_PER_WEEK

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able document for persistence (floats and ints only; trips as nested objects or null)."""
        return {
            "version": _STATE_VERSION,
            "day_start_ms": self.day_start_ms,
            "daily_ref_equity": self.daily_ref_equity,
            "daily_ref_ms": self.daily_ref_ms,
            "week_start_ms": self.week_start_ms,
            "week_start_equity": self.week_start_equity,
            "high_water": self.high_water,
            "kill": _trip_dict(self.kill),
            "drawdown_pause_until_ms": self.drawdown_pause_until_ms,
            "drawdown_trip": _trip_dict(self.drawdown_trip),
            "drawdown_fired": self.drawdown_fired,
            "daily_pause_until_ms": self.daily_pause_until_ms,
            "daily_trip": _trip_dict(self.daily_trip),
            "daily_fired": self.daily_fired,
            "weekly_trip": _trip_dict(self.weekly_trip),
            "weekly_multiplier": self.weekly_multiplier,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BreakerState:
        version = d.get("version")
        if version not in _READABLE_VERSIONS:
            raise InvalidRiskInput("version", version, _READABLE_VERSIONS, "unknown breaker state version")
        try:
            v1 = version == 1
            state = cls(
                day_start_ms=int(d["day_start_ms"]),
                daily_ref_equity=float(d["day_start_equity" if v1 else "daily_ref_equity"]),
                daily_ref_ms=int(d["day_start_ms" if v1 else "daily_ref_ms"]),
                week_start_ms=int(d["week_start_ms"]),
                week_start_equity=float(d["week_start_equity"]),
                high_water=float(d["high_water"]),
                kill=_trip_of(d["kill"]),
                drawdown_pause_until_ms=int(d["drawdown_pause_until_ms"]),
                drawdown_trip=_trip_of(d["drawdown_trip"]),
                drawdown_fired=bool(d["drawdown_fired"]),
                daily_pause_until_ms=int(d["daily_pause_until_ms"]),
                daily_trip=_trip_of(d["daily_trip"]),
                daily_fired=bool(d["daily_fired"]),
                weekly_trip=_trip_of(d["weekly_trip"]),
                weekly_multiplier=float(d["weekly_multiplier"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidRiskInput("breaker_state", str(exc), "a to_dict document", "malformed breaker state") from None
        return state


def _trip_dict(trip: Trip | None) -> dict[str, Any] | None:
    return None if trip is None else trip.to_dict()


def _trip_of(d: dict[str, Any] | None) -> Trip | None:
    return None if d is None else Trip.from_dict(d)


def _check_equity(equity: float, field: str = "equity") -> None:
    if not 0.0 <= equity < math.inf:  # also refuses NaN, which would otherwise compare as "no loss"
        raise InvalidRiskInput(field, equity, ">= 0", "equity must be a finite, non-negative number")


def _limit(value: float, setting: str) -> float:
    """A breaker limit from config, never looser than its code ceiling."""
    return min(value, CEILINGS[setting])


def _loss_pct(reference: float, equity: float) -> float:
    return (reference - equity) / reference * 100.0 if reference > 0.0 else 0.0


def _breached(reference: float, equity: float, limit_pct: float) -> bool:
    """loss / reference > limit%, compared without dividing (a loss of exactly the limit does not breach)."""
    return (reference - equity) * 100.0 > limit_pct * reference


@dataclass(frozen=True, slots=True)
class _Limits:
    kill: float
    pause: float
    daily: float
    weekly: float


# Limits per config object (held, so its id cannot be reused while cached). Configs are frozen, so a cached
# entry can never go stale; this keeps the per-update cost of reading four pydantic fields off the hot path.
_LIMITS_CACHE: dict[int, tuple[RiskConfig, _Limits]] = {}
_LIMITS_CACHE_SIZE = 32


def _limits(config: RiskConfig) -> _Limits:
    hit = _LIMITS_CACHE.get(id(config))
    if hit is not None and hit[0] is config:
        return hit[1]
    limits = _Limits(_limit(config.drawdown_kill_pct, "drawdown_kill_pct"),
                     _limit(config.drawdown_pause_pct, "drawdown_pause_pct"),
                     _limit(config.daily_loss_limit_pct, "daily_loss_limit_pct"),
                     _limit(config.weekly_loss_limit_pct, "weekly_loss_limit_pct"))
    if len(_LIMITS_CACHE) >= _LIMITS_CACHE_SIZE:
        _LIMITS_CACHE.clear()
    _LIMITS_CACHE[id(config)] = (config, limits)
    return limits


def update_breakers(state: BreakerState, equity: float, now_ms: int, config: RiskConfig, *,
                    equity_before: float) -> tuple[BreakerState, tuple[BreakerEvent, ...]]:
    """Advance the breakers to `equity` at `now_ms`. Returns the same state object and () when nothing changes.

    `equity_before` is the equity in force at an instant between the previous update and this one: the
    previous update's `equity`, with the effect of any fill made before that instant. A UTC day or week that
    began, or a daily pause that expired, in between takes it as its reference, marked at that instant.
    """
    if not 0.0 <= equity < math.inf:
        _check_equity(equity)
    s = state
    if (now_ms - s.day_start_ms < MS_PER_DAY and now_ms - s.week_start_ms < MS_PER_WEEK
            and equity <= s.high_water
            and not (s.drawdown_pause_until_ms and now_ms >= s.drawdown_pause_until_ms)
            and not (s.daily_pause_until_ms and now_ms >= s.daily_pause_until_ms)
            and not _would_trip(s, equity, _limits(config))):
        return s, ()
    _check_equity(equity_before, "equity_before")
    return _advance(s, equity, equity_before, now_ms, config)


def _would_trip(s: BreakerState, equity: float, limits: _Limits) -> bool:
    if s.kill is None:
        hwm = s.high_water
        lost = (hwm - equity) * 100.0
        if lost > limits.kill * hwm or (not s.drawdown_fired and lost > limits.pause * hwm):
            return True
    if not s.daily_fired and _breached(s.daily_ref_equity, equity, limits.daily):
        return True
    return s.weekly_trip is None and _breached(s.week_start_equity, equity, limits.weekly)


@dataclass(frozen=True, slots=True)
class QuietBand:
    """Where `update_breakers` is known to change nothing for a state: an equity in (`floor`, `ceiling`] before
    `until_ms` (the next day or week boundary or pause expiry). The floor sits a hair above the highest equity at
    which any breaker would trip, so rounding can only send a borderline equity to the full check, never skip one.
    It lets the engine mark every holding every bar without running the breakers for prices that change nothing."""

    floor: float
    ceiling: float
    until_ms: int

    def holds(self, equity: float, now_ms: int) -> bool:
        return now_ms < self.until_ms and self.floor < equity <= self.ceiling


def quiet_band(state: BreakerState, config: RiskConfig) -> QuietBand:
    limits = _limits(config)
    s = state
    floors = [0.0]
    if s.kill is None:
        floors.append(s.high_water - limits.kill * s.high_water / 100.0)
        if not s.drawdown_fired:
            floors.append(s.high_water - limits.pause * s.high_water / 100.0)
    if not s.daily_fired:
        floors.append(s.daily_ref_equity - limits.daily * s.daily_ref_equity / 100.0)
    if s.weekly_trip is None:
        floors.append(s.week_start_equity - limits.weekly * s.week_start_equity / 100.0)
    floor = max(floors)
    ends = [s.day_start_ms + MS_PER_DAY, s.week_start_ms + MS_PER_WEEK]
    ends.extend(until for until in (s.drawdown_pause_until_ms, s.daily_pause_until_ms) if until)
    return QuietBand(floor=floor + abs(floor) * 1e-9 + 1e-9, ceiling=s.high_water, until_ms=min(ends))


_Pending = tuple[str, str, float, float, str]  # breaker, transition, value_pct, limit_pct, message


def _advance(s: BreakerState, equity: float, equity_before: float, now_ms: int,
             config: RiskConfig) -> tuple[BreakerState, tuple[BreakerEvent, ...]]:
    limits = _limits(config)
    pending: list[_Pending] = []

    day_start_ms, daily_ref_equity, daily_ref_ms = s.day_start_ms, s.daily_ref_equity, s.daily_ref_ms
    daily_fired = s.daily_fired
    if now_ms - day_start_ms >= MS_PER_DAY:
        day_start_ms = daily_ref_ms = utc_day_start(now_ms)
        daily_ref_equity, daily_fired = equity_before, False

    week_start_ms, week_equity = s.week_start_ms, s.week_start_equity
    weekly_trip, weekly_multiplier = s.weekly_trip, s.weekly_multiplier
    if now_ms - week_start_ms >= MS_PER_WEEK:
        week_start_ms, week_equity = utc_week_start(now_ms), equity_before
        if weekly_trip is not None:
            pending.append((WEEKLY_LOSS, EXPIRED, weekly_trip.value_pct, weekly_trip.limit_pct,
                            "weekly size reduction ends with the week; sizes back to ×1.0 from "
                            f"{utc_text(week_start_ms)}"))
        weekly_trip, weekly_multiplier = None, 1.0

    high_water, drawdown_fired = s.high_water, s.drawdown_fired
    if equity > high_water:
        high_water, drawdown_fired = equity, False

    drawdown_until, drawdown_trip = s.drawdown_pause_until_ms, s.drawdown_trip
    if drawdown_until and now_ms >= drawdown_until:
        value, limit = (drawdown_trip.value_pct, drawdown_trip.limit_pct) if drawdown_trip else (0.0, 0.0)
        pending.append((DRAWDOWN_PAUSE, EXPIRED, value, limit,
                        f"drawdown pause over at {utc_text(drawdown_until)}; it does not re-fire on the same drawdown"))
        drawdown_until, drawdown_trip = 0, None

    daily_until, daily_trip = s.daily_pause_until_ms, s.daily_trip
    if daily_until and now_ms >= daily_until:
        value, limit = (daily_trip.value_pct, daily_trip.limit_pct) if daily_trip else (0.0, 0.0)
        if daily_until > daily_ref_ms:  # re-arm from the equity at the expiry (a later 00:00 already did)
            daily_ref_ms, daily_ref_equity, daily_fired = daily_until, equity_before, False
        pending.append((DAILY_LOSS, EXPIRED, value, limit,
                        f"daily-loss pause over at {utc_text(daily_until)}; the daily loss is measured again from "
                        f"{daily_ref_equity:.2f} (the equity at {utc_text(daily_ref_ms)})"))
        daily_until, daily_trip = 0, None

    # Most severe first, each evaluated (no early return): a jump past the kill threshold lands on KILLED.
    kill = s.kill
    drawdown = _loss_pct(high_water, equity)
    if kill is None and _breached(high_water, equity, limits.kill):
        kill = Trip(DRAWDOWN_KILL, now_ms, drawdown, limits.kill)
        drawdown_fired = True  # the kill subsumes the drawdown pause for this episode
        pending.append((DRAWDOWN_KILL, TRIPPED, drawdown, limits.kill,
                        f"drawdown {drawdown:.2f}% from high {high_water:.2f} > kill limit {limits.kill:.2f}%: "
                        "entries stopped until a manual reset"))
    if kill is None and not drawdown_fired and _breached(high_water, equity, limits.pause):
        drawdown_fired = True
        drawdown_until = max(drawdown_until, now_ms + _hours_ms(config.drawdown_pause_hours))
        drawdown_trip = Trip(DRAWDOWN_PAUSE, now_ms, drawdown, limits.pause)
        pending.append((DRAWDOWN_PAUSE, TRIPPED, drawdown, limits.pause,
                        f"drawdown {drawdown:.2f}% from high {high_water:.2f} > {limits.pause:.2f}%: "
                        f"entries paused until {utc_text(drawdown_until)}"))
    if not daily_fired and _breached(daily_ref_equity, equity, limits.daily):
        daily_loss = _loss_pct(daily_ref_equity, equity)
        daily_fired = True
        daily_until = max(daily_until, now_ms + _hours_ms(config.daily_pause_hours))
        daily_trip = Trip(DAILY_LOSS, now_ms, daily_loss, limits.daily)
        pending.append((DAILY_LOSS, TRIPPED, daily_loss, limits.daily,
                        f"loss {daily_loss:.2f}% since {utc_text(daily_ref_ms)} ({daily_ref_equity:.2f}) "
                        f"> {limits.daily:.2f}%: "
                        f"entries paused until {utc_text(daily_until)}"))
    if weekly_trip is None and _breached(week_equity, equity, limits.weekly):
        weekly_loss = _loss_pct(week_equity, equity)
        weekly_multiplier = min(max(config.weekly_size_multiplier, 0.0), 1.0)
        weekly_trip = Trip(WEEKLY_LOSS, now_ms, weekly_loss, limits.weekly)
        pending.append((WEEKLY_LOSS, TRIPPED, weekly_loss, limits.weekly,
                        f"loss {weekly_loss:.2f}% since the UTC week began > {limits.weekly:.2f}%: "
                        f"sizes ×{weekly_multiplier} until {utc_text(week_start_ms + MS_PER_WEEK)}"))

    new = BreakerState(day_start_ms=day_start_ms, daily_ref_equity=daily_ref_equity, daily_ref_ms=daily_ref_ms,
                       week_start_ms=week_start_ms,
                       week_start_equity=week_equity, high_water=high_water, kill=kill,
                       drawdown_pause_until_ms=drawdown_until, drawdown_trip=drawdown_trip,
                       drawdown_fired=drawdown_fired, daily_pause_until_ms=daily_until, daily_trip=daily_trip,
                       daily_fired=daily_fired, weekly_trip=weekly_trip, weekly_multiplier=weekly_multiplier)
    return new, _events(new, now_ms, pending)


def _events(state: BreakerState, now_ms: int, pending: list[_Pending]) -> tuple[BreakerEvent, ...]:
    if not pending:
        return ()
    level = state.level(now_ms)
    return tuple(BreakerEvent(now_ms, breaker, transition, level, value, limit, message)
                 for breaker, transition, value, limit, message in pending)


def _hours_ms(hours: float) -> int:
    return round(hours * MS_PER_HOUR)


def reset_kill(state: BreakerState, equity: float, now_ms: int) -> tuple[BreakerState, tuple[BreakerEvent, ...]]:
    """Manual reset of the kill switch (a person decided to resume). Never called by the engine on its own.

    Starts a new drawdown episode at `equity` (the high-water mark becomes `equity`, and a drawdown pause
    in force is lifted with it); the daily pause and the weekly reduction keep running to their period's end.
    A state that is not killed is returned unchanged.
    """
    _check_equity(equity)
    kill = state.kill
    if kill is None:
        return state, ()
    pending: list[_Pending] = [(kill.breaker, RESET, kill.value_pct, kill.limit_pct,
                                f"kill switch reset by hand; new high-water mark {equity:.2f}")]
    trip = state.drawdown_trip
    if now_ms < state.drawdown_pause_until_ms and trip is not None:
        pending.append((DRAWDOWN_PAUSE, RESET, trip.value_pct, trip.limit_pct,
                        "drawdown pause lifted with the kill reset"))
    new = BreakerState(day_start_ms=state.day_start_ms, daily_ref_equity=state.daily_ref_equity,
                       daily_ref_ms=state.daily_ref_ms,
                       week_start_ms=state.week_start_ms, week_start_equity=state.week_start_equity,
                       high_water=equity, daily_pause_until_ms=state.daily_pause_until_ms,
                       daily_trip=state.daily_trip, daily_fired=state.daily_fired, weekly_trip=state.weekly_trip,
                       weekly_multiplier=state.weekly_multiplier)
    return new, _events(new, now_ms, pending)


def manual_kill(state: BreakerState, now_ms: int) -> tuple[BreakerState, tuple[BreakerEvent, ...]]:
    """Trip the kill switch by hand (the `kill` control). Undone only by `reset_kill`."""
    if state.kill is not None:
        return state, ()
    new = replace(state, kill=Trip(MANUAL_KILL, now_ms, 0.0, 0.0))
    return new, _events(new, now_ms, [(MANUAL_KILL, TRIPPED, 0.0, 0.0, "kill switch set by hand")])

