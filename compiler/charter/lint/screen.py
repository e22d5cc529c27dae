"""Screening many texts for a regular expression at once, so that Python's `re` reads only the few that may match.

The lint rules search every clause of a spec for a dozen large patterns. Python's `re` takes
microseconds per character for an alternation of fifty phrases, and compiling such a pattern
costs milliseconds of pure Python, paid at every start-up. RE2 (google-re2, a dependency
already) compiles in C++ and scans all the texts, joined one to a line, in one linear pass; but
it reads another dialect: no look-arounds, and ASCII-only ``\\b \\w \\s``. So RE2 only rules
texts out: each pattern is translated into an RE2 pattern that matches at least wherever the
Python one does (look-arounds dropped, ``\\s`` widened to the whitespace Python's ``\\s`` matches
in ASCII, ``^``/``$`` at each line), a text that RE2 does not match cannot match the Python
pattern, and a text it does match is searched by Python's `re` exactly as before. Every result
a rule sees is `re`'s own; RE2 only decides which texts need not be searched. Texts with a
character outside ASCII, where the dialects' classes differ, are always searched by `re`.

The Python pattern is compiled on first use, so a run in which RE2 rules out every text never
compiles it at all.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import Sequence

# What Python's \s matches in ASCII text (str.isspace): RE2's \s lacks \v and \x1c-\x1f.
_ASCII_SPACE = r"\t\n\v\f\r\x1c-\x1f "
_PLAIN = re.compile(r"[^\\\[{(]+")  # up to the next escape, class, brace or group
_QUANTIFIER = re.compile(r"\{(\d*)(,\d*)?\}")
_SCREENABLE_FLAGS = re.IGNORECASE | re.DOTALL | re.MULTILINE | re.UNICODE | re.ASCII
_UNTRANSLATABLE = object()
# From this length up a single text is worth screening alone (a call to RE2 costs microseconds).
LONG_TEXT = 2000


def _class_end(pattern: str, start: int) -> int:
    """The index just past the character class that opens at ``start`` (a ``[``)."""
    i = start + 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":  # a leading ] is a literal
        i += 1
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
        elif pattern[i] == "]":
            return i + 1
        else:
            i += 1
    raise ValueError("unterminated character class")


def _group_end(pattern: str, start: int) -> int:
    """The index just past the group that opens at ``start`` (a ``(``)."""
    depth, i = 0, start
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            i = _class_end(pattern, i)
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError("unbalanced parenthesis")


def re2_superset(pattern: str, flags: int = 0) -> str | None:
    """An RE2 pattern that, on ASCII text with one candidate text to a line, matches wherever
    ``pattern`` matches one of the lines on its own; None when the pattern uses what cannot be
    carried over (back-references, conditionals, verbose mode)."""
    if flags & ~_SCREENABLE_FLAGS:
        return None
    out: list[str] = []
    i, n = 0, len(pattern)
    try:
        while i < n:
            plain = _PLAIN.match(pattern, i)
            if plain is not None:  # literals, alternations and quantifiers carry over as they are
                out.append(plain.group())
                i = plain.end()
                continue
            c = pattern[i]
            if c == "\\":
                escaped = pattern[i + 1]
                if escaped == "s":
                    out.append(f"[{_ASCII_SPACE}]")
                elif escaped == "S":
                    out.append(f"[^{_ASCII_SPACE}]")
                elif escaped == "A":
                    out.append("^")  # the start of the text is the start of its line
                elif escaped == "Z":
                    out.append("$")
                elif escaped.isdigit() or escaped in "gN":
                    return None  # a back-reference or a named character
                else:
                    out.append(pattern[i:i + 2])
                i += 2
            elif c == "[":
                end = _class_end(pattern, i)
                body = pattern[i:end]
                if "\\S" in body or "\\b" in body:
                    return None
                out.append(body.replace("\\s", _ASCII_SPACE))
                i = end
            elif c == "{":
                quantifier = _QUANTIFIER.match(pattern, i)
                if quantifier is None:
                    return None  # Python reads a stray brace as a literal; RE2 may not
                low, high = quantifier.groups()
                out.append("{" + (low or "0") + (high or "") + "}")
                i = quantifier.end()
            elif pattern.startswith(("(?=", "(?!", "(?<=", "(?<!"), i):
                # A look-around only narrows a match: without it the pattern matches more.
                i = _group_end(pattern, i)
                if i < n and pattern[i] in "*+?{":
                    return None
            elif pattern.startswith(("(?P=", "(?(", "(?#"), i):
                return None
            else:  # a group that is not a look-around
                out.append(c)
                i += 1
    except (IndexError, ValueError):
        return None
    inline = "m" + ("i" if flags & re.IGNORECASE else "") + ("s" if flags & re.DOTALL else "")
    return f"(?{inline}){''.join(out)}"


class Pattern:
    """A regular expression that Python's `re` reads (compiled on first use), with an RE2 screen
    that rules texts out in bulk (``Texts.candidates``)."""

    __slots__ = ("pattern", "flags", "_exact", "_screen")

    def __init__(self, pattern: str, flags: int = 0):
        self.pattern = pattern
        self.flags = flags
        self._exact: re.Pattern | None = None
        self._screen: object = None

    @property
    def exact(self) -> re.Pattern:
        if self._exact is None:
            self._exact = re.compile(self.pattern, self.flags)
        return self._exact

    def search(self, text: str, *span: int) -> re.Match | None:
        return self.exact.search(text, *span)

    def match(self, text: str, *span: int) -> re.Match | None:
        return self.exact.match(text, *span)

    def search_long(self, text: str) -> re.Match | None:
        """``search(text)``, with RE2 first when the text is long: it rules the text out, or says
        where `re` may start (no match can start before RE2's first, which `re` would also find)."""
        if len(text) < LONG_TEXT or not text.isascii():
            return self.exact.search(text)
        screen = self.screen
        if screen is None:
            return self.exact.search(text)
        first = screen.search(text.encode("ascii"))
        # A search from a position still reads the text before it for \b and look-behinds.
        return None if first is None else self.exact.search(text, first.start())

    @property
    def screen(self):
        """The compiled RE2 superset, or None when the pattern has none."""
        if self._screen is None:
            self._screen = _UNTRANSLATABLE
            translated = re2_superset(self.pattern, self.flags)
            if translated is not None:
                try:
                    import re2  # only a lint run that screens needs it
                except ImportError:  # pragma: no cover - google-re2 is a dependency; re alone gives the same answers
                    return None
                try:
                    self._screen = re2.compile(translated.encode("utf-8"))
                except re2.error:  # beyond RE2 (its memory budget, a construct it lacks): every text is searched
                    pass
        return None if self._screen is _UNTRANSLATABLE else self._screen

    def __repr__(self) -> str:
        return f"Pattern({self.pattern[:40]!r}...)"


class Texts:
    """Texts to screen together: the ASCII ones joined one to a line, the others kept aside (always searched)."""

    __slots__ = ("texts", "_joined", "_starts", "_positions", "_others", "_found")

    def __init__(self, texts: Sequence[str]):
        self.texts = texts
        ascii_positions = [n for n, text in enumerate(texts) if text.isascii()]
        self._positions = ascii_positions
        self._others = [n for n, text in enumerate(texts) if not text.isascii()]
        starts, offset = [], 0
        for n in ascii_positions:
            starts.append(offset)
            offset += len(texts[n]) + 1
        self._starts = starts
        self._joined = "\n".join(texts[n] for n in ascii_positions).encode("ascii")
        self._found: dict[Pattern, list[int]] = {}  # keyed by the pattern itself, kept alive with its answer

    def candidates(self, pattern: Pattern) -> list[int]:
        """The positions, in order, of the texts ``pattern.search`` may match: every text RE2 does not
        rule out. Each position is a text to search with ``pattern``; the others cannot match."""
        found = self._found.get(pattern)
        if found is not None:
            return found
        screen = pattern.screen
        if screen is None:
            found = list(range(len(self.texts)))
        else:
            hits: list[int] = []
            starts, positions, joined = self._starts, self._positions, self._joined
            search = screen.search
            offset = 0
            while starts and (match := search(joined, offset)) is not None:
                line = bisect_right(starts, match.start()) - 1
                hits.append(positions[line])
                if line + 1 >= len(starts):
                    break
                offset = starts[line + 1]
            found = sorted(hits + self._others) if self._others else hits
        self._found[pattern] = found
        return found

    def may_match(self, pattern: Pattern) -> list[bool]:
        """For each text, whether ``pattern.search`` may match it (False: it cannot)."""
        flags = [False] * len(self.texts)
        for n in self.candidates(pattern):
            flags[n] = True
        return flags
