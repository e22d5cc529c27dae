"""The line parser gives exactly the streaming builder's tree and positions, or steps aside.

`yamlio._LineParser` reads the block-style YAML most specs are written in without PyYAML's
events; on anything it does not fully understand it raises `_Unusual` and `_StreamBuilder`
(libyaml's events) decides. So the one property that matters: whenever the line parser returns
a tree, libyaml reads the same document to the same tree, with the same positions. It is checked
on every YAML file of the repository and on thousands of generated documents, each also mutated
at random by the characters YAML gives meaning to.
"""

from __future__ import annotations

import random

import pytest
from helpers import REPO
from test_yaml_stream import REPOSITORY_YAML, USUAL, assert_same

from charter.spec import yamlio


def line_tree(text: str):
    try:
        return yamlio._LineParser(text, "spec.yaml").document()
    except yamlio._Unusual:
        return None


def assert_agrees(text: str) -> bool:
    """Whether the line parser took ``text``; when it did, libyaml's events give the same tree."""
    fast = line_tree(text)
    if fast is None:
        return False
    try:
        streamed = yamlio._stream_parse(text, "spec.yaml")
    except yamlio._Unusual as err:
        raise AssertionError(f"the line parser took a document libyaml's events do not ({err}):\n{text}") from None
    try:
        assert_same(streamed, fast)
    except AssertionError as err:
        raise AssertionError(f"{err}: a different tree from the line parser for\n{text}") from None
    return True


@pytest.mark.parametrize("path", REPOSITORY_YAML, ids=lambda p: str(p.relative_to(REPO)))
def test_every_yaml_file_of_the_repository_reads_the_same(path):
    assert_agrees(yamlio.decode(path.read_bytes(), path.name))


@pytest.mark.parametrize("name", sorted(USUAL))
def test_the_stream_builders_documents_read_the_same(name):
    assert_agrees(USUAL[name])


def test_the_bundled_characters_and_the_benchmark_spec_take_the_line_parser():
    """The fast path is not lost without notice: these are what users and benchmarks read."""
    import sys
    sys.path.insert(0, str(REPO / "benchmarks"))
    from synthetic import synthetic_spec

    texts = {p.name: p.read_text(encoding="utf-8") for p in sorted((REPO / "characters").rglob("*.yaml"))}
    texts["synthetic"] = synthetic_spec(rules=200, tensions=20, examples=200)
    for name, text in texts.items():
        assert assert_agrees(text), name


# Documents the line parser must leave to libyaml, or read as libyaml does: each a construct at
# the edge of what it takes.
EDGES = [
    "a: 1\nb:\n  - x\n  - y\nc: {d: [e, 'f', \"g\"], h: {}}\n",
    "a:\n- x\n- y: 1\n  z: 2\nb: 3\n",
    "- a\n- b\n",
    "a: b # comment\nc: 'd' # comment\ne: [f] # comment\n",
    "a: b#c\nd: e #f\n",
    "a: b:c\nd: e: f\n",
    "a: x:\n",
    "a: 'it''s'\nb: ''''\nc: ''\n",
    "a: \"x\\ny\"\n",
    "a: 'x\n  y'\n",
    "a: x\n  y\n",
    "a: x\n\n  y\n",
    "a: >-\n  one\n  two\n\n  three\n    four\n  five\nb: 1\n",
    "a: >\n  one\n  two\n\n\nb: 1\n",
    "a: |+\n  one\n\n\nb: 1\n",
    "a: |-\n  one\n   two\n  three\n",
    "a: |\n  one\n  # not a comment\nb: 1\n",
    "a: >-\n  one\n# a comment\nb: 1\n",
    "a: >-\n\n  one\n",
    "a: >2\n   one\n",
    "a: >- # note\n  one\n",
    "a: >-\n  one\n   \n  two\n",
    "a: >-\n  one\n  \n  two\n",
    "a: >-\n  one",
    "a: |\n  one\n  ",
    "a: |\n  one\n     ",
    "a:\n  b: >\n    one\n    two\n  c: d\n",
    "- >-\n  one\n  two\n- three\n",
    "a:\n  - b: >-\n      one\n      two\n    c: d\n",
    "a: [rule:x, b:c, d]\nb: [x: y]\nc: [a, b,]\nd: [ a , b ]\ne: []\nf: {}\ng: { }\n",
    "a: [[1, 2], [x, {y: z}]]\n",
    "a: {b: c, b: d}\n",
    "a: 1\na: 2\n",
    "a: yes\nb: No\nc: ~\nd: null\ne: 1.5\nf: 0x1F\ng: 2024-01-02\nh: 1_000\ni: .inf\nj: 0o17\nk: 2001-12-14t21:59:43.10-05:00\n",
    "a: [yes, No, ~, 1.5, 2024-01-02, -1]\n",
    "a: -1\nb: -x\nc: ?x\nd: :x\n",
    "a: &x 1\nb: *x\n",
    "a: !!str 1\n",
    "a:\tb\n",
    "a: b\t\n",
    "a: b\r\nc: d\r\n",
    "a: b\x85c\n",
    "a: b\u2028c\n",
    "a: b\x07\n",
    "a: \ufeffb\n",
    "a: caf\u00e9 \u2014 na\u00efve \U0001f600\nb: [\u00e9, '\u00e8']\n",
    "a: \u00a0b\n",
    "a: b\u00a0\n",
    "---\na: 1\n",
    "a: 1\n...\n",
    "%YAML 1.1\n---\na: 1\n",
    "a: 1\n---\nb: 2\n",
    "  a: 1\n  b: 2\n",
    "  a: 1\nb: 2\n",
    "a:\n  b: 1\n c: 2\n",
    "a:\n    b: 1\n  c: 2\n",
    "a:\n  - x\n   - y\n",
    "a:\n  - x\n  y: 1\n",
    "? a\n: b\n",
    "a : b\n",
    "a:b\n",
    "'a': b\n",
    "<<: {a: 1}\n",
    "a:\n",
    "a:\nb: 1\n",
    "a: # nothing\n  b: 1\n",
    "a:\n  # comment\n  b: 1\n# end\n",
    "a: b\n# comment\n\n   \nc: d\n",
    "a:\n-\n  b\n",
    "a:\n- - x\n",
    "- a: 1\n  - b\n",
    "a: [b\nc: d\n",
    "a: [b, {c: [d, e]}, 'f'] extra\n",
    "a: 'b' 'c'\n",
    "a: 'b'c\n",
    "a: [b]c\n",
    "a: {b}\n",
    "a: {b: }\n",
    "a: {b:c}\n",
    "a: [a#b, c #d]\n",
    "a: [:x, -y, ?z]\n",
    "a: x]\nb: y}\nc: z,\n",
    "a: `x`\nb: @x\nc: %x\n",
    "a: |x\n",
    "a: x |\n  y\n",
    "a:\n  - |\n    one\n  - two\n",
    "a: " + "[" * 99 + "x" + "]" * 99 + "\n",
    "a: " + "[" * 100 + "x" + "]" * 100 + "\n",
    "k" * 300 + ": x\n",
    "a: " + "x" * 5000 + "\n",
    "a: 'x'   \nb: y   \n",
    "a:    b\n-    c\n",
    "a:\n  -   b\n  -   c: 1\n      d: 2\n",
    "",
    "# only\n",
    "\n\n",
    "a: 1",
    "a: 1\n\n\n",
]


@pytest.mark.parametrize("index", range(len(EDGES)))
def test_edge_documents_read_the_same_or_go_to_libyaml(index):
    assert_agrees(EDGES[index])


# --- generated documents ---

PLAIN = ["text", "Never say never", "a#b", "rule:honesty", "it's", "caf\u00e9", "\U0001f600 ok", "a, b", "x [y] {z}",
         "ends with a dot.", "1.0.0", "12 apples", "Online", "nullable", "q''q", "e\\n", "50% off", "a - b"]
TRICKY = ["yes", "No", "null", "~", "true", "Off", "1", "1.5", "0x1f", "2024-01-02", "1.0.0", "-1", ".inf",
         "text", "Never say never", "a#b", "a #b", "a: b", "a:b", "x:", "rule:honesty", "it's", "[x]", "{y}",
         "caf\u00e9", "\U0001f600 ok", "a, b", "- x", "? y", ": z", "!tag", "&a", "*b", "|", ">", "'q'", '"d"',
         "@at", "`bt`", "%p", "<<", "x  ", "  x", "\u00a0x", "tab\tx", "q''q", "e\\n"]
KEYS = ["id", "text", "a", "b-c", "d.e", "f_g", "1", "no", "yes", "serves", "when", "rules"]
TRICKY_KEYS = ["<<", "k k", "'q'", "h:i", "-x", "?"]


def word(rng: random.Random) -> str:
    return rng.choice(TRICKY) if rng.random() < 0.08 else rng.choice(PLAIN)


def keys(rng: random.Random, count: int) -> list[str]:
    chosen = rng.sample(KEYS, count)
    if chosen and rng.random() < 0.05:
        chosen[0] = rng.choice(TRICKY_KEYS)
    return chosen


def scalar(rng: random.Random, flow: bool) -> str:
    text = word(rng)
    style = rng.random()
    if style < 0.2:
        return "'" + text.replace("'", "''") + "'"
    if style < 0.3:
        return '"' + text + '"'
    return text


def flow_node(rng: random.Random, depth: int) -> str:
    kind = rng.random()
    if depth < 3 and kind < 0.25:
        items = [flow_node(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
        return "[" + rng.choice([", ", ",", " , "]).join(items) + rng.choice(["]", " ]", ",]"][:2 + (rng.random() < 0.05)])
    if depth < 3 and kind < 0.4:
        keys_ = keys(rng, rng.randrange(0, 3))
        items = [f"{key}:{rng.choice([' ', '  ', ''])}{flow_node(rng, depth + 1)}" for key in keys_]
        return "{" + rng.choice([", ", ","]).join(items) + rng.choice(["}", " }"])
    return scalar(rng, True)


def block_scalar(rng: random.Random, indent: int) -> list[str]:
    header = rng.choice(["|", ">", "|-", ">-", ">-", ">-", "|+", ">+", "| # c"] + [">2"] * (rng.random() < 0.05))
    lines = [header]
    pad = " " * (indent + rng.choice([1, 2, 2, 2, 4]))
    for _ in range(rng.randrange(1, 6)):
        roll = rng.random()
        if roll < 0.15:
            lines.append("")
        elif roll < 0.18:
            lines.append(pad + " " * rng.randrange(0, 3))
        elif roll < 0.25:
            lines.append(pad + "  more indented " + word(rng))
        elif roll < 0.27:
            lines.append(" " * max(0, indent - 1) + "# comment")
        else:
            lines.append(pad + word(rng) + " " + word(rng))
    return lines


def value(rng: random.Random, indent: int, depth: int) -> tuple[str, list[str]]:
    """The text after a key's colon (or a dash) and the lines below it."""
    roll = rng.random()
    if depth < 4 and roll < 0.2:
        return "", block_mapping(rng, indent + rng.choice([2, 2, 4, 1]), depth + 1)
    if depth < 4 and roll < 0.35:
        step = rng.choice([0, 2, 2, 4])
        return "", block_sequence(rng, indent + step, depth + 1)
    if roll < 0.5:
        lines = block_scalar(rng, indent)
        return lines[0], lines[1:]
    if roll < 0.65:
        return flow_node(rng, 0), []
    comment = rng.choice(["", "", "", " # note", "  #x"])
    below = []
    if rng.random() < 0.02:
        below = [" " * (indent + 2) + word(rng)]  # a continuation line
    return scalar(rng, False) + comment, below


def block_mapping(rng: random.Random, indent: int, depth: int) -> list[str]:
    lines = []
    for key in keys(rng, rng.randrange(1, 5)):
        after, below = value(rng, indent, depth)
        colon = (rng.choice([": "] * 12 + [":  ", " : "]) if after
                 else rng.choice([":", ":", ": ", ":  # c"]))
        lines.append(" " * indent + key + colon + after)
        lines.extend(below)
        if rng.random() < 0.1:
            lines.append(rng.choice(["", "   ", " " * indent + "# comment"]))
    if rng.random() < 0.03:
        lines.append(lines[0])  # a duplicate key
    return lines


def block_sequence(rng: random.Random, indent: int, depth: int) -> list[str]:
    lines = []
    for _ in range(rng.randrange(1, 4)):
        dash = " " * indent + rng.choice(["- ", "- ", "-  "])
        if depth < 4 and rng.random() < 0.3:  # a compact mapping
            inner = block_mapping(rng, len(dash), depth + 1)
            lines.append(dash + inner[0][len(dash):])
            lines.extend(inner[1:])
            continue
        after, below = value(rng, indent, depth)
        if not after:
            after = scalar(rng, False)
            below = []
        lines.append(dash + after)
        lines.extend(below)
    return lines


def document(rng: random.Random) -> str:
    text = "\n".join(block_mapping(rng, 0, 0))
    return text + rng.choice(["\n", "\n", "", "\n\n"])


MUTATIONS = list(" \n:-#'\"[]{},|>!&*?\t\u00e9") + ["  ", "\n  ", ": ", "- ", " #"]


def mutated(rng: random.Random, text: str) -> str:
    for _ in range(rng.randrange(1, 3)):
        at = rng.randrange(0, len(text) + 1)
        roll = rng.random()
        if roll < 0.4:
            text = text[:at] + rng.choice(MUTATIONS) + text[at:]
        elif roll < 0.7:
            text = text[:at] + text[at + 1:]
        else:
            text = text[:at] + rng.choice(MUTATIONS) + text[at + 1:]
    return text


@pytest.mark.parametrize("seed", range(8))
def test_generated_documents_read_the_same_or_go_to_libyaml(seed):
    rng = random.Random(seed)
    taken = mutants_taken = 0
    for _ in range(400):
        text = document(rng)
        taken += assert_agrees(text)
        for _ in range(2):
            mutants_taken += assert_agrees(mutated(rng, text))
    # The generator must reach the line parser's own ground, not only what it leaves to libyaml.
    assert taken >= 120 and mutants_taken >= 120, (taken, mutants_taken)


@pytest.mark.parametrize("window", [0, 1, 13, 200])
def test_rows_cut_by_windows_and_dropped_as_the_parser_goes_read_the_same(monkeypatch, window):
    """The parser cuts lines into rows a window of about _WINDOW characters at a time, and lets
    rows it has read go every _DROP_EVERY rows (a 10 MB spec's rows all at once were 60 MB beside
    its tree). With windows of a line or a few, and a drop every other row, every document still
    reads the same: no row is read before it is cut or after it is dropped, and no window loses
    or adds a line."""
    monkeypatch.setattr(yamlio, "_DROP_EVERY", 2)
    monkeypatch.setattr(yamlio, "_WINDOW", window)
    import sys
    sys.path.insert(0, str(REPO / "benchmarks"))
    from synthetic import synthetic_spec

    texts = [yamlio.decode(path.read_bytes(), path.name) for path in REPOSITORY_YAML]
    texts += [synthetic_spec(rules=100, tensions=10, examples=100), *EDGES]
    rng = random.Random(99)
    texts += [document(rng) for _ in range(300)]
    taken = sum(assert_agrees(text) for text in texts)
    assert taken >= 100, taken
