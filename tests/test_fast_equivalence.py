"""The fast forms of the MinHash signature and the token estimate give the reference forms' answers.

Both feed outputs (near-duplicate verdicts and similarities, token figures in the manifest), so a
faster computation must not move a single value.
"""

from __future__ import annotations

import random
from array import array
from fractions import Fraction

from charter import dedup, tokens


def reference_signature(text: str) -> array:
    """One hash function at a time, as the signature was first written."""
    hashed = dedup.shingles(text)
    return array("I", [min([(a * h + b) & dedup._MASK for h in hashed]) >> 32 for a, b in dedup._PARAMS])


def reference_estimate(text: str) -> int:
    """Piece by piece in text order, as the estimate was first written, in exact fractions."""
    total, whitespace = Fraction(0), 0
    for piece in tokens._PIECE.findall(text):
        if piece[0] == " ":
            piece = piece[1:]
        if not piece or piece[0].isspace():
            whitespace += 1
            continue
        non_ascii = 0 if piece.isascii() else sum(1 for char in piece if ord(char) > 127)
        first = piece[0]
        if first.isalpha() or first == "'":
            extra = len(piece) - non_ascii - tokens._WHOLE_WORD
            total += (1 + non_ascii * Fraction(tokens._NON_ASCII_TOKEN)
                      + (extra / Fraction(tokens._LETTERS_PER_EXTRA_TOKEN) if extra > 0 else 0))
        elif first.isdigit():
            total += 1
        else:
            total += ((len(piece) - non_ascii) / Fraction(tokens._PUNCTUATION_PER_TOKEN)
                      + non_ascii * Fraction(tokens._NON_ASCII_TOKEN))
    return round(total + whitespace * Fraction(tokens._WHITESPACE_TOKEN))  # halves to even


def random_texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    alphabet = "abcdeéü😀 ,.!?'\n\t0123456789*#`-"
    words = ["the", "case", "please", "honestly", "don't", "we'll", "naïve", "résumé", "12345", "**bold**", "```"]
    texts = ["", " ", "x", "\n\n", "Ünïcödé only"]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300))) for _ in range(count)]
    texts += [" ".join(rng.choice(words) for _ in range(rng.randint(1, 60))) for _ in range(count)]
    return texts


def test_signature_matches_the_per_function_loop():
    for text in random_texts(400, seed=1):
        assert dedup.signature(text) == reference_signature(text), text


def test_token_estimate_matches_the_piece_by_piece_sum():
    for text in random_texts(1500, seed=2):
        assert tokens._estimate(text) == reference_estimate(text), text
    long = " ".join(random_texts(200, seed=3)) * 5
    assert tokens.estimate_tokens(long) == reference_estimate(long)


def test_estimates_of_texts_sharing_lines_match_the_piece_by_piece_sum():
    """estimate_tokens_many costs each distinct line once, and the runner's long-text path keeps
    only chunks up to _CHUNK_KEPT_LENGTH: both must give each text's own figure."""
    rng = random.Random(4)
    lines = random_texts(60, seed=5)
    texts = ["\n".join(rng.choice(lines) for _ in range(rng.randint(1, 80))) for _ in range(40)]
    texts.append("\n".join(["x" * (tokens._CHUNK_KEPT_LENGTH + 10), "a b", "x" * (tokens._CHUNK_KEPT_LENGTH + 10)]))
    assert tokens.estimate_tokens_many(texts) == [reference_estimate(text) for text in texts]
    chunks: dict = {}
    for text in texts:
        assert tokens._estimate_chunked(text, chunks, {}, longest_kept=tokens._CHUNK_KEPT_LENGTH) \
            == reference_estimate(text), text


def test_halves_round_to_even_as_round_does():
    assert [tokens._estimate(text) for text in ("\n", "x\n", "x y\n")] == [0, 2, 2]
    assert [tokens._tokens(units) for units in (14, 15, 16, 45, 75, 76)] == [0, 0, 1, 2, 2, 3]
