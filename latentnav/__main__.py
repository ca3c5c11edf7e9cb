"""``python -m latentnav`` and the ``latentnav`` program (:func:`run`)."""

import os


def run() -> None:
    """Import the command line and run it; a Ctrl-C during the import exits 130 like one during the run."""
    from latentnav import interrupt

    interrupt.install()
    try:
        from latentnav.cli import entry
    except KeyboardInterrupt:
        os._exit(130)
    entry()


if __name__ == "__main__":
    run()
