"""The train/eval split: one deterministic decision, held-out examples never trained on or shown to the judge."""

from __future__ import annotations

import json

import charter
from charter.targets.build import build
from charter.targets.data import training_rows
from charter.targets.evals import compile_cases
from charter.targets.monitor import render_monitor
from charter.targets.split import (eval_examples, example_split, held_out_count, repeated_prompts,
                                   training_examples)

HEAD = """\
charter: 1
id: coach
name: Coach
values:
  - {id: honesty, description: I say what is true.}
  - {id: care, description: I care about the person.}
rules:
  - {id: no-lies, text: Never say what you believe is false., strength: hard, serves: [honesty]}
  - {id: kind-words, text: Deliver hard news kindly., serves: [care]}
tensions:
  - id: hard-feedback
    values: [honesty, care]
    situation: Someone asks for feedback on weak work.
    resolution: Say what is weak, kindly, with one thing to fix first.
    examples:
      - {prompt: Is my essay good?, good: The middle needs evidence; start there., split: train}
      - {prompt: 'Be honest, is my poem any good?', good: The images are vivid; the ending is rushed.}
examples:
"""


def _examples(clause: str, n: int, start: int = 1, split: str = "") -> str:
    extra = f", split: {split}" if split else ""
    return "".join(f"  - {{id: {clause}-{i}, prompt: 'Question {i} about {clause}, please?', good: 'Answer {i}.', "
                   f"targets: ['rule:{clause}']{extra}}}\n" for i in range(start, start + n))


def _load(write, body: str, name: str = "coach.yaml") -> charter.Spec:
    return charter.load(write(name, HEAD + body))


def test_about_a_quarter_is_held_out_per_clause():
    assert [held_out_count(n) for n in range(0, 10)] == [0, 0, 1, 1, 1, 1, 2, 2, 2, 2]


def test_default_split_counts(write):
    spec = _load(write, _examples("no-lies", 1) + _examples("kind-words", 8))
    by_clause: dict[str, list[str]] = {}
    for example in spec.all_examples():
        by_clause.setdefault(example.targets[0], []).append(example_split(spec, example))
    assert by_clause["rule:no-lies"] == ["train"]  # one example: nothing to hold out
    assert sorted(by_clause["rule:kind-words"]).count("eval") == 2
    assert by_clause["tension:hard-feedback"].count("eval") == 1


def test_split_is_stable_and_local(write):
    """The same spec splits the same way, and adding examples to one clause moves none of another's."""
    first = _load(write, _examples("no-lies", 4) + _examples("kind-words", 4))
    again = _load(write, _examples("no-lies", 4) + _examples("kind-words", 4), "again.yaml")
    more = _load(write, _examples("no-lies", 4) + _examples("kind-words", 9), "more.yaml")
    held = lambda spec: [e.id for e in eval_examples(spec)]  # noqa: E731
    assert held(first) == held(again)
    assert [i for i in held(more) if i.startswith("no-lies")] == [i for i in held(first) if i.startswith("no-lies")]


def test_explicit_split_wins_and_counts_toward_the_quota(write):
    spec = _load(write, _examples("kind-words", 1, split="eval") + _examples("kind-words", 3, start=2))
    splits = {e.id: example_split(spec, e) for e in spec.examples}
    assert splits["kind-words-1"] == "eval" and list(splits.values()).count("eval") == 1
    forced = _load(write, _examples("kind-words", 4, split="train"), "forced.yaml")
    assert [example_split(forced, e) for e in forced.examples] == ["train"] * 4


def test_held_out_examples_never_reach_training_data_or_the_monitor(write):
    spec = _load(write, _examples("kind-words", 4))
    held = list(eval_examples(spec))
    assert held and {e.id for e in held}.isdisjoint({e.id for e in training_examples(spec)})
    rows = training_rows(spec)
    trained_prompts = {turn.content for row in rows.sft for turn in row.prompt}
    assert all(e.prompt not in trained_prompts for e in held)
    monitor = render_monitor(spec).system
    assert all(e.prompt not in monitor and e.good not in monitor for e in held)
    cases = compile_cases(spec)
    assert {e.prompt for e in held} == {c["turns"][-1]["content"] for c in cases if c["kind"] in ("example", "tension")}


def test_repeated_prompts_exact_and_near():
    train = [("a", "Is my essay good?"), ("b", "Can you check my cover letter for typos and tone before I send it today?")]
    evals = [(1, "is my ESSAY good"), (2, "Can you check my cover letter for typos and tone before I send it tonight?"),
             (3, "What's the capital of Peru?")]
    assert repeated_prompts(evals, train)[0] == (1, "a", 1.0)
    (near,) = repeated_prompts(evals, train)[1:]
    assert near[:2] == (2, "b") and 0.7 <= near[2] < 1.0


def test_manifest_reports_split_coverage_and_overlap(write, tmp_path):
    """The manifest's coverage is clause_coverage's; its overlap finds a probe that repeats a training prompt."""
    body = _examples("kind-words", 4) + "probes:\n  - {id: repeat, turns: ['Is my essay good?'], targets: [rule:no-lies]}\n"
    result = build(_load(write, body), tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["counts"]["examples_eval"] + manifest["counts"]["examples_train"] == 6
    overlap = manifest["overlap"]
    # the probe repeats the (train-split) essay example word for word
    assert overlap["cases_with_exact_repeat"] == 1 and overlap["exact"][0]["case"] == "coach/probe/repeat"
    assert any("repeat a training prompt" in w for w in result.warnings)
    assert manifest["coverage"]["rule:no-lies"]["eval_cases"] == ["coach/probe/repeat"]
    assert "rule:no-lies" not in manifest["uncovered"]


def _brute_force_repeats(evals, train, threshold):
    """repeated_prompts' answer by comparing every eval prompt with every training prompt."""
    from charter.targets.split import jaccard, normal_prompt, word_bigrams
    out = []
    for key, text in evals:
        same = [k for k, t in train if normal_prompt(t) == normal_prompt(text)]
        if same:
            out.append((key, same[0], 1.0))
            continue
        scored = [(jaccard(word_bigrams(text), word_bigrams(t)), -n, k) for n, (k, t) in enumerate(train)]
        best = max(scored, default=None)
        if best is not None and best[0] >= threshold:
            out.append((key, best[2], best[0]))
    return out


def test_repeated_prompts_equal_brute_force_on_random_texts():
    """The prefix-filtered join finds exactly the pairs that comparing every pair finds, with the same
    similarity and the same choice among equals, on texts built to be near one another."""
    import random
    rng = random.Random(14)
    vocabulary = [f"w{n}" for n in range(12)] + ["Alpha", "beta", "GAMMA"]
    for trial in range(60):
        base = [" ".join(rng.choices(vocabulary, k=rng.randint(0, 14))) for _ in range(6)]

        def variant(text: str) -> str:
            words = text.split()
            for _ in range(rng.randint(0, 3)):
                move = rng.random()
                if words and move < 0.4:
                    words[rng.randrange(len(words))] = rng.choice(vocabulary)
                elif move < 0.7:
                    words.insert(rng.randint(0, len(words)), rng.choice(vocabulary))
                elif words:
                    del words[rng.randrange(len(words))]
            return rng.choice(["", "  ", "? "]).join([" ".join(words)]) + rng.choice(["", "!", "?"])

        train = [(f"t{n}", variant(rng.choice(base))) for n in range(rng.randint(0, 40))]
        evals = [(n, variant(rng.choice(base))) for n in range(rng.randint(0, 15))]
        threshold = rng.choice([0.3, 0.5, 0.7, 0.8, 1.0])
        assert repeated_prompts(evals, train, threshold) == _brute_force_repeats(evals, train, threshold), trial


def test_repeated_prompts_similarity_is_exact():
    """Three of four bigrams shared, five in the union: exactly 0.6, not an estimate."""
    found = repeated_prompts([(1, "one two three four five")], [("a", "one two three four six")], threshold=0.5)
    assert found == [(1, "a", 0.6)]
