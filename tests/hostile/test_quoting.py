"""Item 5 of issue 13: diagnostics quote a short excerpt of a value, never a whole file."""

from __future__ import annotations

import json

from charter.diagnostics import EXCERPT_CHARS, excerpt
from helpers import MINIMAL
from hostile.conftest import DOTENV, DOTENV_SECRETS


def test_extending_a_dotenv_file_names_its_kind_not_its_content(write, cli):
    write(".env", DOTENV)
    spec = write("mini.yaml", MINIMAL + "extends: [.env]\n")
    result = cli("validate", spec)
    assert result.exit_code == 1
    assert result.stdout.strip() == (".env:1:1: error: a spec must be a YAML mapping of keys to values, but this "
                                     "file holds text (is it a spec file?) [type]")
    assert not any(secret in result.stdout + result.stderr for secret in DOTENV_SECRETS)


def test_a_dotenv_file_leaks_into_no_sarif_or_json(write, cli):
    write(".env", DOTENV)
    spec = write("mini.yaml", MINIMAL + "extends: [.env]\n")
    sarif = cli("lint", spec, "--format", "sarif")
    as_json = cli("validate", spec, "--format", "json")
    assert sarif.exit_code != 0 and as_json.exit_code == 1
    assert json.loads(as_json.stdout)["valid"] is False
    for output in (sarif.stdout + sarif.stderr, as_json.stdout):
        assert not any(secret in output for secret in DOTENV_SECRETS)


def test_the_entry_file_as_a_list_or_a_scalar_is_named_by_kind(write, cli):
    for text, kind in (("just one secret line sk-live-hostile0123456789abcdef\n", "text"),
                       ("- sk-live-hostile0123456789abcdef\n", "a list"), ("12345\n", "a number")):
        result = cli("validate", write("s.yaml", text))
        assert result.exit_code == 1
        assert f"holds {kind} (is it a spec file?) [type]" in result.stdout
        assert "sk-live" not in result.stdout


def test_a_huge_value_is_quoted_as_a_short_cut_excerpt(write, cli):
    secret, key = "sk-live-" + "x" * 5000, "sk-live-" + "x" * 900  # YAML keys stop at 1024 characters
    spec = write("s.yaml", MINIMAL.replace("strength: hard", f"strength: {secret}")
                 + f"contexts:\n  '{key}': {{description: a context}}\nx: 1\n{key}: 2\n")
    result = cli("validate", spec)
    assert result.exit_code == 1
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 4, result.stdout  # the enum, the context name, and two unknown keys
    for line in lines:
        assert "x" * (EXCERPT_CHARS + 1) not in line and len(line) < 300, line
    assert any("'sk-live-xxx" in line and "\u2026" in line for line in lines)


def test_excerpt_keeps_short_values_whole_and_cuts_long_ones():
    assert excerpt("honesty") == "'honesty'"
    assert excerpt("a" * 500) == repr("a" * EXCERPT_CHARS) + "\u2026"
    assert len(excerpt(list(range(1000)))) <= EXCERPT_CHARS + 1
