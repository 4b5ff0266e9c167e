"""``python -m azml``: the azml command."""

from __future__ import annotations

import sys

from azml.cli import main

if __name__ == "__main__":
    sys.exit(main())
