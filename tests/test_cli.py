"""The `charter` command as users run it: a real process, exit codes, one-line errors, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import charter
from helpers import MINIMAL
from test_frontend import BILLION_LAUGHS


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "charter", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def test_version():
    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"charter, version {charter.__version__}"


def test_validate_valid_spec(write):
    path = write("ok.yaml", MINIMAL)
    result = run("validate", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "1 spec checked: 1 valid, 0 invalid (0 problems)" in result.stderr


def test_validate_prints_every_problem_of_every_file_and_exits_1(write):
    good = write("ok.yaml", MINIMAL)
    bad = write("bad.yaml", MINIMAL.replace("strength: hard", "stength: hard").replace("[honesty]", "[honsty]"))
    worse = write("worse.yaml", "charter: 1\nid: x\nid: y\n")
    result = run("validate", str(good), str(bad), str(worse))
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "bad.yaml:10:5: error: rules[0]: unknown key 'stength' (did you mean 'strength'?) [unknown-key]",
        "bad.yaml:11:14: error: rules[0].serves: undefined value 'honsty' (did you mean 'honesty'?) [undefined-ref]",
        "worse.yaml:3:1: error: duplicate key 'id' (first defined at line 2) [duplicate-key]",
    ]
    assert "3 specs checked: 1 valid, 2 invalid (3 problems)" in result.stderr


def test_validate_unreadable_exits_2(write):
    good = write("ok.yaml", MINIMAL)
    result = run("validate", str(good), "missing.yaml")
    assert result.returncode == 2
    assert result.stdout.strip() == "missing.yaml: error: no such file [not-found]"


def test_validate_usage_error_exits_2():
    assert run("validate").returncode == 2
    assert run("validate", "--format", "xml", "x.yaml").returncode == 2


def test_validate_json_format(write):
    bad = write("bad.yaml", MINIMAL.replace("strength: hard", "strength: firm"))
    result = run("validate", "--format", "json", str(bad), str(write("ok.yaml", MINIMAL)))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False
    first, second = report["files"]
    assert first["errors"] == [{"file": "bad.yaml", "line": 10, "column": 15, "severity": "error", "code": "enum",
                                "message": "rules[0].strength: 'firm' is not one of: hard, default, soft"}]
    assert second["valid"] is True and second["id"] == "mini" and len(second["digest"]) == 64


BAD_INPUTS = {
    "syntax.yaml": "charter: 1\nid: x\nname: [unclosed\n",
    "tab.yaml": "charter: 1\nid: x\nname: y\nvalues:\n\t- id: a\n",
    "dupkey.yaml": "charter: 1\nid: x\nid: y\nname: z\n",
    "type.yaml": "charter: 1\nid: x\nname: [a]\n",
    "unknown.yaml": "charter: 1\nid: x\nname: y\nsumary: z\n",
    "missing.yaml": "charter: 1\nid: x\n",
    "ref.yaml": "charter: 1\nid: x\nname: y\nrules: [{id: r, text: t, serves: [nope]}]\n",
    "dupid.yaml": "charter: 1\nid: x\nname: y\ntraits: [{id: a, description: d}, {id: a, description: e}]\n",
    "cycle.yaml": "charter: 1\nid: x\nname: y\nextends: [cycle.yaml]\n",
    "nobase.yaml": "charter: 1\nid: x\nname: y\nextends: [gone.yaml]\n",
    "outside.yaml": "charter: 1\nid: x\nname: y\nextends: [../../etc/passwd]\n",
    "latin1.yaml": b"charter: 1\nid: x\nname: \xe9\n",
    "empty.yaml": "",
    "bomb.yaml": BILLION_LAUGHS,
    "list.yaml": "- 1\n",
    "version.yaml": "charter: 9\nid: x\nname: y\n",
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_gives_one_line_per_problem_and_exit_1_never_a_traceback(write, name):
    path = write(name, BAD_INPUTS[name])
    result = run("validate", str(path))
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stdout.splitlines()
    assert lines, result.stderr
    for line in lines:
        assert line.startswith(f"{name}:") and ": error: " in line and line.endswith("]"), line


def test_init_writes_a_spec_that_validates_and_teaches(tmp_path):
    result = run("init", "demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "demo.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=")
    for teaching in ("tensions:", "examples:", "bad:", "why:", "strength: hard", "when: [", "probes:", "drift:"):
        assert teaching in text
    assert run("validate", "demo.yaml", cwd=tmp_path).returncode == 0
    spec = charter.load(tmp_path / "demo.yaml")
    assert spec.id == "demo" and len(spec.tensions) == 1 and len(spec.tensions[0].examples) >= 1


def test_init_refuses_to_overwrite(tmp_path):
    (tmp_path / "demo.yaml").write_text("mine")
    result = run("init", "demo", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "charter: error: demo.yaml already exists (use --force to overwrite)"
    assert (tmp_path / "demo.yaml").read_text() == "mine"
    assert run("init", "demo", "--force", cwd=tmp_path).returncode == 0


def test_init_derives_an_id_from_any_name(tmp_path):
    assert run("init", "Acme Support Bot", "-o", "acme.yaml", cwd=tmp_path).returncode == 0
    assert charter.load(tmp_path / "acme.yaml").id == "acme-support-bot"


@pytest.mark.parametrize("args", [["--help"], ["validate", "ok.yaml"]])
def test_help_and_validate_do_not_import_the_sdks(write, args):
    write("ok.yaml", MINIMAL)
    probe = ("import sys\nfrom charter.cli import main\n"
             f"try:\n    main({args!r}, prog_name='charter')\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in ('openai', 'anthropic', 'httpx') if m in sys.modules), file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.stderr.strip().splitlines()[-1] == "[]", result.stderr
