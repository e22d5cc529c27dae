"""`charter diff`: a semantic diff of two versions of a spec, and the evals and training rows it touches.

Clauses are matched by ref (``rule:no-lies``), not by position, so moving a clause in the file is no
change and renaming one is a removal plus an addition. For each clause the fields that reach a
compiled artifact are compared: a value's description and rank, a trait's description and contexts,
a rule's text, strength, served values, contexts and rationale, a tension's values, situation,
resolution, favored value, contexts and examples. Notes and source positions are not compared.

Both versions are compiled (``compile_cases``, ``training_rows``) and their eval cases and training
rows matched by id: each is added, removed, changed (its content differs, positions aside) or the
same. A clause change lists every case and row, in either version, that cites the clause in its
refs; cases and rows that changed without citing a changed clause (an edited probe, say) are listed
on their own.

A change is *hard* when it touches a hard rule (added, removed, any field changed, or its strength
moved to or from hard) or the value order (the ids of the values in priority order differ: a value
added, removed or moved), since either changes what the character does when values conflict or what
it never does.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import msgspec

from ..spec.ir import Example, Rule, Spec, Tension, Trait, Value
from ..targets.data import training_rows
from ..targets.evals import compile_cases, source_loc

FORMATS = ("text", "json", "md")
# GitHub rejects comments over 65,536 characters; the Markdown diff stops at a section boundary
# before this, and lists at most this many cases or rows per clause.
MARKDOWN_LIMIT = 60_000
MARKDOWN_LIST_LIMIT = 40


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class Affected:
    """An eval case or training row that cites a changed clause, and what happened to it."""

    id: str
    status: str  # added | removed | changed | same


@dataclass
class ClauseChange:
    ref: str
    change: str  # added | removed | changed
    fields: list[FieldChange] = field(default_factory=list)
    hard: bool = False
    loc: str = ""  # where the clause is written: in the new version, or the old one if removed
    cases: list[Affected] = field(default_factory=list)
    rows: list[Affected] = field(default_factory=list)


@dataclass
class SpecDiff:
    old: dict  # id, version, digest
    new: dict
    clauses: list[ClauseChange]
    authored: list[ClauseChange]  # probes and authored examples, as ``probe:ID`` / ``example:ID``
    value_order: dict  # old, new: value ids in priority order; changed: bool
    other: list[FieldChange]  # spec-level changes outside clauses: identity, contexts, drift risks, ...
    cases: dict[str, list[str]]  # added / removed / changed case ids
    rows: dict[str, list[str]]  # added / removed / changed training row ids
    unattributed_cases: list[Affected]
    unattributed_rows: list[Affected]

    @property
    def hard_change(self) -> bool:
        return self.value_order["changed"] or any(c.hard for c in self.clauses)

    @property
    def empty(self) -> bool:
        return not (self.clauses or self.authored or self.value_order["changed"] or self.other
                    or any(self.cases.values()) or any(self.rows.values()))

    def to_dict(self) -> dict:
        return {
            "old": self.old, "new": self.new, "hard_change": self.hard_change, "empty": self.empty,
            "value_order": self.value_order,
            "clauses": [asdict(c) for c in self.clauses],
            "authored": [asdict(c) for c in self.authored],
            "other": [asdict(f) for f in self.other],
            "eval_cases": self.cases, "training_rows": self.rows,
            "unattributed": {"eval_cases": [asdict(a) for a in self.unattributed_cases],
                             "training_rows": [asdict(a) for a in self.unattributed_rows]},
        }


# --- computing the diff ------------------------------------------------------------------------

def diff_specs(old: Spec, new: Spec) -> SpecDiff:
    """Everything that differs between ``old`` and ``new`` that reaches a compiled artifact."""
    old_clauses = {c.ref: c for c in old.clauses()}
    new_clauses = {c.ref: c for c in new.clauses()}
    old_ranks = _ranks(old)
    new_ranks = _ranks(new)
    moved = _moved_values(old, new)
    changes: list[ClauseChange] = []
    for ref in _ordered_refs(old, new):
        before, after = old_clauses.get(ref), new_clauses.get(ref)
        if before is None:
            changes.append(ClauseChange(ref, "added", _all_fields(after, new_ranks, added=True), _is_hard(after),
                                        _loc(new, after)))
        elif after is None:
            changes.append(ClauseChange(ref, "removed", _all_fields(before, old_ranks, added=False), _is_hard(before),
                                        _loc(old, before)))
        else:
            fields = _field_changes(before, after, old_ranks, new_ranks)
            if ref in moved:
                fields.append(FieldChange("rank", old_ranks[after.id], new_ranks[after.id]))
            if fields:
                changes.append(ClauseChange(ref, "changed", fields, _is_hard(before) or _is_hard(after),
                                            _loc(new, after)))

    # Cases and rows are matched by id under the new spec's id, so renaming the spec moves nothing;
    # removed ones are shown under the id they had.
    old_cases = _rekeyed({c["id"]: c for c in compile_cases(old)}, old.id, new.id)
    new_cases = {c["id"]: c for c in compile_cases(new)}
    case_status = _statuses(old_cases, new_cases, _case_content)
    old_rows = _rekeyed(_rows(old), old.id, new.id)
    new_rows = _rows(new)
    row_status = _statuses(old_rows, new_rows, _row_content)

    def affected(key: str, status: str) -> Affected:
        return Affected(old.id + key[len(new.id):] if status == "removed" else key, status)

    attributed_cases: set[str] = set()
    attributed_rows: set[str] = set()
    for change in changes:
        change.cases = _citing(old_cases, new_cases, case_status, affected, lambda c, ref=change.ref: ref in c["refs"])
        change.rows = _citing(old_rows, new_rows, row_status, affected, lambda r, ref=change.ref: ref in r["refs"])
    authored = _authored_changes(old, new)
    for change in authored:
        kind, ident = change.ref.split(":", 1)
        change.cases = _citing(old_cases, new_cases, case_status, affected,
                               lambda c, kind=kind, ident=ident: c["kind"] == kind and c["id"].endswith(f"/{kind}/{ident}"))
        change.rows = _citing(old_rows, new_rows, row_status, affected,
                              lambda r, kind=kind, ident=ident: r["source"] == kind and r["example"] == ident)
    for change in [*changes, *authored]:
        attributed_cases.update(a.id for a in change.cases)
        attributed_rows.update(a.id for a in change.rows)

    old_order = [v.id for v in sorted(old.values, key=lambda v: v.priority)]
    new_order = [v.id for v in sorted(new.values, key=lambda v: v.priority)]
    return SpecDiff(
        old=_header(old), new=_header(new), clauses=changes, authored=authored,
        value_order={"old": old_order, "new": new_order, "changed": old_order != new_order},
        other=_other_changes(old, new),
        cases=_grouped([affected(k, s) for k, s in case_status.items()]),
        rows=_grouped([affected(k, s) for k, s in row_status.items()]),
        unattributed_cases=sorted((a for a in (affected(k, s) for k, s in case_status.items())
                                   if a.status != "same" and a.id not in attributed_cases), key=lambda a: a.id),
        unattributed_rows=sorted((a for a in (affected(k, s) for k, s in row_status.items())
                                  if a.status != "same" and a.id not in attributed_rows), key=lambda a: a.id),
    )


def _header(spec: Spec) -> dict:
    return {"id": spec.id, "version": spec.version, "digest": spec.digest, "file": spec.files[0] if spec.files else ""}


def _ranks(spec: Spec) -> dict[str, int]:
    return {v.id: n for n, v in enumerate(sorted(spec.values, key=lambda v: v.priority), 1)}


def _moved_values(old: Spec, new: Spec) -> set[str]:
    """Refs of the values whose order relative to the values both versions share changed.

    A value added above the others shifts every rank without changing who wins over whom among
    the rest, so ranks alone are not compared.
    """
    shared = {v.id for v in old.values} & {v.id for v in new.values}
    before = [v for v in _ranks(old) if v in shared]
    after = [v for v in _ranks(new) if v in shared]
    return {f"value:{v}" for v, w in zip(before, after) if v != w}


def _ordered_refs(old: Spec, new: Spec) -> list[str]:
    """Refs in the new spec's order, then the removed ones in the old spec's order."""
    refs = [c.ref for c in new.clauses()]
    seen = set(refs)
    refs += [c.ref for c in old.clauses() if c.ref not in seen]
    return refs


def _is_hard(clause) -> bool:
    return isinstance(clause, Rule) and clause.strength == "hard"


def _loc(spec: Spec, clause) -> str:
    return source_loc(spec, clause.loc) or ""


def _fields(clause, ranks: dict[str, int]) -> dict[str, Any]:
    if isinstance(clause, Value):
        return {"description": clause.description, "rank": ranks.get(clause.id)}  # rank compared apart
    if isinstance(clause, Trait):
        return {"description": clause.description, "when": list(clause.when)}
    if isinstance(clause, Rule):
        return {"text": clause.text, "strength": clause.strength, "serves": list(clause.serves),
                "when": list(clause.when), "rationale": clause.rationale}
    if isinstance(clause, Tension):
        return {"values": list(clause.values), "situation": clause.situation, "resolution": clause.resolution,
                "favors": clause.favors, "when": list(clause.when),
                "examples": [_example(e) for e in clause.examples]}
    raise TypeError(f"not a clause: {clause!r}")


def _example(example: Example) -> dict:
    return {"conversation": [[t.role, t.content] for t in example.conversation], "good": example.good,
            "bad": [[b.text, b.why] for b in example.bad], "context": example.context}


def _all_fields(clause, ranks: dict[str, int], added: bool) -> list[FieldChange]:
    return [FieldChange(name, None if added else value, value if added else None)
            for name, value in _fields(clause, ranks).items() if value not in (None, "", [])]


def _field_changes(before, after, old_ranks: dict[str, int], new_ranks: dict[str, int]) -> list[FieldChange]:
    old_fields, new_fields = _fields(before, old_ranks), _fields(after, new_ranks)
    return [FieldChange(name, old_fields[name], new_fields[name])
            for name in old_fields if name != "rank" and old_fields[name] != new_fields[name]]


def _other_changes(old: Spec, new: Spec) -> list[FieldChange]:
    def facts(spec: Spec) -> dict[str, Any]:
        identity = spec.identity
        return {
            "name": spec.name,
            "summary": spec.summary,
            "identity.self_description": identity.self_description,
            "identity.nature": identity.nature,
            "identity.background": identity.background,
            "identity.voice": {"tone": list(identity.voice.tone), "do": list(identity.voice.do),
                               "avoid": list(identity.voice.avoid)},
            "contexts": {c.id: c.description for c in spec.contexts},
            "drift.risks": list(spec.drift.risks),
            "drift.self_talk_turns": spec.drift.self_talk_turns,
            "training.inoculation": spec.training.inoculation,
        }

    before, after = facts(old), facts(new)
    return [FieldChange(name, before[name], after[name]) for name in before if before[name] != after[name]]


def _authored_changes(old: Spec, new: Spec) -> list[ClauseChange]:
    """Probes and authored examples added, removed or edited, matched by id."""
    def items(spec: Spec) -> dict[str, tuple[dict, str]]:
        found = {}
        for probe in spec.probes:
            found[f"probe:{probe.id}"] = ({"turns": list(probe.turns), "rubric": probe.rubric,
                                           "targets": list(probe.targets), "context": probe.context,
                                           "checks": [msgspec.structs.asdict(c) for c in probe.checks], "good": probe.good},
                                          _loc(spec, probe))
        for example in spec.examples:
            found[f"example:{example.id}"] = ({**_example(example), "targets": list(example.targets)},
                                              _loc(spec, example))
        return found

    before, after = items(old), items(new)
    changes = []
    for ref in [*after, *(r for r in before if r not in after)]:
        if ref not in before:
            fields, loc = after[ref]
            changes.append(ClauseChange(ref, "added", [FieldChange(k, None, v) for k, v in fields.items() if v], loc=loc))
        elif ref not in after:
            fields, loc = before[ref]
            changes.append(ClauseChange(ref, "removed", [FieldChange(k, v, None) for k, v in fields.items() if v], loc=loc))
        elif before[ref][0] != after[ref][0]:
            old_fields, (new_fields, loc) = before[ref][0], after[ref]
            changes.append(ClauseChange(ref, "changed", [FieldChange(k, old_fields[k], new_fields[k])
                                                         for k in old_fields if old_fields[k] != new_fields[k]], loc=loc))
    return changes


def _rows(spec: Spec) -> dict[str, dict]:
    rows = training_rows(spec)
    return {r.id: {"refs": list(r.refs), "source": r.source, "example": r.example, "prompt": [[t.role, t.content] for t in r.prompt], "chosen": r.chosen,
                   "rejected": r.rejected, "rejected_why": r.rejected_why}
            for r in (*rows.sft, *rows.dpo)}


def _case_content(case: dict) -> dict:
    return {k: v for k, v in case.items() if k not in ("loc", "id", "spec")}


def _row_content(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in ("source", "example")}


def _statuses(old: dict[str, dict], new: dict[str, dict], content) -> dict[str, str]:
    status = {}
    for ident in old.keys() | new.keys():
        if ident not in new:
            status[ident] = "removed"
        elif ident not in old:
            status[ident] = "added"
        else:
            status[ident] = "same" if content(old[ident]) == content(new[ident]) else "changed"
    return status


def _rekeyed(items: dict[str, dict], old_id: str, new_id: str) -> dict[str, dict]:
    if old_id == new_id:
        return items
    return {new_id + key[len(old_id):]: item for key, item in items.items()}


def _grouped(items: list[Affected]) -> dict[str, list[str]]:
    return {kind: sorted(a.id for a in items if a.status == kind) for kind in ("added", "removed", "changed")}


def _citing(old: dict[str, dict], new: dict[str, dict], status: dict[str, str], affected, cites) -> list[Affected]:
    keys = {k for k, item in old.items() if cites(item)} | {k for k, item in new.items() if cites(item)}
    return sorted((affected(k, status[k]) for k in keys), key=lambda a: a.id)


# --- rendering -----------------------------------------------------------------------------------

def render(result: SpecDiff, fmt: str) -> str:
    """The diff as ``text``, ``json`` or ``md`` (Markdown for a pull-request comment)."""
    if fmt == "json":
        return json.dumps(result.to_dict(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if fmt == "md":
        return _markdown(result)
    if fmt == "text":
        return _text(result)
    raise ValueError(f"unknown diff format {fmt!r}; choose from {', '.join(FORMATS)}")


def _version(side: dict) -> str:
    return f"{side['id']} {side['version']}".strip() + f" ({side['digest'][:12]})"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _tally(changes: list[ClauseChange]) -> dict[str, int]:
    return {k: sum(c.change == k for c in changes) for k in ("added", "removed", "changed")}


def _counts(result: SpecDiff) -> str:
    def part(counts: dict[str, int]) -> str:
        return ", ".join(f"{n} {k}" for k, n in counts.items() if n) or "none"

    return (f"clauses: {part(_tally(result.clauses))}; probes and examples: {part(_tally(result.authored))}; "
            f"eval cases: {part({k: len(v) for k, v in result.cases.items()})}; "
            f"training rows: {part({k: len(v) for k, v in result.rows.items()})}")


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _affected_line(items: list[Affected]) -> str:
    differing = [a for a in items if a.status != "same"]
    same = len(items) - len(differing)
    text = ", ".join(f"{a.id} ({a.status})" for a in differing)
    if same:
        text += (", " if text else "") + f"{same} unchanged"
    return text or "none"


def _hard_reasons(result: SpecDiff) -> str:
    reasons = [f"hard rule {c.ref} {c.change}" for c in result.clauses if c.hard]
    if result.value_order["changed"]:
        reasons.insert(0, "value order changed")
    return "; ".join(reasons)


def _text(result: SpecDiff) -> str:
    lines = [f"charter diff: {_version(result.old)} -> {_version(result.new)}"]
    if result.empty:
        lines.append("no semantic changes")
        return "\n".join(lines) + "\n"
    lines.append(_counts(result))
    if result.hard_change:
        lines.append("HARD CHANGE: " + _hard_reasons(result))
    if result.value_order["changed"]:
        lines.append(f"value order: {' > '.join(result.value_order['old']) or '(none)'}")
        lines.append(f"          -> {' > '.join(result.value_order['new']) or '(none)'}")
    for change in [*result.clauses, *result.authored]:
        mark = {"added": "+", "removed": "-", "changed": "~"}[change.change]
        lines.append("")
        lines.append(f"{mark} {change.ref} {change.change}{' [hard]' if change.hard else ''}"
                     + (f"  ({change.loc})" if change.loc else ""))
        for f in change.fields:
            if change.change == "changed":
                lines.append(f"    {f.field}: - {_show(f.old)}")
                lines.append(f"    {' ' * len(f.field)}  + {_show(f.new)}")
            else:
                lines.append(f"    {f.field}: {_show(f.new if change.change == 'added' else f.old)}")
        lines.append(f"    eval cases: {_affected_line(change.cases)}")
        lines.append(f"    training rows: {_affected_line(change.rows)}")
    for f in result.other:
        lines.append("")
        lines.append(f"~ {f.field}: - {_show(f.old)}")
        lines.append(f"  {' ' * len(f.field)}  + {_show(f.new)}")
    if result.unattributed_cases or result.unattributed_rows:
        lines.append("")
        lines.append("changed without a clause, probe or example change:")
        if result.unattributed_cases:
            lines.append(f"    eval cases: {_affected_line(result.unattributed_cases)}")
        if result.unattributed_rows:
            lines.append(f"    training rows: {_affected_line(result.unattributed_rows)}")
    return "\n".join(lines) + "\n"


def _md_inline(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _fence(text: str) -> str:
    """A code fence longer than any backtick run inside ``text``."""
    runs = [len(run) for run in "".join(c if c == "`" else " " for c in text).split()]
    return "`" * max(3, max(runs, default=0) + 1)


def _code(text: str) -> str:
    """Inline code that survives backticks in ``text``."""
    ticks = "`" * (max((len(r) for r in "".join(c if c == "`" else " " for c in text).split()), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _markdown(result: SpecDiff) -> str:
    old, new = result.old, result.new
    title = (f"### Charter spec diff: {_code(old['id'])} {old['version']} → {new['version']}"
             if old["id"] == new["id"] else f"### Charter spec diff: {_code(old['id'])} → {_code(new['id'])}")
    out = [title, ""]
    if result.empty:
        out.append("No semantic changes.")
        return "\n".join(out) + "\n"
    if result.hard_change:
        out += [f"> [!WARNING]\n> **Hard change:** {_md_inline(_hard_reasons(result))}.", ""]
    clauses, authored = _tally(result.clauses), _tally(result.authored)
    out += ["| | added | removed | changed |", "| --- | ---: | ---: | ---: |",
            f"| clauses | {clauses['added']} | {clauses['removed']} | {clauses['changed']} |",
            f"| probes and examples | {authored['added']} | {authored['removed']} | {authored['changed']} |",
            *(f"| {label} | {len(d['added'])} | {len(d['removed'])} | {len(d['changed'])} |"
              for label, d in (("eval cases", result.cases), ("training rows", result.rows))),
            ""]
    if result.value_order["changed"]:
        out += ["**Value order**", "",
                f"- before: {' > '.join(_code(v) for v in result.value_order['old']) or '(none)'}",
                f"- after: {' > '.join(_code(v) for v in result.value_order['new']) or '(none)'}", ""]
    for change in [*result.clauses, *result.authored]:
        badge = " **hard**" if change.hard else ""
        where = f" — {_code(change.loc)}" if change.loc else ""
        out += [f"#### {change.change.capitalize()}: {_code(change.ref)}{badge}{where}", ""]
        body = []
        for f in change.fields:
            if change.change == "changed":
                body += [f"{f.field}:", *(f"- {line}" for line in _show(f.old).splitlines() or [""]),
                         *(f"+ {line}" for line in _show(f.new).splitlines() or [""])]
            else:
                sign = "+" if change.change == "added" else "-"
                value = f.new if change.change == "added" else f.old
                body += [f"{sign} {f.field}: {line}" for line in _show(value).splitlines() or [""]]
        text = "\n".join(body)
        fence = _fence(text)
        out += [f"{fence}diff", text, fence, "",
                _md_affected("eval case", change.cases), "", _md_affected("training row", change.rows), ""]
    if result.other:
        out += ["#### Other changes", ""]
        out += [f"- **{f.field}**: {_code(_md_inline(_show(f.old)))} → {_code(_md_inline(_show(f.new)))}"
                for f in result.other]
        out.append("")
    if result.unattributed_cases or result.unattributed_rows:
        out += ["#### Changed without a clause, probe or example change", ""]
        if result.unattributed_cases:
            out += [_md_affected("eval case", result.unattributed_cases), ""]
        if result.unattributed_rows:
            out += [_md_affected("training row", result.unattributed_rows), ""]
    return _fit("\n".join(out).rstrip("\n") + "\n")


def _fit(markdown: str) -> str:
    if len(markdown) <= MARKDOWN_LIMIT:
        return markdown
    cut = markdown.rfind("\n#### ", 0, MARKDOWN_LIMIT - 200)
    shown = markdown[:cut] if cut > 0 else markdown[: MARKDOWN_LIMIT - 200]
    left = markdown[len(shown):].count("\n#### ")
    return (shown.rstrip("\n") + f"\n\n*… {left} more section{'s' if left != 1 else ''} left out to fit a comment; "
            "run `charter diff` with `--format text` or `--format json` for the whole diff.*\n")


def _md_affected(label: str, items: list[Affected]) -> str:
    if not items:
        return f"No {label}s involved."
    differing = sum(a.status != "same" for a in items)
    summary = f"{_plural(len(items), label)} involved, {differing} differ"
    # Items that differ first: they are the ones a reviewer has to look at.
    ordered = sorted(items, key=lambda a: a.status == "same")
    lines = [f"{_code(a.id)} {a.status}" for a in ordered[:MARKDOWN_LIST_LIMIT]]
    if len(ordered) > MARKDOWN_LIST_LIMIT:
        lines.append(f"… and {len(ordered) - MARKDOWN_LIST_LIMIT} more")
    listing = "<br>\n".join(lines)
    return f"<details><summary>{summary}</summary>\n\n{listing}\n\n</details>"


__all__ = ["diff_specs", "render", "SpecDiff", "ClauseChange", "FieldChange", "Affected", "FORMATS"]
