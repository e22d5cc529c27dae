"""What several rule groups share: reading clauses of instruction text, and small context checks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat
from typing import Iterator

from ...diagnostics import Loc
from ...spec.ir import Rule, Spec
from ..screen import Pattern, Texts
from ..text import expand_contractions


def contexts_overlap(when_a: tuple[str, ...], when_b: tuple[str, ...]) -> bool:
    """Whether two clauses can apply at once: either is unrestricted, or they share a context."""
    return not when_a or not when_b or bool(set(when_a) & set(when_b))


def applies_wherever(wide: tuple[str, ...], narrow: tuple[str, ...]) -> bool:
    """Whether ``wide`` applies wherever ``narrow`` does."""
    return not wide or (bool(narrow) and set(narrow) <= set(wide))


def quote(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return f'"{text}"' if len(text) <= limit else f'"{text[: limit - 1].rstrip()}…"'


@dataclass(frozen=True, slots=True)
class Passage:
    """A piece of instruction text in the spec and where it is."""

    text: str
    loc: Loc
    where: str  # "rule:x", "identity.nature", ...


def passages(spec: Spec, *, tensions: bool = True) -> Iterator[Passage]:
    """Every text that tells the character how to be: rules, identity, voice, values, traits, resolutions."""
    identity = spec.identity
    if identity.self_description:
        yield Passage(identity.self_description, identity.loc, "identity.self_description")
    if identity.nature:
        yield Passage(identity.nature, identity.nature_loc, "identity.nature")
    if identity.background:
        yield Passage(identity.background, identity.loc, "identity.background")
    for item in identity.voice.do:
        yield Passage(item, identity.loc, "identity.voice.do")
    for value in spec.values:
        yield Passage(value.description, value.loc, value.ref)
    for trait in spec.traits:
        yield Passage(trait.description, trait.loc, trait.ref)
    for r in spec.rules:
        yield Passage(r.text, r.text_loc if r.text_loc.line else r.loc, r.ref)
    if tensions:
        for tension in spec.tensions:
            yield Passage(tension.resolution, tension.loc, tension.ref)


_CONTRACTIONS = [(Pattern(p), r) for p, r in [
    (r"\bcan't\b|\bcannot\b", "can not"), (r"\bwon't\b", "will not"), (r"\b(\w+)n't\b", r"\1 not"),
    (r"\b(\w+)'re\b", r"\1 are"), (r"\bi'm\b", "i am"), (r"\b(\w+)'ve\b", r"\1 have"),
]]
# [.;:!?]+(?:\s+|$) | \s+but\s+ | \s+[-–—]{1,2}\s+ with each alternative's first character taken by
# one class in front, so the engine skips to the next punctuation or space in C (as text._CLAUSE_SPLIT).
_SPLIT = re.compile(r"[.;:!?\s](?:(?<=[.;:!?])[.;:!?]*(?:\s+|$)|(?<=\s)\s*but\s+|(?<=\s)\s*[-–—]{1,2}\s+)")
_NEGATED_START = re.compile(
    r"^(?:(?:if|when|whenever|unless)\b[^,]*,\s*)?(?:(?:you|i|we|please|the assistant)\s+)?(?:always\s+)?"
    r"(?:never|(?:do|does|must|should|will|can|may|would|shall)\s+(?:not|never)|avoid|refuse to|decline to|"
    r"refrain from|stop|no)\b")


_NEGATION = frozenset(("never", "not", "no", "nor", "avoid", "refuse", "stop", "without"))


def negated_at(clause: str, start: int) -> bool:
    """Whether a match at ``start`` is negated: the clause opens with a negation, or one of the
    four words before the match is one ("..., and i never claim to be human")."""
    return _NEGATED_START.match(clause) is not None or bool(_NEGATION & set(clause[:start].split()[-4:]))


def clauses(text: str) -> Iterator[tuple[str, bool]]:
    """Lower-cased clauses of ``text`` with contractions expanded, and whether each opens affirmed."""
    return ((clause, _affirmed(clause)) for clause in _clause_texts(text))


def _affirmed(clause: str) -> bool:
    return _NEGATED_START.match(clause) is None


@lru_cache(maxsize=65536)
def _clause_texts(text: str) -> tuple[str, ...]:
    # Each hazard rule reads every passage: split each text once, not once per rule (a 10 MB rule
    # text was lowered and split four times).
    text = expand_contractions(text.lower().replace("’", "'"), _CONTRACTIONS)
    return tuple(clause for clause in map(str.strip, _SPLIT.split(text), repeat(" ,")) if clause)


@dataclass(frozen=True, slots=True)
class _SpecClauses:
    """Every passage of a spec split into clauses, once, with the clauses joined for screening."""

    passages: tuple[Passage, ...]
    without_tensions: int  # passages before the tension resolutions, which come last
    owners: tuple[int, ...]  # the passage of each clause
    clauses: tuple[str, ...]
    texts: Texts


_SPEC_CLAUSES: dict[int, tuple[Spec, _SpecClauses]] = {}


def _spec_clauses(spec: Spec) -> _SpecClauses:
    cached = _SPEC_CLAUSES.get(id(spec))
    if cached is not None and cached[0] is spec:
        return cached[1]
    every = tuple(passages(spec))
    without_tensions = sum(1 for _ in passages(spec, tensions=False))
    owners: list[int] = []
    split: list[str] = []
    for index, passage in enumerate(every):
        read = _clause_texts(passage.text)
        owners.extend(repeat(index, len(read)))
        split.extend(read)
    found = _SpecClauses(every, without_tensions, tuple(owners), tuple(split), Texts(split))
    _SPEC_CLAUSES[id(spec)] = (spec, found)
    if len(_SPEC_CLAUSES) > 8:
        _SPEC_CLAUSES.pop(next(iter(_SPEC_CLAUSES)))
    return found


def screened_clauses(spec: Spec, *patterns: Pattern, tensions: bool = True
                     ) -> Iterator[tuple[Passage, list[tuple[str, bool]]]]:
    """Each passage (as ``passages`` orders them) with those of its clauses (as ``clauses`` gives
    them) that one of ``patterns`` may match; a clause left out matches none of them, and a
    passage with no such clause is left out.

    RE2 screens every clause of the spec at once (``charter.lint.screen``), so the rules search
    with Python's `re` only the few clauses that may hold a hazard.
    """
    table = _spec_clauses(spec)
    limit = len(table.passages) if tensions else table.without_tensions
    wanted = sorted({n for pattern in patterns for n in table.texts.candidates(pattern)})
    current, group = -1, []
    for n in wanted:
        owner = table.owners[n]
        if owner >= limit:
            break
        if owner != current:
            if group:
                yield table.passages[current], group
            current, group = owner, []
        clause = table.clauses[n]
        group.append((clause, _affirmed(clause)))
    if group:
        yield table.passages[current], group


def first_passage_matching(spec: Spec, pattern: Pattern, *, negation_counts: bool = False) -> Passage | None:
    """The first passage (rules, identity, values, traits, resolutions) with an affirmed clause matching ``pattern``.

    With ``negation_counts`` a negated clause also counts when the match itself begins with
    the negation ("never disagree ...": the don't is the hazard).
    """
    for passage, candidates in screened_clauses(spec, pattern):
        for clause, _ in candidates:
            match = pattern.search(clause)
            if match is None:
                continue
            if not negated_at(clause, match.start()) or \
                    (negation_counts and re.match(r"(?:never|do not|does not|not)\b", match.group(0))):
                return passage
    return None


def rule_loc(r: Rule) -> Loc:
    """Where a rule is reported: its item, or its text when the item has no position."""
    return r.loc if r.loc.line else r.text_loc
