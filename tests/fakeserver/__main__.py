"""``python tests/fakeserver [options]`` (or ``python -m fakeserver`` with tests/ on the path)."""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:
    # Run as a directory, so only tests/fakeserver itself is on sys.path: add tests/ for the package.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fakeserver.server import main  # noqa: E402

main()
