"""`charter init` as a new user meets it: a file name a shell takes, a next command that runs when
pasted, a schema line that works on another machine, and a starter whose examples keep its rules."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import charter
from charter.scaffold import SCHEMA_NAME, default_spec_path, display_name, init_spec, starter_spec
from charter.spec.schema import schema_text
from charter.targets.evals import compile_cases


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "charter", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def paste(command: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run a command line exactly as printed, through a shell, with `charter` this interpreter's."""
    assert command.startswith("charter ")
    line = f"{shlex.quote(sys.executable)} -m charter {command[len('charter '):]}"
    return subprocess.run(["bash", "-c", line], capture_output=True, text=True, cwd=cwd, timeout=120)


def modeline_target(spec: Path) -> Path:
    first = spec.read_text(encoding="utf-8").splitlines()[0]
    match = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
    assert match, first
    assert not Path(match.group(1)).is_absolute() and "\\" not in match.group(1)
    return spec.parent / match.group(1)


def test_a_name_with_spaces_gives_a_file_name_without_and_a_next_command_that_runs(tmp_path):
    result = run("init", "Museum Guide", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "museum-guide.yaml").is_file()
    assert result.stdout.strip().endswith("next: charter validate museum-guide.yaml")
    pasted = paste(result.stdout.strip().split("next: ", 1)[1], tmp_path)
    assert pasted.returncode == 0, pasted.stderr
    spec = charter.load(tmp_path / "museum-guide.yaml")
    assert (spec.id, spec.name) == ("museum-guide", "Museum Guide")


def test_an_output_path_with_spaces_is_quoted_in_the_next_command(tmp_path):
    (tmp_path / "my specs").mkdir()
    result = run("init", "guide", "-o", "my specs/the guide.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    command = result.stdout.strip().split("next: ", 1)[1]
    assert command == "charter validate 'my specs/the guide.yaml'"
    assert paste(command, tmp_path).returncode == 0


def test_outside_a_checkout_the_schema_is_copied_beside_the_spec(tmp_path):
    done = init_spec("acme", tmp_path / "specs" / "acme.yaml")
    assert done.schema_copy == (tmp_path / "specs" / SCHEMA_NAME).resolve()
    target = modeline_target(done.spec_path)
    assert target.resolve() == done.schema_copy
    assert target.read_text(encoding="utf-8") == schema_text()
    # A second spec in the same folder reuses the copy; a stale copy is brought up to date.
    done.schema_copy.write_text("{}", encoding="utf-8")
    init_spec("other", tmp_path / "specs" / "other.yaml")
    assert done.schema_copy.read_text(encoding="utf-8") == schema_text()


def test_inside_a_checkout_the_modeline_is_relative_to_the_checkouts_schema(tmp_path):
    checkout = tmp_path / "charter"
    (checkout / "spec").mkdir(parents=True)
    (checkout / "spec" / SCHEMA_NAME).write_text(schema_text(), encoding="utf-8")
    (checkout / "compiler" / "charter").mkdir(parents=True)
    (checkout / "compiler" / "charter" / "__init__.py").write_text("", encoding="utf-8")
    done = init_spec("Museum Guide", checkout / "characters" / "museum-guide.yaml")
    assert done.schema_copy is None and done.schema_ref == "../spec/charter.schema.json"
    assert modeline_target(done.spec_path).resolve() == (checkout / "spec" / SCHEMA_NAME).resolve()
    assert not (checkout / "characters" / SCHEMA_NAME).exists()


def test_file_and_display_names():
    assert default_spec_path("Museum Guide") == Path("museum-guide.yaml")
    assert default_spec_path("Bob's Café & Bar!") == Path("bob-s-caf-bar.yaml")
    assert default_spec_path("***") == Path("character.yaml")
    assert display_name("Museum Guide") == "Museum Guide"
    assert display_name("acme-support") == "Acme Support"
    # Characters that would break the unquoted YAML scalar are dropped, not written.
    assert display_name('Bot: #1 "X"') == "Bot 1 X"


def test_init_failures_are_one_line(tmp_path):
    (tmp_path / "taken").mkdir()
    result = run("init", "x", "-o", "taken", "--force", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == "charter: error: taken is a directory (give a file name with -o)\n"


def test_the_starters_good_replies_state_only_the_policy_its_contexts_give(write):
    """The starter's hard rule forbids invented policy: every policy term a good reply states must
    be in the description of the context the example runs in, and each case runs in that context."""
    spec = charter.load(write("demo.yaml", starter_spec("demo", "demo.yaml", SCHEMA_NAME)))
    cases = [c for c in compile_cases(spec) if c.get("reference")]
    assert {c["kind"] for c in cases} >= {"example", "probe"}
    # Train-split examples (the tension's lone example) are training rows, not cases: check them too.
    from charter.targets.data import training_rows
    for row in training_rows(spec).sft:
        cases.append({"id": row.id, "reference": row.chosen, "context": row.context})
    policy_terms = re.compile(r"\b(\d+ days?|[\w-]+-year|refund\w*|warrant\w*|repair|replacement)\b", re.I)
    for case in cases:
        stated = {m.lower() for m in policy_terms.findall(case["reference"])}
        if not stated:
            continue
        context = case["context"]
        assert context is not None, f"{case['id']} states policy ({stated}) in a context-free case"
        given = spec.context(context).description.lower()
        assert all(term in given for term in stated), (case["id"], stated, given)
