"""What a run sends: the eval cases and, per deployment context, the system prompt and the monitor.

``charter run`` takes either a spec YAML (the cases are compiled from it) or an ``evals.jsonl``
written by ``charter build`` together with ``--spec`` (the spec still gives the system prompts and
the monitor; the cases file lets a team run a filtered or hand-edited case set). Either way the
result is a :class:`Plan`, and the run's digest covers everything that would be sent.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field

from ..diagnostics import CharterError
from ..diagnostics import SpecError
from ..io import DEFAULT_MAX_CASES_BYTES, MAX_CASES_BYTES_VARIABLE, InputRefused, read_input_bytes, size_limit
from ..spec import load
from ..spec.ir import Spec
from ..targets.evals import cases_to_jsonl, compile_cases, validate_case
from ..targets.monitor import MonitorPrompt, render_monitor
from ..targets.prompt import SystemPrompt, render_prompt


class PlanError(CharterError, ValueError):
    """The run's input is unusable; the message is one line naming the file (and line)."""

    exit_code = 2


@dataclass
class Plan:
    spec: Spec
    cases: list[dict]
    source: str  # the SPEC or CASES path as given
    _prompts: dict = field(default_factory=dict, repr=False)
    _monitors: dict = field(default_factory=dict, repr=False)

    def prompt(self, context: str | None) -> SystemPrompt:
        if context not in self._prompts:
            self._prompts[context] = render_prompt(self.spec, context)
        return self._prompts[context]

    def monitor(self, context: str | None) -> MonitorPrompt:
        if context not in self._monitors:
            self._monitors[context] = render_monitor(self.spec, context)
        return self._monitors[context]

    def digest(self) -> str:
        """sha256 over the case set and every system prompt and monitor it uses: what would be sent."""
        hasher = hashlib.sha256(cases_to_jsonl(self.cases).encode("utf-8"))
        for context in sorted({c["context"] for c in self.cases}, key=lambda c: (c is not None, c or "")):
            hasher.update(b"\0prompt\0" + self.prompt(context).text().encode("utf-8"))
            hasher.update(b"\0monitor\0" + self.monitor(context).system.encode("utf-8"))
        return hasher.hexdigest()


def load_plan(source: str | os.PathLike, spec_path: str | os.PathLike | None = None,
              select: tuple[str, ...] = ()) -> Plan:
    """The plan for ``source``: a spec file, or a cases JSONL (``.jsonl``) with ``spec_path``.

    ``select`` keeps only cases whose id contains one of the given substrings (``--case``).
    Raises SpecError for a bad spec and PlanError for a bad cases file or selection.
    """
    source = str(source)
    if source.endswith(".jsonl"):
        if spec_path is None:
            raise PlanError(f"{source}: a cases file needs the spec it was built from: add --spec SPEC.yaml")
        spec = load(spec_path)
        cases = read_cases(source, spec)
    else:
        if spec_path is not None and os.path.abspath(spec_path) != os.path.abspath(source):
            raise PlanError(f"--spec {spec_path} is only for a cases file; {source} is already a spec")
        spec = load(source)
        cases = compile_cases(spec)
    if select:
        cases = [c for c in cases if any(s in c["id"] for s in select)]
        if not cases:
            raise PlanError(f"{source}: no case id contains {' or '.join(map(repr, select))}")
    plan = Plan(spec=spec, cases=cases, source=source)
    for case in cases:
        try:
            plan.prompt(case["context"])
        except SpecError as err:
            raise PlanError(f"{source}: case {case['id']}: {err.diagnostics[0].message}") from None
    return plan


def read_cases(path: str, spec: Spec) -> list[dict]:
    """The cases of an evals.jsonl, each validated against the case schema and the spec."""
    try:
        text = read_input_bytes(path, size_limit(MAX_CASES_BYTES_VARIABLE, DEFAULT_MAX_CASES_BYTES),
                                MAX_CASES_BYTES_VARIABLE).decode("utf-8")
    except InputRefused as err:
        raise PlanError(f"{path}: {err.message} [{err.code}]") from None
    except FileNotFoundError:
        raise PlanError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise PlanError(f"{path}: cannot read: {err}") from None
    cases, seen = [], set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            case = json.loads(line)
        except ValueError as err:
            raise PlanError(f"{path}:{number}:1: not a JSON line: {err}") from None
        if not isinstance(case, dict):
            raise PlanError(f"{path}:{number}:1: an eval case must be a JSON object")
        problems = validate_case(case)
        if problems:
            raise PlanError(f"{path}:{number}:1: {case.get('id', 'case')}: {problems[0]}")
        if case["spec"] != spec.id:
            raise PlanError(f"{path}:{number}:1: case {case['id']} is from spec {case['spec']!r}, "
                            f"not {spec.id!r} (--spec)")
        if case["context"] is not None and case["context"] not in {c.id for c in spec.contexts}:
            raise PlanError(f"{path}:{number}:1: case {case['id']}: unknown context {case['context']!r}")
        if case["id"] in seen:
            raise PlanError(f"{path}:{number}:1: duplicate case id {case['id']}")
        seen.add(case["id"])
        cases.append(case)
    if not cases:
        raise PlanError(f"{path}: no cases")
    return cases
