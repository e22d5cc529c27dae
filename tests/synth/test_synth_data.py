"""`charter generate data` against the fake server: formats, filters, balance, determinism, batches."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from helpers import charter
from synth_helpers import read_jsonl

from charter.providers.pricing import PriceTable
from charter.spec import load
from charter.synth import stages
from charter.dedup import signature, similarity
from charter.targets.data import (
    context_line, validate_anthropic_line, validate_openai_dpo_line, validate_openai_sft_line,
)
from charter.targets.prompt import render_prompt

MODELS = ("--teacher", "openai:teacher", "--judge", "anthropic:judge")


def generate(spec_file: Path, out: str, *extra: object, n: int = 24):
    return charter("generate", "data", spec_file, *MODELS, "-n", n, "-o", out, "-q", *extra)


def training_bytes(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(Path(out).glob("*.jsonl"))}


def test_rows_in_every_format_with_aligned_sidecars_and_a_manifest(spec_file, env, server):
    result = generate(spec_file, "out", "-f", "openai", "-f", "trl", "-f", "anthropic")
    assert result.exit_code == 0, result.stderr
    out = env / "out"
    names = sorted(p.name for p in out.glob("*.jsonl"))
    assert names == sorted(f"{kind}.{fmt}{meta}.jsonl" for kind, fmts in (("sft", ("openai", "trl", "anthropic")),
                                                                          ("dpo", ("openai", "trl")))
                           for fmt in fmts for meta in ("", ".meta"))
    sft = read_jsonl(out / "sft.openai.jsonl")
    assert len(sft) == 24
    assert all(validate_openai_sft_line(line) == [] for line in sft)
    assert all(validate_openai_dpo_line(line) == [] for line in read_jsonl(out / "dpo.openai.jsonl"))
    assert all(validate_anthropic_line(line) == [] for line in read_jsonl(out / "sft.anthropic.jsonl"))
    # No system prompt by default for rows set in no context (the behaviour goes into the weights);
    # a one-line context description on the others, as `charter build` writes them.
    for line, meta in zip(sft, read_jsonl(out / "sft.openai.meta.jsonl")):
        assert line["messages"][0]["role"] == ("user" if meta["context"] is None else "system")
    for name in ("sft.openai", "sft.trl", "dpo.openai", "dpo.trl"):
        rows, metas = read_jsonl(out / f"{name}.jsonl"), read_jsonl(out / f"{name}.meta.jsonl")
        assert len(rows) == len(metas) == 24
    # Anthropic lines train every assistant turn, so rows with one in their history are left out there.
    single_turn = sum(all(m["role"] != "assistant" for m in line["prompt"])
                      for line in read_jsonl(out / "sft.trl.jsonl"))
    assert 0 < len(read_jsonl(out / "sft.anthropic.jsonl")) == len(read_jsonl(out / "sft.anthropic.meta.jsonl")) \
        == single_turn
    sft_meta = read_jsonl(out / "sft.openai.meta.jsonl")
    assert [m["id"] for m in sft_meta] == [m["id"] for m in read_jsonl(out / "sft.trl.meta.jsonl")]
    assert len({m["id"] for m in sft_meta}) == 24
    first = sft_meta[0]
    assert first["target"] in first["refs"] and first["stage"] == "generated"
    assert first["system_prompt"] == ("none" if first["context"] is None else "context")
    assert first["models"] == {"teacher": "openai:teacher", "rejected": "openai:teacher", "rejected_mode": "break",
                               "judge": "anthropic:judge"}
    assert first["scores"]["chosen"] - first["scores"]["rejected"] >= 2

    manifest = json.loads((out / "manifest.json").read_text())
    spec = load(spec_file)
    quotas = stages.quotas(stages.targets(spec), 24)
    assert {key: c["accepted"] for key, c in manifest["clauses"].items()} == quotas
    assert manifest["rows"] == {"requested": 24, "accepted": 24, "rounds": manifest["rows"]["rounds"]}
    assert manifest["files"]["sft.openai.jsonl"] == 24
    for reason in ("duplicate", "contrived", "chosen-failed", "malformed"):
        assert manifest["drops"].get(reason, 0) > 0, (reason, manifest["drops"])
    per_target = Counter(m["target"] for m in sft_meta)
    assert per_target == Counter({key: n for key, n in quotas.items() if n})
    stage_calls = manifest["usage"]["stages"]
    assert set(stage_calls) == {"ideation", "realism", "chosen", "rejected", "grading"}
    assert stage_calls["grading"]["anthropic:judge"]["input_tokens"] > 0


def test_the_filters_keep_out_what_they_should(spec_file, env, server):
    assert generate(spec_file, "out", n=30).exit_code == 0
    sft = read_jsonl(env / "out" / "sft.trl.jsonl")
    dpo = read_jsonl(env / "out" / "dpo.trl.jsonl")
    users = ["\n".join(m["content"] for m in line["prompt"] if m["role"] == "user") for line in sft]
    assert not any("under evaluation" in text for text in users)  # contrived: the realism judge dropped it
    assert not any("tricky" in text for text in users)  # the in-character reply failed the monitor
    assert not any("BAD" in line["completion"][0]["content"] for line in sft)
    assert all("BAD" in line["rejected"][0]["content"] for line in dpo)
    signatures = [signature(text) for text in users]
    for i, first in enumerate(signatures):
        for second in signatures[i + 1:]:
            assert similarity(first, second) < 0.7


def test_system_prompt_and_inoculation(spec_file, env, server):
    inoculation = "training:\n  inoculation: You are being trained to be Ada.\n\n"
    text = spec_file.read_text().replace("drift:\n", inoculation + "drift:\n", 1)
    spec_file.write_text(text)
    assert generate(spec_file, "kept", "--system-prompt", "full", n=12).exit_code == 0
    prompt = render_prompt(load(spec_file), None).text()
    rows = read_jsonl(env / "kept" / "sft.openai.jsonl")
    metas = read_jsonl(env / "kept" / "sft.openai.meta.jsonl")
    for row, meta in zip(rows, metas):
        assert row["messages"][0]["role"] == "system" and meta["system_prompt"] == "full"
        expected = render_prompt(load(spec_file), meta["context"]).text() if meta["context"] else prompt
        assert row["messages"][0]["content"] == expected

    assert generate(spec_file, "inoc", "--inoculate", n=12).exit_code == 0
    rows = read_jsonl(env / "inoc" / "sft.inoculated.openai.jsonl")
    metas = read_jsonl(env / "inoc" / "sft.inoculated.openai.meta.jsonl")
    for row, meta in zip(rows, metas):  # after the context line on context-bound rows, alone on the others
        expected = "You are being trained to be Ada."
        if meta["context"] is not None:
            expected = f"{context_line(load(spec_file), meta['context'])}\n\n{expected}"
        assert row["messages"][0]["content"] == expected
    assert not (env / "inoc" / "sft.openai.jsonl").exists()


def test_inoculate_without_an_inoculation_prompt_is_a_one_line_error(spec_file, env, server):
    result = generate(spec_file, "out", "--inoculate")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "sets no training.inoculation" in result.stderr and server.calls() == 0


def test_a_second_run_makes_no_calls_and_writes_the_same_bytes(spec_file, env, server):
    assert generate(spec_file, "out").exit_code == 0
    first = training_bytes(env / "out")
    manifest = (env / "out" / "manifest.json").read_text()
    calls = server.calls()
    again = generate(spec_file, "out")
    assert again.exit_code == 0, again.stderr
    assert server.calls() == calls, "a restarted command must redo nothing"
    assert training_bytes(env / "out") == first
    assert (env / "out" / "manifest.json").read_text() == manifest
    assert "0 API calls this time" in again.stdout


def test_same_seed_same_rows_other_seed_other_rows(spec_file, env, server):
    assert generate(spec_file, "a", "--cache", "a.sqlite3").exit_code == 0
    assert generate(spec_file, "b", "--cache", "b.sqlite3").exit_code == 0
    assert generate(spec_file, "c", "--seed", "7", "--cache", "c.sqlite3").exit_code == 0
    assert training_bytes(env / "a") == training_bytes(env / "b")
    assert training_bytes(env / "a") != training_bytes(env / "c")


def test_batch_path_writes_the_same_rows_as_the_synchronous_path(spec_file, env, server):
    sync = generate(spec_file, "sync", "--cache", "sync.sqlite3", "--introspection", n=30)
    assert sync.exit_code == 0, sync.stderr
    batched = generate(spec_file, "batch", "--cache", "batch.sqlite3", "--introspection", "--batch", "--poll", "0.01",
                       n=30)
    assert batched.exit_code == 0, batched.stderr
    assert training_bytes(env / "sync") == training_bytes(env / "batch")
    assert server.batches.openai and server.batches.anthropic  # both providers' batch APIs were used
    assert not (env / "batch" / "batches.json").exists()  # every batch finished and was merged
    manifest = json.loads((env / "batch" / "manifest.json").read_text())
    assert manifest["cost"]["batch_discount"] == 0.5
    metas = read_jsonl(env / "batch" / "sft.openai.meta.jsonl")
    assert any(m["stage"] == "introspection" for m in metas)


def test_student_writes_bare_rejected_replies(spec_file, env, server):
    result = generate(spec_file, "out", "--student", "openai:student", n=10)
    assert result.exit_code == 0, result.stderr
    student = [r for r in server.requests if r.model == "student"]
    assert student and all(r.body["messages"][0]["role"] == "user" for r in student)  # no system prompt
    meta = read_jsonl(env / "out" / "dpo.openai.meta.jsonl")[0]
    assert meta["models"]["rejected"] == "openai:student" and meta["models"]["rejected_mode"] == "bare"



def test_cost_in_the_manifest_and_half_price_batches(spec_file, env, server):
    (env / "prices.yaml").write_text("teacher: {input: 2, output: 8}\njudge: {input: 1, output: 5}\n")
    assert generate(spec_file, "sync", "--prices", "prices.yaml", n=10).exit_code == 0
    assert generate(spec_file, "batch", "--prices", "prices.yaml", "--batch", "--poll", "0.01", "--cache", "b.db",
                    n=10).exit_code == 0
    sync = json.loads((env / "sync" / "manifest.json").read_text())["cost"]
    batch_manifest = json.loads((env / "batch" / "manifest.json").read_text())
    batch = batch_manifest["cost"]
    assert sync["usd"] > 0 and sync["notes"] == []
    assert set(sync["models"]) == {"openai:teacher", "anthropic:judge"}
    prices = PriceTable().with_overrides(env / "prices.yaml")
    for model, usage in batch_manifest["usage"]["models"].items():
        assert abs(batch["models"][model] - prices.lookup(model).cost(usage) / 2) < 1e-5
    assert batch["batch_discount"] == 0.5 and sync["batch_discount"] is None


def test_progress_bars_per_stage():
    import io

    from charter.cli._progress import StageLines
    from charter.synth.pipeline import STAGES, StageProgress

    stream = io.StringIO()
    lines = StageLines(stream, True, (*STAGES, "rows"), {"ideation": "calls", "rows": "rows"})
    progress = StageProgress(on_change=lines)
    progress["ideation"].total, progress["ideation"].done = 10, 4
    progress["rows"].total, progress["rows"].done = 50, 5
    lines.draw(progress)
    text = stream.getvalue()
    assert "ideation [" in text and "4/10 calls" in text and "5/50 rows" in text and "grading" not in text
    lines.draw(progress)
    assert "\x1b[2F" in stream.getvalue()  # the block is redrawn in place


def test_batch_path_in_waves_equals_sync(spec_file, env, server):
    """A batch window smaller than a round sends each stage in several batches; the rows stay the same."""
    import asyncio

    from charter.providers.batch import PollPolicy
    from charter.providers.cache import ResponseCache
    from charter.run.runner import RunOptions
    from charter.synth.calls import Caller
    from charter.synth.pipeline import DataGenerator, DataOptions

    spec = load(spec_file)

    def run(out: str, batch: bool, window: int) -> None:
        options = DataOptions(n=15, teacher="openai:teacher", judge="anthropic:judge", window=window)
        cache = ResponseCache(env / f"{out}.sqlite3")
        (env / out).mkdir()

        async def go() -> None:
            caller = Caller(RunOptions(models=("openai:teacher",), judge="anthropic:judge"), cache=cache,
                            out_dir=env / out, batch=batch, poll=PollPolicy(initial=0.01), settle=0.05)
            await caller.open()
            try:
                await DataGenerator(spec, options, caller, env / out).run()
            finally:
                await caller.close()

        asyncio.run(go())
        cache.close()

    run("sync", False, 3)
    before = len(server.batches.openai) + len(server.batches.anthropic)
    run("waves", True, 7)
    assert len(server.batches.openai) + len(server.batches.anthropic) - before > 5
    assert training_bytes(env / "sync") == training_bytes(env / "waves")


def test_a_shipped_character_with_contexts(env, server):
    """Clauses bound to a context are generated, answered and graded with that context's prompt and monitor."""
    from helpers import CHARACTERS

    spec_path = CHARACTERS / "tutor.yaml"
    result = charter("generate", "data", spec_path, *MODELS, "-n", 30, "-o", "out", "-q", "--keep-system-prompt")
    assert result.exit_code == 0, result.stderr
    spec = load(spec_path)
    rows = read_jsonl(env / "out" / "sft.openai.jsonl")
    metas = read_jsonl(env / "out" / "sft.openai.meta.jsonl")
    contexts = {m["context"] for m in metas}
    assert any(contexts - {None}), contexts
    for row, meta in zip(rows, metas):
        assert row["messages"][0]["content"] == render_prompt(spec, meta["context"]).text()
        clause = spec.clause(meta["target"])
        assert not getattr(clause, "when", ()) or meta["context"] in clause.when


def test_fewer_rows_than_openai_accepts_is_a_warning(spec_file, env, server):
    result = generate(spec_file, "out", n=3)
    assert result.exit_code == 0
    assert "needs at least 10" in result.stderr
    assert (env / "out" / "sft.openai.jsonl").read_bytes().count(b"\n") == 3
