"""The fast reading of rule text (charter.lint.text) gives what the plain reading gave: the
normalised text, each word's concept, and the directives read in bulk or one text at a time."""

from __future__ import annotations

import random
import re
from pathlib import Path

from charter.lint import text

HERE = Path(__file__).resolve().parent


def _plain_normalise(value: str) -> str:
    """The normalisation as first written: every pass by a regular expression, each idiom tried."""
    value = value.lower().replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    value = text.expand_contractions(value, text._CONTRACTIONS)
    value = re.sub(r"[\"()\[\]{}*_`]", " ", value)
    value = text._ASIDE.sub(" ", value)
    value = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", value)
    for pattern, replacement in text._PHRASE_RES:
        value = pattern.exact.sub(replacement, value)
    return re.sub(r"\s+", " ", value).strip()


def _plain_concepts(words: list[str]) -> tuple[list[str], list[bool], bool]:
    out, flips, negated = [], [], False
    for word in words:
        if word in text._NEGATION_WORDS:
            negated = True
            continue
        stemmed = text.stem(word)
        if word in text._STOP or stemmed in text._STOP or stemmed in text._LIGHT or stemmed in text._MANNER \
                or len(stemmed) < 2:
            continue
        if stemmed in text._ANTONYM_STEMS:
            out.append(text._ANTONYM_STEMS[stemmed])
            flips.append(True)
        else:
            out.append(text._SYNONYMS.get(stemmed, stemmed))
            flips.append(False)
    return out, flips, negated


def _texts() -> list[str]:
    """Rule-like texts: the conflict and hazard corpora's lines, and random mixtures of their words
    with the punctuation, dashes, brackets, quotes and whitespace the normalisation rewrites."""
    source = "\n".join((HERE / name).read_text(encoding="utf-8")
                       for name in ("conflict_pairs.yaml", "hazard_corpus.yaml"))
    lines = [line.strip(" -") for line in source.splitlines() if len(line.split()) > 3]
    words = re.findall(r"[A-Za-z']+", source)
    extras = [".", ",", ";", " - ", "-", " — ", "–", "(", ")", "[x]", "*", "_", "`", '"', "“", "”", "’", "\t", "\n",
              "\x0b", "\x1c", "\xa0", "\u2003", "can't", "cannot", "won't", "i'm", "they're", "keep it secret",
              "in great detail", "under 50 words", "stay in character", "hand it off", "play along", "ask them for"]
    rng = random.Random(14)
    soups = [" ".join(rng.choices(words + extras, k=rng.randint(1, 30))) for _ in range(3000)]
    return lines + soups


def test_the_normalisation_is_the_plain_one():
    for value in _texts():
        assert text._normalise(value) == _plain_normalise(value), value


def test_each_word_reads_as_in_the_plain_loop():
    for value in _texts():
        words = text._WORD.findall(_plain_normalise(value))
        assert text._concepts(words) == _plain_concepts(words), value


def test_directives_read_in_bulk_equal_those_read_one_by_one():
    texts = _texts()
    text.directives.cache_clear()
    one_by_one = [text._read(_plain_normalise(value)) for value in texts]
    text.directives.cache_clear()
    assert text.directives_of(texts) == one_by_one
    assert [text.directives(value) for value in texts] == one_by_one  # now from the cache
    text.directives.cache_clear()
    assert [text.directives(value) for value in reversed(texts)] == one_by_one[::-1]


def test_the_directive_cache_stays_bounded(monkeypatch):
    monkeypatch.setattr(text, "_DIRECTIVES_KEPT", 10)
    text.directives.cache_clear()
    texts = [f"Never reveal secret number {n}." for n in range(25)]
    read = text.directives_of(texts + texts[:3])
    assert len(read) == 28 and read[25:] == read[:3]
    assert len(text._DIRECTIVES) == 10
    assert text.directives(texts[0]) == read[0]
    text.directives.cache_clear()


def test_words_are_the_word_pattern_s():
    samples = [*_texts(), "abc 123 x9", "  lead and trail  ", "ABC def", "123 456", "", " ", "don't stop", "a\tb",
               "naïve user", "x-y z", "a  b"]
    for value in samples:
        for variant in (value, value.lower()):
            assert text._words(variant) == text._WORD.findall(variant), variant


def test_a_long_search_finds_what_the_plain_search_finds():
    """Texts past LONG_TEXT are screened by RE2 first; the match is still re's, from its first position."""
    from charter.lint.screen import LONG_TEXT

    rng = random.Random(7)
    plain_words = ["lorem", "ipsum", "so", "even", "x", "whence", "elif", "in", "evening"]
    condition_words = ["when", "whenever", "if", "case", "that", "once", "until"]
    found = 0
    for n in range(300):
        words = plain_words + (condition_words if n % 2 else []) + (["é"] if n % 7 == 0 else [])
        value = " ".join(rng.choices(words, k=rng.randint(LONG_TEXT // 3, LONG_TEXT)))
        for pattern in (text._TRAILING_CONDITION, screen_pattern(r"(?<!even )\bwhen\b"), screen_pattern(r"^lorem"),
                        screen_pattern(r"\bin case\b")):
            long, plain = pattern.search_long(value), pattern.exact.search(value)
            assert (long and long.span()) == (plain and plain.span())
            found += plain is not None
    assert found > 300


def screen_pattern(value: str):
    from charter.lint.screen import Pattern

    return Pattern(value)


def test_the_clause_splits_are_the_plain_ones():
    """The split patterns take each alternative's first character by one class in front; they split
    every text where the plain alternations do."""
    from charter.lint.rules import _helpers

    plain_clauses = re.compile(r"[.;:!?]+(?:\s+|$)|\s+(?:but|—|–|-{1,2})\s+|,\s+(?:but|and then)\s+"
                               r"|,\s+(?=(?:and\s+|or\s+)?(?:do not|never|always|avoid)\b)")
    plain_passages = re.compile(r"[.;:!?]+(?:\s+|$)|\s+but\s+|\s+[-–—]{1,2}\s+")
    rng = random.Random(3)
    pieces = ["never", "always", "do not", "avoid", "and", "then", "or", "but", "butter", "x", ".", "..", "!?", ";",
              ":", ",", " ", "  ", "\t", "\n", "-", "--", "---", "—", "–", "\xa0", "and then"]
    samples = _texts() + ["".join(rng.choices(pieces, k=rng.randint(1, 40))) for _ in range(5000)]
    for value in samples:
        assert text._CLAUSE_SPLIT.split(value) == plain_clauses.split(value), value
        assert _helpers._SPLIT.split(value) == plain_passages.split(value), value
