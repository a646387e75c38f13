"""Fixtures for the hostile corpus (the helpers live in ``hostile_support.py``).

This folder is put on ``sys.path`` so the test modules can ``import hostile_support``
(``tests/conftest.py`` already owns the module name ``conftest``).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).parent))  # after tests/, whose conftest.py owns the name

from hostile_support import nobody_dir, readonly_tmpfs, small_tmpfs  # noqa: F401
