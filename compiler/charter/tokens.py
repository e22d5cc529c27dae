"""An offline token estimate: no tokenizer file, no download, the same answer everywhere."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable

# Splits text the way GPT-style BPE pre-tokenizers do: contractions, a word with its leading
# space, runs of up to three digits, punctuation runs, whitespace.
_PIECE = re.compile(r"'(?:[sdmt]|ll|ve|re)(?![^\W\d_])| ?[^\W\d_]+| ?\d{1,3}| ?[^\s\w]+|\s+")

# Fitted by grid search (see estimate_tokens) on prompts, monitors, judge messages, design
# notes, YAML and Python from this project, minimising the worst relative error.
_WHOLE_WORD = 5  # letters a common English word carries in one token
_LETTERS_PER_EXTRA_TOKEN = 5.0  # longer words cost one more token per this many letters
_PUNCTUATION_PER_TOKEN = 1.5  # Markdown and code punctuation merges a little ("**", "```")
_WHITESPACE_TOKEN = 0.5  # newline and indentation runs often merge with a neighbour
_NON_ASCII_TOKEN = 1.0  # accented, CJK and emoji characters cost about a token each


# Texts at least this long are remembered: a runner or a rate limiter estimates the same
# compiled system prompt (tens of KB) on every call, and a short text costs less to count than
# to look up.
_REMEMBERED_LENGTH = 2_000


def estimate_tokens(text: str) -> int:
    """Estimate how many tokens ``text`` is for current chat models, without a tokenizer.

    The one estimate of the project: prompt budgets and the manifest in the build, chunking in
    the prose importer, the rate limiter's up-front charge, and the fake server's usage figures.

    How far off it can be, measured on 126 English texts of this project against o200k_base
    (GPT-4o, GPT-4.1, GPT-5), cl100k_base (GPT-4, GPT-3.5) and Anthropic's published legacy
    Claude tokenizer. The constants were fitted before the shipped characters existed, so the
    figures on their prompts are held-out:

    - rendered system prompts and monitor prompts: -2% .. +10% (o200k +5 .. +9%, cl100k
      +4 .. +9%, legacy Claude -2 .. +4%): the estimate leans high, the safe side for a budget;
    - judge messages (short, 150 to 400 tokens): -8% .. +12%;
    - other English prose, spec YAML and Python source: -18% .. +8%;
    - other scripts are coarser: French, German and Spanish -36% .. +10%, Japanese and emoji up
      to +44% (each non-ASCII character is counted as a token).

    For comparison, characters / 4 is off by -28% .. +22% on the same English texts. Current
    Claude models use a tokenizer that is not published and can count noticeably more tokens
    than the legacy one; use the provider's token-counting endpoint where an exact figure matters.
    """
    return _estimate_long(text) if len(text) >= _REMEMBERED_LENGTH else _estimate(text)


@lru_cache(maxsize=64)
def _estimate_long(text: str) -> int:
    # A long text of a message's size is costed chunk by chunk, with the chunks remembered across
    # texts: a run's judge messages are each new, but share the monitor's instructions and differ
    # in a line or two. A document-sized text (a large spec's prompt) shares little with the next
    # one and is cheaper to cost piece by piece than to cut and remember.
    if len(text) > _CHUNKED_LENGTH:
        return _estimate(text)
    if len(_CHUNK_COSTS) > _CHUNK_COSTS_KEPT:
        _CHUNK_COSTS.clear()
    if len(_PIECE_COSTS) > _PIECE_COSTS_KEPT:
        _PIECE_COSTS.clear()
    return _estimate_chunked(text, _CHUNK_COSTS, _PIECE_COSTS, longest_kept=_CHUNK_KEPT_LENGTH)


# The estimate is a sum of multiples of 1/5 (letters past a whole word), 1/3 (punctuation: 1/1.5 a
# character) and 1/2 (whitespace): it is added in whole units of a thirtieth of a token, exactly.
# A sum of floats depends on the order of its terms and on the Python version (3.12's sum
# compensates rounding), and a text's figure had to be added term by term in text order; whole
# units give one answer however the terms are grouped, so a chunk's cost is one integer.
_UNITS = 30  # per token


def _whole(value: float) -> int:
    units = value * _UNITS
    assert units == int(units), "a cost that is not a whole number of units"
    return int(units)


_WORD_UNITS = _whole(1)
_EXTRA_LETTER_UNITS = _whole(1 / _LETTERS_PER_EXTRA_TOKEN)
_PUNCTUATION_UNITS = _whole(1 / _PUNCTUATION_PER_TOKEN)
_WHITESPACE_UNITS = _whole(_WHITESPACE_TOKEN)
_NON_ASCII_UNITS = _whole(_NON_ASCII_TOKEN)


def _piece_units(piece: str) -> int:
    """What one pre-token piece adds to the estimate, in units (see _UNITS)."""
    if piece[0] == " ":
        piece = piece[1:]
    if not piece or piece[0].isspace():
        return _WHITESPACE_UNITS
    non_ascii = 0 if piece.isascii() else sum(1 for char in piece if ord(char) > 127)
    first = piece[0]
    if first.isalpha() or first == "'":
        extra = len(piece) - non_ascii - _WHOLE_WORD
        return _WORD_UNITS + non_ascii * _NON_ASCII_UNITS + (extra * _EXTRA_LETTER_UNITS if extra > 0 else 0)
    if first.isdigit():
        return _WORD_UNITS
    return (len(piece) - non_ascii) * _PUNCTUATION_UNITS + non_ascii * _NON_ASCII_UNITS


def _tokens(units: int) -> int:
    """``units`` in whole tokens, halves to even, as ``round`` does."""
    tokens, rest = divmod(units, _UNITS)
    return tokens + (2 * rest > _UNITS or (2 * rest == _UNITS and tokens % 2 == 1))


# The units of every piece seen (a pure function of the piece): texts share most of their words,
# and costing a piece again was half of estimating a text. Forgotten as a whole when it grows large.
_PIECE_COSTS: dict[str, int] = {}
_PIECE_COSTS_KEPT = 100_000


def _estimate(text: str) -> int:
    return _tokens(_units(text, _PIECE_COSTS, _PIECE_COSTS_KEPT))


def _units(text: str, costs: dict[str, int], kept: int | None = None) -> int:
    """The units of ``text``: each distinct piece costed once (in ``costs``, cleared first when it
    would pass ``kept`` entries), the adding in C."""
    pieces = _PIECE.findall(text)
    new = [piece for piece in set(pieces) if piece not in costs]
    if new:
        if kept is not None and len(costs) + len(new) > kept:
            costs.clear()
            new = set(pieces)
        for piece in new:
            costs[piece] = _piece_units(piece)
    return sum(map(costs.__getitem__, pieces))


def estimate_tokens_many(texts: Iterable[str]) -> list[int]:
    """``[estimate_tokens(t) for t in texts]``, with the work on lines the texts share done once.

    A build estimates one system prompt per context, and the prompts repeat most of their lines.
    Each text is cut into chunks at runs of newlines that sit between two non-space characters:
    there the pre-tokenizer's pieces cannot run across (no piece but a whitespace run holds a
    newline, and the runs stop at the non-space characters), so the text's pieces are its chunks'
    pieces with one whitespace piece per cut. Each distinct chunk is costed once, and as the costs
    are whole units (see _UNITS), a text's figure is its chunks' units added up: exactly
    `estimate_tokens`'s.
    """
    chunks: dict[str, int] = {}  # chunk -> its units
    piece_costs: dict[str, int] = {}
    return [_estimate_chunked(text, chunks, piece_costs) for text in texts]


# The chunks of long texts seen so far (see estimate_tokens_many), kept across calls and forgotten
# as a whole when they grow large.
_CHUNK_COSTS: dict[str, int] = {}
_CHUNK_COSTS_KEPT = 20_000
_CHUNK_KEPT_LENGTH = 10_000  # a longer chunk (a pasted document) is costed each time, never kept
_CHUNKED_LENGTH = 200_000  # texts up to this long are costed by remembered chunks (see _estimate_long)


def _estimate_chunked(text: str, chunks: dict[str, int], piece_costs: dict[str, int],
                      longest_kept: int | None = None) -> int:
    """``_estimate(text)`` from the units of its chunks, each found once in ``chunks`` (those up to
    ``longest_kept`` characters, when given)."""
    pieces_of, cuts = _chunks(text)
    units = cuts * _WHITESPACE_UNITS
    new = set(pieces_of).difference(chunks)
    if longest_kept is not None and any(len(chunk) > longest_kept for chunk in new):
        for chunk in new:
            if len(chunk) > longest_kept:
                count = pieces_of.count(chunk)
                units += count * _units(chunk, piece_costs)
        pieces_of = [chunk for chunk in pieces_of if len(chunk) <= longest_kept]
        new = {chunk for chunk in new if len(chunk) <= longest_kept}
    for chunk in new:
        chunks[chunk] = _units(chunk, piece_costs)
    return _tokens(units + sum(map(chunks.__getitem__, pieces_of)))


def _chunks(text: str) -> tuple[list[str], int]:
    """``text`` cut at each run of newlines between two non-space characters: the chunks in order,
    and how many whitespace pieces the cuts are (see estimate_tokens_many)."""
    lines = text.split("\n")
    if list(map(str.strip, lines)) == lines:
        # No line starts or ends with a space (a rendered prompt): every newline run is a cut, or,
        # at either end of the text, a whitespace piece of its own; the chunks are the lines.
        chunks = list(filter(None, lines))
        if not chunks:
            return [], 1 if len(lines) > 1 else 0
        return chunks, len(chunks) - 1 + (not lines[0]) + (not lines[-1])
    out: list[str] = []
    cuts = 0
    current = [lines[0]]
    index, count = 1, len(lines)
    while index < count:
        after = index
        while after < count and not lines[after]:  # empty lines: the newline run goes on
            after += 1
        last = current[-1]
        if after < count and last and not last[-1].isspace() and not lines[after][0].isspace():
            out.append("\n".join(current))
            cuts += 1
            current = [lines[after]]
        else:
            current.extend(lines[index:after + 1])
        index = after + 1
    out.append("\n".join(current))
    return out, cuts
