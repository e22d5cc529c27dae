"""Near-duplicate detection for generated text: MinHash over word bigrams, with LSH banding.

Two texts are near-duplicates when the Jaccard similarity of their sets of word bigrams (after
lower-casing and dropping punctuation) is at least ``threshold`` (default 0.7). On a 20-word
message that is about one changed word in six; a paraphrase that keeps the sentence but swaps a
name or a number is caught, two messages on the same topic in different words are not.

The similarity is estimated from a 64-value MinHash signature (standard error about 0.06), and
candidates are found with locality-sensitive hashing: 16 bands of 4 values, so a pair at the
threshold becomes a candidate with probability 1 - (1 - 0.7**4)**16 = 0.99 and a pair at 0.3 with
0.12 (then rejected by its estimate). Only signatures are kept (256 bytes and 16 band keys per
text), never the texts, so memory grows by about 1 KB per text and a lookup costs the same at
100 texts as at 100,000.
"""

from __future__ import annotations

import hashlib
from operator import eq
import random
import re
import sys
from array import array

DEFAULT_THRESHOLD = 0.7
HASHES = 64
BANDS = 16
ROWS = HASHES // BANDS

_MASK = (1 << 64) - 1
# Multiply-add hashing of 32-bit shingle hashes (a odd, 64-bit): a universal family, and cheap in
# Python because the products stay under 97 bits. Fixed parameters, so a signature means the same
# in every process and every run.
_rng = random.Random("charter-minhash")
_PARAMS = [(_rng.getrandbits(64) | 1, _rng.getrandbits(64)) for _ in range(HASHES)]
del _rng
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def shingles(text: str) -> set[int]:
    """32-bit hashes of the text's word bigrams (its words alone when it has fewer than two)."""
    words = _WORD.findall(text.casefold())
    grams = [f"{a} {b}" for a, b in zip(words, words[1:])] or words or [""]
    return {int.from_bytes(hashlib.blake2b(g.encode("utf-8"), digest_size=4).digest(), "little") for g in grams}


# All HASHES hash functions of one shingle in one big-integer multiply-add: function k sits in bits
# [128k, 128k + 128), where a*h + b (under 2**97) cannot carry into its neighbour; its 64-bit
# result (a*h + b) & _MASK is that slot's low 8 bytes, and the signature keeps their top 4 bytes,
# the 32-bit word at index 4k + 1 of the slot array. Taking >> 32 before the min is the same as
# after it (a shift keeps order), so the signature is the one the per-function loop computes,
# at half the cost (the hash loop was a fifth of `charter build`).
_SLOT_BITS = 128
_SLOT_BYTES = _SLOT_BITS * HASHES // 8
_SLOT_WORDS = _SLOT_BYTES // 4
_ALL_A = sum(a << (_SLOT_BITS * k) for k, (a, _) in enumerate(_PARAMS))
_ALL_B = sum(b << (_SLOT_BITS * k) for k, (_, b) in enumerate(_PARAMS))
_HIGH_WORDS = range(1, _SLOT_WORDS, 4)
assert array("I").itemsize == 4, "MinHash words are 32-bit"


def signature(text: str) -> array:
    """The MinHash signature of ``text``: for each of HASHES hash functions, the least hash of a shingle."""
    words = array("I", b"".join([(_ALL_A * h + _ALL_B).to_bytes(_SLOT_BYTES, "little") for h in shingles(text)]))
    if sys.byteorder != "little":  # pragma: no cover - the bytes above are little-endian words
        words.byteswap()
    return array("I", [min(words[k::_SLOT_WORDS]) for k in _HIGH_WORDS])


def similarity(first: array, second: array) -> float:
    """The estimated Jaccard similarity of the two texts behind two signatures."""
    return sum(map(eq, first, second)) / HASHES  # map(eq) counts in C: the hot loop of every near-duplicate search


def _band_keys(sig: array) -> list[int]:
    # Python's hash of the band: an int key costs a third of a bytes key. It differs between
    # processes, which cannot change a result: a bucket only proposes candidates, and every
    # candidate is checked against its full signature.
    return [hash((band, tuple(sig[band * ROWS:(band + 1) * ROWS]))) for band in range(BANDS)]


class NearDuplicateIndex:
    """Texts seen so far, as signatures; ``add(text)`` says whether a near-duplicate was already there.

    Order matters and is the caller's: the first of two near-duplicates added is kept, the second
    reported. Feed texts in a deterministic order for deterministic results.
    """

    def __init__(self, threshold: float = DEFAULT_THRESHOLD) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError("the near-duplicate threshold must be in (0, 1]")
        self.threshold = threshold
        self._signatures: list[array] = []
        self._buckets: dict[int, int | list[int]] = {}

    def __len__(self) -> int:
        return len(self._signatures)

    def nearest(self, text: str) -> tuple[int | None, float]:
        """(index of the most similar text added at or above the threshold, its similarity), or (None, 0.0)."""
        return self._nearest(signature(text))[:2]

    def _nearest(self, sig: array) -> tuple[int | None, float, list[int]]:
        keys = _band_keys(sig)
        candidates: set[int] = set()
        for key in keys:
            found = self._buckets.get(key)
            if found is None:
                continue
            if isinstance(found, int):
                candidates.add(found)
            else:
                candidates.update(found)
        best, best_score = None, 0.0
        for index in sorted(candidates):
            score = similarity(sig, self._signatures[index])
            if score >= self.threshold and score > best_score:
                best, best_score = index, score
        return best, best_score, keys

    def add(self, text: str) -> int | None:
        """Adds ``text`` unless a near-duplicate is already in; returns that one's index (None when added)."""
        sig = signature(text)
        found, _, keys = self._nearest(sig)
        if found is not None:
            return found
        self._insert(sig, keys)
        return None

    def insert(self, text: str) -> int:
        """Adds ``text`` without looking for a near-duplicate first (linear to build); returns its index."""
        sig = signature(text)
        return self._insert(sig, _band_keys(sig))

    def _insert(self, sig: array, keys: list[int]) -> int:
        index = len(self._signatures)
        self._signatures.append(sig)
        for key in keys:
            present = self._buckets.get(key)
            if present is None:
                self._buckets[key] = index
            elif isinstance(present, int):
                self._buckets[key] = [present, index]
            else:
                present.append(index)
        return index


def content_hash(*parts: str, length: int = 12) -> str:
    """A short stable id from content: hex of sha256 over the parts, NUL-separated."""
    digest = hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()
    return digest[:length]


__all__ = ["DEFAULT_THRESHOLD", "NearDuplicateIndex", "content_hash", "shingles", "signature", "similarity"]
