"""Test support that ships with Charter: a fake model server speaking the OpenAI and Anthropic wire formats."""

from charter.testing.fakeserver import FAULTS, FakeServer, LoggedRequest, ModelScript

__all__ = ["FAULTS", "FakeServer", "LoggedRequest", "ModelScript"]
