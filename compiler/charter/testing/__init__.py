"""Test support that ships with Charter: a fake model server speaking the OpenAI and Anthropic wire formats."""

from __future__ import annotations

__all__ = ["FAULTS", "FakeServer", "LoggedRequest", "ModelScript"]


def __getattr__(name: str):
    # Imported lazily so `python -m charter.testing.fakeserver` does not load the module twice.
    if name in __all__:
        from charter.testing import fakeserver

        return getattr(fakeserver, name)
    raise AttributeError(f"module 'charter.testing' has no attribute {name!r}")
