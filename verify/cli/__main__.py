"""``python -m verify.cli`` is ``ptverify`` (as ``python -m verify`` is)."""

import sys

from verify.cli import main

sys.exit(main())
