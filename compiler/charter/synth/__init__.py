"""Synthesis at scale: teacher-model training data and eval generation, synchronous or on the providers' batch APIs.

From Python, ``generate_data`` and ``generate_evals`` write what ``charter generate data|evals`` write
(see :mod:`charter.synth._api`).
"""

from __future__ import annotations

# Imported on first use, so importing one synth module does not load the whole pipeline.
_EXPORTS = {
    "generate_data": "._api", "generate_evals": "._api", "CallSettings": "._api", "Generated": "._api",
    "DataOptions": ".pipeline", "StageProgress": ".pipeline", "EvalOptions": ".evalgen",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        from importlib import import_module

        return getattr(import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
