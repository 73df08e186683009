"""``python -m qembed`` is the ``qembed`` command."""

import sys

from qembed.cli import main

sys.exit(main())
