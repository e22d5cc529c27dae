"""The lint report's JSON and SARIF text is json.dumps(..., indent=2) byte for byte, however it is written."""

from __future__ import annotations

import json
import random
from pathlib import Path

import charter
from charter.lint import lint
from charter.lint.output import indented_json, render_report
from charter.lint.sarif import to_sarif

ROOT = Path(__file__).resolve().parents[2]


def _random_text(rng: random.Random) -> str:
    ranges = [(0, 0x7F), (0x7F, 0x7F), (0x80, 0x7FF), (0x800, 0xFFFF), (0xD800, 0xDFFF), (0x2028, 0x2029),
              (0x10000, 0x10FFFF)]
    return "".join(chr(rng.randint(*rng.choice(ranges))) for _ in range(rng.randint(0, 12)))


def test_indented_json_is_json_dumps_on_random_documents():
    rng = random.Random(14)
    for _ in range(3000):
        document = {_random_text(rng): [_random_text(rng), {"a": _random_text(rng), "n": rng.randint(-2**70, 2**70),
                                                            _random_text(rng): [1, True, None, [], {}, 0.5, 1e-7]}],
                    "x": _random_text(rng), 3: "a key that is not text"}
        if rng.random() < 0.5:
            del document[3]
        try:
            expected = json.dumps(document, indent=2)
        except (TypeError, ValueError) as err:  # pragma: no cover - json refuses nothing here
            expected = repr(err)
        assert indented_json(document) == expected


def test_reports_of_the_bundled_specs_are_json_dumps():
    paths = sorted((ROOT / "characters").glob("*.yaml")) + sorted((ROOT / "examples").glob("*.yaml"))
    findings = [d for path in paths for d in (_findings(path))]
    assert any(not d.message.isascii() for d in findings) or any(not r.doc.isascii() for r in charter.lint.RULES.values())
    assert render_report(findings, "sarif") == json.dumps(to_sarif(findings), indent=2) + "\n"
    document = {"findings": [d.to_dict() for d in findings], "summary": {"error": 0}}
    assert indented_json(document) == json.dumps(document, indent=2)


def _findings(path: Path):
    try:
        return lint(charter.load(path))
    except charter.SpecError as err:
        return list(err.diagnostics)
