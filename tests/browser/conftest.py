"""Fixtures of the browser tests: one headless Chromium for the session.

The tests here are marked ``browser``; without Playwright or Chromium the ``chromium`` fixture
skips them with the reason (``.ci/run`` installs both).
"""

from __future__ import annotations

import pytest
from browser.chromium import browser, missing


@pytest.fixture(scope="session")
def chromium():
    reason = missing()
    if reason:
        pytest.skip(f"browser test: {reason}")
    with browser() as ctx:
        yield ctx
