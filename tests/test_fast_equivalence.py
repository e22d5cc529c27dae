"""The fast forms of the MinHash signature and the token estimate give the reference forms' answers.

Both feed outputs (near-duplicate verdicts and similarities, token figures in the manifest), so a
faster computation must not move a single value.
"""

from __future__ import annotations

import random
from array import array

from charter import dedup, tokens


def reference_signature(text: str) -> array:
    """One hash function at a time, as the signature was first written."""
    hashed = dedup.shingles(text)
    return array("I", [min([(a * h + b) & dedup._MASK for h in hashed]) >> 32 for a, b in dedup._PARAMS])


def reference_estimate(text: str) -> int:
    """Piece by piece in text order, as the estimate was first written."""
    total, whitespace = 0.0, 0
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
            total += 1 + non_ascii * tokens._NON_ASCII_TOKEN + (extra / tokens._LETTERS_PER_EXTRA_TOKEN if extra > 0 else 0)
        elif first.isdigit():
            total += 1
        else:
            total += (len(piece) - non_ascii) / tokens._PUNCTUATION_PER_TOKEN + non_ascii * tokens._NON_ASCII_TOKEN
    return round(total + whitespace * tokens._WHITESPACE_TOKEN)


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
