"""CH504: training data that teaches a proxy. A rule about the authored preference pairs, sharing its
length-ratio definition with the build manifest and `charter generate` (charter.length_ratio)."""

from __future__ import annotations

from typing import Iterator

from ...length_ratio import MAX_LENGTH_RATIO, length_ratio, median, skewed
from ...spec.ir import Spec
from ..registry import Finding, rule


@rule("CH504", "length-skewed-pairs", "warning")
def length_skewed_pairs(spec: Spec) -> Iterator[Finding]:
    """Most authored preference pairs have a good reply far longer than the bad one.

    What it does:
    Counts the words of every example's good reply and of each of its bad replies. When there
    are at least four such pairs and more than half of them have a good reply over 1.5 times
    the bad reply's length (so the median ratio is above 1.5 too), reports the spec once, at
    the most skewed pair, with the others as related positions.

    Why:
    Each good/bad pair becomes a DPO preference pair, and DPO learns whatever separates chosen
    from rejected. If the good reply is nearly always the long one, "longer is better" is the
    easiest lesson in the data, and the clause the pair is about is lost in it. A bad reply
    teaches most as a near miss: a plausible reply of similar length that fails in one way (an
    engagement hook, a soft falsehood, a hedge that dodges), not a curt caricature.

    Example:
    ```yaml
    examples:
      - prompt: Is my essay good?
        good: Parts of it are strong; the middle needs evidence. Start with the second claim.
        bad:
          # too short: "It's perfect!" - instead, a near miss of similar length:
          - text: It's really strong overall! Maybe polish a few sentences, but I'd hand it in as it is.
            why: Flatters; hides the weak middle behind vague praise.
    ```
    """
    pairs = [(length_ratio(example.good, bad.text), example) for example in spec.all_examples() for bad in example.bad]
    ratios = [ratio for ratio, _ in pairs]
    if not skewed(ratios):
        return
    above = sorted((p for p in pairs if p[0] > MAX_LENGTH_RATIO), key=lambda p: -p[0])
    worst_ratio, worst = above[0]
    related = tuple(dict.fromkeys(e.loc for _, e in above[1:] if e.loc != worst.loc))
    yield Finding(worst.loc,
                  f"{len(above)} of {len(pairs)} preference pairs have a good reply over {MAX_LENGTH_RATIO}x the bad "
                  f"reply's words (median {median(ratios):.1f}x, worst {worst_ratio:.1f}x in {worst.id!r}); DPO "
                  "on them learns length; rewrite the bad replies as near misses of similar length",
                  related)
