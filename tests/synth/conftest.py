"""The synthesis tests' fake server: every model answers by rule (see synth_helpers.stage_reply),
and a batch finishes on its second poll."""

from __future__ import annotations

import pytest
from fakeserver import ModelScript
from synth_helpers import stage_reply


@pytest.fixture
def server_options() -> dict:
    return {"default": ModelScript(reply=stage_reply), "batch_polls": 2}
