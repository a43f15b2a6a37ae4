"""``python -m omnichannel`` runs the command line."""

import sys

from omnichannel.cli import main

sys.exit(main())
