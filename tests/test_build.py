"""`charter build` end to end: golden files for the bundled characters, determinism, the manifest, the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import charter
from charter.spec.schema import validator
from charter.diagnostics import Diagnostic, Loc, SpecError
from charter.targets.build import BuildOptions, build, render, worth_forking
from charter.targets.build import manifest as build_manifest
from charter.targets.data import CONTEXT_LINE_PREFIX, validate_openai_dpo_line, validate_openai_sft_line
from charter.targets.evals import EVALCASE_SCHEMA_NAME
from helpers import CHARACTERS, MINIMAL, many_rules
from test_cli import run

GOLDEN = Path(__file__).parent / "golden"
BUNDLED = sorted(p.stem for p in CHARACTERS.glob("*.yaml"))


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("builds")
    return {name: build(charter.load(CHARACTERS / f"{name}.yaml"), out / name, BuildOptions(inoculate=True)).out_dir
            for name in BUNDLED}


def test_bundled_characters_are_all_here():
    assert BUNDLED == ["assistant", "companion", "support-agent", "tutor"]


@pytest.mark.parametrize("name", BUNDLED)
def test_golden_files(builds, name):
    """Every artifact equals the reviewed copy in tests/golden; UPDATE_GOLDEN=1 rewrites them."""
    produced, golden = tree(builds[name]), GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        shutil.rmtree(golden, ignore_errors=True)
        shutil.copytree(builds[name], golden)
    expected = tree(golden)
    assert sorted(produced) == sorted(expected)
    for path, content in produced.items():
        assert content == expected[path], f"{name}/{path} differs from tests/golden (UPDATE_GOLDEN=1 to accept)"


@pytest.mark.parametrize("name", BUNDLED)
def test_builds_are_byte_identical_from_any_directory(builds, tmp_path, monkeypatch, name):
    monkeypatch.chdir(CHARACTERS)
    build(charter.load(f"{name}.yaml"), tmp_path / "again", BuildOptions(inoculate=True))
    assert tree(tmp_path / "again") == tree(builds[name])


@pytest.mark.parametrize("name", BUNDLED)
def test_render_in_memory_equals_the_streamed_build(builds, name):
    """render() (the library call that writes nothing) gives the bytes build() streams to disk, in
    the manifest's order."""
    spec = charter.load(CHARACTERS / f"{name}.yaml")
    rendered = render(spec, BuildOptions(inoculate=True))
    manifest = json.loads((builds[name] / "manifest.json").read_text())
    assert [a.path for a in rendered.artifacts] == [a["path"] for a in manifest["artifacts"]]
    assert build_manifest(spec, rendered, BuildOptions(inoculate=True)) == manifest  # the library call
    for artifact in rendered.artifacts:
        assert artifact.content == (builds[name] / artifact.path).read_bytes(), artifact.path


@pytest.mark.parametrize("name", BUNDLED)
@pytest.mark.parametrize("parallel", [True, False], ids=["worker-process", "one-process"])
def test_a_build_with_a_worker_process_writes_the_same_bytes(builds, tmp_path, name, parallel):
    """The training half computed in a forked worker or in this process: the same files, manifest
    included (the golden build may have been either)."""
    if parallel and not sys.platform.startswith("linux"):
        pytest.skip("forked workers run on Linux only")
    options = BuildOptions(inoculate=True, data_formats=("openai", "trl", "anthropic"))
    build(charter.load(CHARACTERS / f"{name}.yaml"), tmp_path / "golden-options", BuildOptions(inoculate=True),
          parallel=parallel)
    assert tree(tmp_path / "golden-options") == tree(builds[name])
    built = build(charter.load(CHARACTERS / f"{name}.yaml"), tmp_path / "all", options, parallel=parallel)
    other = build(charter.load(CHARACTERS / f"{name}.yaml"), tmp_path / "other", options, parallel=not parallel)
    assert tree(tmp_path / "all") == tree(tmp_path / "other")
    assert built.manifest == other.manifest and built.warnings == other.warnings


@pytest.mark.parametrize("parallel", [True, False], ids=["worker-process", "one-process"])
def test_a_refusal_in_the_training_half_writes_nothing(write, tmp_path, monkeypatch, parallel):
    """An error raised while the training rows are made (in the worker or here) ends the build with
    that error, diagnostics and all, before the first file is written."""
    from charter.targets import data as data_target

    if parallel and not sys.platform.startswith("linux"):
        pytest.skip("forked workers run on Linux only")
    refusal = SpecError([Diagnostic(Loc("s.yaml", 4, 3), "planted", "a refusal planted in training_rows")])

    def refuse(*args, **kwargs):
        raise refusal

    monkeypatch.setattr(data_target, "training_rows", refuse)
    with pytest.raises(SpecError) as raised:
        build(charter.load(write("s.yaml", MINIMAL)), tmp_path / "out", parallel=parallel)
    assert raised.value.diagnostics == refusal.diagnostics
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_worker_that_dies_is_replaced_by_this_process(builds, tmp_path, monkeypatch):
    """A worker killed before it answers (the OOM killer, a file size limit on its result): the
    build does the training half itself and writes the same files."""
    from charter.targets import build as build_module

    if not sys.platform.startswith("linux"):
        pytest.skip("forked workers run on Linux only")
    monkeypatch.setattr(build_module, "_training_half", lambda *args: os.kill(os.getpid(), signal.SIGKILL))
    build(charter.load(CHARACTERS / "tutor.yaml"), tmp_path / "out", BuildOptions(inoculate=True), parallel=True)
    assert tree(tmp_path / "out") == tree(builds["tutor"])


def test_the_cli_writes_the_same_files_with_and_without_workers(write, tmp_path):
    """`charter build` in a process of its own, where a spec of this size is loaded and built with
    worker processes (one thread, Linux), and with CHARTER_NO_WORKERS=1: the same files."""
    from charter.targets import build as build_module

    path = write("large.yaml", many_rules(1500))
    items = sum(1 for _ in charter.load(path).clauses())
    assert build_module.PARALLEL_BUILD_MIN_ITEMS <= items <= build_module.PARALLEL_BUILD_MAX_ITEMS
    trees = []
    for no_workers in ("", "1"):
        out = tmp_path / f"out{no_workers}"
        result = subprocess.run([sys.executable, "-m", "charter", "build", str(path), "-o", str(out)],
                                capture_output=True, text=True, timeout=120,
                                env={**os.environ, "CHARTER_NO_WORKERS": no_workers})
        assert result.returncode == 0, result.stderr
        trees.append(tree(out))
    assert trees[0] == trees[1]


def test_only_specs_of_a_middle_size_are_built_in_two_processes(monkeypatch):
    from charter.targets import build as build_module

    spec = charter.load(CHARACTERS / "tutor.yaml")
    monkeypatch.setattr(build_module, "can_fork", lambda: True)
    assert not worth_forking(spec)  # a small spec's training half is over before a worker would start
    monkeypatch.setattr(build_module, "PARALLEL_BUILD_MIN_ITEMS", 10)
    assert worth_forking(spec)
    monkeypatch.setattr(build_module, "PARALLEL_BUILD_MAX_ITEMS", 20)  # tutor has more clauses and examples
    assert not worth_forking(spec)
    monkeypatch.setattr(build_module, "PARALLEL_BUILD_MAX_ITEMS", 10**6)
    monkeypatch.setattr(build_module, "can_fork", lambda: False)
    assert not worth_forking(spec)


def test_a_refused_build_writes_nothing(write, tmp_path):
    """A prompt over its token budget is found before the first file is written."""
    with pytest.raises(SpecError):
        build(charter.load(write("s.yaml", MINIMAL)), tmp_path / "out", BuildOptions(max_tokens=5))
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("name", BUNDLED)
def test_manifest_matches_the_files(builds, name):
    root = builds[name]
    manifest = json.loads((root / "manifest.json").read_text())
    spec = charter.load(CHARACTERS / f"{name}.yaml")
    assert manifest["spec"]["digest"] == spec.digest and manifest["spec"]["id"] == spec.id
    assert manifest["spec"]["files"][0] == f"{name}.yaml"
    listed = {a["path"]: a for a in manifest["artifacts"]}
    assert set(listed) == set(tree(root)) - {"manifest.json"}
    for path, entry in listed.items():
        content = (root / path).read_bytes()
        assert entry["sha256"] == hashlib.sha256(content).hexdigest() and entry["bytes"] == len(content)
    cases = [json.loads(line) for line in (root / "evals.jsonl").read_text().splitlines()]
    assert manifest["counts"]["eval_cases"] == len(cases)
    assert set(manifest["coverage"]) == {c.ref for c in spec.clauses()}
    for ref, entry in manifest["coverage"].items():
        for case_id in entry["eval_cases"]:
            assert ref in next(c for c in cases if c["id"] == case_id)["refs"]
    assert manifest["uncovered"] == sorted(r for r, e in manifest["coverage"].items()
                                           if not e["eval_cases"] and not e["training_rows"])


@pytest.mark.parametrize("name", BUNDLED)
def test_every_training_line_follows_openai_rules_and_every_case_its_schema(builds, name):
    root = builds[name]
    check = validator(EVALCASE_SCHEMA_NAME)
    for line in (root / "evals.jsonl").read_text().splitlines():
        errors = [e.message for e in check.iter_errors(json.loads(line))]
        assert not errors, errors
    data_files = sorted((root / "data").glob("*.openai.jsonl"))
    assert {p.name for p in data_files} >= {"sft.openai.jsonl", "dpo.openai.jsonl"}
    for path in data_files:
        lines = path.read_text().splitlines()
        meta = path.with_name(path.name.replace(".jsonl", ".meta.jsonl")).read_text().splitlines()
        assert len(lines) == len(meta) > 0
        checker = validate_openai_sft_line if path.name.startswith("sft") else validate_openai_dpo_line
        for line in lines:
            assert checker(json.loads(line)) == [], line


def test_inoculated_variant_carries_the_train_time_prompt(builds):
    spec = charter.load(CHARACTERS / "tutor.yaml")
    assert spec.training.inoculation
    data = builds["tutor"] / "data"
    inoculated = data / "sft.inoculated.openai.jsonl"
    metas = [json.loads(line) for line in (data / "sft.inoculated.openai.meta.jsonl").read_text().splitlines()]
    for line, meta in zip(inoculated.read_text().splitlines(), metas):
        first = json.loads(line)["messages"][0]
        assert first["role"] == "system" and first["content"].endswith(spec.training.inoculation.strip())
        # Rows set in a context keep their context line before the train-time prompt.
        assert first["content"].startswith(CONTEXT_LINE_PREFIX) == (meta["context"] is not None)
    plain = (data / "sft.openai.jsonl").read_text().splitlines()
    plain_metas = [json.loads(line) for line in (data / "sft.openai.meta.jsonl").read_text().splitlines()]
    for line, meta in zip(plain, plain_metas):
        first = json.loads(line)["messages"][0]
        assert (first["role"] == "system") == (meta["context"] is not None) == (meta["system_prompt"] == "context")


def test_manifest_reports_context_and_length_ratio(builds):
    for name in BUNDLED:
        training = json.loads((builds[name] / "manifest.json").read_text())["training"]
        assert training["system_prompt"] == "context"
        assert training["rows_in_a_context_without_it"] == 0
        ratio = training["length_ratio"]
        assert ratio["pairs"] > 0 and ratio["share_above_max"] <= 0.5 and ratio["median"] <= 1.5
    tutor = json.loads((builds["tutor"] / "manifest.json").read_text())["training"]
    assert tutor["rows_in_a_context"] > 0


def test_cli_system_prompt_modes(tmp_path):
    tutor = str(CHARACTERS / "tutor.yaml")
    none = run("build", tutor, "--system-prompt", "none", "-o", str(tmp_path / "none"))
    assert none.returncode == 0, none.stderr
    assert "set in a context (grown-up, session) that --system-prompt none leaves out" in none.stderr
    full = run("build", tutor, "--system-prompt", "full", "-q", "-o", str(tmp_path / "full"))
    assert full.returncode == 0, full.stderr
    manifest = json.loads((tmp_path / "full/manifest.json").read_text())
    assert manifest["options"]["system_prompt"] == "full" and manifest["training"]["system_prompt"] == "full"
    session = (tmp_path / "full/prompts/session.md").read_text()
    rows = [json.loads(line) for line in (tmp_path / "full/data/sft.trl.jsonl").read_text().splitlines()]
    metas = [json.loads(line) for line in (tmp_path / "full/data/sft.trl.meta.jsonl").read_text().splitlines()]
    assert any(m["context"] == "session" and r["prompt"][0]["content"] == session for r, m in zip(rows, metas))
    bad = run("build", tutor, "--system-prompt", "some", "-o", str(tmp_path / "x"))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_a_rebuild_removes_what_the_spec_no_longer_produces(write, tmp_path):
    spec_path = write("s.yaml", MINIMAL + "contexts:\n  kids: {description: Children.}\n  adults: {description: Adults.}\n")
    build(charter.load(spec_path), "out")
    assert (tmp_path / "out/prompts/kids.md").exists()
    (tmp_path / "out/notes.txt").write_text("mine")
    spec_path.write_text(MINIMAL + "contexts:\n  adults: {description: Adults.}\n")
    build(charter.load(spec_path), "out")
    assert not (tmp_path / "out/prompts/kids.md").exists() and (tmp_path / "out/prompts/adults.md").exists()
    assert (tmp_path / "out/notes.txt").read_text() == "mine"


def test_long_warnings_name_ten_ids_and_the_manifest_keeps_all(write, tmp_path):
    """A spec with 15 uncovered clauses: the warning names the first 10 and counts the rest; the
    manifest lists all 15."""
    rules = "".join(f"  - {{id: rule-{n:02}, text: Never do thing {n}., serves: [honesty]}}\n" for n in range(12))
    result = build(charter.load(write("s.yaml", MINIMAL + rules)), tmp_path / "out")
    uncovered = result.manifest["uncovered"]
    assert len(uncovered) == 15
    (warning,) = [w for w in result.warnings if "tested by no authored eval case" in w]
    assert warning == (f"15 clause(s) tested by no authored eval case: {', '.join(uncovered[:10])} "
                       "and 5 more (manifest.json lists them)")


def test_cli_builds_every_bundled_character(tmp_path):
    result = run("build", *(str(CHARACTERS / f"{n}.yaml") for n in BUNDLED), "-o", str(tmp_path / "b"))
    assert result.returncode == 0, result.stderr
    for name in BUNDLED:
        spec = charter.load(CHARACTERS / f"{name}.yaml")
        assert (tmp_path / "b" / spec.id / "manifest.json").exists()
        assert f"built {spec.id} {spec.version}" in result.stdout
    assert "Traceback" not in result.stderr


def test_cli_single_spec_builds_into_the_directory_itself(write, tmp_path):
    result = run("build", str(write("s.yaml", MINIMAL)), "-o", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out/manifest.json").exists() and (tmp_path / "out/prompts/_default.md").exists()
    assert "coverage" in result.stdout


def test_cli_unknown_context(write, tmp_path):
    result = run("build", str(write("s.yaml", MINIMAL)), "--context", "kids", "-o", "out", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().endswith("[unknown-context]") and "'kids'" in result.stderr
    assert not (tmp_path / "out").exists()


def test_cli_max_tokens_names_the_largest_sections(tmp_path):
    result = run("build", str(CHARACTERS / "assistant.yaml"), "--max-tokens", "500", "-o", str(tmp_path / "o"))
    assert result.returncode == 1
    assert "[prompt-too-long]" in result.stderr and "tokens" in result.stderr
    assert len(result.stderr.strip().splitlines()) >= 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "o").exists()


def test_cli_invalid_and_unreadable_specs(write, tmp_path):
    bad = write("bad.yaml", MINIMAL.replace("strength: hard", "strength: firm"))
    result = run("build", str(bad), "-o", "out", cwd=tmp_path)
    assert result.returncode == 1 and "bad.yaml:10:15: error:" in result.stderr
    assert run("build", "missing.yaml", cwd=tmp_path).returncode == 2


def test_cli_refuses_two_specs_with_one_id(write, tmp_path):
    a, b = write("a.yaml", MINIMAL), write("b.yaml", MINIMAL)
    result = run("build", str(a), str(b), "-o", "out", cwd=tmp_path)
    assert result.returncode == 2
    assert "several specs have the id 'mini'" in result.stderr


def test_cli_data_formats(write, tmp_path):
    spec = write("s.yaml", MINIMAL + """\
examples:
  - id: e1
    prompt: Is the earth flat?
    good: No. It is very nearly a sphere.
    bad: [{text: Some say so and who knows., why: false balance}]
    targets: [rule:no-lies]
""")
    result = run("build", str(spec), "--data-format", "anthropic", "-o", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "out/data").iterdir()) == ["README.md", "sft.anthropic.jsonl",
                                                                          "sft.anthropic.meta.jsonl"]
    assert "warning: mini: 1 SFT row" in result.stderr


def _writer_threads() -> list:
    import threading
    return [t for t in threading.enumerate() if t.name == "charter-build-writer"]


def test_a_write_that_fails_midway_stops_the_build_with_its_error_and_no_manifest(tmp_path, monkeypatch):
    """Artifacts are written on a second thread; the third write failing is still the build's one
    WriteError, nothing after it is written, no temporary file stays, and no manifest claims the build."""
    from charter.io import WriteError
    from charter.targets import build as build_module

    spec = charter.load(CHARACTERS / "tutor.yaml")
    real_write = build_module.write_bytes_atomic
    attempts: list[str] = []

    def failing_write(path, data, *, durable=True):
        attempts.append(Path(path).relative_to(tmp_path / "out").as_posix())
        if len(attempts) == 3:
            raise WriteError(path, OSError(28, "No space left on device"))
        real_write(path, data, durable=durable)

    monkeypatch.setattr(build_module, "write_bytes_atomic", failing_write)
    with pytest.raises(WriteError, match=r"No space left on device$"):
        build(spec, tmp_path / "out")
    assert len(attempts) == 3
    written = sorted(tree(tmp_path / "out"))
    assert written == sorted(attempts[:2])  # the first two, whole; no manifest, no temporary file
    assert _writer_threads() == []


def test_a_failure_while_rendering_waits_for_the_writes_already_started(tmp_path, monkeypatch):
    """An error on the main thread between artifacts ends the build with that error once the
    writer thread has finished the write in progress: every file present is whole."""
    from charter.targets import build as build_module

    spec = charter.load(CHARACTERS / "tutor.yaml")
    complete = {a.path: a.content for a in render(spec).artifacts}
    real_artifacts = build_module._artifacts

    def failing_artifacts(*args):
        for n, artifact in enumerate(real_artifacts(*args)):
            if n == 4:
                raise RuntimeError("rendering failed")
            yield artifact

    monkeypatch.setattr(build_module, "_artifacts", failing_artifacts)
    with pytest.raises(RuntimeError, match="rendering failed"):
        build(spec, tmp_path / "out")
    assert _writer_threads() == []
    produced = tree(tmp_path / "out")
    assert "manifest.json" not in produced and len(produced) <= 4
    for path, content in produced.items():
        assert content == complete[path]
