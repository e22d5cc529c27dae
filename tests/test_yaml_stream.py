"""The streaming YAML builder gives exactly the node builder's tree and positions, or steps aside.

`yamlio._StreamBuilder` builds specs from parser events (no node graph in memory); anything
unusual goes to `yaml.compose` and `_Builder`, whose diagnostics the rest of the suite pins.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from helpers import REPO

from charter.diagnostics import SpecError
from charter.spec import yamlio

sys.path.insert(0, str(REPO / "benchmarks"))
from synthetic import synthetic_spec  # noqa: E402

REPOSITORY_YAML = sorted(p for p in REPO.rglob("*.y*ml") if ".git" not in p.parts and p.suffix in (".yaml", ".yml"))

UNUSUAL = {
    "alias": "a: &x [1, 2]\nb: *x\n",
    "merge key": "base: &b {x: 1}\nchild:\n  <<: *b\n  y: 2\n",
    "inline merge": "child:\n  <<: {x: 1}\n  y: 2\n",
    "duplicate key": "a: 1\nb: 2\na: 3\n",
    "duplicate anchor": "a: &x 1\nb: &x 2\n",
    "unknown tag": "a: !custom x\n",
    "key that is a list": "? [a]\n: 1\n",
    "two documents": "a: 1\n---\nb: 2\n",
    "syntax error": "a: [1, 2\nb: 3\n",
    "too deep": "a: " + "[" * 120 + "]" * 120 + "\n",
    "bad int": "a: !!int nope\n",
}

USUAL = {
    "scalars of every tag": "a: yes\nb: 0x1f\nc: 1e3\nd: ~\ne: 2024-01-02\nf: !!binary aGk=\ng: '<<'\nh: \"x\"\n"
                            "i: !!str 12\nj: .nan\nk: -.inf\nl: 2001-12-14t21:59:43.10-05:00\n",
    "anchors never aliased": "a: &x 1\nb: &y [1, {c: &z d}]\n",
    "keys that look typed": "yes: 1\n1: 2\nnull: 3\n'<': 4\n<a: 5\n",
    "flow and block": "a: {b: [1, 2, {c: d}], e: []}\nf:\n  - - g\n    - h\n  - {}\n",
    "empty values": "a:\nb: []\nc: {}\nd: ''\n",
    "multi-line text": "a: |\n  one\n  two\nb: >-\n  three\n  four\n",
    "explicit document": "---\na: 1\n...\n",
    "only a comment": "# nothing\n",
    "empty": "",
    "a bare scalar": "just text\n",
    "a bare list": "- 1\n- two\n",
    "exactly MAX_DEPTH": "a: " + "[" * 99 + "x" + "]" * 99 + "\n",
    "synthetic spec": synthetic_spec(rules=60, tensions=6, examples=60),
    # Plain scalars starting with a character some implicit resolver is for: words it claims and
    # text it does not, as values and as list items (the builder's inline test, `_plain_text`).
    "plain words and text": "a: Never say never\nb: No\nc: no way\nd: NULL\ne: Nullable\nf: ~\ng: ~tilde\n"
                            "h: On\ni: Online\nj: off-road\nk: TRUE\nl: Truth\nm: y\nn: 12 apples\n"
                            "o: 1.0.0\np: .5\nq: .hidden\nr: =x\ns: '='\nt: -1\nu: -x\nv: 2024-01-02 at noon\n"
                            "w: [Yes, Yesterday, false, Falsehood, <a, 0o17, 0x, +, +.inf, nan, .NaN]\n",
}


def node_tree(text: str, file: str):
    """The reference: the whole node graph first, then `_Builder`, as before the streaming builder."""
    node = yaml.compose(text, Loader=yamlio._Loader)
    if node is None:
        return None
    builder = yamlio._Builder(file, budget=len(text) + yamlio.NODE_MARGIN)
    data = builder.build(node)
    assert not builder.diagnostics
    return data


def assert_same(expected, got, path="$"):
    assert type(got) is type(expected), path
    if isinstance(expected, yamlio.Mapping):
        assert list(got) == list(expected), path
        assert (got.loc, got.key_locs, got.value_locs) == (expected.loc, expected.key_locs, expected.value_locs), path
        for key in expected:
            assert_same(expected[key], got[key], f"{path}.{key}")
    elif isinstance(expected, yamlio.Sequence):
        assert (got.loc, got.item_locs, len(got)) == (expected.loc, expected.item_locs, len(expected)), path
        for index, (a, b) in enumerate(zip(expected, got)):
            assert_same(a, b, f"{path}[{index}]")
    elif expected != expected:  # NaN
        assert got != got, path
    else:
        assert got == expected, path


@pytest.mark.parametrize("name", sorted(USUAL))
def test_usual_documents_stream_to_the_same_tree(name):
    text = USUAL[name]
    assert_same(node_tree(text, "spec.yaml"), yamlio._stream_parse(text, "spec.yaml"))


@pytest.mark.parametrize("path", REPOSITORY_YAML, ids=lambda p: str(p.relative_to(REPO)))
def test_every_yaml_file_of_the_repository_streams_to_the_same_tree(path):
    text = yamlio.decode(path.read_bytes(), path.name)
    try:
        streamed = yamlio._stream_parse(text, path.name)
    except yamlio._Unusual:
        return  # the node builder decides, as before
    assert_same(node_tree(text, path.name), streamed)


@pytest.mark.parametrize("name", sorted(UNUSUAL))
def test_unusual_documents_go_to_the_node_builder(name):
    with pytest.raises(yamlio._Unusual):
        yamlio._stream_parse(UNUSUAL[name], "spec.yaml")


def test_the_bundled_characters_take_the_streaming_path():
    for path in sorted((REPO / "characters").rglob("*.yaml")):
        assert yamlio._stream_parse(path.read_text(encoding="utf-8"), path.name) is not None, path


@pytest.mark.parametrize("text, message", [("a: !!int nope\n", "1:4: error: 'nope' is not a valid int [yaml-tag]"),
                                           ("a:\n  - !!float x\n", "2:5: error: 'x' is not a valid float [yaml-tag]")])
def test_a_value_its_tag_refuses_is_a_positioned_error(text, message):
    with pytest.raises(SpecError) as caught:
        yamlio.parse_text(text, "spec.yaml")
    assert [d.format() for d in caught.value.diagnostics] == [f"spec.yaml:{message}"]
