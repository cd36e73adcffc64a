"""The adaptive strategy mix: how the strategies' shares of new entries move with their own closed trades.

Method: risk-adjusted scores, deterministic (no random draw). Each strategy with at least `min_trades` closed
trades is scored on its last `window_trades` returns per unit staked (`core.performance`): the lower confidence
bound of its mean return per trade, `mean − z · sd / √n`. The target shares of the movable part of the mix are a
softmax of the scores (`temperature_pct`: a score difference of that many percent per trade is a factor e), and
the new mix is the target projected onto what one adjustment may do: every share within [floor, ceiling] and
within `max_step` of where it was, the total unchanged.

Why this and not Thompson sampling: a lower confidence bound is pessimistic where evidence is thin (a strategy
with 30 lucky trades is not trusted like one with 300), needs no random draw to seed, persist and explain, and a
person can recompute every number from the evidence a memory version holds. Thompson sampling explores by
design, which is what money should not do; the floor already keeps every strategy trading so evidence keeps
arriving, and the cap per step keeps any one day's noise from moving much.

What this never touches: a risk limit. Its only output is allocations (shares of new entries, whose total stays
the configured total), and sizing still multiplies them by Kelly under every ceiling of `core.risk`.

Rules, each a property test (tests/core/test_adaptive.py):
- only strategies with a share above 0 take part (a strategy a person set to 0 stays at 0; the floor is above 0,
  so learning never switches one off);
- a strategy with fewer than `min_trades` closed trades keeps its share (it is "frozen");
- with fewer than two strategies able to move, nothing moves;
- a share moves at most `max_step` per adjustment, stays within [floor, ceiling] when it starts there (a share
  that starts outside, e.g. after the settings changed, moves toward the range by at most `max_step`);
- the shares of the strategies that take part sum to what they summed to before.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from core.config import AdaptConfig
from core.performance import StrategyPerformance, TradeOutcome, strategy_performance
from core.types import StrategyName

METHOD = "lower_confidence_bound_softmax"
_BISECTION_STEPS = 200


class AdaptTrigger(StrEnum):
    """What asked for an adjustment."""

    DAILY = "daily"  # the first engine event of a new UTC day
    ON_DEMAND = "on_demand"  # a person's `executor.py memory adapt`


class StrategyRole(StrEnum):
    """How a strategy took part in one adjustment."""

    MOVED = "moved"  # scored, its share free to move
    FROZEN = "frozen"  # fewer closed trades than min_trades: share kept
    OFF = "off"  # share 0 (set so by a person): stays 0
    ALONE = "alone"  # the only strategy with enough trades: nothing to move against


@dataclass(frozen=True, slots=True)
class StrategyEvidence:
    """What one strategy's score was made of, and what became of its share."""

    role: StrategyRole
    closed_trades: int
    window_trades: int
    mean_return_pct: float | None
    sd_return_pct: float | None
    score_pct: float | None
    target: float | None
    before: float
    after: float

    def as_dict(self) -> dict[str, Any]:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 6)

        return {"role": self.role.value, "closed_trades": self.closed_trades, "window_trades": self.window_trades,
                "mean_return_pct": rounded(self.mean_return_pct), "sd_return_pct": rounded(self.sd_return_pct),
                "score_pct": rounded(self.score_pct), "target": rounded(self.target), "before": self.before,
                "after": self.after}


@dataclass(frozen=True, slots=True)
class MixAdjustment:
    """One adjustment: the mix before and after (every configured strategy), and the evidence per strategy."""

    time_ms: int
    trigger: AdaptTrigger
    before: dict[StrategyName, float]
    after: dict[StrategyName, float]
    evidence: dict[StrategyName, StrategyEvidence]

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def as_dict(self) -> dict[str, Any]:
        return {"method": METHOD, "time_ms": self.time_ms, "trigger": self.trigger.value, "changed": self.changed,
                "before": {str(k): v for k, v in self.before.items()},
                "after": {str(k): v for k, v in self.after.items()},
                "evidence": {str(k): v.as_dict() for k, v in sorted(self.evidence.items())}}


def score(outcomes: Sequence[TradeOutcome], window: int, z: float) -> tuple[int, float, float, float]:
    """(n, mean, sd, lower bound) of the last `window` returns, in percent per trade."""
    returns = [o.return_pct for o in outcomes[-window:]]
    n = len(returns)
    mean = math.fsum(returns) / n
    sd = math.sqrt(math.fsum((r - mean) ** 2 for r in returns) / (n - 1)) if n > 1 else 0.0
    return n, mean, sd, mean - z * sd / math.sqrt(n)


def softmax_targets(scores: Mapping[StrategyName, float], pool: float, temperature_pct: float) -> dict[
        StrategyName, float]:
    """`pool` split in proportion to exp(score / temperature), stable for any scores."""
    top = max(scores.values())
    weights = {name: math.exp((s - top) / temperature_pct) for name, s in scores.items()}
    total = math.fsum(weights.values())
    return {name: pool * w / total for name, w in weights.items()}


def step_box(current: float, settings: AdaptConfig) -> tuple[float, float]:
    """Where one adjustment may take a share: within max_step of it and within [floor, ceiling]; a share outside
    that range may only move toward it. The box always holds `current`."""
    low = max(settings.floor, current - settings.max_step)
    high = min(settings.ceiling, current + settings.max_step)
    return min(low, current), max(high, current)


def project(targets: Mapping[StrategyName, float], boxes: Mapping[StrategyName, tuple[float, float]],
            total: float) -> dict[StrategyName, float]:
    """The point nearest `targets` (Euclidean) inside the boxes whose shares sum to `total`: each share is its
    target shifted by one common λ and clipped to its box, with λ found by bisection. Feasible whenever the
    boxes' lows sum to at most `total` and their highs to at least `total` (true when they hold the current mix)."""
    names = sorted(targets)

    def shares(shift: float) -> dict[StrategyName, float]:
        return {n: min(max(targets[n] + shift, boxes[n][0]), boxes[n][1]) for n in names}

    low = min(boxes[n][0] - targets[n] for n in names)
    high = max(boxes[n][1] - targets[n] for n in names)
    for _ in range(_BISECTION_STEPS):
        middle = (low + high) / 2
        if math.fsum(shares(middle).values()) < total:
            low = middle
        else:
            high = middle
    result = shares((low + high) / 2)
    # Put the last rounding residue on the share with the most room for it, so the sum is the total exactly.
    residue = total - math.fsum(result.values())
    room = {n: (boxes[n][1] - result[n]) if residue > 0 else (result[n] - boxes[n][0]) for n in names}
    widest = max(names, key=lambda n: (room[n], n))
    result[widest] = min(max(result[widest] + residue, boxes[widest][0]), boxes[widest][1])
    return result


def adjust(current: Mapping[StrategyName, float], outcomes: Mapping[StrategyName, Sequence[TradeOutcome]],
           settings: AdaptConfig, time_ms: int, trigger: AdaptTrigger) -> MixAdjustment:
    """One adjustment of the mix `current` (its strategies only). Pure."""
    names = sorted(current)
    before = {n: float(current.get(n, 0.0)) for n in names}
    after = dict(before)
    evidence: dict[StrategyName, StrategyEvidence] = {}
    scored: dict[StrategyName, tuple[int, float, float, float]] = {}
    roles: dict[StrategyName, StrategyRole] = {}
    for name in names:
        record = outcomes.get(name, ())
        if before[name] <= 0:
            roles[name] = StrategyRole.OFF
        elif len(record) < settings.min_trades:
            roles[name] = StrategyRole.FROZEN
        else:
            roles[name] = StrategyRole.MOVED
            scored[name] = score(record, settings.window_trades, settings.confidence_z)
    targets: dict[StrategyName, float] = {}
    if len(scored) >= 2:
        pool = math.fsum(before[n] for n in scored)
        targets = softmax_targets({n: s[3] for n, s in scored.items()}, pool, settings.temperature_pct)
        after.update(project(targets, {n: step_box(before[n], settings) for n in scored}, pool))
    else:
        roles.update({n: StrategyRole.ALONE for n in scored})
    for name in names:
        n_window, mean, sd, lcb = scored.get(name, (0, None, None, None))
        evidence[name] = StrategyEvidence(roles[name], len(outcomes.get(name, ())), n_window, mean, sd, lcb,
                                          targets.get(name), before[name], after[name])
    return MixAdjustment(time_ms, trigger, before, after, evidence)


def learned_document(adjustment: MixAdjustment | None, allocation: Mapping[StrategyName, float],
                     records: Mapping[StrategyName, StrategyPerformance], time_ms: int,
                     sizing: Mapping[StrategyName, dict[str, Any]]) -> dict[str, Any]:
    """What a memory version holds: the mix in force, each strategy's record on returns at `time_ms` (the
    evidence), the Kelly that sized it then, and the adjustment that made the mix (None: the configured mix)."""
    strategies: dict[str, Any] = {}
    for name in sorted(set(allocation) | set(records)):
        record = records[name] if name in records else strategy_performance(())
        strategies[str(name)] = {"allocation": allocation.get(name, 0.0), **record.as_dict(), **sizing.get(name, {})}
    return {"time_ms": time_ms, "strategies": strategies,
            "adaptation": None if adjustment is None else adjustment.as_dict()}
