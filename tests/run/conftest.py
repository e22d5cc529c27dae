"""The runner tests' fake server: models named "judge" grade by rule (see run_helpers.scoring_judge)."""

from __future__ import annotations

import pytest
from fakeserver import ModelScript
from run_helpers import scoring_judge


@pytest.fixture
def server_options() -> dict:
    return {"models": {"judge": ModelScript(reply=scoring_judge)}}
