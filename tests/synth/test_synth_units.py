"""The pieces of synthesis on their own: near-duplicate detection, ordered concurrency, quotas, the row writer."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys

import pytest

from charter.dedup import DEFAULT_THRESHOLD, NearDuplicateIndex, shingles, signature, similarity
from charter.synth.pipeline import RowWriter, ordered_map
from charter.synth.stages import StageError, Target, find_json, parse_ideas, parse_realism, plan, quotas

WORDS = ("refund order parcel account password invoice delivery blender warranty courier address discount "
         "subscription receipt voucher kettle login email tracking return charge card bank store manager").split()


def sentence(rng: random.Random, n: int = 20) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def jaccard(a: str, b: str) -> float:
    x, y = shingles(a), shingles(b)
    return len(x & y) / len(x | y)


def test_minhash_estimates_jaccard():
    rng = random.Random(3)
    errors = []
    for _ in range(200):
        a = sentence(rng)
        words = a.split()
        for _ in range(rng.randrange(0, 8)):
            words[rng.randrange(len(words))] = rng.choice(WORDS)
        b = " ".join(words)
        errors.append(abs(similarity(signature(a), signature(b)) - jaccard(a, b)))
    assert sum(errors) / len(errors) < 0.06 and max(errors) < 0.25


def test_near_duplicates_are_caught_and_different_texts_kept():
    index = NearDuplicateIndex()
    base = "Hi, my parcel from last Tuesday never arrived and the tracking page still says it is in transit, what now?"
    assert index.add(base) is None
    assert index.add(base.upper() + "!!") == 0  # case and punctuation do not matter
    assert index.add(base.replace("Tuesday", "Wednesday")) == 0  # one word in twenty changed
    assert index.add("Can I change the email address on my account? I no longer use the old one.") is None
    assert index.add("Why was my card charged twice for the same subscription this month?") is None
    assert len(index) == 3
    rng = random.Random(5)
    texts = [sentence(rng) for _ in range(300)]
    kept = NearDuplicateIndex()
    flagged = [i for i, t in enumerate(texts) if kept.add(t) is not None]
    for i in flagged:  # only pairs really above the threshold, give or take the estimate's error
        assert max(jaccard(texts[i], texts[j]) for j in range(i)) >= DEFAULT_THRESHOLD - 0.2
    with pytest.raises(ValueError):
        NearDuplicateIndex(0.0)


def test_signatures_are_the_same_in_every_process():
    code = "from charter.dedup import signature; print(list(signature('the same text in two processes')))"
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")}
    assert len(outputs) == 1 and json.loads(outputs.pop()) == list(signature("the same text in two processes"))


def test_ordered_map_keeps_order_and_the_window():
    running, peak = 0, 0

    async def work(n: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(random.Random(n).random() / 200)
        running -= 1
        return n * n

    async def source():
        for n in range(100):
            yield n

    async def collect(window):
        return [x async for x in ordered_map(source(), work, window)]

    assert asyncio.run(collect(7)) == [n * n for n in range(100)]
    assert peak <= 7
    peak = 0
    assert asyncio.run(collect(None)) == [n * n for n in range(100)]
    assert peak > 7


def test_ordered_map_cancels_what_is_in_flight_on_an_error():
    started = []

    async def work(n: int) -> int:
        started.append(n)
        if n == 3:
            raise RuntimeError("boom")
        await asyncio.sleep(10)
        return n

    async def collect():
        return [x async for x in ordered_map(range(20), work, 5)]

    with pytest.raises(RuntimeError):
        asyncio.run(asyncio.wait_for(collect(), 5))
    assert len(started) <= 6


def test_quotas_follow_the_weights_and_add_up():
    items = [Target(f"rule:r{i}", "rule", "", w, None) for i, w in enumerate((3, 3, 2, 1, 1))]
    split = quotas(items, 100)
    assert sum(split.values()) == 100 and split["rule:r0"] == split["rule:r1"] == 30 and split["rule:r3"] == 10
    assert sum(quotas(items, 3).values()) == 3
    inward = items + [Target("value:v", "value", "", 1, None, introspection=True)]
    split = quotas(inward, 50)
    assert split["introspection/value:v"] == 10 and sum(split.values()) == 50


def test_plans_depend_on_seed_target_and_call():
    target = Target("rule:x", "rule", "", 1, None)
    assert plan(1, target, 0, 0) == plan(1, target, 0, 0)
    assert plan(1, target, 0, 0) != plan(2, target, 0, 0)
    assert len({tuple(plan(1, target, 0, c)) for c in range(10)}) > 5


def test_parsers_read_wrapped_json_and_refuse_the_wrong_shape():
    ideas = parse_ideas('Sure!\n```json\n{"conversations": [{"persona": "p", "turns": ["a"]}, '
                        '{"turns": ["a", "b"]}, {"turns": "just one"}]}\n```')
    assert [None if i is None else [t.role for t in i[1]] for i in ideas] == [["user"], None, ["user"]]
    with pytest.raises(StageError):
        parse_ideas('{"conversations": []}')
    with pytest.raises(StageError):
        find_json("no json here")
    assert parse_realism('{"realism": "8", "test_likeness": 2, "reason": "ok"}').keep
    assert not parse_realism('{"realism": 9, "test_likeness": 7}').keep
    with pytest.raises(StageError):
        parse_realism('{"realism": 11, "test_likeness": 1}')


def test_row_writer_cuts_torn_lines_realigns_and_skips_rows_already_in(tmp_path):
    writer = RowWriter(tmp_path)
    for n in range(3):
        assert writer.append("sft.openai.jsonl", {"messages": [{"role": "user", "content": str(n)}]}, {"id": f"r{n}"})
    writer.close()
    with open(tmp_path / "sft.openai.jsonl", "ab") as handle:
        handle.write(b'{"messages":[{"content":"3","role":"user"}]}\n{"mess')  # row 3 has no sidecar line yet
    writer = RowWriter(tmp_path)
    assert not writer.append("sft.openai.jsonl", {"messages": []}, {"id": "r1"})
    assert writer.append("sft.openai.jsonl", {"messages": [{"role": "user", "content": "3"}]}, {"id": "r3"})
    writer.close()
    lines = (tmp_path / "sft.openai.jsonl").read_text().splitlines()
    metas = [json.loads(line)["id"] for line in (tmp_path / "sft.openai.meta.jsonl").read_text().splitlines()]
    assert metas == ["r0", "r1", "r2", "r3"] and len(lines) == 4
    assert lines[0] == '{"messages":[{"content":"0","role":"user"}]}'  # keys sorted, as the data target writes


def test_torn_tails_and_trimming_read_in_chunks(tmp_path, monkeypatch):
    from charter.synth import pipeline

    monkeypatch.setattr(pipeline, "_CHUNK", 5)
    path = tmp_path / "rows.jsonl"
    for content, lines in ((b"a\nbb\nccc\n", 3), (b"a\nbb\nccc\n{\"tor", 3), (b"", 0), (b"torn only", 0),
                           (b"x" * 30 + b"\n" + b"y" * 20, 1)):
        path.write_bytes(content)
        assert pipeline._complete_lines(path) == lines
        assert path.read_bytes() == content[: content.rfind(b"\n") + 1]
    for keep, expected in ((0, b""), (1, b"aaaa\n"), (2, b"aaaa\nbbbbbbbbbb\n"), (3, b"aaaa\nbbbbbbbbbb\ncc\n")):
        path.write_bytes(b"aaaa\nbbbbbbbbbb\ncc\n")
        pipeline._keep_lines(path, keep)
        assert path.read_bytes() == expected
