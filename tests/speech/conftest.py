"""Shared speech test text."""

from __future__ import annotations

import pytest

# the 95-word call of issue #25: the LLM wrote "moving the launch deadline forward" about it
CALL = (
    "Thanks for joining the call. Today we review the launch plan for the new app. "
    "Maria says the design is finished and the icons are ready. Tom reports that testing found "
    "two bugs in the login screen. Both bugs will be fixed by Friday. Marketing wants the release "
    "notes a week before launch. We agree to keep the launch date in March. Tom will send the "
    "test report tomorrow. Maria will update the screenshots. That is all for today, thanks everyone."
)


@pytest.fixture
def call() -> str:
    """A 95-word meeting transcript (nine sentences)."""
    return CALL
