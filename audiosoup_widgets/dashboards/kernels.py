"""Kernels of the dashboard server: which Python they run, and when they end.

:class:`NativeKernelSpecManager`: a user may have a ``python3`` kernel of their
own registered (``ipykernel install --user`` from another environment); Jupyter
would prefer it over the server's own interpreter, and the dashboard would start
where Audio Soup is not installed.

:class:`DashboardKernelManager`: every page view has its own kernel (300 to 450
MB), so a kernel nobody looks at must end soon. A kernel with a page connected
lives as long as that page, idle or not. One that no page is connected to ends
``unconnected_grace`` seconds after it finished building its page if a page never
connected (a ``GET /`` without JavaScript, a tab closed while loading), and
``disconnected_grace`` seconds after its page went away (a closed tab whose
shutdown request did not arrive; the grace lets a page reconnect after a network
hiccup). The check runs every ``cull_interval`` seconds, so with the defaults a
kernel nobody uses ends within 45 + 5 = 50 s. Voila's pre-heated kernels never
end this way: its pool manager keeps them out of the check.
"""

from __future__ import annotations

import time
from typing import Any

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from traitlets import Float, default

__all__ = ["DashboardKernelManager", "NativeKernelSpecManager"]


class NativeKernelSpecManager(KernelSpecManager):
    """Offer only the native ``python3`` kernel, i.e. the server's own interpreter."""

    @default("kernel_dirs")
    def _no_user_kernel_dirs(self) -> list[str]:
        return []


class DashboardKernelManager(AsyncMappingKernelManager):
    """End the kernels of pages that are gone or never came (see the module docstring)."""

    unconnected_grace = Float(
        45.0, config=True, help="Seconds a kernel may wait, after building its page, for the page to connect."
    )
    disconnected_grace = Float(
        20.0, config=True, help="Seconds a kernel lives on after its last page disconnected."
    )

    @default("cull_idle_timeout")
    def _reaper_on(self) -> int:
        # Jupyter runs the periodic check only when this is positive (and names it in
        # its start-up log line); the rule itself is cull_kernel_if_idle below.
        return max(1, int(self.unconnected_grace))

    @default("cull_interval")
    def _check_often(self) -> int:
        return 5

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]  # jupyter_server leaves it untyped
        self._unattended_since: dict[str, float] = {}
        self._was_connected: set[str] = set()

    async def cull_kernel_if_idle(self, kernel_id: str) -> None:
        """End ``kernel_id`` if no page has used it for its grace period."""
        kernel = self._kernels.get(kernel_id)
        if kernel is None:
            return
        state = getattr(kernel, "execution_state", None)
        if state == "dead":
            self.log.warning("ending dead kernel %s", kernel_id)
            await self.shutdown_kernel(kernel_id)
            return
        if self._kernel_connections.get(kernel_id, 0) > 0:
            self._was_connected.add(kernel_id)
            self._unattended_since.pop(kernel_id, None)
            return
        if state in ("starting", "busy"):
            # Still building its page (or finishing a computation): the grace
            # period starts when it is done.
            self._unattended_since.pop(kernel_id, None)
            return
        now = time.monotonic()
        since = self._unattended_since.setdefault(kernel_id, now)
        connected = kernel_id in self._was_connected
        grace = self.disconnected_grace if connected else self.unconnected_grace
        if now - since < grace:
            return
        self.log.info(
            "ending kernel %s: %s for %.0f s",
            kernel_id,
            "its page disconnected" if connected else "no page connected to it",
            now - since,
        )
        await self.shutdown_kernel(kernel_id)

    async def shutdown_kernel(  # type: ignore[override]  # the base declares a plain method
        self, kernel_id: str, *args: Any, **kwargs: Any
    ) -> None:
        """Shut a kernel down and forget its bookkeeping."""
        self._unattended_since.pop(kernel_id, None)
        self._was_connected.discard(kernel_id)
        # jupyter_server leaves the base method untyped; it returns None.
        await super().shutdown_kernel(kernel_id, *args, **kwargs)  # type: ignore[no-untyped-call]
