"""Kernel discovery for the dashboard server: always the Python that runs the server.

A user may have a ``python3`` kernel of their own registered (``ipykernel install
--user`` from another environment); Jupyter would prefer it over the server's own
interpreter, and the dashboard would start where Audio Soup is not installed.
"""

from __future__ import annotations

from jupyter_client.kernelspec import KernelSpecManager
from traitlets import default


class NativeKernelSpecManager(KernelSpecManager):
    """Offer only the native ``python3`` kernel, i.e. the server's own interpreter."""

    @default("kernel_dirs")
    def _no_user_kernel_dirs(self) -> list[str]:
        return []
