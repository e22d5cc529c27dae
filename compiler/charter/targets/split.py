"""The train/eval split of authored examples: one decision, used by evals, training data and the monitor.

Every authored example (tension examples included) is either training material (SFT and
preference rows, the monitor's worked example) or held out for evaluation (an eval case, the
judge's calibration set), never both: a model tested on the prompts it was trained on, or a judge
calibrated on replies it is shown, measures memory rather than behaviour.

An example's `split:` decides when the author gives one. Otherwise examples are grouped by their
first target (a tension's examples by the tension) and each group holds out about a quarter:
``round(n / 4)`` of ``n`` examples, at least one when the group has two or more, counting the
examples the author already put in `eval`. Which ones is fixed by a hash of the clause ref and
the example id, so the choice is the same on every run and machine, and adding an example to one
clause never moves another clause's examples.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Iterable, Iterator, Literal, TypeVar

from ..spec.ir import Example, Spec

Split = Literal["train", "eval"]
K = TypeVar("K")
T = TypeVar("T")
HOLD_OUT_SHARE = 0.25


def _group(example: Example) -> str:
    return example.targets[0] if example.targets else ""


def _rank(group: str, example: Example) -> str:
    return hashlib.sha256(f"{group}\0{example.id}".encode("utf-8")).hexdigest()


def held_out_count(examples: int) -> int:
    """How many of a clause's ``examples`` the default split holds out."""
    if examples < 2:
        return 0
    return max(1, round(examples * HOLD_OUT_SHARE))


def splits(spec: Spec) -> dict[int, Split]:
    """The split of every example of ``spec``, keyed by ``id(example)`` (examples are immutable
    and a tension example's id is only unique within its tension, so object identity is the key).

    Computed once per spec (a hash per example; build and lint ask several times): specs are
    immutable, and the cache keeps each spec it answers for alive, so an id is never reused."""
    cached = _SPLITS_CACHE.get(id(spec))
    if cached is None:
        cached = _SPLITS_CACHE[id(spec)] = (spec, _splits(spec))
        if len(_SPLITS_CACHE) > 8:
            _SPLITS_CACHE.pop(next(iter(_SPLITS_CACHE)))
    return cached[1]


_SPLITS_CACHE: dict[int, tuple[Spec, dict[int, Split]]] = {}


def _splits(spec: Spec) -> dict[int, Split]:
    groups: dict[str, list[Example]] = {}
    for example in spec.all_examples():
        groups.setdefault(_group(example), []).append(example)
    out: dict[int, Split] = {}
    for group, examples in groups.items():
        chosen = [e for e in examples if e.split == "eval"]
        for example in examples:
            if example.split:
                out[id(example)] = example.split  # type: ignore[assignment]
        free = sorted((e for e in examples if not e.split), key=lambda e: _rank(group, e))
        wanted = max(0, held_out_count(len(examples)) - len(chosen))
        for n, example in enumerate(free):
            out[id(example)] = "eval" if n < wanted else "train"
    return out


def example_split(spec: Spec, example: Example) -> Split:
    """Whether ``example`` (an example of ``spec``) is training or evaluation material."""
    return splits(spec).get(id(example), "train")


def training_examples(spec: Spec) -> Iterator[Example]:
    """The train-split examples, in `Spec.all_examples` order: what training data and the monitor may show."""
    split = splits(spec)
    return (e for e in spec.all_examples() if split.get(id(e)) == "train")


def eval_examples(spec: Spec) -> Iterator[Example]:
    """The eval-split examples, in `Spec.all_examples` order: eval cases and the judge's calibration set."""
    split = splits(spec)
    return (e for e in spec.all_examples() if split.get(id(e)) == "eval")


# --- train/eval overlap --------------------------------------------------------------------------

NEAR_DUPLICATE = 0.7  # Jaccard similarity of word bigrams: about one changed word in six
_WORD = re.compile(r"[^\W_]+")


def normal_prompt(text: str) -> str:
    """A prompt as compared for exact repeats: case, punctuation and spacing do not count."""
    return " ".join(_WORD.findall(text.casefold()))


def word_bigrams(text: str) -> frozenset[str]:
    """The set a near repeat is measured on: the text's word bigrams after case folding (its words
    alone when it has fewer than two, and the empty word for a text without words), as in
    `charter.dedup.shingles` but kept as text, so that similarities are exact."""
    return _bigrams(_WORD.findall(text.casefold()))


def _bigrams(words: list[str]) -> frozenset[str]:
    return frozenset([f"{a} {b}" for a, b in zip(words, words[1:])] or words or [""])


def jaccard(first: frozenset[str], second: frozenset[str]) -> float:
    """|first & second| / |first | second|: the similarity of two word-bigram sets."""
    shared = len(first & second)
    return shared / (len(first) + len(second) - shared)


def _prefix_length(size: int, threshold: float) -> int:
    """How many of a set's rarest tokens must include one shared token when two sets are at least
    ``threshold`` similar (prefix filtering): sets with Jaccard >= t share at least ceil(t * |x|)
    tokens, so of any |x| - ceil(t * |x|) + 1 of x's tokens one is shared. The small slack keeps
    floating point (0.7 * 10 is 7.000000000000001) from shortening a prefix: a longer one only adds
    candidates, which the exact check then drops."""
    return min(size, size - math.ceil(threshold * size - 1e-9) + 1)


def repeated_prompts(eval_items: Iterable[tuple[K, str]], train_items: Iterable[tuple[T, str]],
                     threshold: float = NEAR_DUPLICATE) -> list[tuple[K, T, float]]:
    """Each eval prompt that repeats a training prompt, with that training prompt (the first exact
    repeat, else the most similar near one, the earliest on a tie) and the similarity (1.0 for an
    exact repeat after `normal_prompt`, else the exact Jaccard similarity of the two prompts' word
    bigrams, at least ``threshold``), in eval order.

    An exact similarity join with prefix filtering (as in AllPairs and PPJoin). The eval prompts
    are indexed (they are the few: 4 against 2,200 training prompts in the 2,000-rule spec) and the
    training prompts stream past once, in order. Tokens are ordered: first those no eval prompt
    has, then the others rarest first among the eval prompts, ties by their text (the same order
    on every run). Two sets at least ``threshold`` similar share a token among the first
    |x| - ceil(t * |x|) + 1 of each one's ordered tokens, so each eval prompt is indexed by those,
    and a training prompt is looked up by its own: one whose first tokens no eval prompt has (most
    of them) is passed over at the cost of a set intersection, and every candidate (of a size that
    could reach the threshold) is checked exactly. Linear in the training prompts, and no training
    prompt is compared with another."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError("the near-repeat threshold must be in (0, 1]")
    evaluated = list(eval_items)
    if not evaluated:
        return []  # nothing to look up: the training prompts need not be read
    # Bigrams are kept as word pairs, not as "a b" text: the pairs come from zip() in C, and a
    # pair stands for exactly one bigram text (words hold no space), so every similarity is the
    # one word_bigrams gives. A text of one word (or none) is its words as one tuple.
    sets: list[frozenset[tuple[str, ...]]] = []
    waiting: dict[str, list[int]] = {}  # normal text -> the eval prompts with no exact repeat found yet
    for index, (_, text) in enumerate(evaluated):
        words = _WORD.findall(text.casefold())  # normal_prompt's words and the bigrams' in one pass
        waiting.setdefault(" ".join(words), []).append(index)
        sets.append(frozenset(_pairs(words)))
    frequency: dict[tuple[str, ...], int] = {}
    for bigrams in sets:
        for token in bigrams:
            frequency[token] = frequency.get(token, 0) + 1
    # Every token's place in the order (rarest first among the eval prompts, ties by text): a
    # sort key looked up in C.
    rank = {token: n for n, token in enumerate(sorted(frequency, key=lambda token: (frequency[token], token)))}
    vocabulary = rank.keys()
    prefix_lengths: dict[int, int] = {}

    def prefix_length(size: int) -> int:
        found = prefix_lengths.get(size)
        if found is None:
            found = prefix_lengths[size] = _prefix_length(size, threshold)
        return found

    postings: dict[tuple[str, ...], list[int]] = {}
    sizes: list[tuple[float, float]] = []  # Jaccard >= t needs t * |x| <= |y| <= |x| / t (same slack as the prefix)
    for index, bigrams in enumerate(sets):
        for token in sorted(bigrams, key=rank.__getitem__)[:prefix_length(len(bigrams))]:
            postings.setdefault(token, []).append(index)
        sizes.append((threshold * len(bigrams) - 1e-9, len(bigrams) / threshold + 1e-9))
    exact: dict[int, T] = {}
    nearest: dict[int, tuple[float, T]] = {}
    for key, text in train_items:
        words = _WORD.findall(text.casefold())
        if waiting:
            for index in waiting.pop(" ".join(words), ()):
                exact[index] = key
        pairs = _pairs(words)
        shared = vocabulary & pairs
        if not shared:
            continue
        bigrams = frozenset(pairs)
        size = len(bigrams)
        wanted = prefix_length(size) - (size - len(shared))  # the prefix's tokens an eval prompt has
        if wanted <= 0:
            continue
        candidates: set[int] = set()
        for token in sorted(shared, key=rank.__getitem__)[:wanted]:
            candidates.update(postings.get(token, ()))
        for index in candidates:
            smallest, largest = sizes[index]
            if not smallest <= size <= largest:
                continue
            similarity = jaccard(sets[index], bigrams)
            if similarity >= threshold and similarity > nearest.get(index, (0.0,))[0]:
                nearest[index] = (similarity, key)  # training prompts come in order: a tie keeps the earlier
    out: list[tuple[K, T, float]] = []
    for index, (key, _) in enumerate(evaluated):
        if index in exact:
            out.append((key, exact[index], 1.0))
        elif index in nearest:
            similarity, found = nearest[index]
            out.append((key, found, similarity))
    return out


def _pairs(words: list[str]) -> list[tuple[str, ...]]:
    """The word bigrams of `word_bigrams` as word pairs (its words as one tuple when fewer than two)."""
    return list(zip(words, words[1:])) if len(words) > 1 else [tuple(words)]
