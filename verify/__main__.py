"""``python -m verify`` is ``ptverify``."""

import sys

from verify.cli import main

sys.exit(main())
