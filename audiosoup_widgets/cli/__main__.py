"""``python -m audiosoup_widgets.cli``: the ``audiosoup`` command, run from this Python."""

import sys

from audiosoup_widgets.cli import main

sys.exit(main())
