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
import re
from typing import Iterable, Iterator, Literal, TypeVar

from ..spec.ir import Example, Spec
from ..dedup import NearDuplicateIndex  # the one MinHash in Charter: a pure, dependency-free module

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

NEAR_DUPLICATE = 0.7  # Jaccard similarity of word bigrams (charter.dedup): about one changed word in six


def normal_prompt(text: str) -> str:
    """A prompt as compared for exact repeats: case, punctuation and spacing do not count."""
    return " ".join(re.findall(r"[^\W_]+", text.casefold()))


def repeated_prompts(eval_items: Iterable[tuple[K, str]], train_items: Iterable[tuple[T, str]],
                     threshold: float = NEAR_DUPLICATE) -> list[tuple[K, T, float]]:
    """Each eval prompt that repeats a training prompt, with that training prompt (the first exact
    repeat, else the most similar near one, the earliest on a tie) and the similarity (1.0 for an
    exact repeat after `normal_prompt`), in eval order.

    Training prompts are indexed without comparing them with each other, so building is linear;
    only eval prompts are looked up."""
    evaluated = list(eval_items)
    if not evaluated:
        return []  # nothing to look up: the training prompts need no index
    train = list(train_items)
    exact: dict[str, T] = {}
    index = NearDuplicateIndex(threshold)
    by_slot: dict[int, T] = {}
    for key, text in train:
        exact.setdefault(normal_prompt(text), key)
        by_slot[index.insert(text)] = key
    out: list[tuple[K, T, float]] = []
    for key, text in evaluated:
        normal = normal_prompt(text)
        if normal in exact:
            out.append((key, exact[normal], 1.0))
            continue
        slot, similarity = index.nearest(text)
        if slot is not None and similarity >= threshold and slot in by_slot:
            out.append((key, by_slot[slot], similarity))
    return out
