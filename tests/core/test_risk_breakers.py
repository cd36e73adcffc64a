"""Circuit breakers: the scripted loss path, severity order, once-per-breach pauses, period resets, persistence."""

from __future__ import annotations

import gzip
import json
from bisect import bisect_left
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.clock import MS_PER_DAY, MS_PER_HOUR, MS_PER_WEEK, utc_day_start, utc_week_start
from core.config import RiskConfig
from core.risk import BreakerLevel, BreakerState, InvalidRiskInput, reset_kill, update_breakers
from core.risk.breakers import manual_kill, quiet_band
from tests.conftest import fixture_path
from tests.core.test_risk_support import MONDAY_MS

CONFIG = RiskConfig()  # 2% daily / 5% weekly / 7% drawdown pause / 10% kill
H = MS_PER_HOUR
D = MS_PER_DAY


def run(state: BreakerState, steps: list[tuple[int, float]], config: RiskConfig = CONFIG, *,
        before: float = 10_000.0):
    """Feed an equity path; `before` is the equity in force before its first step (the initial one by default)."""
    events = []
    for now, equity in steps:
        state, new = update_breakers(state, equity, now, config, equity_before=before)
        events.extend(new)
        before = equity
    return state, events


def test_scripted_loss_path_trips_weekly_then_daily_then_drawdown_then_kill() -> None:
    state = BreakerState.initial(10_000.0, MONDAY_MS)
    script = [  # (time, equity, level after, events expected at this step)
        (MONDAY_MS + 10 * H, 9_850.0, BreakerLevel.NORMAL, []),
        (MONDAY_MS + D, 9_850.0, BreakerLevel.NORMAL, []),
        (MONDAY_MS + D + 10 * H, 9_700.0, BreakerLevel.NORMAL, []),
        (MONDAY_MS + 2 * D, 9_700.0, BreakerLevel.NORMAL, []),
        (MONDAY_MS + 2 * D + 10 * H, 9_560.0, BreakerLevel.NORMAL, []),
        (MONDAY_MS + 3 * D, 9_560.0, BreakerLevel.NORMAL, []),
        (MONDAY_MS + 3 * D + 10 * H, 9_499.0, BreakerLevel.WEEKLY_REDUCED, [("weekly_loss", "tripped")]),
        (MONDAY_MS + 4 * D, 9_499.0, BreakerLevel.WEEKLY_REDUCED, []),
        (MONDAY_MS + 4 * D + 10 * H, 9_308.0, BreakerLevel.DAILY_PAUSE, [("daily_loss", "tripped")]),
        (MONDAY_MS + 4 * D + 12 * H, 9_308.0, BreakerLevel.WEEKLY_REDUCED, [("daily_loss", "expired")]),
        (MONDAY_MS + 4 * D + 13 * H, 9_290.0, BreakerLevel.DRAWDOWN_PAUSE, [("drawdown_pause", "tripped")]),
        # The daily breaker re-armed at 9 308 when its pause expired: -3.4% since then pauses again (under the kill).
        (MONDAY_MS + 4 * D + 14 * H, 8_990.0, BreakerLevel.KILLED, [("drawdown_kill", "tripped"),
                                                                  ("daily_loss", "tripped")]),
    ]
    before = 10_000.0
    for now, equity, level, expected in script:
        state, events = update_breakers(state, equity, now, CONFIG, equity_before=before)
        before = equity
        assert [(e.breaker, e.transition) for e in events] == expected, (now, equity)
        assert state.level(now) is level, (now, equity)
        assert all(e.level is level for e in events)
    assert state.size_multiplier(MONDAY_MS + 4 * D + 14 * H) == 0.5
    allowed, reason = state.entries_allowed(MONDAY_MS + 4 * D + 14 * H)
    assert not allowed and reason is not None
    assert "drawdown_kill" in reason and "10.10%" in reason and "10.00%" in reason


def test_one_step_past_the_kill_threshold_lands_on_killed() -> None:
    state = BreakerState.initial(10_000.0, MONDAY_MS)
    now = MONDAY_MS + H
    state, events = update_breakers(state, 8_800.0, now, CONFIG, equity_before=10_000.0)
    assert state.level(now) is BreakerLevel.KILLED
    assert events[0].breaker == "drawdown_kill" and events[0].transition == "tripped"
    assert events[0].value_pct == pytest.approx(12.0) and events[0].limit_pct == 10.0
    assert "drawdown_pause" not in [e.breaker for e in events]  # the kill subsumes it
    assert all(e.level is BreakerLevel.KILLED for e in events)
    # Killed stays killed whatever equity does, until a manual reset; pauses expiring do not lift it.
    state, _ = run(state, [(now + 3 * D, 12_000.0), (now + 30 * D, 12_000.0)], before=8_800.0)
    assert state.level(now + 30 * D) is BreakerLevel.KILLED


def test_unchanged_path_returns_the_same_state_object_and_no_events() -> None:
    state = BreakerState.initial(10_000.0, MONDAY_MS)
    for i in range(1, 200):
        new, events = update_breakers(state, 10_000.0 - i, MONDAY_MS + i * 1000, CONFIG,
                                      equity_before=10_001.0 - i)
        assert new is state and events == ()


def test_a_breach_emits_one_event_however_many_updates_follow() -> None:
    state = BreakerState.initial(10_000.0, MONDAY_MS)
    steps = [(MONDAY_MS + H + i * 1000, 9_700.0 - (i % 5)) for i in range(500)]
    state, events = run(state, steps)
    assert [(e.breaker, e.transition) for e in events] == [("daily_loss", "tripped")]


def test_daily_pause_refires_after_it_expired_only_on_a_further_fall_of_the_limit() -> None:
    state = BreakerState.initial(10_000.0, MONDAY_MS)
    state, events = run(state, [
        (MONDAY_MS + H, 9_790.0),            # -2.1%: trip, pause until 03:00
        (MONDAY_MS + 4 * H, 9_750.0),        # expired, re-armed from 9 790 (the equity at 03:00): -0.41%, no re-fire
        (MONDAY_MS + 5 * H, 9_590.0),        # -2.04% from 9 790: the same day, a further fall of the limit
        (MONDAY_MS + 8 * H, 9_590.0),        # expired again, re-armed from 9 590
        (MONDAY_MS + D + H, 9_590.0),        # Tuesday starts at 9 590, the equity at 00:00
        (MONDAY_MS + D + 2 * H, 9_390.0),    # -2.09% vs Tuesday's start: a new breach
    ], RiskConfig(weekly_loss_limit_pct=20.0))
    assert [(e.breaker, e.transition, e.time_ms - MONDAY_MS) for e in events] == [
        ("daily_loss", "tripped", H), ("daily_loss", "expired", 4 * H), ("daily_loss", "tripped", 5 * H),
        ("daily_loss", "expired", 8 * H), ("daily_loss", "tripped", D + 2 * H)]
    assert events[2].value_pct == pytest.approx((9_790.0 - 9_590.0) / 9_790.0 * 100.0)
    assert "since 2024-01-01 03:00 UTC (9790.00)" in events[2].message
    assert "measured again from 9590.00 (the equity at 2024-01-01 07:00 UTC)" in events[3].message
    assert state.level(MONDAY_MS + D + 2 * H) is BreakerLevel.DAILY_PAUSE
    assert (state.daily_ref_ms, state.daily_ref_equity) == (MONDAY_MS + D, 9_590.0)


def test_a_fall_across_midnight_counts_in_the_new_day() -> None:
    """Issue 10 item 6: Monday 23:59:59.999 at 9 900, then 9 850 at Tuesday 00:00 is Tuesday's loss of 50."""
    config = RiskConfig(daily_loss_limit_pct=0.5)
    state, events = run(BreakerState.initial(9_900.0, MONDAY_MS), [
        (MONDAY_MS + D - 1, 9_900.0),        # Monday 23:59:59.999
        (MONDAY_MS + D, 9_850.0),            # -0.505% from Tuesday's 00:00 equity of 9 900: over 0.5%
    ], config, before=9_900.0)
    assert (state.day_start_ms, state.daily_ref_ms, state.daily_ref_equity) == (MONDAY_MS + D, MONDAY_MS + D, 9_900.0)
    assert [(e.breaker, e.transition, e.time_ms) for e in events] == [("daily_loss", "tripped", MONDAY_MS + D)]
    assert events[0].value_pct == pytest.approx(50.0 / 9_900.0 * 100.0)


def test_a_week_starts_from_the_equity_at_monday_midnight() -> None:
    config = RiskConfig(daily_loss_limit_pct=10.0, weekly_loss_limit_pct=1.0)
    next_monday = MONDAY_MS + MS_PER_WEEK
    state, events = run(BreakerState.initial(10_000.0, MONDAY_MS), [
        (next_monday - 1, 9_950.0),          # Sunday 23:59:59.999: -0.5% in the first week
        (next_monday + 5 * 60_000, 9_850.0),  # -1.005% from the 00:00 equity of 9 950
    ], config)
    assert (state.week_start_ms, state.week_start_equity) == (next_monday, 9_950.0)
    assert [(e.breaker, e.transition) for e in events] == [("weekly_loss", "tripped")]


def test_drawdown_pause_refires_only_after_a_new_high_water_mark() -> None:
    config = RiskConfig(daily_loss_limit_pct=10.0, weekly_loss_limit_pct=20.0)  # isolate the drawdown breakers
    state = BreakerState.initial(10_000.0, MONDAY_MS)
    state, events = run(state, [
        (MONDAY_MS + H, 9_250.0),                   # 7.5%: pause 48 h
        (MONDAY_MS + 50 * H, 9_200.0),              # expired; same episode: no re-fire
        (MONDAY_MS + 51 * H, 10_100.0),             # new high: the episode ends
        (MONDAY_MS + 52 * H, 9_350.0),              # 7.4% from the new high: a new breach
    ], config)
    assert [(e.breaker, e.transition) for e in events] == [
        ("drawdown_pause", "tripped"), ("drawdown_pause", "expired"), ("drawdown_pause", "tripped")]
    assert state.high_water == 10_100.0


def test_weekly_reduction_ends_with_the_utc_week() -> None:
    state = BreakerState.initial(10_000.0, MONDAY_MS)
    state, _ = run(state, [(MONDAY_MS + H, 9_800.0), (MONDAY_MS + D + H, 9_800.0), (MONDAY_MS + D + 2 * H, 9_600.0),
                           (MONDAY_MS + 2 * D + H, 9_600.0), (MONDAY_MS + 2 * D + 5 * H, 9_450.0)])
    assert state.size_multiplier(MONDAY_MS + 2 * D + 5 * H) == 0.5
    next_monday = MONDAY_MS + MS_PER_WEEK
    assert state.size_multiplier(next_monday - 1) == 0.5
    assert state.size_multiplier(next_monday) == 1.0  # even before any update
    state, events = update_breakers(state, 9_450.0, next_monday + 1, CONFIG, equity_before=9_450.0)
    assert [(e.breaker, e.transition) for e in events] == [("weekly_loss", "expired")]
    assert state.week_start_ms == next_monday and state.week_start_equity == 9_450.0
    assert state.level(next_monday + 1) is BreakerLevel.NORMAL


def test_reset_kill_is_manual_and_starts_a_new_episode() -> None:
    state = BreakerState.initial(10_000.0, MONDAY_MS)
    state, _ = update_breakers(state, 8_900.0, MONDAY_MS + H, CONFIG, equity_before=10_000.0)
    assert state.killed
    calm = BreakerState.initial(1.0, MONDAY_MS)
    assert reset_kill(calm, 1.0, MONDAY_MS) == (calm, ())
    state, events = reset_kill(state, 8_900.0, MONDAY_MS + 3 * H)
    assert [(e.breaker, e.transition) for e in events] == [("drawdown_kill", "reset")]
    assert not state.killed and state.high_water == 8_900.0
    # The daily breaker already fired today: its pause runs out, and the reset does not make it fire again.
    state, events = update_breakers(state, 8_890.0, MONDAY_MS + 4 * H, CONFIG, equity_before=8_900.0)
    assert [(e.breaker, e.transition) for e in events] == [("daily_loss", "expired")]
    assert state.level(MONDAY_MS + 4 * H) is BreakerLevel.WEEKLY_REDUCED


def test_manual_kill_blocks_entries_until_reset() -> None:
    state, events = manual_kill(BreakerState.initial(10_000.0, MONDAY_MS), MONDAY_MS + H)
    assert [(e.breaker, e.transition) for e in events] == [("manual_kill", "tripped")]
    allowed, reason = state.entries_allowed(MONDAY_MS + H)
    assert not allowed and reason is not None and "manual_kill" in reason
    state, events = reset_kill(state, 10_000.0, MONDAY_MS + 2 * H)
    assert events[0].breaker == "manual_kill" and state.entries_allowed(MONDAY_MS + 2 * H) == (True, None)


def test_limits_beyond_their_ceiling_are_capped_even_around_validation() -> None:
    loose = RiskConfig.model_construct(**{**CONFIG.model_dump(), "drawdown_kill_pct": 80.0,
                                          "drawdown_pause_pct": 70.0, "daily_loss_limit_pct": 50.0,
                                          "weekly_loss_limit_pct": 60.0})
    state = BreakerState.initial(10_000.0, MONDAY_MS)
    # 31%: past the 30% kill ceiling
    state, _ = update_breakers(state, 6_900.0, MONDAY_MS + H, loose, equity_before=10_000.0)
    assert state.killed


@pytest.mark.parametrize("equity", [float("nan"), float("inf"), -1.0])
def test_non_finite_or_negative_equity_is_refused(equity: float) -> None:
    with pytest.raises(InvalidRiskInput):
        update_breakers(BreakerState.initial(10_000.0, MONDAY_MS), equity, MONDAY_MS + H, CONFIG,
                        equity_before=10_000.0)


def test_state_round_trips_through_json() -> None:
    state = BreakerState.initial(10_000.0, MONDAY_MS)
    state, _ = run(state, [(MONDAY_MS + H, 9_700.0), (MONDAY_MS + 2 * H, 9_200.0), (MONDAY_MS + 3 * H, 8_900.0)])
    restored = BreakerState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert restored == state
    assert restored.level(MONDAY_MS + 3 * H) is BreakerLevel.KILLED


@given(st.lists(st.tuples(st.sampled_from([60_000, 3 * H, D - 1, D]), st.floats(-0.03, 0.03)), min_size=2,
                max_size=30), st.integers(0, 29))
def test_property_a_restart_from_the_saved_state_continues_identically(path: list[tuple[int, float]],
                                                                       cut: int) -> None:
    """Saved at any step (across boundaries, pauses, re-arms) and restored, the breakers go on as if never stopped."""
    steps, now, equity = [], MONDAY_MS, 10_000.0
    for gap, change in path:
        now, equity = now + gap, equity * (1 + change)
        steps.append((now, equity))
    cut = min(cut, len(steps) - 1)
    head, tail = steps[:cut], steps[cut:]
    saved, _ = run(BreakerState.initial(10_000.0, MONDAY_MS), head)
    restored = BreakerState.from_dict(json.loads(json.dumps(saved.to_dict())))
    assert restored == saved
    before = head[-1][1] if head else 10_000.0
    straight, straight_events = run(saved, tail, before=before)
    resumed, resumed_events = run(restored, tail, before=before)
    assert resumed == straight and resumed_events == straight_events


def test_a_version_1_state_is_read_with_its_day_start_as_the_daily_reference() -> None:
    doc = BreakerState.initial(10_000.0, MONDAY_MS + H).to_dict()
    v1 = {k: v for k, v in doc.items() if k not in ("daily_ref_equity", "daily_ref_ms")}
    v1.update(version=1, day_start_equity=9_800.0)
    state = BreakerState.from_dict(v1)
    assert (state.daily_ref_ms, state.daily_ref_equity) == (MONDAY_MS, 9_800.0)


def test_malformed_persisted_state_is_refused() -> None:
    doc = BreakerState.initial(10_000.0, MONDAY_MS).to_dict()
    with pytest.raises(InvalidRiskInput):
        BreakerState.from_dict({k: v for k, v in doc.items() if k != "high_water"})
    with pytest.raises(InvalidRiskInput):
        BreakerState.from_dict({**doc, "weekly_multiplier": 3.0})
    with pytest.raises(InvalidRiskInput):
        BreakerState.from_dict({**doc, "version": 99})


@given(st.lists(st.tuples(st.integers(1, 6 * H), st.floats(-0.04, 0.04)), min_size=1, max_size=80))
def test_property_killed_exactly_when_drawdown_from_the_running_high_exceeds_the_limit(
        path: list[tuple[int, float]]) -> None:
    state = BreakerState.initial(10_000.0, MONDAY_MS)
    now, equity, high, worst = MONDAY_MS, 10_000.0, 10_000.0, 0.0
    trips: dict[tuple[str, int], int] = {}
    for gap, change in path:
        now, before, equity = now + gap, equity, equity * (1 + change)
        state, events = update_breakers(state, equity, now, CONFIG, equity_before=before)
        high = max(high, equity)
        worst = max(worst, (high - equity) * 100.0 - 10.0 * high)
        for e in events:
            if e.transition == "tripped":
                key = (e.breaker, utc_day_start(now) if e.breaker == "daily_loss" else 0)
                trips[key] = trips.get(key, 0) + 1
        assert state.killed == (worst > 0.0)
    assert trips.get(("drawdown_kill", 0), 0) <= 1


def _in_force(path: list[tuple[int, float]], instant: int, start: float) -> float:
    """The equity at `instant` on a path of updates: that of the last update strictly before it."""
    i = bisect_left([t for t, _ in path], instant)
    return path[i - 1][1] if i else start


@settings(max_examples=300)
@given(st.lists(st.tuples(st.sampled_from([1, 60_000, H, 3 * H, 11 * H, D - 1, D, 2 * D + 1]),
                          st.floats(-0.03, 0.03)), min_size=1, max_size=60))
def test_property_periods_start_from_the_equity_at_their_instant(path: list[tuple[int, float]]) -> None:
    """Day, week and re-armed daily references are the equity in force at 00:00 UTC, Monday 00:00 UTC or the
    expiry of a daily pause; a daily trip is exactly a first loss over the limit since its reference."""
    config = CONFIG  # the drawdown breakers trip too; the period breakers are evaluated independently of them
    state = BreakerState.initial(10_000.0, MONDAY_MS)
    seen: list[tuple[int, float]] = []
    now, equity, before = MONDAY_MS, 10_000.0, 10_000.0
    weekly_trips: list[int] = []
    daily_refs_tripped: list[int] = []
    last_expiry = 0
    for gap, change in path:
        now, before, equity = now + gap, equity, max(equity * (1 + change), 0.0)
        previous = state
        state, events = update_breakers(state, equity, now, config, equity_before=before)
        seen.append((now, equity))
        assert (state.day_start_ms, state.week_start_ms) == (utc_day_start(now), utc_week_start(now))
        assert state.week_start_equity == _in_force(seen, state.week_start_ms, 10_000.0)
        if any(e.breaker == "daily_loss" and e.transition == "expired" for e in events):
            last_expiry = previous.daily_pause_until_ms
        assert state.daily_ref_ms == max(state.day_start_ms, last_expiry)
        assert state.daily_ref_equity == _in_force(seen, state.daily_ref_ms, 10_000.0)
        for e in events:
            if e.breaker == "daily_loss" and e.transition == "tripped":
                assert e.value_pct == pytest.approx((state.daily_ref_equity - equity) / state.daily_ref_equity * 100)
                assert e.value_pct > config.daily_loss_limit_pct
                daily_refs_tripped.append(state.daily_ref_ms)
            if e.breaker == "weekly_loss" and e.transition == "tripped":
                weekly_trips.append(state.week_start_ms)
        # Nothing missed: a loss over the limit since the reference has tripped since that reference.
        if (state.daily_ref_equity - equity) * 100.0 > config.daily_loss_limit_pct * state.daily_ref_equity:
            assert daily_refs_tripped and daily_refs_tripped[-1] == state.daily_ref_ms
        if (state.week_start_equity - equity) * 100.0 > config.weekly_loss_limit_pct * state.week_start_equity:
            assert weekly_trips and weekly_trips[-1] == state.week_start_ms
    assert len(daily_refs_tripped) == len(set(daily_refs_tripped))  # one pause per reference
    assert len(weekly_trips) == len(set(weekly_trips))  # one reduction per week


def test_real_btc_path_trips_each_breaker_once_per_breach() -> None:
    """An all-in BTC holder through real 5-minute candles (Dec 2020 – Jul 2021, including the May 2021 crash)."""
    path = fixture_path("candles", "binance_spot_5m_nfi", "BTC_USDT-5m.json.gz")
    rows = json.loads(gzip.decompress(path.read_bytes()))
    first = rows[0][4]
    state = BreakerState.initial(10_000.0, rows[0][0])
    events, unchanged, high, kill_at, equity = [], 0, 10_000.0, None, 10_000.0
    for open_ms, _o, _h, _low, close, _v in rows:
        before, equity = equity, 10_000.0 * close / first
        new, new_events = update_breakers(state, equity, open_ms, CONFIG, equity_before=before)
        unchanged += new is state
        state = new
        events.extend(new_events)
        high = max(high, equity)
        if kill_at is None and (high - equity) * 100.0 > 10.0 * high:
            kill_at = open_ms
    kills = [e for e in events if e.breaker == "drawdown_kill"]
    assert kill_at is not None and [e.time_ms for e in kills] == [kill_at]
    # A daily trip needs a new reference first: a new UTC day, or the expiry of the previous pause.
    daily = [(e.transition, utc_day_start(e.time_ms)) for e in events if e.breaker == "daily_loss"]
    assert all(not (a == b == "tripped" and day_a == day_b) for (a, day_a), (b, day_b) in pairwise(daily))
    assert all(b.time_ms >= a.time_ms for a, b in pairwise(events))
    assert unchanged > len(rows) // 2  # the common path allocates nothing


@settings(max_examples=300)
@given(st.lists(st.tuples(st.sampled_from([60_000, 3 * H, D - 1, D]), st.floats(-0.03, 0.03)), min_size=1,
                max_size=30),
       st.floats(-0.12, 0.12), st.integers(0, 2 * MS_PER_WEEK))
def test_property_inside_its_quiet_band_an_update_changes_nothing(path: list[tuple[int, float]], change: float,
                                                                  later: int) -> None:
    """Whatever state a path left (pauses, trips, re-arms), an equity and a time its quiet band holds are ones an
    update would not act on: the engine skips the update there, so the two must agree exactly."""
    state, now, equity = BreakerState.initial(10_000.0, MONDAY_MS), MONDAY_MS, 10_000.0
    for gap, step in path:
        now, before, equity = now + gap, equity, equity * (1 + step)
        state, _ = update_breakers(state, equity, now, CONFIG, equity_before=before)
    band = quiet_band(state, CONFIG)
    probe, at = equity * (1 + change), now + later
    if band.holds(probe, at):
        assert update_breakers(state, probe, at, CONFIG, equity_before=equity) == (state, ())
    assert band.ceiling == state.high_water and band.until_ms > now


def test_the_quiet_band_ends_at_the_first_trip_threshold_and_the_next_boundary() -> None:
    state = BreakerState.initial(10_000.0, MONDAY_MS)
    band = quiet_band(state, CONFIG)
    assert band.until_ms == MONDAY_MS - MONDAY_MS % D + D  # the next 00:00 UTC
    assert 9_800.0 < band.floor < 9_800.01  # the daily limit (2 %) is the first to trip
    assert not band.holds(9_800.0, MONDAY_MS + 1) and band.holds(9_800.01, MONDAY_MS + 1)
    assert update_breakers(state, 9_799.99, MONDAY_MS + 1, CONFIG, equity_before=10_000.0)[1]
