"""``python -m bot`` runs the ``imagebot`` command line."""

import sys

from bot.cli import main

sys.exit(main())
