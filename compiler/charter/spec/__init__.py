"""The spec language's front end: read YAML with positions, resolve `extends`, validate, build the IR."""

from .ir import (Check, Clause, Context, Drift, Example, BadReply, Identity, Probe, Rule, Source, Spec,
                 Tension, Training, Trait, Turn, Value, Voice, applies)
from .loader import load

__all__ = ["load", "Spec", "Clause", "Context", "Drift", "Example", "BadReply", "Identity", "Probe", "Rule",
           "Source", "Tension", "Training", "Trait", "Turn", "Value", "Voice", "Check", "applies"]
