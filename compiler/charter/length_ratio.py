"""How much longer a preference pair's chosen reply is than its rejected one, in words.

DPO learns whatever separates chosen from rejected. When the chosen reply is nearly always
much longer, "longer is better" is the easiest thing to learn, and the clause the pair is about
is lost in it. One definition serves the build manifest, the lint rule that flags skewed
authored pairs and the synthesis filter (``generate data --max-length-ratio``), so the three
always agree on what "skewed" means.
"""

from __future__ import annotations

import math
from typing import Iterable

# A chosen reply more than this many times the rejected reply's words is length-skewed.
MAX_LENGTH_RATIO = 1.5


def word_count(text: str) -> int:
    """Whitespace-separated words: crude, but the same for every reply and every language
    that separates words with spaces, which is all a ratio needs."""
    return len(text.split())


def length_ratio(chosen: str, rejected: str) -> float:
    """Chosen words over rejected words (an empty rejected reply counts as one word)."""
    return word_count(chosen) / max(1, word_count(rejected))


def too_far_apart(chosen: str, rejected: str, max_ratio: float = MAX_LENGTH_RATIO) -> bool:
    """Whether either reply is more than ``max_ratio`` times the other's length: a pair a
    generator should drop, because a length difference either way is a proxy DPO can learn."""
    ratio = length_ratio(chosen, rejected)
    return ratio > max_ratio or ratio * max_ratio < 1


def ratio_summary(ratios: Iterable[float], max_ratio: float = MAX_LENGTH_RATIO) -> dict:
    """The distribution a manifest reports: count, median, 90th percentile, extremes, and the
    share of pairs whose chosen reply is more than ``max_ratio`` times longer (and shorter).

    Rounded to three decimals so the same pairs always give byte-identical JSON.
    """
    values = sorted(ratios)
    if not values:
        return {"pairs": 0, "max_ratio": max_ratio}
    above = sum(r > max_ratio for r in values)
    below = sum(r * max_ratio < 1 for r in values)
    return {
        "pairs": len(values),
        "max_ratio": max_ratio,
        "median": round(_percentile(values, 50), 3),
        "p90": round(_percentile(values, 90), 3),
        "min": round(values[0], 3),
        "max": round(values[-1], 3),
        "above_max": above,
        "share_above_max": round(above / len(values), 3),
        "below_inverse": below,
        "share_below_inverse": round(below / len(values), 3),
    }


def skewed(ratios: Iterable[float], max_ratio: float = MAX_LENGTH_RATIO, min_pairs: int = 4) -> bool:
    """Whether a set of pairs is systematically length-skewed: at least ``min_pairs`` pairs and
    more than half of them with the chosen reply over ``max_ratio`` times the rejected one (so
    the median ratio is above it too). A few long-good pairs are normal; most of them is a proxy."""
    values = list(ratios)
    return len(values) >= min_pairs and sum(r > max_ratio for r in values) * 2 > len(values)


def median(values: Iterable[float]) -> float:
    """``statistics.median``: the middle value, or the mean of the two middle ones. Here because the
    statistics module (fractions, decimal, random) took longer to import than a lint rule to run."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no median of no values")
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _percentile(sorted_values: list[float], percent: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), on a sorted list."""
    position = (len(sorted_values) - 1) * percent / 100
    low, high = math.floor(position), math.ceil(position)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


__all__ = ["MAX_LENGTH_RATIO", "length_ratio", "median", "ratio_summary", "skewed", "too_far_apart", "word_count"]
