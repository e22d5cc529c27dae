"""The reference stays true: every diagnostic code and lint rule the code can emit is documented."""

from __future__ import annotations

import re

from charter.lint.registry import RULES
from helpers import REPO

SPEC_MD = (REPO / "spec" / "SPEC.md").read_text(encoding="utf-8")
FRONT_END = REPO / "compiler" / "charter" / "spec"


def test_every_front_end_diagnostic_code_is_in_spec_md():
    source = "\n".join(p.read_text(encoding="utf-8") for p in FRONT_END.glob("*.py"))
    codes = set(re.findall(r'Diagnostic\(\s*[^,]+,\s*"([a-z-]+)"', source))
    codes |= set(re.findall(r'diag\([^\n]*?,\s*"([a-z-]+)"\)', source))
    codes |= set(re.findall(r'fail\("([a-z-]+)"', source))
    assert len(codes) > 20
    missing = sorted(c for c in codes if f"| `{c}` |" not in SPEC_MD)
    assert not missing, f"document these codes in spec/SPEC.md section 4.4: {missing}"


def test_every_lint_rule_is_in_spec_md():
    missing = sorted(r.code for r in RULES.values() if f"| `{r.code}` | `{r.name}` |" not in SPEC_MD)
    assert not missing, f"add these lint rules to spec/SPEC.md section 6: {missing}"
