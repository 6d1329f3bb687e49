"""The packaged review dashboard: its notebook (``review.ipynb``) and Voila configuration (``voila.json``).

``audiosoup serve`` runs Voila on ``review.ipynb`` with ``voila.json`` as its only
configuration file (see :mod:`audiosoup_widgets.serve`). The notebook is the
single source of truth for the review dashboard; ``notebooks/review_dashboard.ipynb``
in the repository is a byte-for-byte copy for JupyterLab and Binder, and a test
fails if the two drift apart.

The notebook has two cells. The first calls :func:`prepare_kernel`, which Voila
runs in a pre-heated kernel before anyone connects; the second waits for the
visitor and only then builds the app, so every page shows the database as it is
at that moment, not as it was when the kernel was heated.
"""

from __future__ import annotations

import logging
import os
import sys
import time

log = logging.getLogger(__name__)

#: The line a kernel writes to the server's log once :func:`prepare_kernel` is done.
READY_MESSAGE = "audiosoup: dashboard kernel ready"


def prepare_kernel() -> float:
    """Do a dashboard kernel's slow start-up work: imports and compiling the feature engine.

    Writes one line starting with :data:`READY_MESSAGE` to the process's own
    standard error, which is the server's log under Voila (and the terminal
    under JupyterLab), not the page.

    Returns
    -------
    float
        Seconds it took.
    """
    t0 = time.perf_counter()
    from .. import app  # noqa: F401 - ipyvuetify, bqplot and the store load here, not later
    from ..features.engine import warm_up

    try:
        warm_up()
    except Exception:  # noqa: BLE001 - warming is an optimisation, never a failure
        log.warning("feature engine warm-up failed", exc_info=True)
    seconds = time.perf_counter() - t0
    print(f"{READY_MESSAGE} in {seconds:.1f} s (pid {os.getpid()})", file=sys.__stderr__,
          flush=True)
    return seconds
