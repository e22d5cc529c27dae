"""The statistics behind every interval and every regression call."""

from __future__ import annotations

import random

import pytest

from charter.stats import bootstrap_mean_interval, cohen_kappa, paired_test, sign_test, wilson_interval


def test_wilson_matches_published_values():
    # Wilson 95 % for 8/10 (Newcombe 1998, method 3): 0.4902 to 0.9433.
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0
    assert wilson_interval(0, 0) is None


def test_bootstrap_interval_contains_the_mean_and_narrows_with_n():
    rng = random.Random(1)
    small = [rng.gauss(7, 1.5) for _ in range(10)]
    large = [rng.gauss(7, 1.5) for _ in range(400)]
    lo_s, hi_s = bootstrap_mean_interval(small)
    lo_l, hi_l = bootstrap_mean_interval(large)
    assert lo_s <= sum(small) / 10 <= hi_s
    assert lo_l <= sum(large) / 400 <= hi_l
    assert hi_l - lo_l < (hi_s - lo_s) / 3
    assert bootstrap_mean_interval([]) is None
    assert bootstrap_mean_interval([6.0]) == (6.0, 6.0)


def test_bootstrap_is_deterministic():
    values = [1.0, 5.0, 7.0, 9.0, 10.0, 3.0]
    assert bootstrap_mean_interval(values) == bootstrap_mean_interval(list(values))


def test_paired_test_calls_small_noise_noise_and_a_large_shift_a_regression():
    rng = random.Random(7)
    before = [rng.choice([6.0, 7.0, 8.0, 9.0]) for _ in range(60)]
    noise = [b + rng.choice([-1.0, 0.0, 0.0, 1.0]) for b in before]
    drop = [b - 2.0 + rng.choice([-1.0, 0.0, 1.0]) for b in before]
    assert paired_test(before, noise).direction == "noise"
    result = paired_test(before, drop)
    assert result.direction == "regression" and result.interval[1] < 0 and result.p_value < 0.01
    assert paired_test(drop, before).direction == "improvement"


def test_paired_test_degenerate_inputs():
    assert paired_test([], []).direction == "noise"
    assert paired_test([7.0], [3.0]).direction == "noise"  # one pair proves nothing
    assert paired_test([7.0] * 10, [5.0] * 10).direction == "regression"  # ten of ten fell by 2
    assert paired_test([7.0] * 10, [7.0] * 10).direction == "noise"
    # Under ten pairs the exact sign test decides: six of six falling is p = 0.03, two of two is not.
    assert paired_test([8.0, 9, 7, 8, 9, 8], [6.0, 8, 5, 7, 6, 7]).direction == "regression"
    assert paired_test([9.0, 9.0], [4.0, 5.0]).direction == "noise"
    with pytest.raises(ValueError):
        paired_test([1.0], [])


def test_sign_test_exact():
    assert sign_test(0, 0) is None
    assert sign_test(5, 5) == 1.0
    assert sign_test(0, 6) == pytest.approx(0.03125, abs=1e-4)
    assert sign_test(1, 9) == pytest.approx(0.0215, abs=1e-4)


def test_cohen_kappa():
    a = [True, True, False, False, True, False, True, True]
    assert cohen_kappa(a, a) == 1.0
    assert cohen_kappa(a, [not x for x in a]) < 0
    # Textbook example: 20 items, agreement 0.7, chance 0.5 -> kappa 0.4.
    first = [True] * 10 + [False] * 10
    second = [True] * 7 + [False] * 3 + [True] * 3 + [False] * 7
    assert cohen_kappa(first, second) == pytest.approx(0.4)
    assert cohen_kappa([], []) is None
    assert cohen_kappa([True, True], [True, True]) == 1.0
