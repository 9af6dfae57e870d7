"""Where the console listens: loopback checks, the bound socket, the URL to open, and the server on
its own thread (the supervisor's loop is synchronous). runtime/fleet/console_server.py builds the app.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Awaitable, Callable

from starlette.types import Receive, Scope, Send

from runtime.errors import SovaError

App = Callable[[Scope, Receive, Send], Awaitable[None]]


def is_loopback(host: str) -> bool:
    """Whether `host` is a loopback address or `localhost`."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def loopback_warning(host: str) -> str | None:
    """The warning `sova up` prints when the console listens beyond this machine, else None."""
    if is_loopback(host):
        return None
    return (
        f"console.host is {host}: the console is reachable from the network, and with the token anyone "
        "there can pause agents and approve spends; set console.host: 127.0.0.1 unless you mean it"
    )


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket on `host:port` (0 = any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1" if host == "localhost" else host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.set_inheritable(False)  # agent processes must not hold the console's socket
    return sock


def console_url(host: str, port: int) -> str:
    """The URL to open: loopback for a wildcard host, brackets for IPv6."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "localhost") else host  # noqa: S104 - a comparison
    return f"http://[{shown}]:{port}/" if ":" in shown else f"http://{shown}:{port}/"


class ConsoleThread:
    """The console server on its own thread and event loop (the supervisor's loop is synchronous)."""

    def __init__(self, app: App, host: str, port: int) -> None:
        import uvicorn

        self.host = host
        self.sock = bind_socket(host, port)
        self.port = int(self.sock.getsockname()[1])
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,  # paths only, but a log of operator actions belongs in the ledger
            lifespan="on",
            timeout_graceful_shutdown=2,  # open SSE streams must not hold up `sova down`
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name="sova-console", daemon=True)
        self.error: BaseException | None = None

    @property
    def url(self) -> str:
        return console_url(self.host, self.port)

    def _run(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        except BaseException as exc:  # reported by start()
            self.error = exc

    def start(self, timeout: float = 10.0) -> str:
        """Serve; return the URL once the server accepts connections."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise SovaError(f"the console did not start on {self.url}: {self.error or 'timed out'}")
            time.sleep(0.02)
        return self.url

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
