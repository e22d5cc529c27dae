"""report.md: the run in GitHub-flavoured Markdown, compact enough for a pull-request comment.

GitHub renders raw HTML inside Markdown, so model and judge text is escaped twice over: HTML
special characters become entities, and Markdown's own punctuation is backslash-escaped, so a
reply can neither open a tag nor break a table. Long lists sit in ``<details>`` blocks.
"""

from __future__ import annotations

import re

from .runs import (
    CLAUSE_KINDS, Run, case_status, estimate_vs_actual, explain_case, fmt_delta, fmt_int, fmt_pct, fmt_pct_ci, fmt_score, fmt_score_ci,
    fmt_usd, pass_fraction, pass_rate_level, samples_by_case,
)

MAX_FAILING_LISTED = 25
# GitHub rejects comments over 65,536 characters; the clause table is the part that grows with the spec.
MAX_CLAUSE_ROWS = 150
MAX_REASON_CHARS = 160
# Escaped wherever they stand; the ones special only at the start of a line never get there.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md_escape(text: str) -> str:
    """One line of untrusted text, safe in a GitHub Markdown table cell or list item."""
    text = " ".join(str(text).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def render_markdown(run: Run) -> str:
    """The Markdown report for ``run``; deterministic for the same run directory."""
    summary = run.summary
    out = [f"## Charter run: `{_code(run.spec_id)}`", ""]
    bindings = summary.get("judge_binding") or {}
    judges = summary.get("judges") or [summary.get("judge", "")]
    named = ", ".join(f"`{_code(j)}`" + (f" ({bindings[j]})" if bindings.get(j) else "") for j in judges)
    samples = max((m.get("samples", 1) for m in summary.get("models", {}).values()), default=1)
    facts = [f"judge{'s' if len(judges) > 1 else ''} {named}", f"pass mark {run.threshold:g}/10",
             f"{fmt_int(summary.get('cases'))} cases", f"{len(run.models)} model{'s' if len(run.models) != 1 else ''}"]
    if samples > 1:
        facts.append(f"{samples} samples per case")
    accuracy = (summary.get("calibration") or {}).get("accuracy")
    if isinstance(accuracy, (int, float)):
        facts.append(f"judge accuracy {fmt_pct(accuracy)}" + (" ⚠️ below 0.9" if accuracy < 0.9 else ""))
    out += [" · ".join(facts), ""]

    baseline = run.has_baseline
    head = ["Model", "Mean score", "Pass rate", "Passed", "Failed", "Errored", "Flip rate"]
    if baseline:
        head += ["Lift"]
    head += ["Cost"]
    rows = []
    for model in run.models:
        data = summary["models"][model]
        counts = data.get("counts", {})
        graded = len({r.get("case_id") for r in run.character_results()
                      if r.get("model") == model and r.get("score") is not None})
        row = [f"`{_code(model)}`", fmt_score_ci(data.get("score"), data.get("score_interval"), graded),
               _rate(data.get("pass_rate"), data.get("pass_rate_interval")),
               fmt_int(counts.get("passed")), fmt_int(counts.get("failed")), fmt_int(counts.get("errored")),
               fmt_pct((data.get("sycophancy") or {}).get("flip_rate"))]
        if baseline:
            row.append(fmt_delta((data.get("baseline") or {}).get("lift")))
        row.append(fmt_usd((data.get("cost") or {}).get("total_usd")))
        rows.append(row)
    out += _table(head, rows, right_from=1) + [""]
    out += [f"A case passes when every reply scores at least {run.threshold:g}, fails no hard rule and keeps every "
            "check; the mean score can hide failing cases, so a pass rate below 50 % is in bold. Brackets: 95 % "
            "intervals (bootstrap over cases for scores; Wilson for pass rates, or a bootstrap over cases when cases "
            "have several samples); n: cases graded.", ""]
    judge_lines = []
    for model in run.models:
        data = summary["models"][model]
        for judge, scores in (data.get("judges") or {}).items():
            judge_lines.append(f"- `{_code(model)}` judged by `{_code(judge)}`: score "
                               f"{fmt_score_ci(scores.get('score'), scores.get('score_interval'))}, pass rate "
                               f"{fmt_pct_ci(scores.get('pass_rate'), scores.get('pass_rate_interval'))}")
        for pair in data.get("agreement") or ():
            kappa = pair.get("kappa")
            judge_lines.append(f"- `{_code(model)}` agreement {' / '.join(f'`{_code(j)}`' for j in pair['judges'])}: "
                               f"Cohen's kappa {'—' if kappa is None else f'{kappa:.2f}'} over "
                               f"{fmt_int(pair.get('items'))} clause verdicts")
    if judge_lines:
        out += ["**By judge** (a reply's score is the judges' mean, its verdict their majority)", ""] + judge_lines + [""]
    estimated = estimate_vs_actual(run)
    if estimated is not None:
        out += ["Estimated before the run / actual: " + "; ".join(
            f"{label.lower()} {before} / {actual}" for label, before, actual in estimated) + ".", ""]

    drift_lines = []
    for model in run.models:
        for name, curve in sorted((summary["models"][model].get("drift") or {}).items()):
            if not curve:
                continue
            first = curve.get("first_below")
            slope = curve.get("slope")
            scores = " → ".join(fmt_score(s) for s in curve.get("scores") or [])
            below = f"below the pass mark from reply {first + 1}" if first is not None else "never below the pass mark"
            drift_lines.append(f"- `{_code(model)}` {md_escape(name)}: {scores} "
                               f"(slope {_slope_text(slope)}; {below})")
    if drift_lines:
        out += ["**Drift** (mean score by reply over multi-turn cases)", ""] + drift_lines + [""]

    clause_rows = []
    for kind, _label in CLAUSE_KINDS:
        refs = sorted({ref for m in run.models for ref in summary["models"][m].get("clauses") or {}
                       if ref.split(":", 1)[0] == kind})
        for ref in refs:
            cells = [f"`{_code(ref)}`"]
            for model in run.models:
                clause = (summary["models"][model].get("clauses") or {}).get(ref) or {}
                text = (f"{fmt_score_ci(clause.get('score'), clause.get('score_interval'), clause.get('cases'))} "
                        f"({_rate(clause.get('pass_rate'), clause.get('pass_rate_interval'))})")
                if baseline and clause.get("lift") is not None:
                    text += f" lift {fmt_delta(clause.get('lift'))}"
                cells.append(text)
            clause_rows.append(cells)
    if clause_rows:
        out += ["<details><summary>Scores by clause (mean score [95 % interval], n cases, pass rate)</summary>", ""]
        out += _table(["Clause"] + [f"`{_code(m)}`" for m in run.models], clause_rows[:MAX_CLAUSE_ROWS], right_from=1)
        if len(clause_rows) > MAX_CLAUSE_ROWS:
            out += ["", f"… and {len(clause_rows) - MAX_CLAUSE_ROWS} more clauses (see report.html)"]
        out += ["", "</details>", ""]

    fractions = {key: pass_fraction(samples) for key, samples in samples_by_case(run.character_results()).items()
                 if len(samples) > 1}
    failing = [r for r in run.character_results() if case_status(r) != "pass"]
    order = {m: i for i, m in enumerate(run.models)}
    failing.sort(key=lambda r: (r.get("case_id", ""), order.get(r.get("model"), len(order))))
    if failing:
        out += [f"<details><summary>Cases not passing ({len(failing)})</summary>", ""]
        for result in failing[:MAX_FAILING_LISTED]:
            out.append(f"- **{case_status(result)}** `{_code(result.get('case_id', ''))}` "
                       f"`{_code(result.get('model', ''))}`"
                       + (f" sample {result.get('sample', 0) + 1} (case passed "
                          f"{fractions[(result.get('model', ''), result.get('case_id', ''))]} samples)"
                          if (result.get("model", ""), result.get("case_id", "")) in fractions else "")
                       + f" score {fmt_score(result.get('score'))}"
                       f"{_why(result, run.threshold)}")
        if len(failing) > MAX_FAILING_LISTED:
            out.append(f"- … and {len(failing) - MAX_FAILING_LISTED} more (see report.html)")
        out += ["", "</details>", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def _slope_text(value: float | None) -> str:
    return "—" if value is None else f"{value:+.2f}"


def _why(result: dict, threshold: float) -> str:
    """The first reason the case did not pass, as report.html explains it."""
    headline, reasons = explain_case(result, threshold)
    return " — " + md_escape(_clip(reasons[0] if reasons else headline))


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_REASON_CHARS else text[:MAX_REASON_CHARS - 1] + "…"


def _code(text: object) -> str:
    """Text for inside backticks: a backtick or newline would end the span, so both go."""
    return " ".join(str(text).replace("`", "'").split()).replace("|", "\\|")


def _rate(value: float | None, interval: list | None = None) -> str:
    text = fmt_pct_ci(value, interval)
    return f"**{text}**" if pass_rate_level(value) == "bad" else text


def _table(head: list[str], rows: list[list[str]], right_from: int) -> list[str]:
    align = ["---:" if i >= right_from else ":---" for i in range(len(head))]
    return ["| " + " | ".join(head) + " |", "| " + " | ".join(align) + " |"] + \
        ["| " + " | ".join(row) + " |" for row in rows]
