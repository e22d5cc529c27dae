"""The compiled validator (jsonschema-rs) and jsonschema agree on valid and invalid for every spec
the suite has, and for systematic breakages of them; jsonschema explains what the fast one rejects."""

from __future__ import annotations

import ast
import copy
import datetime
import random
from typing import Any

import pytest

from charter.diagnostics import SpecError
from charter.spec.schema import compiled_validator, validator
from charter.spec.yamlio import parse_text
from helpers import REPO

REPLACEMENTS: list[Any] = [None, True, 0, 1.5, "", " ", "Not An Id", "x" * 81, [], {}, ["a", "a"],
                           {"x-note": 1}, datetime.date(2024, 1, 1), -1, 101, "value:", "1.0"]


def suite_specs() -> list[tuple[str, Any]]:
    """Every spec file in the repository, and every YAML text in the tests that reads as a spec."""
    found = []
    for path in sorted(REPO.rglob("*.yaml")):
        if ".git" in path.parts or "conflict_pairs" in path.name or path.name.startswith("."):
            continue
        try:
            found.append((str(path.relative_to(REPO)), parse_text(path.read_text(encoding="utf-8"), path.name)))
        except SpecError:
            continue
    for path in sorted((REPO / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and "charter:" in node.value:
                try:
                    data = parse_text(node.value, "inline.yaml")
                except SpecError:
                    continue
                if isinstance(data, dict):
                    found.append((f"{path.relative_to(REPO)}:{node.lineno}", data))
    return found


def plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [plain(item) for item in node]
    return node


def places(node: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            out += places(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += places(value, (*path, index))
    return out


def mutations(data: dict, rng: random.Random, count: int) -> list[Any]:
    """Breakages of a valid spec: a value replaced, a key removed, an unknown key added, an item doubled."""
    paths = places(data)
    out = []
    for _ in range(count):
        broken = copy.deepcopy(data)
        path = rng.choice(paths)
        parent = broken
        for step in path[:-1]:
            parent = parent[step]
        kind = rng.randrange(4)
        if not path:
            broken[rng.choice(["sumary", "x-note", "extra"])] = "text"
        elif kind == 0:
            parent[path[-1]] = copy.deepcopy(rng.choice(REPLACEMENTS))
        elif kind == 1 and isinstance(parent, dict):
            del parent[path[-1]]
        elif kind == 2 and isinstance(parent[path[-1]], dict):
            parent[path[-1]][rng.choice(["unknown", "x-ok", "Text"])] = "text"
        elif isinstance(parent, list):
            parent.append(copy.deepcopy(parent[path[-1]]))
        else:
            parent[path[-1]] = copy.deepcopy(rng.choice(REPLACEMENTS))
        out.append(broken)
    return out


def verdicts(data: Any) -> tuple[bool | None, bool]:
    try:
        fast = compiled_validator().is_valid(data)
    except (ValueError, TypeError, OverflowError):
        fast = None  # a value JSON has no type for; validate_document then asks jsonschema
    return fast, next(iter(validator().iter_errors(data)), None) is None


@pytest.mark.skipif(compiled_validator() is None, reason="jsonschema-rs is not installed")
def test_both_validators_give_the_same_verdict_on_every_spec_and_its_breakages():
    specs = suite_specs()
    valid = [(name, plain(data)) for name, data in specs if verdicts(data)[1]]
    assert len(specs) > 40 and len(valid) >= 8 and len(valid) < len(specs)
    rng = random.Random(7)
    checked = disagreements = 0
    invalid_seen = 0
    documents = [(name, data) for name, data in specs]
    for name, data in valid:
        documents += [(f"{name} (broken {n})", m) for n, m in enumerate(mutations(data, rng, 60))]
    wrong = []
    for name, data in documents:
        fast, slow = verdicts(data)
        checked += 1
        invalid_seen += not slow
        if fast is not None and fast != slow:
            disagreements += 1
            wrong.append(name)
    assert not wrong, f"jsonschema-rs and jsonschema disagree on {disagreements} of {checked}: {wrong[:10]}"
    assert invalid_seen > 200


def test_eval_cases_get_the_same_verdict_from_both_validators():
    # `charter run` decides every case with the compiled validator (validate_case); jsonschema only
    # explains. The bundled characters' built cases, and each with one value broken, must agree.
    from charter import load
    from charter.targets.evals import EVALCASE_SCHEMA_NAME, compile_cases, validate_case

    fast, slow = compiled_validator(EVALCASE_SCHEMA_NAME), validator(EVALCASE_SCHEMA_NAME)
    rng = random.Random(11)
    checked = 0
    for path in sorted((REPO / "characters").glob("*.yaml")):
        for case in compile_cases(load(path)):
            assert validate_case(case) == [], case["id"]
            for place in rng.sample(places(case)[1:], 3):
                broken = copy.deepcopy(case)
                target = broken
                for key in place[:-1]:
                    target = target[key]
                target[place[-1]] = rng.choice([None, True, 0, "", [], {}, -1])
                assert fast.is_valid(broken) == (next(iter(slow.iter_errors(broken)), None) is None), place
                checked += 1
    assert checked > 100
