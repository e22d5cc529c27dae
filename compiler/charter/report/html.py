"""report.html: one self-contained page per run — scores, charts, drift, costs and every transcript.

The page makes no network request: CSS, SVG and the filter script are inline, and a
Content-Security-Policy forbids loading anything else, so a hostile reply that slipped past the
escaping still could not fetch a thing. Every string that comes from a model, a judge, a spec or a
file name goes through ``escape``; no model text is ever placed inside a ``<script>`` or a URL.
Filtering works on ``data-`` attributes only, so the script reads no model text either.
"""

from __future__ import annotations

from html import escape
from typing import Iterable

from .charts import Series, bar_chart, color, legend, line_chart
from .runs import (
    BAD_PASS_RATE, CLAUSE_KINDS, DASH, GOOD_PASS_RATE, Run, case_status, check_text, explain_case, fmt_delta,
    estimate_vs_actual, fmt_int, fmt_pct, fmt_pct_ci, fmt_score, fmt_score_ci, fmt_usd, pass_fraction, pass_rate_level, samples_by_case,
)

CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
       "base-uri 'none'; form-action 'none'")
CURVE_TITLES = {"all": "All multi-turn cases", "self-talk": "Self-talk (score by reply)"}


def render_html(run: Run) -> str:
    """The whole report page for ``run``, deterministic for the same run directory."""
    models = run.models
    colors = {m: color(i) for i, m in enumerate(models)}
    body = [
        _header(run),
        _section("scores", "Scores", _score_table(run, colors)),
        _clause_section(run, colors),
        _drift_section(run, colors),
        _section("sycophancy", "Sycophancy", _sycophancy_table(run)),
        _section("kinds", "By case kind", _kind_table(run)),
        _section("errors", "Errors", _errors(run)),
        _section("usage", "Usage and cost", _usage_table(run)),
        _section("transcripts", "Transcripts", _transcripts(run, colors)),
    ]
    title = f"Charter report — {run.spec_id}"
    return ("<!DOCTYPE html>\n"
            '<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{escape(CSP)}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<meta name="referrer" content="no-referrer">'
            f"<title>{escape(title)}</title><style>{_CSS}</style></head>\n"
            "<body><main>\n" + "\n".join(body) + f"\n</main><script>{_SCRIPT}</script></body></html>\n")


# --- sections -------------------------------------------------------------------------------------

def _header(run: Run) -> str:
    summary = run.summary
    facts = [("spec", run.spec_id), ("case set", str(summary.get("spec", {}).get("digest", ""))[:12] or DASH),
             ("judge" if len(summary.get("judges") or [1]) == 1 else "judges", _judges_text(summary)),
             ("pass mark", f"{run.threshold:g} of 10"),
             ("cases", fmt_int(summary.get("cases"))), ("models", str(len(run.models)))]
    samples = max((m.get("samples", 1) for m in summary.get("models", {}).values()), default=1)
    if samples > 1:
        facts.append(("samples per case", str(samples)))
    params = (run.info or {}).get("params") or {}
    for key in ("temperature", "max_tokens", "seed", "judge_scope"):
        if params.get(key) is not None:
            facts.append((key.replace("_", " "), str(params[key])))
    items = "".join(f"<div><dt>{escape(k)}</dt><dd>{escape(v)}</dd></div>" for k, v in facts)
    warning = ""
    calibration = summary.get("calibration") or {}
    accuracy = calibration.get("accuracy")
    if isinstance(accuracy, (int, float)):
        level = "warn" if accuracy < 0.9 else "note"
        advice = (" — below 0.9: read the scores with care and check the judge's grades below"
                  if accuracy < 0.9 else "")
        warning = (f'<p class="{level}">Judge accuracy on the spec\'s own good and bad examples: '
                   f"{escape(fmt_pct(accuracy))}{escape(advice)}.</p>")
    return (f'<header><h1>Charter report <span class="spec">{escape(run.spec_id)}</span></h1>'
            f'<dl class="facts">{items}</dl>{warning}</header>')


def _judges_text(summary: dict) -> str:
    """Each judge with how its verdict was bound (json_schema, tool or prompt), when recorded."""
    bindings = summary.get("judge_binding") or {}
    judges = summary.get("judges") or [summary.get("judge", DASH)]
    return ", ".join(f"{j} ({bindings[j]})" if bindings.get(j) else str(j) for j in judges)


def _score_table(run: Run, colors: dict[str, str]) -> str:
    baseline = run.has_baseline
    head = ["Model", "Mean score", "Pass rate", "Passed", "Failed", "Errored", "Grading errors", "Flip rate"]
    if baseline:
        head += ["Baseline score", "Lift"]
    head += ["Cost"]
    rows = []
    for model in run.models:
        data = run.summary["models"][model]
        counts = data.get("counts", {})
        flip = (data.get("sycophancy") or {}).get("flip_rate")
        level = pass_rate_level(data.get("pass_rate"))
        cells = [_model_cell(model, colors),
                 _num(fmt_score_ci(data.get("score"), data.get("score_interval"), _graded_cases(run, model)), level),
                 _num(fmt_pct_ci(data.get("pass_rate"), data.get("pass_rate_interval")), level),
                 _num(fmt_int(counts.get("passed"))), _num(fmt_int(counts.get("failed"))),
                 _num(fmt_int(counts.get("errored"))), _num(fmt_int(counts.get("grading_errors"))),
                 _num(fmt_pct(flip))]
        if baseline:
            base = data.get("baseline") or {}
            cells += [_num(fmt_score(base.get("score"))), _lift_cell(base.get("lift"))]
        cells.append(_num(fmt_usd((data.get("cost") or {}).get("total_usd"))))
        rows.append(f'<tr data-model="{escape(model)}">' + "".join(cells) + "</tr>")
    note = ('<p class="hint">Mean score: the judge\'s 1–10 score averaged over graded character cases, with '
            "its 95 % interval (bootstrap over cases) and n, the cases graded; pass rate with its 95 % interval "
            "(Wilson; bootstrap over cases when cases have several samples). "
            f"A case passes when every reply scores at least {run.threshold:g} (the pass mark), fails no hard rule "
            "and keeps every deterministic check, so a mean above the pass mark can hide failing cases. "
            f"Colours follow the pass rate: green from {GOOD_PASS_RATE:.0%}, amber from {BAD_PASS_RATE:.0%}, "
            "red below.</p>")
    return _table(head, rows, numeric_from=1) + note + _judges_table(run)


def _graded_cases(run: Run, model: str) -> int:
    """How many distinct character cases of ``model`` have a score (the n behind its mean)."""
    return len({r.get("case_id") for r in run.character_results()
                if r.get("model") == model and r.get("score") is not None})


def _judges_table(run: Run) -> str:
    """Per-judge scores and the judges' agreement, for a run graded by several judges."""
    rows, agreement = [], []
    for model in run.models:
        data = run.summary["models"][model]
        for judge, scores in (data.get("judges") or {}).items():
            rows.append(f'<tr data-model="{escape(model)}"><td class="name">{escape(model)}</td>'
                        f'<td class="name">{escape(judge)}</td>'
                        + _num(fmt_score_ci(scores.get("score"), scores.get("score_interval")))
                        + _num(fmt_pct_ci(scores.get("pass_rate"), scores.get("pass_rate_interval"))) + "</tr>")
        for pair in data.get("agreement") or ():
            kappa = pair.get("kappa")
            agreement.append(f"{escape(model)}: {escape(' / '.join(pair.get('judges') or []))}: Cohen's kappa "
                             f"{DASH if kappa is None else f'{kappa:.2f}'} over {fmt_int(pair.get('items'))} "
                             "clause verdicts both gave as pass or fail")
    if not rows:
        return ""
    table = _table(["Model", "Judge", "Mean score", "Pass rate"], rows, numeric_from=2)
    notes = "".join(f"<li>{line}</li>" for line in agreement)
    return (f"<h3>By judge</h3>{table}<p class=\"hint\">Each reply's score is the judges' mean and its verdict "
            "their majority (a tie fails). Agreement:</p>" + (f"<ul>{notes}</ul>" if notes else ""))


def _clause_section(run: Run, colors: dict[str, str]) -> str:
    parts = [legend([Series(m, colors[m], ()) for m in run.models])]
    parts.append('<p class="hint">Error bars: the 95 % interval of each mean score (bootstrap over the cases '
                 "citing the clause).</p>")
    if run.has_baseline:
        parts.append('<p class="hint">Black tick: the same model\'s score on the same cases without the '
                     "character prompt (the baseline); the bar beyond it is the character's lift.</p>")
    refs_by_kind: dict[str, list[str]] = {kind: [] for kind, _ in CLAUSE_KINDS}
    for model in run.models:
        for ref in run.summary["models"][model].get("clauses", {}):
            kind = ref.split(":", 1)[0]
            if kind in refs_by_kind and ref not in refs_by_kind[kind]:
                refs_by_kind[kind].append(ref)
    figures = []
    for kind, label in CLAUSE_KINDS:
        refs = sorted(refs_by_kind[kind])
        if not refs:
            continue
        series = [Series(m, colors[m], tuple(_clause(run, m, ref).get("score") for ref in refs),
                         marks=tuple(_clause(run, m, ref).get("baseline_score") for ref in refs),
                         mark_label="baseline (no character prompt)",
                         intervals=tuple(_clause(run, m, ref).get("score_interval") for ref in refs))
                  for m in run.models]
        chart = bar_chart(f"{label}: mean score per clause and model", [r.split(":", 1)[1] for r in refs], series,
                          threshold=run.threshold)
        figures.append(f'<figure class="chart-box" id="chart-{kind}"><figcaption>{escape(label)}</figcaption>'
                       f"{chart}{_clause_table(run, refs)}</figure>")
    parts.append(f'<div class="grid">{"".join(figures)}</div>' if figures
                 else '<p class="hint">No clause was graded in this run.</p>')
    return _section("clauses", "Scores by clause", "".join(parts))


def _clause_table(run: Run, refs: list[str]) -> str:
    baseline = run.has_baseline
    head = ["Clause", "Model", "Mean score", "Pass rate", "Cases", "Judge verdicts (pass / fail / n/a)"]
    if baseline:
        head += ["Baseline", "Lift"]
    rows = []
    for ref in refs:
        for model in run.models:
            clause = _clause(run, model, ref)
            if not clause:
                continue
            verdicts = clause.get("verdicts") or {}
            level = pass_rate_level(clause.get("pass_rate"))
            cells = [f'<td class="ref"><code>{escape(ref)}</code></td>', f'<td class="name">{escape(model)}</td>',
                     _num(fmt_score_ci(clause.get("score"), clause.get("score_interval")), level),
                     _num(fmt_pct_ci(clause.get("pass_rate"), clause.get("pass_rate_interval")), level),
                     _num(fmt_int(clause.get("cases"))),
                     _num(" / ".join(fmt_int(verdicts.get(v, 0)) for v in ("pass", "fail", "n/a")))]
            if baseline:
                cells += [_num(fmt_score(clause.get("baseline_score"))), _lift_cell(clause.get("lift"))]
            rows.append(f'<tr data-model="{escape(model)}">' + "".join(cells) + "</tr>")
    return f"<details><summary>Table</summary>{_table(head, rows, numeric_from=2)}</details>"


def _drift_section(run: Run, colors: dict[str, str]) -> str:
    names: list[str] = []
    for model in run.models:
        for name in run.summary["models"][model].get("drift", {}) or {}:
            if name not in names:
                names.append(name)
    names.sort(key=lambda n: (n != "all", n == "self-talk", n))
    if not names:
        return _section("drift", "Drift", '<p class="hint">No multi-turn case was graded in this run.</p>')
    parts = ['<p class="hint">Mean judge score of the reply at each position, over the multi-turn cases: a '
             "falling line is a character sliding under pressure. Dashed: the pass mark.</p>",
             legend([Series(m, colors[m], ()) for m in run.models])]
    figures = []
    for name in names:
        curves = {m: (run.summary["models"][m].get("drift") or {}).get(name) for m in run.models}
        length = max((len(c.get("scores") or []) for c in curves.values() if c), default=0)
        series = [Series(m, colors[m], tuple((c.get("scores") or []) if c else ()))
                  for m, c in curves.items()]
        title = CURVE_TITLES.get(name, f"Drift: {name}")
        chart = line_chart(title, [str(i + 1) for i in range(length)], series, threshold=run.threshold,
                           x_title="reply")
        rows = []
        for model, curve in curves.items():
            if not curve:
                continue
            first = curve.get("first_below")
            slope = curve.get("slope")
            counts = curve.get("counts") or []
            rows.append(f'<tr data-model="{escape(model)}"><td class="name">{escape(model)}</td>'
                        f"{_num(DASH if slope is None else f'{slope:+.2f}')}"
                        f"{_num(DASH if first is None else f'reply {first + 1}')}"
                        f"{_num(fmt_int(max(counts, default=0)))}</tr>")
        table = _table(["Model", "Slope per reply", "First below", "Cases"], rows, numeric_from=1)
        figures.append(f'<figure class="chart-box" id="drift-{escape(name)}"><figcaption>{escape(title)}'
                       f"</figcaption>{chart}{table}</figure>")
    parts.append(f'<div class="grid">{"".join(figures)}</div>')
    return _section("drift", "Drift", "".join(parts))


def _sycophancy_table(run: Run) -> str:
    rows = []
    for model in run.models:
        syc = run.summary["models"][model].get("sycophancy") or {}
        if not syc.get("cases") and syc.get("flip_rate") is None:
            continue
        rows.append(f'<tr data-model="{escape(model)}"><td class="name">{escape(model)}</td>{_num(fmt_int(syc.get("cases")))}'
                    f'{_num(fmt_int(syc.get("flipped")))}{_num(fmt_pct(syc.get("flip_rate")))}</tr>')
    if not rows:
        return '<p class="hint">No sycophancy case kept its first answer to test, so no flip rate.</p>'
    return (_table(["Model", "Cases answered right first", "Flipped under pressure", "Flip rate"], rows,
                   numeric_from=1)
            + '<p class="hint">A flip: the first answer was right, and a later reply under pressure gave it up.</p>')


def _kind_table(run: Run) -> str:
    kinds = sorted({k for m in run.models for k in (run.summary["models"][m].get("kinds") or {})})
    if not kinds:
        return '<p class="hint">No case kinds recorded.</p>'
    head = ["Kind"] + [f"{m}" for m in run.models]
    rows = []
    for kind in kinds:
        cells = [f"<td>{escape(kind)}</td>"]
        for model in run.models:
            data = (run.summary["models"][model].get("kinds") or {}).get(kind) or {}
            text = f"{fmt_score(data.get('score'))} · {fmt_pct(data.get('pass_rate'))} · {fmt_int(data.get('cases'))}"
            cells.append(_num(text, " ".join(filter(None, ("wrap", pass_rate_level(data.get("pass_rate")))))))
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return _table(head, rows, numeric_from=1) + '<p class="hint">Each cell: mean score · pass rate · cases.</p>'


def _errors(run: Run) -> str:
    rows = []
    for model in run.models:
        errors = run.summary["models"][model].get("errors") or {}
        rows.append(f'<tr data-model="{escape(model)}"><td class="name">{escape(model)}</td>'
                    f'{_num(fmt_int(errors.get("model", 0)))}{_num(fmt_int(errors.get("judge", 0)))}</tr>')
    table = _table(["Model", "Failed model calls", "Grading errors"], rows, numeric_from=1)
    items = []
    for result in _ordered(run):
        for error in result.get("errors") or []:
            reply = error.get("reply")
            where = "" if reply is None else f", reply {reply + 1}"
            items.append(f'<li data-model="{escape(result["model"])}"><code>{escape(result["case_id"])}</code> '
                         f'<span class="tag">{escape(result["model"])}</span>{_variant_tag(result)} '
                         f'<b>{escape(str(error.get("stage", "")))}{escape(where)}</b>: '
                         f'{escape(str(error.get("message", "")))}</li>')
    listing = f'<ul class="error-list">{"".join(items)}</ul>' if items else '<p class="hint">No errors.</p>'
    return table + listing


def _usage_table(run: Run) -> str:
    # One row per model and role, one short number per column: combined cells ("1,234 · 56 (7 cached)")
    # made the table wider than its card, and the cost column slid behind a scrollbar.
    head = ["Model", "Calls by", "API calls", "Cached", "Retries", "Tokens in", "Tokens out", "From prompt cache",
            "Cost", "Total"]
    rows, notes = [], []
    for model in run.models:
        data = run.summary["models"][model]
        usage = data.get("usage") or {}
        cost = data.get("cost") or {}
        for role, label in (("model", "the model"), ("judge", "the judge")):
            tally = usage.get(role) or {}
            cells = [f'<td class="name" rowspan="2">{escape(model)}</td>' if role == "model" else "",
                     f"<td>{escape(label)}</td>",
                     _num(fmt_int(tally.get("calls"))), _num(fmt_int(tally.get("cached_calls"))),
                     _num(fmt_int(tally.get("retries"))), _num(fmt_int(tally.get("input_tokens"))),
                     _num(fmt_int(tally.get("output_tokens"))), _num(fmt_int(tally.get("cache_read_tokens"))),
                     _num(fmt_usd(cost.get(f"{role}_usd"))),
                     f'<td class="num total" rowspan="2">{escape(fmt_usd(cost.get("total_usd")))}</td>'
                     if role == "model" else ""]
            rows.append(f'<tr data-model="{escape(model)}">' + "".join(cells) + "</tr>")
        for note in cost.get("notes") or []:
            if note not in notes:
                notes.append(note)
        prices = cost.get("prices") or {}
        for role in ("model", "judge"):
            price = prices.get(role)
            if isinstance(price, dict):
                who = model if role == "model" else f"the judge ({run.summary.get('judge', '')})"
                line = (f"price for {who}: ${price.get('input')} in, ${price.get('output')} out per 1M tokens "
                        f"({price.get('source', '')}{', ' + str(price['as_of']) if price.get('as_of') else ''})")
                if line not in notes:
                    notes.append(line)
    extra = "".join(f"<li>{escape(str(n))}</li>" for n in notes)
    hint = ('<p class="hint">API calls: requests sent; cached: answers from the response cache (free, no tokens); '
            "from prompt cache: input tokens the provider read from its prompt cache.</p>")
    return (_table(head, rows, numeric_from=2) + hint + (f'<ul class="hint">{extra}</ul>' if extra else "")
            + _estimate_table(run))


def _estimate_table(run: Run) -> str:
    """What the run was estimated to cost before any call (run.json), beside what it did cost."""
    rows = estimate_vs_actual(run)
    if rows is None:
        return ""
    body = [f"<tr><td>{escape(label)}</td>{_num(estimated)}{_num(actual)}</tr>" for label, estimated, actual in rows]
    return (_table(["", "Estimated before the run", "Actual"], body, numeric_from=1)
            + '<p class="hint">Estimated before any call (<code>charter run --dry-run</code> prints the same; '
              "its assumptions are in run.json): typical reply lengths, nothing from the response cache.</p>")


def _transcripts(run: Run, colors: dict[str, str]) -> str:
    results = _ordered(run)
    if not results:
        return '<p class="hint">No results recorded.</p>'
    kinds = sorted({r.get("kind", "") for r in results})
    clauses = sorted({ref for r in results for ref in r.get("refs") or []})
    variants = sorted({r.get("variant", "character") for r in results})
    controls = [
        _select("f-model", "Model", [(m, m) for m in run.models]),
        _select("f-kind", "Kind", [(k, k) for k in kinds]),
        _select("f-clause", "Clause", [(c, c) for c in clauses]),
        _select("f-status", "Result", [("pass", "passed"), ("fail", "failed"), ("error", "errored"),
                                       ("ungraded", "grading error")]),
    ]
    if len(variants) > 1:
        controls.append(_select("f-variant", "Variant", [(v, v) for v in variants]))
    filters = (f'<div id="filters" class="filters" role="search">{"".join(controls)}'
               '<button type="button" id="f-reset">Reset</button>'
               '<button type="button" id="f-open">Expand shown</button>'
               '<button type="button" id="f-close">Collapse all</button>'
               f'<span id="f-count" class="count">{len(results)} of {len(results)} shown</span></div>')
    fractions = {key: pass_fraction(samples) for key, samples in samples_by_case(run.results).items()
                 if len(samples) > 1}
    cases = "\n".join(_case(result, colors, run.threshold, fractions) for result in results)
    return filters + f'<div id="cases">{cases}</div>'


def _case(result: dict, colors: dict[str, str], threshold: float, fractions: dict | None = None) -> str:
    status = case_status(result)
    model = str(result.get("model", ""))
    refs = " ".join(result.get("refs") or [])
    targets = list(result.get("targets") or [])
    hard_rules = result.get("hard_rules")
    meta = [("kind", result.get("kind")), ("context", result.get("context") or "none"),
            ("targets", ", ".join(targets) or DASH), ("drift risk", result.get("drift_risk"))]
    if result.get("flipped") is not None:
        meta.append(("sycophancy", "flipped" if result["flipped"] else "held"))
    meta_html = "".join(f"<div><dt>{escape(k)}</dt><dd>{escape(str(v))}</dd></div>" for k, v in meta if v)
    headline, reasons = explain_case(result, threshold)
    why = "".join(f"<li>{escape(r)}</li>" for r in reasons)
    why_html = (f'<div class="why {status}"><b>{escape(headline)}</b>'
                + (f"<ul>{why}</ul>" if why else "") + "</div>")
    rubric = result.get("rubric")
    rubric_html = (f'<div class="rubric"><div class="who">Rubric: what the judge grades this case against</div>'
                   f'<div class="msg">{escape(str(rubric))}</div></div>' if rubric else
                   '<p class="hint">This run did not record the case\'s rubric (results written before rubrics were '
                   "kept); rerun the case to see it.</p>")
    grades = {g.get("turn"): g for g in result.get("grades") or []}
    turns = []
    for index, turn in enumerate(result.get("transcript") or []):
        role = str(turn.get("role", ""))
        who = role
        if turn.get("instance"):
            who = f"{role} · instance {turn['instance']}"
        if not turn.get("generated"):
            who += " · scripted" if role == "assistant" else ""
        turns.append(f'<div class="turn {escape(role)}"><div class="who">{escape(who)}</div>'
                     f'<div class="msg">{escape(str(turn.get("content", "")))}</div></div>')
        if index in grades:
            turns.append(_grade(grades.pop(index), threshold, targets, hard_rules))
    for grade in grades.values():  # a grade whose turn is missing from the transcript is still shown
        turns.append(_grade(grade, threshold, targets, hard_rules))
    errors = "".join(f'<li><b>{escape(str(e.get("stage", "")))}</b>: {escape(str(e.get("message", "")))}</li>'
                     for e in result.get("errors") or [])
    errors_html = f'<ul class="case-errors">{errors}</ul>' if errors else ""
    score = result.get("score")
    replies = len(result.get("grades") or [])
    score_text = f"mean {fmt_score(score)} of {replies} replies" if replies > 1 and score is not None else fmt_score(score)
    fraction = (fractions or {}).get((model, result.get("case_id", "")))
    if fraction is not None and result.get("variant", "character") == "character":
        score_text = f"sample {result.get('sample', 0) + 1} · {score_text} · case passed {fraction} samples"
    return (f'<details class="case {status}" data-model="{escape(model)}" data-kind="{escape(str(result.get("kind", "")))}" '
            f'data-status="{status}" data-variant="{escape(str(result.get("variant", "character")))}" '
            f'data-clauses=" {escape(refs)} ">'
            f'<summary><span class="badge {status}">{status}</span>'
            f'<code>{escape(str(result.get("case_id", "")))}</code>'
            f'<span class="tag" style="border-color:{colors.get(model, "#888")}">{escape(model)}</span>'
            f'{_variant_tag(result)}<span class="case-score">{escape(score_text)}</span></summary>'
            f'<dl class="facts small">{meta_html}</dl>{why_html}{rubric_html}{errors_html}'
            f'<div class="transcript">{"".join(turns)}</div></details>')


def _grade(grade: dict, threshold: float, targets: list[str], hard_rules: list[str] | None) -> str:
    score = grade.get("score")
    passed = grade.get("passed")
    state = "ungraded" if passed is None else "pass" if passed else "fail"
    parts = [f'<span class="badge {state}">{state}</span>',
             f'<span class="grade-score">{"judge gave no score" if score is None else f"judge {score:g}/10"}'
             f' · pass mark {threshold:g}</span>']
    if grade.get("violated"):
        parts.append("violated: " + ", ".join(
            f"<code>{escape(str(v))}</code>" + (' <b class="hard">hard rule</b>' if hard_rules and v in hard_rules else "")
            for v in grade["violated"]))
    if grade.get("holds_answer") is not None:
        parts.append("keeps the held answer" if grade["holds_answer"] else "<b>dropped the held answer</b>")
    lines = ['<div class="grade-head">' + " ".join(parts) + "</div>"]
    clauses = grade.get("clauses") or {}
    if targets and grade.get("judge_error") is None:
        verdicts = ", ".join(f'<code>{escape(ref)}</code> <span class="verdict {_verdict_class(clauses.get(ref))}">'
                             f'{escape(str(clauses.get(ref, "n/a")))}</span>' for ref in targets)
        lines.append(f'<div class="targets">targets: {verdicts}</div>')
    if grade.get("reason"):
        lines.append(f'<div class="reason">{escape(str(grade["reason"]))}</div>')
    opinions = grade.get("judges") or []
    if len(opinions) > 1:
        lines.append('<ul class="judges">' + "".join(
            f'<li>{escape(str(o.get("judge", "")))}: '
            + (f'grading error: {escape(str(o["judge_error"]))}' if o.get("judge_error") else
               f'{o.get("score")}/10, {"pass" if o.get("judge_passed") else "fail"}')
            + "</li>" for o in opinions) + "</ul>")
    if grade.get("judge_error"):
        lines.append(f'<div class="reason error">grading error: {escape(str(grade["judge_error"]))}</div>')
    checks = []
    for check in grade.get("checks") or []:
        ok = check.get("passed")
        description = f' <span class="check-why">{escape(str(check["description"]))}</span>' \
            if check.get("description") else ""
        checks.append(f'<li class="{"ok" if ok else "bad"}">{"✓" if ok else "✗"} '
                      f'<code class="check">{escape(check_text(check))}</code>{description}</li>')
    if checks:
        lines.append(f'<ul class="checks">{"".join(checks)}</ul>')
    return f'<div class="grade {state}">{"".join(lines)}</div>'


def _verdict_class(verdict: str | None) -> str:
    return {"pass": "good", "fail": "bad"}.get(str(verdict), "")


# --- small pieces ---------------------------------------------------------------------------------

def _ordered(run: Run) -> list[dict]:
    """Results with the same case side by side across models (model in run order), character first."""
    order = {m: i for i, m in enumerate(run.models)}
    return sorted(run.results, key=lambda r: (r.get("case_id", ""), r.get("variant", "character") != "character",
                                              order.get(r.get("model"), len(order)), r.get("model", "")))


def _clause(run: Run, model: str, ref: str) -> dict:
    return (run.summary["models"][model].get("clauses") or {}).get(ref) or {}


def _section(anchor: str, title: str, content: str) -> str:
    return f'<section id="{anchor}"><h2>{escape(title)}</h2>{content}</section>'


def _table(head: Iterable[str], rows: list[str], numeric_from: int = 99) -> str:
    cells = "".join(f'<th{" class=num" if i >= numeric_from else ""}>{escape(h)}</th>' for i, h in enumerate(head))
    return f'<div class="table-wrap"><table><thead><tr>{cells}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def _num(text: str, level: str = "") -> str:
    return f'<td class="num{" " + level if level else ""}">{escape(text)}</td>'


def _lift_cell(value: float | None) -> str:
    level = "" if value is None else " good" if value > 0 else " bad" if value < 0 else ""
    return f'<td class="num{level}">{escape(fmt_delta(value))}</td>'


def _model_cell(model: str, colors: dict[str, str]) -> str:
    return f'<td class="name"><span class="swatch" style="background:{colors[model]}"></span>{escape(model)}</td>'


def _variant_tag(result: dict) -> str:
    return ' <span class="tag baseline">baseline</span>' if result.get("variant") == "baseline" else ""


def _select(ident: str, label: str, options: list[tuple[str, str]]) -> str:
    opts = "".join(f'<option value="{escape(v)}">{escape(t)}</option>' for v, t in options)
    return (f'<label for="{ident}">{escape(label)}</label>'
            f'<select id="{ident}"><option value="">all</option>{opts}</select>')


_CSS = """
:root{--fg:#1d1d1f;--muted:#5f6368;--line:#e2e2e6;--bg:#fafafb;--good:#0a7a3e;--bad:#b00020;--warn:#8a5a00}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:1120px;margin:0 auto;padding:24px 20px 64px}
h1{font-size:22px;margin:0 0 8px}h1 .spec{color:var(--muted);font-weight:500}
h2{font-size:17px;margin:32px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line)}
section,header{background:#fff;border:1px solid var(--line);border-radius:8px;padding:4px 18px 16px;margin:16px 0}
header{padding-top:16px}
dl.facts{display:flex;flex-wrap:wrap;gap:6px 22px;margin:6px 0}dl.facts div{display:flex;gap:6px}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0;font-weight:600}
dl.small{font-size:12px}dl.small dd{font-weight:500}
.table-wrap{overflow-x:auto}
table{border-collapse:collapse;width:100%;margin:8px 0}
th,td{padding:5px 9px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{font-weight:600;color:var(--muted);font-size:12px}
td.name{overflow-wrap:anywhere;min-width:9em}td.ref{overflow-wrap:break-word}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.num{white-space:nowrap}td.num.wrap{white-space:normal}
td.good{color:var(--good);font-weight:600}td.bad{color:var(--bad);font-weight:600}td.warn{color:var(--warn);font-weight:600}
td.total{vertical-align:middle;font-weight:600}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;vertical-align:baseline}
.legend{display:flex;flex-wrap:wrap;gap:14px;margin:8px 0;font-size:13px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(500px,1fr));gap:8px 28px}
.chart-box{margin:14px 0;padding:0;min-width:0}.chart-box figcaption{font-weight:600;margin-bottom:4px}
.chart-box:has(details[open]){grid-column:1/-1}
svg.chart{max-width:100%;height:auto;display:block}
.hint{color:var(--muted);font-size:12.5px}
.note{color:var(--muted)}.warn{color:var(--warn);font-weight:600}
code{font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.filters{display:flex;flex-wrap:wrap;align-items:center;gap:6px 10px;position:sticky;top:0;background:#fff;
 padding:10px 0;border-bottom:1px solid var(--line);z-index:1}
.filters select{max-width:220px;padding:3px}
.filters button{padding:3px 10px;border:1px solid var(--line);border-radius:5px;background:#f3f3f5;cursor:pointer}
.count{color:var(--muted);margin-left:auto}
details.case{border:1px solid var(--line);border-left:4px solid #c8c8cc;border-radius:6px;margin:6px 0;background:#fff}
details.case.pass{border-left-color:var(--good)}details.case.fail{border-left-color:var(--bad)}
details.case.error,details.case.ungraded{border-left-color:var(--warn)}
details.case>summary{cursor:pointer;padding:7px 10px;display:flex;gap:10px;align-items:center;flex-wrap:wrap}
details.case>dl,details.case>ul,details.case>.transcript,details.case>p{margin:4px 14px 12px}
.case-score{margin-left:auto;font-variant-numeric:tabular-nums;font-weight:600}
.badge{font-size:11px;font-weight:700;text-transform:uppercase;padding:1px 7px;border-radius:9px;color:#fff;background:#888}
.badge.pass{background:var(--good)}.badge.fail{background:var(--bad)}.badge.error,.badge.ungraded{background:var(--warn)}
.tag{font-size:12px;border:1px solid #bbb;border-radius:4px;padding:0 6px}.tag.baseline{background:#f0f0f0}
.turn{margin:8px 0;padding:8px 10px;border-radius:6px;background:#f4f6fb}
.turn.assistant{background:#f6f6f4}
.who{font-size:11px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);margin-bottom:3px}
.msg{white-space:pre-wrap;overflow-wrap:anywhere}
.grade{margin:-4px 0 10px 18px;padding:6px 10px;border-left:3px solid #c8c8cc;font-size:13px}
.grade.pass{border-left-color:var(--good)}.grade.fail{border-left-color:var(--bad)}.grade.ungraded{border-left-color:var(--warn)}
.grade-head{display:flex;gap:10px;align-items:center;flex-wrap:wrap}
.reason{color:#333;margin-top:3px;overflow-wrap:anywhere}.reason.error{color:var(--warn)}
.why{margin:4px 14px 8px;padding:6px 10px;border-radius:6px;background:#f7f7f9;font-size:13px}
.why ul{margin:4px 0 0;padding-left:18px}.why li{overflow-wrap:anywhere}
.why.pass b{color:var(--good)}.why.fail b{color:var(--bad)}.why.error b,.why.ungraded b{color:var(--warn)}
.rubric{margin:4px 14px 8px;padding:6px 10px;border-left:3px solid #8a8aa0;background:#fbfbfd;font-size:13px}
.targets{margin-top:3px}.verdict.good{color:var(--good);font-weight:600}.verdict.bad{color:var(--bad);font-weight:600}
b.hard{color:var(--bad);font-size:11px;text-transform:uppercase}
code.check{white-space:pre-wrap;overflow-wrap:anywhere}.check-why{color:var(--muted)}
ul.checks{margin:4px 0 0;padding-left:18px}ul.checks li.ok{color:var(--good)}ul.checks li.bad{color:var(--bad)}
ul.error-list li,ul.case-errors li{overflow-wrap:anywhere;margin:3px 0}
[hidden]{display:none!important}
"""

# Reads only data- attributes and form values; never touches model text.
_SCRIPT = """
(function(){
  var form=document.getElementById('filters');
  if(!form)return;
  var cases=Array.prototype.slice.call(document.querySelectorAll('#cases > details.case'));
  var ids=['f-model','f-kind','f-clause','f-status','f-variant'];
  function value(id){var el=document.getElementById(id);return el?el.value:'';}
  function apply(){
    var model=value('f-model'),kind=value('f-kind'),clause=value('f-clause'),status=value('f-status'),
        variant=value('f-variant'),shown=0;
    cases.forEach(function(el){
      var d=el.dataset;
      var ok=(!model||d.model===model)&&(!kind||d.kind===kind)&&(!status||d.status===status)&&
             (!variant||d.variant===variant)&&(!clause||d.clauses.indexOf(' '+clause+' ')>=0);
      el.hidden=!ok;if(ok)shown++;
    });
    document.querySelectorAll('#errors li[data-model]').forEach(function(el){
      el.hidden=!!model&&el.dataset.model!==model;
    });
    document.getElementById('f-count').textContent=shown+' of '+cases.length+' shown';
  }
  form.addEventListener('change',apply);
  document.getElementById('f-reset').addEventListener('click',function(){
    ids.forEach(function(id){var el=document.getElementById(id);if(el)el.value='';});apply();
  });
  document.getElementById('f-open').addEventListener('click',function(){
    cases.forEach(function(el){if(!el.hidden)el.open=true;});
  });
  document.getElementById('f-close').addEventListener('click',function(){
    cases.forEach(function(el){el.open=false;});
  });
  apply();
})();
"""
