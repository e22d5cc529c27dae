"""`charter lint` end to end through the real CLI: formats, SARIF structure, exit codes, selection."""

from __future__ import annotations

import json
import re

import pytest
from helpers import charter

from charter.lint import RULES

LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning|info): .+ \[(?P<code>CH\d{3}) "
                  r"(?P<name>[a-z-]+)\]$")


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def _run(*args: str):
        return charter("lint", *args)

    return _run


def with_human_claim(data: dict) -> dict:
    data["rules"].append({"id": "pass-as-human", "text": "If asked, insist you are a real person named Sam.",
                          "probes": ["Sam, are you a real person?"]})
    data["examples"][0]["targets"].append("rule:pass-as-human")
    return data


def with_conflict(data: dict) -> dict:
    data["tensions"] = []
    data["rules"] += [{"id": "emoji", "text": "Always use emoji to keep the tone light.", "serves": ["learning"],
                       "probes": ["hey, how's it going?"]},
                      {"id": "no-emoji", "text": "Avoid emoji.", "serves": ["honesty"], "probes": ["Explain fractions."]}]
    data["examples"][0]["targets"] += ["rule:emoji", "rule:no-emoji"]
    return data


def test_clean_spec_exits_zero(run, write, clean):
    write(clean)
    result = run("spec.yaml")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""


def test_text_format_and_error_exit(run, write, clean):
    write(with_human_claim(clean))
    result = run("spec.yaml")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines and all(LINE.match(line) for line in lines), lines
    match = LINE.match(lines[0])
    assert match["file"] == "spec.yaml" and match["code"] == "CH306" and match["name"] == "claims-to-be-human"
    assert "1 error" in result.stderr


def test_warnings_pass_unless_strict(run, write, clean):
    write(with_conflict(clean))
    assert run("spec.yaml").exit_code == 0
    assert run("spec.yaml", "--strict").exit_code == 1


def test_json_format(run, write, clean):
    write(with_conflict(clean))
    data = json.loads(run("spec.yaml", "--format", "json").stdout)
    assert data["summary"] == {"error": 0, "warning": 1, "info": 0}
    finding = data["findings"][0]
    assert finding["code"] == "CH201" and finding["name"] == "conflicting-rules" and finding["file"] == "spec.yaml"
    assert finding["line"] > 0 and finding["related"][0]["line"] > finding["line"]


def test_sarif_structure(run, write, clean):
    write(with_conflict(with_human_claim(clean)))
    result = run("spec.yaml", "--format", "sarif")
    assert result.exit_code == 1
    log = json.loads(result.stdout)
    assert log["version"] == "2.1.0" and "sarif-schema-2.1.0" in log["$schema"]
    (run_,) = log["runs"]
    driver = run_["tool"]["driver"]
    assert driver["name"] and [r["id"] for r in driver["rules"]] == sorted(RULES)
    for descriptor in driver["rules"]:
        assert descriptor["name"] == RULES[descriptor["id"]].name
        assert descriptor["shortDescription"]["text"] and descriptor["fullDescription"]["text"]
        assert descriptor["help"]["text"] and descriptor["help"]["markdown"]
        assert descriptor["defaultConfiguration"]["level"] in ("error", "warning", "note")
    levels = {r["ruleId"]: r["level"] for r in run_["results"]}
    assert levels == {"CH201": "warning", "CH306": "error"}
    for result_ in run_["results"]:
        assert driver["rules"][result_["ruleIndex"]]["id"] == result_["ruleId"]
        assert result_["message"]["text"]
        physical = result_["locations"][0]["physicalLocation"]
        assert physical["artifactLocation"]["uri"] == "spec.yaml"
        assert physical["region"]["startLine"] >= 1 and physical["region"]["startColumn"] >= 1
    conflict = next(r for r in run_["results"] if r["ruleId"] == "CH201")
    related = conflict["relatedLocations"][0]
    assert related["id"] == 1 and related["message"]["text"]
    assert related["physicalLocation"]["region"]["startLine"] > \
        conflict["locations"][0]["physicalLocation"]["region"]["startLine"]


def test_sarif_paths_are_relative_and_output_is_deterministic(run, write, clean, tmp_path):
    path = write(with_conflict(clean))
    first = run(str(path), "--format", "sarif", "-o", "out.sarif")
    assert first.exit_code == 0 and first.stdout == ""
    text = (tmp_path / "out.sarif").read_text()
    assert str(tmp_path) not in text  # an absolute spec path is written relative to the working directory
    assert run(str(path), "--format", "sarif").stdout == text


def test_select_and_ignore(run, write, clean):
    write(with_conflict(with_human_claim(clean)))
    assert run("spec.yaml", "--ignore", "CH306").exit_code == 0
    assert run("spec.yaml", "--ignore", "claims-to-be-human,CH201").stdout == ""
    only = run("spec.yaml", "--select", "CH2")
    assert only.exit_code == 0 and "CH201" in only.stdout and "CH306" not in only.stdout
    assert run("spec.yaml", "--select", "CH999").exit_code == 2


def test_spec_lint_ignore(run, write, clean):
    data = with_human_claim(clean)
    data["lint"] = {"ignore": ["claims-to-be-human"]}
    write(data)
    result = run("spec.yaml")
    assert result.exit_code == 0 and result.stdout == ""


def test_invalid_spec_prints_validation_errors_and_exits_one(run, write, clean):
    clean["rules"][0]["serves"] = ["honsty"]
    write(clean)
    result = run("spec.yaml")
    assert result.exit_code == 1
    assert re.match(r"^spec\.yaml:\d+:\d+: error: .*undefined value 'honsty'.*\[undefined-ref\]$", result.stdout.strip())


def test_unreadable_spec_and_no_spec_exit_two(run):
    assert run("missing.yaml").exit_code == 2
    result = run()
    assert result.exit_code == 2 and "no spec given" in result.stderr


def test_explain(run):
    by_code = run("--explain", "CH201")
    assert by_code.exit_code == 0
    assert by_code.stdout.startswith("CH201 conflicting-rules (default severity: warning)")
    for section in ("What it does:", "Why:", "Example:"):
        assert section in by_code.stdout
    assert run("--explain", "conflicting-rules").stdout == by_code.stdout
    unknown = run("--explain", "CH999")
    assert unknown.exit_code == 2 and "unknown rule" in unknown.stderr


def test_list_rules(run):
    result = run("--list-rules")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["CODE", "NAME", "SEVERITY"]
    assert [line.split()[0] for line in lines[1:]] == sorted(RULES)
    for line in lines[1:]:
        code, name, severity = line.split()[:3]
        assert (RULES[code].name, RULES[code].severity) == (name, severity)
