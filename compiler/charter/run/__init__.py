"""The eval runner: run compiled eval cases against models, grade every turn, keep results resumable.

From Python, ``run_evals`` and ``calibrate_judge`` write what ``charter run`` and ``charter calibrate``
write (see :mod:`charter.run._api`).
"""

from __future__ import annotations

# Imported on first use: `charter report` reads charter.run.results and must not pay for the
# runner's SDK imports.
_EXPORTS = {
    "run_evals": "._api", "calibrate_judge": "._api", "has_failures": "._api", "state_dir": "._api",
    "Gate": "._api", "errored_runs": "._api",
    "RunOptions": ".runner", "Progress": ".runner", "RunAborted": ".runner",
    "Plan": ".cases", "load_plan": ".cases",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        from importlib import import_module

        return getattr(import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
