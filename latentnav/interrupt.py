"""Ctrl-C that cannot be lost: the ``latentnav`` program's SIGINT handler remembers that it fired.

A KeyboardInterrupt raised while C++ code runs Python (torch imports some of its modules through pybind11)
can be swallowed there, and the run would carry on and finish as if nothing had been asked. The handler
installed by :func:`install` sets a flag as well as raising, and :func:`check` (called by every run
directory and output file before anything is moved into place) raises again when the flag is set: an
interrupted run never publishes its result, at worst a little later than the key was pressed.
"""

from __future__ import annotations

import signal
import threading

_fired = False


def _handler(signum, frame) -> None:
    global _fired
    _fired = True
    raise KeyboardInterrupt


def install() -> None:
    """Handle SIGINT with the remembering handler (in the main thread; a no-op elsewhere)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _handler)


def interrupted() -> bool:
    """Whether Ctrl-C was pressed since :func:`install` (even if the KeyboardInterrupt was swallowed)."""
    return _fired


def check() -> None:
    """Raise KeyboardInterrupt if Ctrl-C was pressed, wherever its first KeyboardInterrupt went."""
    if _fired:
        raise KeyboardInterrupt
