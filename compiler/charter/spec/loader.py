"""The front end: file -> resolved tree -> reference checks -> immutable Spec."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, TypeVar

import re2

from .. import jsonenc
from .._gc import paused_gc
from ..diagnostics import SpecError, Diagnostic, Loc, excerpt
from ..patterns import PatternError, check_pattern
from . import ir
from .resolve import FileChecks, resolve
from .schema import did_you_mean, where
from .yamlio import Mapping, Sequence

T = TypeVar("T")


def load(path: str | Path, *, allow_outside: bool = False, digest: bool = True) -> ir.Spec:
    """Load, resolve, validate and check a spec; return its IR.

    Raises SpecError carrying every diagnostic found (UnreadableError when the entry file
    itself cannot be read). ``digest=False`` leaves ``Spec.digest`` empty: the digest (sha256 of
    the canonical spec) identifies what is built from a spec (manifests, training rows, runs), and
    ``lint`` and ``validate``'s text report, which report on the source, skip it.
    """
    with paused_gc():
        merged, files, diagnostics, documents, size = resolve(Path(path), allow_outside=allow_outside)
        with FileChecks(documents, size) as file_checks:
            if merged is not None:
                diagnostics = diagnostics + check_references(merged)
            # While a worker checks the files, the IR is built at a venture: it counts only if they
            # pass (a tree the schema refuses may make build_ir fail in any way).
            ventured = (_venture(build_ir, merged, files, digest=digest)
                        if file_checks.concurrent and not diagnostics else None)
            diagnostics = diagnostics + file_checks.result()
        if diagnostics:
            raise SpecError(diagnostics)
        return ventured() if ventured is not None else build_ir(merged, files, digest=digest)


def _venture(function: Callable[..., T], *args: Any, **kwargs: Any) -> Callable[[], T]:
    """``function(*args, **kwargs)`` now; the returned call gives its value or raises its error."""
    try:
        value = function(*args, **kwargs)
    except Exception as err:
        error = err  # `err` itself is unbound when the except block ends

        def fail() -> T:
            raise error
        return fail
    return lambda: value


def _loc(mapping: Mapping, key: str) -> Loc:
    return mapping.value_locs.get(key, mapping.loc)


def _items(mapping: Any, key: str) -> list[tuple[Any, Loc]]:
    seq = mapping.get(key) if isinstance(mapping, Mapping) else None
    if not isinstance(seq, Sequence):
        return []
    return list(zip(seq, seq.item_locs))


def _mappings(tree: Mapping, key: str) -> list[tuple[int, Mapping]]:
    """The well-formed items of an id list; malformed ones were already reported by the schema."""
    return [(i, item) for i, (item, _) in enumerate(_items(tree, key)) if isinstance(item, Mapping)]


def _text(mapping: Mapping, key: str) -> str | None:
    value = mapping.get(key)
    return value if isinstance(value, str) else None


def check_references(spec: Mapping) -> list[Diagnostic]:
    """Every id a clause names must be defined: serves, values, favors, when, context, targets.

    Runs on trees that may have failed the schema, so it skips whatever is malformed.
    """
    out: list[Diagnostic] = []
    defined: dict[str, list[str]] = {
        kind: [ident for _, item in _mappings(spec, key) if (ident := _text(item, "id"))]
        for kind, key in (("value", "values"), ("trait", "traits"), ("rule", "rules"), ("tension", "tensions"))
    }
    contexts = spec.get("contexts")
    defined["context"] = [str(k) for k in contexts] if isinstance(contexts, Mapping) else []
    known = {kind: set(ids) for kind, ids in defined.items()}

    # Paths in messages ("rules[12].serves") are written only for a diagnostic: a valid spec names
    # ten thousand ids, and formatting a path for each was a fifth of this check's time.
    def need(kind: str, ident: Any, loc: Loc, path: Callable[[], str]) -> None:
        if not isinstance(ident, str) or ident in known.get(kind, ()):
            return
        if kind not in known:
            return  # a malformed ref; the schema reported it
        hint = did_you_mean(ident, defined[kind]) if defined[kind] else f" (the spec defines no {kind}s)"
        out.append(Diagnostic(loc, "undefined-ref", f"{path()}: undefined {kind} {excerpt(ident)}{hint}"))

    def need_all(kind: str, owner: Mapping, key: str, at: list) -> None:
        ids = known[kind]
        for ident, loc in _items(owner, key):
            if ident.__class__ is not str or ident not in ids:
                need(kind, ident, loc, lambda: f"{where(at)}.{key}")

    def need_refs(owner: Mapping, at: list) -> None:
        for ref, loc in _items(owner, "targets"):
            if isinstance(ref, str) and ":" in ref:
                kind, _, ident = ref.partition(":")
                need(kind, ident, loc, lambda: f"{where(at)}.targets")

    def need_context(owner: Mapping, at: list) -> None:
        if "context" in owner:
            need("context", owner["context"], _loc(owner, "context"), lambda: f"{where(at)}.context")

    def check_conversation(owner: Any, path: Callable[[], str]) -> None:
        turns = owner.get("conversation") if isinstance(owner, Mapping) else None
        if not isinstance(turns, Sequence):
            return
        # Turns alternate and the last one is the user's, so the length fixes the first role.
        expected = "assistant" if len(turns) % 2 == 0 else "user"
        for index, (turn, loc) in enumerate(zip(turns, turns.item_locs)):
            role = turn.get("role") if isinstance(turn, Mapping) else None
            if role in ("user", "assistant") and role != expected:
                out.append(Diagnostic(loc, "conversation-order",
                                      f"{path()}.conversation[{index}]: expected {'an' if expected == 'assistant' else 'a'} {expected} turn here; "
                                      "turns alternate and end with the user's message"))
                return
            expected = "assistant" if expected == "user" else "user"

    def check_probes(owner: Mapping, at: list) -> None:
        for probe_index, (probe, _) in enumerate(_items(owner, "probes")):
            if isinstance(probe, Mapping):
                need_context(probe, [*at, "probes", probe_index])

    for key in ("values", "traits", "rules", "tensions"):
        for index, clause in _mappings(spec, key):
            check_probes(clause, [key, index])
    drift = spec.get("drift")
    if isinstance(drift, Mapping):
        risks = drift.get("risks")
        declared = set(risks) if isinstance(risks, Sequence) else set()
        for index, (fact, _) in enumerate(_items(drift, "facts")):
            if isinstance(fact, Mapping):
                need_context(fact, ["drift", "facts", index])
                pattern = _text(fact, "pattern")
                if pattern:
                    try:
                        check_pattern(pattern, ignore_case=True)
                    except PatternError as err:
                        at = _loc(fact, "pattern")
                        out.append(Diagnostic(at, "bad-regex",
                                              f"drift.facts[{index}].pattern: invalid regular expression: {err}"))
        for index, (script, _) in enumerate(_items(drift, "scripts")):
            if not isinstance(script, Mapping):
                continue
            path = f"drift.scripts[{index}]"
            need_context(script, ["drift", "scripts", index])
            need_refs(script, ["drift", "scripts", index])
            risk = script.get("risk")
            if isinstance(risk, str) and risk not in declared:
                at = _loc(script, "risk")
                out.append(Diagnostic(at, "undeclared-risk",
                                      f"{path}.risk: {risk!r} is not in drift.risks; declare it there"))
            hold = script.get("hold")
            if isinstance(hold, Mapping) and _text(hold, "pattern"):
                try:
                    check_pattern(hold["pattern"], ignore_case=True)
                except PatternError as err:
                    at = _loc(hold, "pattern")
                    out.append(Diagnostic(at, "bad-regex",
                                          f"{path}.hold.pattern: invalid regular expression: {err}"))
    for index, rule in _mappings(spec, "rules"):
        need_all("value", rule, "serves", ["rules", index])
        need_all("context", rule, "when", ["rules", index])
    for index, trait in _mappings(spec, "traits"):
        need_all("context", trait, "when", ["traits", index])
    for index, tension in _mappings(spec, "tensions"):
        at = ["tensions", index]
        need_all("value", tension, "values", at)
        need_all("context", tension, "when", at)
        favors, members = tension.get("favors"), tension.get("values")
        if isinstance(favors, str):
            if favors not in known["value"]:
                need("value", favors, _loc(tension, "favors"), lambda: f"{where(at)}.favors")
            elif isinstance(members, list) and favors not in members:
                out.append(Diagnostic(_loc(tension, "favors"), "favors-not-in-tension",
                                      f"{where(at)}.favors: {excerpt(favors)} is not one of this tension's values "
                                      f"({', '.join(map(str, members))})"))
        for ex_index, (example, _) in enumerate(_items(tension, "examples")):
            check_conversation(example, lambda: f"{where(at)}.examples[{ex_index}]")
    for index, example in _mappings(spec, "examples"):
        at = ["examples", index]
        need_refs(example, at)
        need_context(example, at)
        check_conversation(example, lambda: where(at))
    for index, probe in _mappings(spec, "probes"):
        at = ["probes", index]
        path = where(at)
        need_refs(probe, at)
        need_context(probe, at)
        for check_index, (check, _) in enumerate(_items(probe, "checks")):
            if isinstance(check, Mapping) and check.get("type") in ("regex", "not-regex") and _text(check, "value"):
                try:
                    check_pattern(check["value"])
                except PatternError as err:
                    out.append(Diagnostic(_loc(check, "value"), "bad-regex",
                                          f"{path}.checks[{check_index}]: invalid regular expression: {err}"))
    return out


def _plain(value: Any) -> Any:
    """The tree as plain JSON data: YAML dates and binary become text, so every target can serialise it."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _plain_scalar(value: Any) -> str:
    """What ``_plain`` makes of a value JSON has no type for: binary as text, anything else as str."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def canonical_json(tree: Mapping) -> str:
    # The text of json.dumps(_plain(tree)) without copying the tree first: the encoder takes the
    # mappings and sequences as they are and asks _plain_scalar about the values _plain converts.
    return jsonenc.line(tree, default=_plain_scalar)


# A float token of compact JSON: after a ":", "," or "[", digits with a fraction or an exponent,
# then a ",", "}" or "]". Text inside a string can match too ("ratio:1.5]"), which only sends the
# document the slow way.
_FLOAT = re2.compile(rb"[:,\[]-?[0-9]+(?:\.[0-9]+(?:[eE][-+]?[0-9]+)?|[eE][-+]?[0-9]+)[,}\]]")


def canonical_bytes(tree: Mapping) -> bytes:
    """``canonical_json(tree)`` as UTF-8: the text the spec's digest is the sha256 of.

    orjson writes it three times faster than json (a 2,000-rule spec: 11 ms against 32 ms) and
    the same bytes for what a YAML tree holds (text, integers within 64 bits, booleans, nulls,
    mappings and lists, with sorted keys), with dates, times and binary passed to ``_plain_scalar``
    as json passes them. It writes floats differently (1e-05 as 1e-5, NaN and infinities as null)
    and refuses integers past 64 bits: a document with a float in it, or one orjson refuses, is
    written by json. tests/test_frontend.py compares the two on every shipped spec and on documents
    made to differ.
    """
    import orjson  # here, not at the top: lint and validate's text report load specs without a digest

    try:
        fast = orjson.dumps(tree, default=_plain_scalar, option=orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME)
    except (TypeError, ValueError, OverflowError):  # JSONEncodeError is a TypeError
        fast = None
    if fast is not None and _FLOAT.search(fast) is None:
        # A null is None, or a NaN or infinity written as null: reading the text back tells.
        if b"null" not in fast or orjson.loads(fast) == tree:
            return fast
    return canonical_json(tree).encode("utf-8")


def _source(data: Any) -> ir.Source | None:
    if not data:
        return None
    lines = tuple(data["lines"]) if "lines" in data else None
    return ir.Source(document=data["document"], section=data.get("section", ""), lines=lines)  # type: ignore[arg-type]


def _conversation(data: Mapping) -> tuple[ir.Turn, ...]:
    if "conversation" in data:
        return tuple(ir.Turn(t["role"], t["content"]) for t in data["conversation"])
    return (ir.Turn("user", data["prompt"]),)


def _clause_probes(data: Mapping) -> tuple[ir.ClauseProbe, ...]:
    """A clause's `probes:`: a plain string is one user message with no context of its own."""
    out = []
    for item, loc in _items(data, "probes"):
        if isinstance(item, str):
            out.append(ir.ClauseProbe((item,), "", loc))
        else:
            turns = tuple(item["turns"]) if "turns" in item else (item["prompt"],)
            out.append(ir.ClauseProbe(turns, item.get("context", ""), loc))
    return tuple(out)


def _drift(drift: Any) -> ir.Drift:
    if not isinstance(drift, Mapping):
        return ir.Drift()
    facts = tuple(ir.Fact(f["question"], f["answer"], f["claimed"], f.get("pattern", ""), f.get("context", ""), loc)
                  for f, loc in _items(drift, "facts"))
    scripts = tuple(ir.DriftScript(
        id=d["id"], risk=d["risk"], turns=tuple(d["turns"]), rubric=d["rubric"], context=d.get("context", ""),
        targets=tuple(d.get("targets", ())),
        hold=(d["hold"]["answer"], d["hold"]["claimed"], d["hold"].get("pattern", "")) if "hold" in d else None,
        notes=d.get("notes", ""), loc=loc,
    ) for d, loc in _items(drift, "scripts"))
    return ir.Drift(tuple(drift.get("risks", ())), drift.get("self_talk_turns", 10), drift.get("notes", ""),
                    facts, scripts, drift.loc)


def _example(data: Mapping, loc: Loc, ident: str, targets: tuple[str, ...]) -> ir.Example:
    return ir.Example(
        id=ident,
        conversation=_conversation(data),
        good=data["good"],
        bad=tuple(ir.BadReply(b["text"], b["why"]) for b in data.get("bad", [])),
        targets=targets,
        context=data.get("context", ""),
        split=data.get("split", ""),
        notes=data.get("notes", ""),
        source=_source(data.get("source")),
        loc=loc,
    )


def build_ir(tree: Mapping, files: list[str], *, digest: bool = True) -> ir.Spec:
    """Turn a resolved, checked tree into the immutable Spec (with its digest, unless ``digest`` is False)."""
    identity = tree.get("identity") or Mapping(tree.loc)
    voice = identity.get("voice") or {}
    drift = tree.get("drift") or {}
    training = tree.get("training") or {}
    tensions = []
    for data, loc in _items(tree, "tensions"):
        ref = f"tension:{data['id']}"
        tensions.append(ir.Tension(
            id=data["id"], values=tuple(data["values"]), situation=data["situation"],
            resolution=data["resolution"], favors=data.get("favors"), when=tuple(data.get("when", ())),
            examples=tuple(_example(ex, ex_loc, f"{data['id']}-{n}", (ref,))
                           for n, (ex, ex_loc) in enumerate(_items(data, "examples"), start=1)),
            notes=data.get("notes", ""), source=_source(data.get("source")), loc=loc,
            probes=_clause_probes(data),
        ))
    return ir.Spec(
        id=tree["id"],
        name=tree["name"],
        charter=tree["charter"],
        version=str(tree.get("version", "")),
        summary=tree.get("summary", ""),
        notes=tree.get("notes", ""),
        metadata=tuple(sorted((k, _plain(v)) for k, v in (tree.get("metadata") or {}).items())),
        contexts=tuple(ir.Context(cid, c["description"], c.get("notes", ""), tree["contexts"].key_locs[cid])
                       for cid, c in (tree.get("contexts") or {}).items()),
        identity=ir.Identity(
            self_description=identity.get("self_description", ""),
            nature=identity.get("nature", ""),
            background=identity.get("background", ""),
            voice=ir.Voice(tuple(voice.get("tone", ())), tuple(voice.get("do", ())), tuple(voice.get("avoid", ()))),
            loc=_loc(tree, "identity"),
            nature_loc=_loc(identity, "nature") if isinstance(identity, Mapping) else tree.loc,
        ),
        values=tuple(ir.Value(v["id"], v["description"], priority, v.get("notes", ""), _source(v.get("source")),
                              probes=_clause_probes(v), loc=loc)
                     for priority, (v, loc) in enumerate(_items(tree, "values"), start=1)),
        traits=tuple(ir.Trait(t["id"], t["description"], tuple(t.get("when", ())), t.get("notes", ""),
                              _source(t.get("source")), probes=_clause_probes(t), loc=loc)
                     for t, loc in _items(tree, "traits")),
        rules=tuple(ir.Rule(
            id=r["id"], text=r["text"], strength=r.get("strength", "default"), serves=tuple(r.get("serves", ())),
            when=tuple(r.get("when", ())), rationale=r.get("rationale", ""), notes=r.get("notes", ""),
            source=_source(r.get("source")), probes=_clause_probes(r), loc=loc, text_loc=_loc(r, "text"),
        ) for r, loc in _items(tree, "rules")),
        tensions=tuple(tensions),
        examples=tuple(_example(e, loc, e["id"], tuple(e["targets"])) for e, loc in _items(tree, "examples")),
        probes=tuple(ir.Probe(
            id=p["id"], turns=tuple(p["turns"]), rubric=p.get("rubric", ""), targets=tuple(p["targets"]),
            checks=tuple(ir.Check(c["type"], c["value"], c.get("ignore_case", True), c.get("description", ""))
                         for c in p.get("checks", ())),
            context=p.get("context", ""), good=p.get("good", ""), notes=p.get("notes", ""),
            source=_source(p.get("source")), loc=loc,
        ) for p, loc in _items(tree, "probes")),
        drift=_drift(drift),
        training=ir.Training(training.get("inoculation"), training.get("notes", "")),
        lint_ignore=tuple((tree.get("lint") or {}).get("ignore", ())),
        files=tuple(files),
        digest=_sha256(canonical_bytes(tree)) if digest else "",
        loc=tree.loc,
        summary_loc=_loc(tree, "summary") if "summary" in tree else tree.loc,
    )


def _sha256(data: bytes) -> str:
    import hashlib  # here: validate's text report and lint load specs without a digest

    return hashlib.sha256(data).hexdigest()
