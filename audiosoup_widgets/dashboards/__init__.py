"""The packaged review dashboard: its notebook (``review.ipynb``) and Voila configuration (``voila.json``).

``audiosoup serve`` runs Voila on ``review.ipynb`` with ``voila.json`` as its only
configuration file (see :mod:`audiosoup_widgets.dashboards.serve`). The notebook is the
single source of truth for the review dashboard; ``notebooks/review_dashboard.ipynb``
in the repository is a byte-for-byte copy for JupyterLab and Binder, and a test
fails if the two drift apart.

The notebook has two cells. The first calls :func:`prepare_kernel`, which Voila
runs in a pre-heated kernel before anyone connects; the second waits for the
visitor and only then builds the app, so every page shows the database as it is
at that moment, not as it was when the kernel was heated.
"""

from __future__ import annotations

import os
import time

#: The line a kernel writes to the server's log once :func:`prepare_kernel` is done.
READY_MESSAGE = "audiosoup: dashboard kernel ready"


def prepare_kernel() -> float:
    """Do a dashboard kernel's start-up work: the imports the app needs, nothing more.

    Under Voila, first sends the kernel's errors, warnings and standard error to
    the server's log instead of the page
    (:func:`~audiosoup_widgets.dashboards.kernel_log.send_errors_to_server_log`).
    The feature engine's compiled code is not loaded here: every visitor's kernel
    would carry it (about 170 MB) whether or not they open a feature view; it
    loads when a feature view first needs it.

    Writes one line starting with :data:`READY_MESSAGE` to the process's real
    standard error, which is the server's log under Voila (and the terminal
    under JupyterLab), not the page.

    Returns
    -------
    float
        Seconds it took.
    """
    from .kernel_log import send_errors_to_server_log, server_log_stream, under_voila

    t0 = time.perf_counter()
    if under_voila():
        send_errors_to_server_log()
    from .. import app  # noqa: F401 - ipyvuetify, bqplot and the store load here, not later

    seconds = time.perf_counter() - t0
    print(f"{READY_MESSAGE} in {seconds:.1f} s (pid {os.getpid()})", file=server_log_stream(), flush=True)
    return seconds
