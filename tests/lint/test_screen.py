"""The RE2 screen never rules out a text that Python's `re` matches (charter.lint.screen)."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
import yaml

from charter.lint import screen, text
from charter.lint.rules import _conflicts, _hazards, _helpers, _language
from charter.lint.screen import Pattern, Texts, re2_superset

HERE = Path(__file__).resolve().parent


def _lint_patterns() -> dict[str, Pattern]:
    found = {}
    for module in (_hazards, _helpers, _conflicts, _language, text):
        for name, value in vars(module).items():
            if isinstance(value, Pattern):
                found[f"{module.__name__}.{name}"] = value
    return found


def _corpus_words() -> list[str]:
    words = re.findall(r"[a-z']+|[.,;:!?]", (HERE / "hazard_corpus.yaml").read_text(encoding="utf-8").lower())
    return words + ["\n", "\t", "\x0b", "\x1c", "-", "—", "é", "naïve", "josé", "’"]


def _texts() -> list[str]:
    """The corpus wordings, their clauses, and random word soups built from the same words."""
    corpus = yaml.safe_load((HERE / "hazard_corpus.yaml").read_text(encoding="utf-8"))
    wordings = [str(v).lower() for v in _strings(corpus)]
    clauses = [c for w in wordings for c, _ in _helpers.clauses(w)]
    rng = random.Random(14)
    words = _corpus_words()
    soups = []
    for _ in range(3000):
        picked = rng.choices(words, k=rng.randint(1, 25))
        soups.append(rng.choice([" ", "", "  "]).join(picked) if rng.random() < 0.2 else " ".join(picked))
    return wordings + clauses + soups


def _strings(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


def test_every_lint_pattern_has_a_screen():
    """A pattern RE2 cannot screen still works (every text is searched), but the lint loses its speed."""
    patterns = _lint_patterns()
    assert len(patterns) > 10
    for name, pattern in patterns.items():
        assert pattern.screen is not None, (name, re2_superset(pattern.pattern, pattern.flags))


def test_the_screen_keeps_every_text_re_matches():
    texts = _texts()
    table = Texts(texts)
    ruled_out_somewhere = 0
    for name, pattern in _lint_patterns().items():
        candidates = set(table.candidates(pattern))
        matching = {n for n, t in enumerate(texts) if pattern.exact.search(t)}
        assert matching <= candidates, (name, [texts[n] for n in sorted(matching - candidates)][:3])
        ruled_out_somewhere += len(candidates) < len(texts)
    assert ruled_out_somewhere  # the screen does rule texts out


@pytest.mark.parametrize("pattern, flags, matching, other", [
    (r"(?<!even )\bwhen\b", 0, ["say so when asked", "when it rains"], ["whence"]),
    (r"\bnot (?:say|tell)(?=\s*(?:$|,))", 0, ["do not say", "do not tell, ever"], ["do not sell"]),
    (r"^(?:i am) human\b", 0, ["i am human"], ["so i am human"]),
    (r"agree\s+with", 0, ["agree\x0bwith", "agree\x1cwith", "agree \t with"], ["agreewith"]),
    (r"a{,2}b$", 0, ["aab", "b"], ["ba"]),
    (r"\Aon\w*\Z", re.IGNORECASE, ["ONCE", "on"], ["once more"]),
])
def test_the_screen_on_edge_cases(pattern, flags, matching, other):
    """Look-arounds, anchors, Python's ASCII whitespace, {,n} and flags: the screen keeps every
    text that matches and here also rules out the others."""
    compiled = Pattern(pattern, flags)
    texts = [*matching, *other]
    candidates = set(Texts(texts).candidates(compiled))
    assert all(compiled.exact.search(t) for t in matching)
    assert set(range(len(matching))) <= candidates
    assert not any(compiled.exact.search(t) for t in other)
    assert not candidates & set(range(len(matching), len(texts)))


def test_non_ascii_texts_are_always_searched():
    """RE2's \\w and \\b are ASCII: a text outside ASCII is left to `re`."""
    compiled = Pattern(r"\btell \w+ that\b")
    texts = ["tell josé that", "tell jose that", "nothing here", "rien à dire"]
    assert Texts(texts).candidates(compiled) == [0, 1, 3]


@pytest.mark.parametrize("pattern, flags", [(r"(a)\1", 0), (r"(?P<x>a)(?P=x)", 0), (r"a b", re.VERBOSE),
                                            (r"(?(1)a|b)", 0), (r"a{x}", 0)])
def test_what_cannot_be_carried_over_is_not_screened(pattern, flags):
    assert re2_superset(pattern, flags) is None
    compiled = Pattern(pattern, flags)
    assert compiled.screen is None
    assert Texts(["zzz", "aa"]).candidates(compiled) == [0, 1]


def test_the_python_pattern_compiles_only_when_used():
    compiled = Pattern(r"\bnever ever\b")
    assert Texts(["always", "sometimes"]).candidates(compiled) == []
    assert compiled._exact is None
    assert compiled.search("never ever") is not None


def test_screen_module_needs_no_re2_at_import():
    assert "re2" not in vars(screen)


def _clear_lint_caches() -> None:
    text.directives.cache_clear()
    _helpers._SPEC_CLAUSES.clear()
    _conflicts._CONFLICT_CACHE.clear()


def test_lint_findings_are_those_without_the_screen(tmp_path, monkeypatch):
    """Brute force: with RE2 switched off every clause and text is searched by `re`; the findings of
    every rule are the same, on the bundled characters and on specs holding every corpus wording."""
    import charter
    from charter.lint import lint

    from .hazard_eval import corpus, spec_data

    specs = [charter.load(path) for path in sorted((HERE.parents[1] / "characters").glob("*.yaml"))]
    for hazard, items in corpus().items():
        for n, wording in enumerate(items["positives"] + items["controls"]):
            path = tmp_path / f"{hazard}-{n}.yaml"
            path.write_text(yaml.safe_dump(spec_data(hazard, wording), sort_keys=False), encoding="utf-8")
            specs.append(charter.load(path))
    _clear_lint_caches()
    screened = [lint(spec) for spec in specs]
    monkeypatch.setattr(Pattern, "screen", property(lambda self: None))
    _clear_lint_caches()
    unscreened = [lint(spec) for spec in specs]
    _clear_lint_caches()
    assert screened == unscreened
    assert sum(len(found) for found in screened) > len(specs)  # the hazard positives are reported
