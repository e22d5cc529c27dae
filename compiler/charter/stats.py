"""Uncertainty for every number Charter prints: intervals over cases, paired tests between runs, judge agreement.

Pure functions over plain lists, deterministic (a fixed seed per call), standard library only. The
methods are the ones an evaluation paper would use, chosen for small samples:

- a mean score's 95 % interval: the percentile bootstrap over cases (cases are the unit that was
  sampled; replies of one case are not independent);
- a pass rate's 95 % interval: the Wilson score interval (well behaved at 0 %, 100 % and small n,
  where the normal approximation is not);
- a difference between two runs of the same cases: the paired bootstrap of the mean difference,
  with a two-sided p-value from the same resamples; under ``MIN_BOOTSTRAP_PAIRS`` pairs the
  percentile bootstrap is overconfident (two cases that both fell give an interval excluding 0),
  so there the exact sign test decides;
- agreement between two judges on pass/fail: Cohen's kappa.
"""

from __future__ import annotations

import math
import random
from statistics import NormalDist
from dataclasses import dataclass
from typing import Sequence

LEVEL = 0.95
RESAMPLES = 2000
SEED = 20261130
MIN_BOOTSTRAP_PAIRS = 10
DIGITS = 4


def _round(value: float) -> float:
    return round(value, DIGITS)


def _percentiles(sorted_values: Sequence[float], level: float) -> tuple[float, float]:
    tail = (1 - level) / 2
    n = len(sorted_values)
    lo = sorted_values[min(n - 1, max(0, math.floor(tail * n)))]
    hi = sorted_values[min(n - 1, max(0, math.ceil((1 - tail) * n) - 1))]
    return lo, hi


def bootstrap_mean_interval(values: Sequence[float], *, level: float = LEVEL, resamples: int = RESAMPLES,
                            seed: int = SEED) -> tuple[float, float] | None:
    """Percentile-bootstrap interval of the mean of ``values``; None with no values.

    One value gives a zero-width interval: nothing to resample, and nothing claimed beyond it.
    """
    if not values:
        return None
    n = len(values)
    if min(values) == max(values):
        return _round(values[0]), _round(values[0])
    lo, hi = _percentiles(_resampled_means(values, resamples, seed), level)
    return _round(lo), _round(hi)


def wilson_interval(successes: int, trials: int, *, level: float = LEVEL) -> tuple[float, float] | None:
    """Wilson score interval of a proportion; None with no trials."""
    if trials <= 0:
        return None
    z = _z(level)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return _round(max(0.0, centre - half)), _round(min(1.0, centre + half))


def _z(level: float) -> float:
    """The two-sided normal quantile for ``level`` (1.959964 for 95 %)."""
    return NormalDist().inv_cdf((1 + level) / 2)


def _resampled_means(values: Sequence[float], resamples: int, seed: int) -> list[float]:
    """The sorted means of ``resamples`` bootstrap resamples of ``values`` (with replacement, seeded)."""
    n = len(values)
    draw = random.Random(seed).choices
    return sorted(math.fsum(draw(values, k=n)) / n for _ in range(resamples))


@dataclass(frozen=True)
class PairedTest:
    """RUN_B minus RUN_A over the cases both runs graded.

    ``significant``: with ``MIN_BOOTSTRAP_PAIRS`` pairs or more, the bootstrap interval of the
    mean difference excludes 0 (two-sided, at ``level``); with fewer, the exact sign test's p-value
    is under 1 - ``level``. ``direction`` is then "regression" or "improvement", otherwise "noise".
    """

    pairs: int
    mean_difference: float | None
    interval: tuple[float, float] | None
    p_value: float | None
    sign_test_p: float | None
    wins: int       # cases where B scored higher
    losses: int     # cases where B scored lower
    level: float = LEVEL

    @property
    def method(self) -> str:
        return "bootstrap" if self.pairs >= MIN_BOOTSTRAP_PAIRS else "sign test"

    @property
    def significant(self) -> bool:
        if self.interval is None:
            return False
        if self.method == "sign test":
            return self.sign_test_p is not None and self.sign_test_p < 1 - self.level
        return self.interval[0] > 0 or self.interval[1] < 0

    @property
    def direction(self) -> str:
        if not self.significant or self.mean_difference is None:
            return "noise"
        return "improvement" if self.mean_difference > 0 else "regression"

    def to_dict(self) -> dict:
        return {"pairs": self.pairs, "mean_difference": self.mean_difference,
                "interval": list(self.interval) if self.interval else None, "p_value": self.p_value,
                "sign_test_p": self.sign_test_p, "wins": self.wins, "losses": self.losses, "level": self.level,
                "method": self.method, "significant": self.significant, "direction": self.direction}


def paired_test(before: Sequence[float], after: Sequence[float], *, level: float = LEVEL,
                resamples: int = RESAMPLES, seed: int = SEED) -> PairedTest:
    """Paired bootstrap of mean(after - before), with a bootstrap p-value and the exact sign test.

    ``before[i]`` and ``after[i]`` must be the same case's scores in the two runs.
    """
    if len(before) != len(after):
        raise ValueError("paired_test needs the same cases in both runs")
    differences = [b - a for a, b in zip(before, after)]
    n = len(differences)
    wins = sum(1 for d in differences if d > 0)
    losses = sum(1 for d in differences if d < 0)
    if n == 0:
        return PairedTest(0, None, None, None, None, 0, 0, level)
    mean = math.fsum(differences) / n
    sign_p = sign_test(wins, losses)
    if n == 1 or min(differences) == max(differences):
        # No spread to resample: one pair, or every case moved by exactly the same amount. With one
        # pair nothing can be concluded; identical moves over several cases are the sign test's call.
        interval = (_round(mean), _round(mean))
        if n == 1 or mean == 0 or sign_p is None or sign_p >= 1 - level:
            interval = (_round(min(0.0, mean)), _round(max(0.0, mean)))
        return PairedTest(n, _round(mean), interval, sign_p, sign_p, wins, losses, level)
    means = _resampled_means(differences, resamples, seed)
    lo, hi = _percentiles(means, level)
    # Two-sided bootstrap p-value: twice the share of resampled means on the far side of zero.
    below = sum(1 for m in means if m <= 0) / resamples
    above = sum(1 for m in means if m >= 0) / resamples
    p_value = min(1.0, 2 * min(below, above))
    return PairedTest(n, _round(mean), (_round(lo), _round(hi)), _round(p_value), sign_p, wins, losses, level)


def sign_test(wins: int, losses: int) -> float | None:
    """Exact two-sided sign test p-value (ties dropped); None when every pair is tied."""
    n = wins + losses
    if n == 0:
        return None
    k = min(wins, losses)
    tail = math.fsum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return _round(min(1.0, 2 * tail))


def cohen_kappa(first: Sequence[bool], second: Sequence[bool]) -> float | None:
    """Cohen's kappa of two raters' pass/fail labels on the same items; None with no items.

    When both raters give one and the same label to every item, agreement is perfect but chance
    agreement is too, and kappa is undefined: reported as 1.0 (they never disagree).
    """
    if len(first) != len(second):
        raise ValueError("cohen_kappa needs labels for the same items")
    n = len(first)
    if n == 0:
        return None
    observed = sum(1 for a, b in zip(first, second) if a == b) / n
    p_first = sum(first) / n
    p_second = sum(second) / n
    expected = p_first * p_second + (1 - p_first) * (1 - p_second)
    if expected >= 1:
        return 1.0
    return _round((observed - expected) / (1 - expected))
