"""Listening for the explorer: the socket (bound before the model loads), uvicorn, and how serving ends.

:func:`bind` takes the address first, so a bad host or a busy port is one line before anything is loaded;
:func:`serve` runs uvicorn on that socket until Ctrl-C (or SIGTERM) and says which stopped it, without handing
the signal on (a server stopped by Ctrl-C has ended normally); :func:`background` serves in a thread, for
notebooks, tests and benchmarks.
"""

from __future__ import annotations

import contextlib
import ipaddress
import signal
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn

from latentnav.errors import BadInputError

#: connections that wait while the model loads
BACKLOG = 128
#: how long in-flight requests may finish after Ctrl-C before the server closes them
GRACEFUL_SECONDS = 2


def bind(host: str, port: int) -> socket.socket:
    """A socket listening on ``host:port`` (port 0: a free one); connections wait in its backlog until served.

    Raises:
        BadInputError: a host that is not an address of this machine, or a port already in use (one line).
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                            flags=socket.AI_PASSIVE)[0]  # fmt: skip
    except (socket.gaierror, UnicodeError) as err:
        raise BadInputError(f"--host {host!r} is not an address latentnav can listen on ({err})") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as err:
        sock.close()
        raise BadInputError(f"cannot listen on {host}:{port}: {err.strerror or err}; pick another --port (or 0 "
                            f"for a free one)") from None  # fmt: skip
    return sock


def is_public(sock: socket.socket) -> bool:
    """Whether ``sock`` listens beyond this machine (any address but a loopback one)."""
    return not ipaddress.ip_address(sock.getsockname()[0].split("%")[0]).is_loopback


def url(sock: socket.socket) -> str:
    """The page's address on ``sock`` (``http://127.0.0.1:8765/``)."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def serve(app, sock: socket.socket) -> str:
    """Serve ``app`` on ``sock`` until Ctrl-C or SIGTERM (a second Ctrl-C stops at once); return which one.

    The first image is rendered before serving, so the first slider move does not wait for torch to warm up.
    """
    explorer = getattr(app.state, "explorer", None)
    if explorer is not None:
        explorer.render(0)
    server = _Server(_config(app))
    server.run(sockets=[sock])
    return server.stopped_by


@contextlib.contextmanager
def background(app, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``app`` in a thread while the block runs; yields the page's address.

    Example:
        >>> with background(make_app(G, {"shift-x": d})) as address:  # doctest: +SKIP
        ...     print(address)
    """
    sock = bind(host, port)
    server = _Server(_config(app))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="latentnav-explore", daemon=True)
    thread.start()
    try:
        while not server.started and thread.is_alive():
            time.sleep(0.01)
        yield url(sock)
    finally:
        server.should_exit = True
        thread.join(GRACEFUL_SECONDS + 5)
        sock.close()


def _config(app) -> uvicorn.Config:
    """uvicorn's settings: quiet (warnings and errors only), no lifespan, a short graceful shutdown."""
    return uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                          timeout_graceful_shutdown=GRACEFUL_SECONDS)  # fmt: skip


class _Server(uvicorn.Server):
    """uvicorn's server, remembering which signal stopped it rather than raising it again once stopped (uvicorn
    does, so that its process dies of the signal; latentnav's own SIGINT handler would then report an error)."""

    stopped_by = ""

    def handle_exit(self, sig: int, frame) -> None:
        self.stopped_by = "Ctrl-C" if sig == signal.SIGINT else signal.Signals(sig).name
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        self.should_exit = True
