"""The dashboard server: Voila's own app with the guards a page on a network needs.

``python -m audiosoup_widgets.dashboards.server NOTEBOOK [--Voila.port=...]`` is
what ``audiosoup serve`` runs; :func:`audiosoup_widgets.dashboards.serve.voila_command`
builds that command line for the CLI, the tests and the benchmark alike.
:class:`DashboardServer` is :class:`voila.app.Voila` plus, in one place:

- **host and origin checks** on every HTTP and websocket request, before any
  handler runs (:mod:`audiosoup_widgets.dashboards.guard`): a page elsewhere that
  re-points its own name at this machine (DNS rebinding) is refused, and so is a
  path with a ``..`` segment (a plain 404);
- **the token from the environment** (``AUDIOSOUP_TOKEN``), removed from the
  environment before any kernel starts, so it is on no process's command line
  and in no kernel's environment;
- **a cap on visitors** (``max_visitors``; by default from the memory available
  at start, see :func:`default_max_visitors`): a visitor over it gets a plain
  "busy" page (HTTP 503, ``Retry-After``) instead of a kernel;
- **a "preparing" page** for visitors who arrive before the first pre-heated
  kernel is ready, and ``GET /audiosoup/ready`` (200 when a ready kernel waits,
  503 before) for ``audiosoup serve`` to know when to open the browser;
- **the page's ``_xsrf`` cookie**, so the shutdown request a closing tab sends is
  accepted and its kernel ends at once (the kernels of pages that are gone
  without it end through :class:`~audiosoup_widgets.dashboards.kernels.DashboardKernelManager`).
"""

from __future__ import annotations

import itertools
import json
import os
import tempfile
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

import tornado.web
from jupyter_core.utils import ensure_async
from jupyter_server.utils import url_path_join
from tornado.httputil import HTTPServerRequest
from traitlets import Int, List, Unicode
from voila.app import Voila
from voila.static_file_handler import TemplateStaticFileHandler
from voila.tornado.handler import TornadoVoilaHandler

from .guard import HostPolicy, hosts_from_env
from .pages import busy_page, preparing_page
from .serve import ENV_TOKEN

__all__ = ["KERNEL_BUDGET_MB", "DashboardServer", "VisitorGate", "default_max_visitors", "main"]

#: Memory set aside per kernel when the visitor cap is derived from the machine:
#: a dashboard kernel measured 300-450 MB here once its feature views were used.
KERNEL_BUDGET_MB = 450
BUSY_RETRY_S = 60
PREPARING_REFRESH_S = 3
# Voila's page template wraps each executed cell in <div cell-index="N">: once the
# first cell's markup has been rendered, the kernel has run the start-up cell.
_FIRST_CELL_DONE = 'cell-index="1"'


def default_max_visitors(available_bytes: int | None = None) -> int:
    """Return how many visitors a server may serve at once on this machine.

    ``available / 450 MB - 1`` (one kernel is kept pre-heated), at least 1.

    Parameters
    ----------
    available_bytes : int, optional
        Memory available to new processes (default: what the system reports now).
    """
    if available_bytes is None:
        import psutil

        available_bytes = int(psutil.virtual_memory().available)
    return max(1, available_bytes // (KERNEL_BUDGET_MB * 2**20) - 1)


class VisitorGate:
    """Count the visitors holding a kernel; refuse one more beyond ``limit``.

    A visitor takes a ticket before a kernel is chosen for its page, so visitors
    arriving at the same moment cannot all slip under the cap; the ticket is
    bound to the kernel once it is known and lasts as long as that kernel.
    """

    def __init__(self, limit: int, alive: Callable[[str], bool]):
        self.limit = limit
        self._alive = alive
        self._tickets: dict[int, str | None] = {}
        self._numbers = itertools.count(1)

    def in_use(self) -> int:
        """Return how many visitors hold (or are being given) a kernel."""
        for ticket, kernel_id in list(self._tickets.items()):
            if kernel_id is not None and not self._alive(kernel_id):
                del self._tickets[ticket]
        return len(self._tickets)

    def admit(self) -> int | None:
        """Return a ticket, or ``None`` when every place is taken."""
        if self.in_use() >= self.limit:
            return None
        ticket = next(self._numbers)
        self._tickets[ticket] = None
        return ticket

    def bind(self, ticket: int, kernel_id: str) -> None:
        """Tie ``ticket`` to the kernel started or taken for its page."""
        if ticket in self._tickets:
            self._tickets[ticket] = kernel_id

    def settle(self, ticket: int) -> None:
        """Give back a ticket whose page got no kernel (an error, a client gone)."""
        if self._tickets.get(ticket, "") is None:
            del self._tickets[ticket]


class _Refused(tornado.web.RequestHandler):
    """Answer with a status and a plain-text message, whatever was asked."""

    def initialize(self, status: int, text: str) -> None:
        self._status, self._text = status, text

    def prepare(self) -> None:
        self.set_status(self._status)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(self._text)


class _GuardedApplication(tornado.web.Application):
    """A tornado application that asks the host policy about every request first."""

    def __init__(self, *args: Any, policy: HostPolicy, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.policy = policy

    def find_handler(
        self,
        request: HTTPServerRequest,  # noqa: D102 - tornado's routing hook
        **kwargs: Any,
    ) -> tornado.web._HandlerDelegate:
        headers = request.headers
        refusal = self.policy.refusal(
            host_header=headers.get("Host", ""),
            origin=headers.get("Origin", headers.get("Sec-WebSocket-Origin")),
            path=request.path,
        )
        if refusal is not None:
            status, text = refusal
            if status == 403:
                self.settings["audiosoup_server"].log.warning(
                    "refused %s %s: Host %r, Origin %r",
                    request.method,
                    request.path,
                    headers.get("Host"),
                    headers.get("Origin"),
                )
            return self.get_handler_delegate(request, _Refused, {"status": status, "text": text})
        return super().find_handler(request, **kwargs)


class _TemplateStatic(TemplateStaticFileHandler):  # type: ignore[misc]  # voila ships no types
    """Voila's template static files, with a 404 for a path that names no template file."""

    def parse_url_path(self, path: str) -> str:
        parts = path.split("/", 2)
        if len(parts) < 3 or parts[1] != "static" or not parts[2]:
            raise tornado.web.HTTPError(404)
        url: str = super().parse_url_path(path)
        return url


class _TicketedKernels:
    """The server's kernel manager as one page handler sees it: binds its ticket to its kernel."""

    def __init__(self, manager: Any, bind: Callable[[str], None]) -> None:
        self._manager, self._bind = manager, bind

    def __getattr__(self, name: str) -> Any:
        return getattr(self._manager, name)

    async def get_rendered_notebook(self, *args: Any, **kwargs: Any) -> Any:
        result = await self._manager.get_rendered_notebook(*args, **kwargs)
        self._bind(result[2])
        return result

    async def start_kernel(self, *args: Any, **kwargs: Any) -> str:
        kernel_id: str = await ensure_async(self._manager.start_kernel(*args, **kwargs))
        self._bind(kernel_id)
        return kernel_id


class _ReadyHandler(tornado.web.RequestHandler):
    """``GET /audiosoup/ready``: 200 once a ready kernel waits for a visitor, 503 before."""

    def get(self) -> None:
        server: DashboardServer = self.settings["audiosoup_server"]
        ready = server.kernel_waiting()
        self.set_status(200 if ready else 503)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps({"ready": ready}))


class _DashboardPage(TornadoVoilaHandler):  # type: ignore[misc]  # voila ships no types
    """The dashboard page: the busy and preparing pages, the cap, the ``_xsrf`` cookie."""

    _ticket: int | None = None

    @property
    def kernel_manager(self) -> Any:  # noqa: D102 - JupyterHandler's accessor, seen through the ticket
        manager = self.settings["kernel_manager"]
        ticket = self._ticket
        if ticket is None:
            return manager
        gate = self.settings["audiosoup_server"].gate
        return _TicketedKernels(manager, lambda kernel_id: gate.bind(ticket, kernel_id))

    @tornado.web.authenticated
    async def get(self, path: str | None = None) -> None:  # noqa: D102 - serves the page
        if path:
            # One notebook is served; Voila would redirect anything else to its
            # file handler, which serves nothing.
            raise tornado.web.HTTPError(404)
        server: DashboardServer = self.settings["audiosoup_server"]
        if not server.has_been_ready():
            self._plain(
                503,
                preparing_page(elapsed_s=server.uptime(), refresh_s=PREPARING_REFRESH_S),
                retry_after=PREPARING_REFRESH_S,
            )
            return
        ticket = server.gate.admit()
        if ticket is None:
            server.log.warning("busy: all %d visitor places are taken", server.gate.limit)
            self._plain(
                503,
                busy_page(visitors=server.gate.limit, retry_after_s=BUSY_RETRY_S),
                retry_after=BUSY_RETRY_S,
            )
            return
        # The page tells the server when its tab closes (a POST that must carry the
        # _xsrf cookie's value); reading the token sets that cookie.
        self.xsrf_token  # noqa: B018 - the property sets the cookie
        self._drop_token_from_request()
        self._ticket = ticket
        try:
            await super().get(path)
        finally:
            server.gate.settle(ticket)

    def _drop_token_from_request(self) -> None:
        # The visitor is logged in (a cookie) by now. Voila hands the request's
        # address and query to the kernels' environment; the token stays out of it.
        request = self.request
        if "token" not in request.query_arguments:
            return
        kept = [(k, v) for k, v in parse_qsl(request.query, keep_blank_values=True) if k != "token"]
        request.query = urlencode(kept)
        request.uri = request.path + (f"?{request.query}" if request.query else "")
        request.query_arguments.pop("token", None)
        request.arguments.pop("token", None)

    def _plain(self, status: int, html: str, *, retry_after: int) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("Retry-After", str(retry_after))
        self.finish(html)


class DashboardServer(Voila):  # type: ignore[misc]  # voila ships no types
    """Voila serving the review dashboard with host checks, a visitor cap and a token from the environment."""

    allowed_hosts = List(
        Unicode(),
        config=True,
        help="Host names the server answers to besides loopback ones and the address it is "
        "bound to (also read from AUDIOSOUP_ALLOWED_HOSTS).",
    )
    max_visitors = Int(
        0,
        config=True,
        help="Most visitors served at once (each has a kernel); 0: derived from the memory "
        "available at start.",
    )
    #: Voila's ``token`` trait, as the type checker should see it (no class attribute).
    token: str | None

    def initialize(self, argv: list[str] | None = None) -> None:  # noqa: D102 - traitlets' start-up hook
        super().initialize(argv)
        # Kernels inherit this process's environment: take the token out of it
        # before any kernel starts.
        token = os.environ.pop(ENV_TOKEN, None)
        if token is not None and self.token is None:
            self.token = token
        try:
            self.policy = HostPolicy.for_server(bound=self.ip, extra=[*self.allowed_hosts, *hosts_from_env()])
        except ValueError as exc:
            self.log.critical("Audio Soup: %s", exc)
            self.exit(2)
        limit = self.max_visitors if self.max_visitors > 0 else default_max_visitors()
        self.gate = VisitorGate(limit, alive=lambda kernel_id: kernel_id in self.kernel_manager)
        self._started = time.monotonic()
        self._ready_once = False
        self.log.info(
            "Audio Soup: at most %d visitors at once; answering to loopback names%s",
            limit,
            "".join(f", {n}" for n in sorted(self.policy.names)),
        )

    def init_handlers(self) -> list[Any]:  # noqa: D102 - Voila's handlers with ours swapped in
        swap = {TornadoVoilaHandler: _DashboardPage, TemplateStaticFileHandler: _TemplateStatic}
        handlers = [(spec[0], swap.get(spec[1], spec[1]), *spec[2:]) for spec in super().init_handlers()]
        return [(url_path_join(self.server_url, "/audiosoup/ready"), _ReadyHandler), *handlers]

    def start(self) -> None:
        """Voila's ``start``, building the guarded application instead of a plain one."""
        self.connection_dir = tempfile.mkdtemp(prefix="voila_", dir=self.connection_dir_root)
        settings = self.init_settings()
        settings["audiosoup_server"] = self
        self.app = _GuardedApplication(policy=self.policy, **settings)
        self.app.settings.update(self.tornado_settings)
        self.app.add_handlers(".*$", self.init_handlers())
        self.listen()

    def uptime(self) -> float:
        """Return seconds since the server started."""
        return time.monotonic() - self._started

    def kernel_waiting(self) -> bool:
        """Tell whether a pre-heated kernel has run the start-up cell and waits for a visitor."""
        manager = self.kernel_manager
        pools = getattr(manager, "_pools", {})
        for task in pools.get(getattr(manager, "notebook_path", None), ()):
            if not task.done() or task.cancelled() or task.exception() is not None:
                continue
            renderer = task.result().get("renderer")
            if renderer is not None and _FIRST_CELL_DONE in "".join(renderer.rendered_cache):
                if not self._ready_once:
                    self._ready_once = True
                    self.log.info("Audio Soup: dashboard ready %.1f s after start", self.uptime())
                return True
        return False

    def has_been_ready(self) -> bool:
        """Tell whether a kernel has been ready since start (then Voila's own rules apply)."""
        return self._ready_once or self.kernel_waiting() or not self.voila_configuration.preheat_kernel


def main() -> None:
    """Run the dashboard server (``python -m audiosoup_widgets.dashboards.server``)."""
    DashboardServer.launch_instance()


if __name__ == "__main__":  # pragma: no cover
    main()
