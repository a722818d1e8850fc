"""``python -m mockidp serve``: see ``mockidp._cli``."""

from __future__ import annotations

import sys

from mockidp._cli import main

if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess
    sys.exit(main())
