"""`generate_data` and `generate_evals` from Python write what `charter generate` writes."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import charter

from charter.io import OutputError
from charter.spec import load
from charter.synth import DataOptions, EvalOptions, generate_data, generate_evals


def _files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}


def test_generate_data_writes_what_the_command_writes(spec_file, env, server):
    result = charter("generate", "data", spec_file, "--teacher", "openai:teacher", "-n", 12, "-o", "cli", "-q")
    assert result.exit_code == 0, result.stderr
    # The same arguments from Python, replayed from the same response cache: the same bytes.
    generated = generate_data(load(spec_file), DataOptions(n=12, teacher="openai:teacher"), env / "api")
    assert _files(env / "api") == _files(env / "cli")
    assert generated.manifest["rows"]["accepted"] == 12 and generated.usage.calls == 0
    with pytest.raises(OutputError, match=r"holds output generated with other arguments \(n\)"):
        generate_data(load(spec_file), DataOptions(n=13, teacher="openai:teacher"), env / "api")


def test_generate_evals_writes_what_the_command_writes(spec_file, env, server):
    result = charter("generate", "evals", spec_file, "-m", "openai:writer", "-n", 6, "-o", "cli", "-q")
    assert result.exit_code == 0, result.stderr
    generated = generate_evals(load(spec_file), EvalOptions(n=6, model="openai:writer"), env / "api")
    assert _files(env / "api") == _files(env / "cli")
    assert len(generated.cases) == 6
