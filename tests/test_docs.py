"""The reference stays true: every diagnostic code the code can emit is registered and documented."""

from __future__ import annotations

import ast
import re

import charter.lint  # noqa: F401  (registers the lint rules' codes)
from charter.codes import CODES
from charter.lint.registry import RULES
from helpers import REPO

SPEC_MD = (REPO / "spec" / "SPEC.md").read_text(encoding="utf-8")
PACKAGE = REPO / "compiler" / "charter"

# Diagnostic(...) calls whose code is not a literal, and where their codes come from: the
# literal second argument of the named helper's calls in the same module, or a lint rule.
CODE_HELPERS = {("spec/schema.py", "diag"): "diag", ("spec/resolve.py", "fail"): "fail"}
LINT_CODES = {"lint/registry.py", "lint/deep.py"}


def _str(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _code_argument(call: ast.Call, position: int, keyword: str) -> ast.AST | None:
    if len(call.args) > position:
        return call.args[position]
    return next((k.value for k in call.keywords if k.arg == keyword), None)


def emitted_codes() -> tuple[dict[str, list[str]], list[str]]:
    """Every code a ``Diagnostic(...)`` in the package can carry, with where; and the calls whose code
    could not be traced to a literal."""
    found: dict[str, list[str]] = {}
    untraced: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(PACKAGE).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        helper_calls: dict[str, list[ast.Call]] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                helper_calls.setdefault(node.func.id, []).append(node)
        # io.InputRefused carries the code its reader re-emits as a Diagnostic(loc, err.code, ...).
        for call in helper_calls.get("InputRefused", []):
            if _str(_code_argument(call, 0, "code")) is not None:
                found.setdefault(_str(_code_argument(call, 0, "code")), []).append(f"{module}:{call.lineno}")
        for call in helper_calls.get("Diagnostic", []):
            where = f"{module}:{call.lineno}"
            code = _code_argument(call, 1, "code")
            if _str(code) is not None:
                found.setdefault(_str(code), []).append(where)
                continue
            if isinstance(code, ast.IfExp) and _str(code.body) is not None and _str(code.orelse) is not None:
                for branch in (code.body, code.orelse):
                    found.setdefault(_str(branch), []).append(where)
                continue
            if isinstance(code, ast.Attribute) and code.attr == "code":
                continue  # passes on the code of a diagnostic or InputRefused traced where it was made
            function = parents.get(call)
            while function is not None and not isinstance(function, ast.FunctionDef):
                function = parents.get(function)
            helper = CODE_HELPERS.get((module, function.name if function else ""))
            if helper is not None:
                position = [a.arg for a in function.args.args].index(code.id) if isinstance(code, ast.Name) else -1
                for use in helper_calls.get(helper, []):
                    argument = _code_argument(use, position, code.id if isinstance(code, ast.Name) else "")
                    if _str(argument) is not None:
                        found.setdefault(_str(argument), []).append(f"{module}:{use.lineno}")
                    elif not (isinstance(argument, ast.BoolOp) and _str(argument.values[-1]) == "schema"):
                        untraced.append(f"{module}:{use.lineno}")  # the keyword fallback is documented in 4.4
            elif module not in LINT_CODES:
                untraced.append(where)
    return found, untraced


def test_every_emitted_diagnostic_code_is_registered():
    found, untraced = emitted_codes()
    assert not untraced, f"a Diagnostic code that is not a literal and not traced by this test: {untraced}"
    assert len(found) > 30 and {"unknown-context", "no-inoculation", "no-preference-pairs", "prompt-too-long"} <= set(found)
    missing = {code: where for code, where in sorted(found.items()) if code not in CODES}
    assert not missing, f"register these codes in charter/codes.py (and spec/SPEC.md 4.4): {missing}"
    unused = sorted(c for c, entry in CODES.items() if entry.stage != "lint" and c not in found)
    assert not unused, f"registered but never emitted; remove them from charter/codes.py and SPEC.md: {unused}"


def test_spec_md_code_table_is_the_registry():
    start = SPEC_MD.index("### 4.4 Diagnostic codes")
    table = [line for line in SPEC_MD[start:SPEC_MD.index("### 4.5", start)].splitlines() if line.startswith("| `")]
    expected = [c.markdown_row() for c in CODES.values() if c.stage != "lint"]
    assert table == expected, "spec/SPEC.md 4.4 differs from charter/codes.py; rows expected:\n" + "\n".join(
        row for row in expected if row not in table)


def test_every_lint_rule_is_registered_and_in_spec_md():
    assert all(CODES[r.code].name == r.name and CODES[r.code].severity == r.severity for r in RULES.values())
    # A row may add a note after the one-line summary: "(only with `--deep --model M`)".
    rows = set(re.findall(r"^\| `CH\d+` .*$", SPEC_MD, re.M))
    missing = sorted(c.code for c in CODES.values() if c.stage == "lint"
                     and not any(row.startswith(c.markdown_row()[: -len(". |")]) for row in rows))
    assert not missing, f"add these lint rules to spec/SPEC.md section 6: {missing}"
