"""charter.jsonenc writes exactly what json.dumps writes, whichever encoder it picks."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import random
import struct

import pytest

from charter import jsonenc


def expected_pretty(obj) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True)


def expected_line(obj, sort_keys=True) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=sort_keys, separators=(",", ":"))


def same(obj) -> None:
    assert jsonenc.pretty(obj) == expected_pretty(obj)
    assert jsonenc.pretty_bytes(obj) == (expected_pretty(obj) + "\n").encode("utf-8")
    assert jsonenc.line(obj) == expected_line(obj)
    assert jsonenc.line(obj, sort_keys=False) == expected_line(obj, sort_keys=False)


def test_orjson_is_used_where_it_matches():
    """The fast path is real: plain documents go to orjson (else this module would only cost time)."""
    assert jsonenc.orjson is not None
    assert jsonenc._fast({"a": [1, 2.5, None, True, "é"]}, 0) is not None


def test_every_code_point_is_escaped_or_kept_as_json_does():
    text = "".join(chr(c) for c in range(0x0, 0xD800)) + "".join(chr(c) for c in range(0xE000, 0x110000, 7))
    for start in range(0, len(text), 4096):
        chunk = text[start:start + 4096]
        same({chunk: chunk, "list": [chunk]})


def test_keys_sort_by_code_point_like_python():
    rng = random.Random(3)
    alphabet = ["a", "B", "_", "-", "0", "é", "ß", "\u00ff", "\u0100", "\uffff", "\U00010000", "\U0001f600", "\x00",
                "\x7f", "\u2028", " "]
    for _ in range(200):
        keys = {"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 4))) for _ in range(12)}
        same({key: index for index, key in enumerate(sorted(keys, key=lambda k: rng.random()))})


def test_random_floats_are_written_as_repr_writes_them():
    rng = random.Random(11)
    values = [struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0] for _ in range(20_000)]
    values += [rng.uniform(-1e6, 1e6) for _ in range(5_000)] + [rng.random() for _ in range(5_000)]
    values += [0.0, -0.0, 1.0, 0.1, 1e-4, 9.999e-5, 1e-5, 1e15, 1e16, 1e17, 1.7976931348623157e308, 5e-324,
               2.0 ** 63, 123456789012345680.0, math.pi, -1e-300]
    for start in range(0, len(values), 1_000):
        same(values[start:start + 1_000])


def test_what_orjson_writes_differently_goes_to_json():
    for odd in (math.nan, math.inf, -math.inf, 1e-5, -2.5e-7):
        same({"x": [1, odd]})
    same({"big": 2 ** 64, "small": -(2 ** 63) - 1, "fits": 2 ** 64 - 1})
    same({2: "int keys", 1: "become text"})
    same({True: "so do", False: "these"})
    deep: list = []
    node = deep
    for _ in range(400):
        node.append([])
        node = node[0]
    same(deep)

    class Colour(enum.Enum):
        RED = "red"

    @dataclasses.dataclass
    class Point:
        x: int

    for unsupported in (Colour.RED, Point(1), {1, 2}, b"bytes"):
        with pytest.raises(TypeError):
            jsonenc.pretty({"v": unsupported})
        with pytest.raises(TypeError):
            jsonenc.line({"v": unsupported})
    assert jsonenc.line({"v": Colour.RED}, default=str) == expected_line({"v": "Colour.RED"})


def test_subclasses_and_tuples_match():
    class Text(str):
        pass

    class Count(int):
        pass

    class Tree(dict):
        pass

    class Items(list):
        pass

    same({"t": Text("x"), "c": Count(3), "tree": Tree(a=Items([1, (2, 3)])), "tuple": (1, "two", None)})


def test_random_documents_match():
    rng = random.Random(5)
    scalars = [None, True, False, 0, -1, 2 ** 40, 3.25, -0.5, 1e20, "", "plain", "quote\"back\\slash", "tab\tnew\nline",
               "ünïcødé ✓ 😀", "\u2028\u2029", "\x00\x1f\x7f"]

    def document(depth: int):
        roll = rng.random()
        if depth > 4 or roll < 0.4:
            return rng.choice(scalars)
        if roll < 0.7:
            return [document(depth + 1) for _ in range(rng.randint(0, 4))]
        return {rng.choice(["a", "b", "Z", "é", "key", "10", "9", ""]): document(depth + 1) for _ in range(rng.randint(0, 5))}

    for _ in range(500):
        same(document(0))


def test_lines_is_one_record_per_line():
    records = [{"b": 1, "a": "x"}, {"c": [1.5, None]}]
    assert jsonenc.lines(records) == "".join(expected_line(r) + "\n" for r in records)
    assert jsonenc.lines([]) == ""


def test_text_record_lines_and_line_bytes_match_json():
    """text_record_lines (orjson, unchecked) on records of text, ints, bools and None, and
    line_bytes (checked) on any record, write what json writes; what orjson refuses (an integer
    beyond 64 bits) goes to json."""
    rng = random.Random(17)
    alphabet = ["a", "Z", " ", "\"", "\\", "\n", "\t", "\x00", "\x1f", "\x7f", "é", "✓", "😀", "\u2028", "\U0010ffff"]
    leaves = [None, True, False, 0, -7, 2 ** 63 - 1, -(2 ** 63)]

    def text() -> str:
        return "".join(rng.choices(alphabet, k=rng.randint(0, 12)))

    def record(depth: int = 0):
        roll = rng.random()
        if depth > 3 or roll < 0.4:
            return text() if rng.random() < 0.7 else rng.choice(leaves)
        if roll < 0.7:
            return [record(depth + 1) for _ in range(rng.randint(0, 3))]
        return {text(): record(depth + 1) for _ in range(rng.randint(0, 4))}

    for _ in range(300):
        records = [record() for _ in range(rng.randint(0, 5))]
        assert jsonenc.text_record_lines(records) == "".join(expected_line(r) + "\n" for r in records).encode("utf-8")
        for item in records:
            assert jsonenc.line_bytes(item) == expected_line(item).encode("utf-8")
    plain_floats = [{"r": [0.0, -0.0, 1e-4, 0.001, 1.5, 2 / 3, 123.456, 1e15, 1e16, 1e300, -7.25]}]
    assert jsonenc.text_record_lines(plain_floats) == "".join(expected_line(r) + "\n" for r in plain_floats).encode()
    huge = [{"n": 2 ** 70, "t": "x"}, {"a": "b"}]
    assert jsonenc.text_record_lines(huge) == "".join(expected_line(r) + "\n" for r in huge).encode("utf-8")
    assert jsonenc.line_bytes({"f": 1e-05, "g": [float("nan")]}) == expected_line({"f": 1e-05, "g": [float("nan")]}).encode()


def _reference_walk(obj, depth=0) -> bool:
    """The safety walk's definition, one call per container: what the shortcuts must agree with."""
    if depth >= jsonenc._MAX_DEPTH:
        return False
    if isinstance(obj, dict):
        if any(type(key) is not str for key in obj):
            return False
        values = list(obj.values())
    elif isinstance(obj, (list, tuple)):
        values = list(obj)
    else:
        values = [obj]
    for value in values:
        kind = type(value)
        if kind in (str, int, bool, type(None)):
            continue
        if kind is float:
            if value != 0.0 and not (1e-4 <= abs(value) < math.inf):
                return False
        elif isinstance(value, (dict, list, tuple)):
            if not _reference_walk(value, depth + 1):
                return False
        else:
            return False
    return True


def test_safety_walk_shortcuts_agree_with_its_definition():
    """The walk (recursive for small containers, level by level for wide ones) and the level-by-level
    walk alone both give the definition's verdict, on narrow and on wide documents."""
    rng = random.Random(23)
    scalars = [None, True, 0, 2 ** 70, 1.5, 1e-5, math.nan, "text", b"bytes", 3 + 0j, -0.0, math.inf]

    class Tree(dict):
        pass

    class Items(list):
        pass

    def width(depth: int) -> int:  # wide containers only near the top, so documents stay small
        return rng.randint(jsonenc._WIDE - 2, jsonenc._WIDE + 20) if depth < 2 and rng.random() < 0.3 else rng.randint(0, 3)

    def document(depth: int):
        roll = rng.random()
        if depth > 4 or roll < 0.35:
            return rng.choice(scalars) if rng.random() < 0.3 else rng.choice(scalars[:4] + scalars[7:8])
        if roll < 0.5:
            return [document(depth + 1) for _ in range(width(depth))]
        if roll < 0.55:
            return Items(document(depth + 1) for _ in range(width(depth)))
        if roll < 0.65:
            return tuple(document(depth + 1) for _ in range(width(depth)))
        if roll < 0.7:
            return Tree({f"k{n}": document(depth + 1) for n in range(width(depth))})
        keys = ["a", "b", ""] + [f"k{n}" for n in range(jsonenc._WIDE + 20)] + ([1] if rng.random() < 0.3 else [])
        return {rng.choice(keys): document(depth + 1) for _ in range(width(depth))}

    verdicts = set()
    for _ in range(2_000):
        doc = document(0)
        expected = _reference_walk(doc)
        verdicts.add(expected)
        assert jsonenc._orjson_writes_as_json(doc) == expected, doc
        assert jsonenc._writes_level_by_level(doc, 0) == expected, doc
    assert verdicts == {True, False}
    for depth in range(250, 258):  # a plain list, or a plain dict, at the nesting limit
        for leaf in (["x", 1], {"k": "v"}, {1: "v"}, ["x"] * (jsonenc._WIDE + 1) + [[1]], [1.5] * 40):
            doc = leaf
            for _ in range(depth):
                doc = [doc]
            assert jsonenc._orjson_writes_as_json(doc) == _reference_walk(doc), depth
            assert jsonenc._writes_level_by_level(doc, 0) == _reference_walk(doc), depth
            wide = [doc] + ["x"] * jsonenc._WIDE  # the deep branch inside a wide list
            assert jsonenc._orjson_writes_as_json(wide) == _reference_walk(wide), depth
