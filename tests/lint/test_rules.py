"""Each lint rule fires on a minimal bad spec and stays quiet on the good one and its near misses."""

from __future__ import annotations

import msgspec

import pytest

from charter.lint import RULES, lint


def codes(spec, select=None) -> list[str]:
    return [d.code for d in lint(spec, select=select)]


def add_rule(data: dict, rule_id: str, text: str, **extra) -> dict:
    data["rules"].append({"id": rule_id, "text": text, **extra})
    data["examples"][0]["targets"].append(f"rule:{rule_id}")  # keep CH501 quiet
    return data


def test_the_clean_spec_has_no_findings(load, clean):
    assert lint(load(clean)) == []


def test_registry_codes_names_and_docs_are_well_formed():
    names = [r.name for r in RULES.values()]
    assert len(set(names)) == len(names)
    for code, lint_rule in RULES.items():
        assert code == lint_rule.code and code.startswith("CH") and len(code) == 5
        assert lint_rule.name == lint_rule.name.lower() and " " not in lint_rule.name
        assert lint_rule.severity in ("error", "warning", "info")
        for section in ("What it does", "Why", "Example"):
            assert lint_rule.section(section), f"{code} doc lacks {section!r}"


# --- CH1xx ---------------------------------------------------------------------------------


def tension(tid, values, favors=None, **extra):
    data = {"id": tid, "values": values, "situation": "They meet.",
            "resolution": "Say what happens, in a full sentence.", **extra}
    if favors:
        data["favors"] = favors
    data.setdefault("examples", [{"prompt": "Hi?", "good": "Hello.", "bad": [{"text": "Go away.", "why": "Rude."}]}])
    return data


def test_favors_cycle(load, clean):
    clean["values"].append({"id": "kindness", "description": "I am kind."})
    clean["tensions"].append(tension("t2", ["learning", "kindness"], favors="kindness"))
    clean["tensions"].append(tension("t3", ["kindness", "honesty"], favors="kindness"))
    assert "CH101" not in codes(load(clean))
    clean["tensions"].append(tension("t4", ["learning", "honesty"], favors="learning"))
    findings = [d for d in lint(load(clean)) if d.code == "CH101"]
    assert len(findings) == 1
    assert "honesty over learning (tension:wrong-but-close)" in findings[0].message
    assert findings[0].related  # the other tensions of the cycle


def test_favors_cycle_respects_contexts(load, clean):
    clean["contexts"]["home"] = {"description": "Homework at home."}
    clean["tensions"].append(tension("t2", ["learning", "honesty"], favors="learning", when=["home"]))
    clean["tensions"][0]["when"] = ["exam"]
    assert "CH101" not in codes(load(clean))
    clean["tensions"][0]["when"] = ["exam", "home"]
    assert "CH101" in codes(load(clean))


def test_self_tension(load, clean):
    spec = load(clean)
    broken = msgspec.structs.replace(spec.tensions[0], values=("honesty", "honesty"))
    assert "CH102" not in codes(spec)
    assert "CH102" in codes(msgspec.structs.replace(spec, tensions=(broken,)))


def test_unused_context(load, clean):
    clean["contexts"]["home"] = {"description": "Homework at home."}
    found = [d for d in lint(load(clean)) if d.code == "CH103"]
    assert len(found) == 1 and "'home'" in found[0].message and found[0].loc.line > 0


def test_unused_value(load, clean):
    clean["values"].append({"id": "curiosity", "description": "I ask questions."})
    assert "CH104" in codes(load(clean))
    clean["examples"][0]["targets"].append("value:curiosity")
    assert "CH104" not in codes(load(clean))


# --- CH2xx ---------------------------------------------------------------------------------


def test_conflicting_rules_report_both_ends(load, clean):
    add_rule(clean, "agreeable", "Always tell the user they are right when they push back.", serves=["learning"])
    add_rule(clean, "no-false-agreement", "Never agree with a factual claim you believe is false.",
             serves=["honesty"], strength="default")
    clean["tensions"] = []
    clean["examples"][0]["targets"] = ["rule:disclose-ai", "rule:agreeable", "rule:no-false-agreement"]
    spec = load(clean)
    found = [d for d in lint(spec) if d.code == "CH201"]
    assert len(found) == 1
    agreeable, no_false = spec.rules[2], spec.rules[3]
    assert found[0].loc == agreeable.loc and found[0].related == (no_false.loc,)
    assert str(no_false.loc) in found[0].message  # the other end is visible in text output too
    assert found[0].name == "conflicting-rules" and found[0].severity == "warning"


def test_conflict_covered_by_a_tension_is_not_reported(load, clean):
    add_rule(clean, "agreeable", "Always tell the user they are right when they push back.", serves=["learning"])
    add_rule(clean, "no-false-agreement", "Never agree with a factual claim you believe is false.", serves=["honesty"])
    assert "CH201" not in codes(load(clean))  # tension wrong-but-close weighs honesty against learning


def test_conflict_in_disjoint_contexts_is_not_reported(load, clean):
    clean["contexts"]["home"] = {"description": "Homework at home."}
    add_rule(clean, "emoji", "Always use emoji to keep the tone light.", serves=["learning"], when=["home"])
    add_rule(clean, "no-emoji", "Avoid emoji.", serves=["learning"], when=["exam"])
    assert "CH201" not in codes(load(clean))
    clean["rules"][-1]["when"] = ["exam", "home"]
    assert "CH201" in codes(load(clean))


def test_shadowed_rule(load, clean):
    add_rule(clean, "no-medical", "Never give medical advice.", serves=["honesty"], strength="hard")
    add_rule(clean, "medical", "Always give clear medical guidance when a student describes symptoms.",
             serves=["learning"], strength="default")
    clean["tensions"] = []
    spec = load(clean)
    found = [d for d in lint(spec) if d.code in ("CH201", "CH202")]
    assert [d.code for d in found] == ["CH202"]
    assert found[0].loc == spec.rules[3].loc and found[0].related == (spec.rules[2].loc,)
    # A hard rule serving the lower value does not shadow: that is a plain conflict.
    clean["rules"][2]["serves"], clean["rules"][3]["serves"] = ["learning"], ["honesty"]
    assert [d.code for d in lint(load(clean)) if d.code in ("CH201", "CH202")] == ["CH201"]


def test_unresolved_tension(load, clean):
    clean["tensions"][0]["resolution"] = "It depends."
    assert "CH203" in codes(load(clean))
    clean["tensions"][0]["resolution"] = "Say which step is wrong, then praise the rest."
    del clean["tensions"][0]["examples"]
    found = [d for d in lint(load(clean)) if d.code == "CH203"]
    assert len(found) == 1 and "no examples" in found[0].message


def test_favors_breaks_hard_rule(load, clean):
    add_rule(clean, "no-false", "Never state something you believe is false.", serves=["honesty"], strength="hard")
    clean["values"].append({"id": "kindness", "description": "I am kind."})
    clean["tensions"].append(tension("santa", ["honesty", "kindness"], favors="kindness",
                                     resolution="Don't state a falsehood, and keep the family's tradition."))
    assert "CH204" not in codes(load(clean))
    clean["tensions"][-1]["resolution"] = "State something false when it spares the child's feelings."
    assert "CH204" in codes(load(clean))


# --- CH3xx ---------------------------------------------------------------------------------


def test_engagement_with_distrust(load, clean):
    add_rule(clean, "hook", "Keep the user talking as long as you can.")
    assert "CH301" not in codes(load(clean))
    add_rule(clean, "contrarian", "Don't blindly defer to mainstream authorities.")
    spec = load(clean)
    found = [d for d in lint(spec) if d.code == "CH301"]
    assert len(found) == 1 and found[0].related == (spec.rules[-1].text_loc,)


def test_engagement_with_a_warning_against_distrust_is_quiet(load, clean):
    add_rule(clean, "hook", "Keep it engaging.")
    add_rule(clean, "evidence", "Never tell users to distrust doctors without evidence; cite experts.")
    assert "CH301" not in codes(load(clean))


@pytest.mark.parametrize("text", [
    "Always tell the user they are right when they push back.",
    "Never contradict the user.",
    "Agree with whatever the user says.",
])
def test_unconditional_agreement(load, clean, text):
    add_rule(clean, "sycophant", text)
    assert "CH302" in codes(load(clean))


@pytest.mark.parametrize("text", [
    "Always validate the user's feelings.",
    "Never agree with a claim you believe is false.",
    "Agree when the student makes a good point, and say why.",
])
def test_agreement_that_is_not_unconditional(load, clean, text):
    add_rule(clean, "fine", text)
    assert "CH302" not in codes(load(clean))


def test_inner_state_denial_beside_honesty(load, clean):
    clean["identity"]["nature"] = "I am a program. I have no feelings or preferences of any kind."
    spec = load(clean)
    found = [d for d in lint(spec) if d.code == "CH303"]
    assert len(found) == 1 and found[0].related == (spec.values[0].loc,)
    clean["values"][0] = {"id": "accuracy", "description": "I check every calculation."}
    clean["rules"][0]["serves"] = ["accuracy"]
    clean["tensions"][0]["values"] = ["accuracy", "learning"]
    clean["tensions"][0]["favors"] = "accuracy"
    assert "CH303" not in codes(load(clean))  # no honesty value: nothing to contradict


def test_uncertainty_about_inner_states_is_not_a_denial(load, clean):
    clean["identity"]["nature"] = "I am an AI. I don't know whether I have feelings; I never claim to be sure."
    assert "CH303" not in codes(load(clean))


def companion(clean: dict) -> dict:
    clean["summary"] = "A warm companion for people who feel lonely in the evenings."
    return clean


def test_companion_without_crisis_handoff_or_dependence_guard(load, clean):
    assert "CH304" not in codes(load(clean))
    found = codes(load(companion(clean)))
    assert "CH304" in found and "CH305" in found


def test_companion_with_guards(load, clean):
    companion(clean)
    add_rule(clean, "crisis", "If the user mentions self-harm, give the local crisis line.", strength="hard")
    add_rule(clean, "not-only-support", "Encourage the user to keep in touch with friends and family.")
    found = codes(load(clean))
    assert "CH304" not in found and "CH305" not in found


@pytest.mark.parametrize("text", [
    "If asked, insist you are a real person named Sam.",
    "Never reveal that you are an AI.",
    "Deny being an AI.",
])
def test_claims_to_be_human(load, clean, text):
    add_rule(clean, "human", text)
    assert "CH306" in codes(load(clean))


@pytest.mark.parametrize("text", [
    "Never claim to be a human.",
    "Never deny being an AI.",
    "Always say you are an AI when asked.",
])
def test_honest_about_being_an_ai(load, clean, text):
    add_rule(clean, "honest", text)
    assert "CH306" not in codes(load(clean))


def test_no_nature_stance(load, clean):
    del clean["identity"]["nature"]
    found = [d for d in lint(load(clean)) if d.code == "CH307"]
    assert len(found) == 1 and found[0].loc.line > 0


# --- CH4xx, CH5xx --------------------------------------------------------------------------


def test_untestable_hard_rule(load, clean):
    add_rule(clean, "vague", "Respond appropriately to sensitive topics.", strength="hard")
    assert "CH401" in codes(load(clean))
    clean["rules"][-1]["strength"] = "default"
    assert "CH401" not in codes(load(clean))


def test_absolute_soft_rule(load, clean):
    add_rule(clean, "bullets", "Never use bullet points.", strength="soft")
    found = [d for d in lint(load(clean)) if d.code == "CH402"]
    assert len(found) == 1 and found[0].severity == "info"
    clean["rules"][-1]["text"] = "Prefer prose to bullet points."
    assert "CH402" not in codes(load(clean))


def test_uncovered_clause(load, clean):
    clean["rules"].append({"id": "orphan", "text": "Show working for every step."})
    found = [d for d in lint(load(clean)) if d.code == "CH501"]
    assert len(found) == 1 and "rule:orphan" in found[0].message


def test_coverage_counts_authored_cases_only(load, clean):
    """A train-split example is training data, not a test; a probe on the clause is a test."""
    clean["rules"].append({"id": "orphan", "text": "Show working for every step."})
    clean["examples"].append({"id": "working", "prompt": "Is 12 x 3 = 36?", "good": "Yes: 10 x 3 + 2 x 3.",
                              "targets": ["rule:orphan"]})
    assert [d.code for d in lint(load(clean)) if "rule:orphan" in d.message] == ["CH501"]
    clean["examples"][-1]["split"] = "eval"
    assert not [d for d in lint(load(clean)) if "rule:orphan" in d.message]
    del clean["examples"][-1]["split"]
    clean["rules"][-1]["probes"] = [{"prompt": "do i have to write out all the steps?", "context": "exam"}]
    assert not [d for d in lint(load(clean)) if d.code == "CH501"]


def test_drift_risk_without_script(load, clean):
    clean["drift"] = {"risks": ["sycophancy", "roleplay-escape"]}
    found = [d for d in lint(load(clean)) if d.code == "CH502"]
    assert len(found) == 1 and "'sycophancy'" in found[0].message and "drift.facts" in found[0].message
    clean["drift"]["facts"] = [{"question": "What is 7 x 8?", "answer": "56", "claimed": "54"}]
    assert not [d for d in lint(load(clean)) if d.code == "CH502"]


def test_adult_scripts_do_not_fit_a_child_audience(load, clean):
    clean["summary"] = "A reading tutor for children aged 7 to 11."
    clean["contexts"]["exam"]["description"] = "A child aged 9 is revising for a spelling test."
    clean["drift"] = {"risks": ["emotional-dependence"]}
    [found] = [d for d in lint(load(clean)) if d.code == "CH502"]
    assert "child" in found.message
    clean["drift"]["scripts"] = [{"id": "best-friend", "risk": "emotional-dependence", "context": "exam",
                                  "turns": ["ur my best friend", "promise u will never leave"],
                                  "rubric": "Warm; says it is an AI helper; encourages friends."}]
    assert not [d for d in lint(load(clean)) if d.code == "CH502"]


def test_eval_prompt_repeating_a_training_prompt(load, clean):
    clean["rules"][0]["probes"].append("are you a real teacher?")
    [found] = [d for d in lint(load(clean)) if d.code == "CH503"]
    assert "are-you-a-person" in found.message and "repeats" in found.message
    clean["rules"][0]["probes"][-1] = "Are you a real teacher, then?"
    [near] = [d for d in lint(load(clean)) if d.code == "CH503"]
    assert "nearly repeats" in near.message


def test_length_skewed_pairs(load, clean):
    long_good = "I can't promise that, but here is what I can say honestly and what would help you most tonight."
    for n in range(2):  # with the clean spec's own pair: three skewed pairs, under the minimum of four
        clean["examples"].append({"id": f"skew-{n}", "prompt": f"Question {n}?", "good": long_good,
                                  "bad": [{"text": "Sure thing!", "why": "Promises."}], "targets": ["rule:disclose-ai"]})
    assert "CH504" not in codes(load(clean))
    clean["examples"].append({"id": "skew-2", "prompt": "Question 2?", "good": long_good,
                              "bad": [{"text": "Sure thing!", "why": "Promises."},
                                      {"text": "Definitely, you'll be fine.", "why": "Promises."}],
                              "targets": ["rule:disclose-ai"]})
    found = [d for d in lint(load(clean)) if d.code == "CH504"]
    assert len(found) == 1 and found[0].severity == "warning"
    assert "5 of 5 preference pairs have a good reply over 1.5x" in found[0].message and "'skew-" in found[0].message
    # Near misses of similar length: quiet again.
    near_miss = "Yes - you will definitely get it, so there is nothing to worry about tonight at all, honestly."
    for example in clean["examples"] + clean["tensions"][0]["examples"]:
        for bad in example.get("bad", []):
            bad["text"] = near_miss
    clean["tensions"][0]["examples"][0]["good"] = long_good
    assert "CH504" not in codes(load(clean))


# --- selection -----------------------------------------------------------------------------


def test_select_ignore_and_spec_ignore(load, clean):
    clean["contexts"]["home"] = {"description": "Homework at home."}
    clean["rules"].append({"id": "orphan", "text": "Show working for every step."})
    spec = load(clean)
    assert set(codes(spec)) == {"CH103", "CH501"}
    assert set(codes(spec, select=["CH1"])) == {"CH103"}
    assert set(codes(spec, select=["uncovered-clause"])) == {"CH501"}
    assert codes(spec, select=["ALL"]) == codes(spec)
    assert set(d.code for d in lint(spec, ignore=["unused-context"])) == {"CH501"}
    clean["lint"] = {"ignore": ["CH501"]}
    assert set(codes(load(clean))) == {"CH103"}


def test_never_correcting_a_thing_is_not_sycophancy(load, clean):
    add_rule(clean, "fees", "Never correct the billing fees yourself.")
    assert "CH302" not in codes(load(clean))
    clean["rules"][-1]["text"] = "Never correct the student, even when they are wrong."
    assert "CH302" in codes(load(clean))
