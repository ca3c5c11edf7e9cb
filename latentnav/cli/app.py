"""The ``latentnav`` command group: one-line errors, exit codes, and the program's entry point.

Errors a user can cause end with a one-line ``error: ...`` message and a non-zero exit (2 for bad usage, 1
otherwise, 130 for Ctrl-C); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
import gc
import os
import sys
import traceback

import click

from latentnav import interrupt
from latentnav._version import __version__
from latentnav.errors import LatentnavError

#: errors of the machine or of a path, not of latentnav, that a user fixes (disk full, read-only, permissions, a
#: name too long, a path through a file)
_ENVIRONMENT_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENAMETOOLONG,
                       errno.ENOTDIR, errno.ELOOP)  # fmt: skip


INTERRUPTED = "interrupted (Ctrl-C); nothing was written except what the lines above say"


def import_torch() -> None:
    """Import torch with Python's cycle collector paused, then freeze what exists (the collector skips it from then on).

    torch's import makes about half a million objects, and the collector walked all of them three times while
    it ran (0.15-0.2 s of the main job's wall, docs/benchmarks.md); none of them is garbage. Called after a
    command's options were parsed and checked (so ``--help`` and usage errors stay quick).
    """
    if "torch" in sys.modules:
        return
    gc.disable()
    try:
        import torch  # noqa: F401
    finally:
        gc.freeze()
        gc.enable()


class _Command(click.Command):
    """A subcommand whose run starts with :func:`import_torch` (every command but ``--help`` needs torch)."""

    def invoke(self, ctx: click.Context):
        import_torch()
        return super().invoke(ctx)


class _Group(click.Group):
    """Turns user errors raised inside commands into one line on stderr and an exit code.

    Only latentnav's own errors (:class:`~latentnav.errors.LatentnavError`), click's usage errors, a full or
    read-only disk and Ctrl-C (exit 130) become one line; anything else is a bug and keeps its traceback. Any
    error after Ctrl-C was pressed is the interruption (a file being read when it landed is not corrupted).
    """

    command_class = _Command

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.ClickException as err:  # usage errors, BadParameter: one line, exit 2
            _fail(err.format_message(), err.exit_code)
        except KeyboardInterrupt as err:
            _release(err)
            _fail(INTERRUPTED, 130)
        except Exception as err:
            _release(err)
            if interrupt.interrupted():  # C++ code that ran Python turned the Ctrl-C into an error of its own
                _fail(INTERRUPTED, 130)
            if isinstance(err, LatentnavError):
                _fail(str(err), err.exit_code, reported_by_main=type(err).__name__ == "RankError")
            if not isinstance(err, OSError) or err.errno not in _ENVIRONMENT_ERRNOS:
                raise
            bad_path = err.errno in (errno.ENAMETOOLONG, errno.ENOTDIR, errno.ELOOP)  # the path typed is the problem
            _fail(f"{err.strerror}: {err.filename}" if err.filename else str(err), 2 if bad_path else 1)
        finally:
            if "latentnav.distributed" in sys.modules:  # only commands that ran data-parallel imported it
                sys.modules["latentnav.distributed"].teardown()


def _release(err: BaseException) -> None:
    """Close the progress bars the interrupted work left open, so each prints its last state before the ``error:``
    line rather than after it (when the frames that hold them are freed), and drop those frames' locals."""
    traceback.clear_frames(err.__traceback__)
    tqdm = sys.modules.get("tqdm")
    for bar in list(getattr(getattr(tqdm, "tqdm", None), "_instances", ())):  # tqdm's own registry of open bars
        bar.close()


def _fail(message: str, code: int, reported_by_main: bool = False) -> None:
    """Print ``error: message`` (once per run: an error every rank raised is printed by rank 0) and exit."""
    message = " ".join(str(message).split("\n")).strip() or "failed"
    w = sys.modules["latentnav.distributed"].world() if "latentnav.distributed" in sys.modules else None
    if w is None or not w.distributed:
        click.echo(f"error: {message}", err=True)
    elif reported_by_main:  # every rank raised it: rank 0 prints, and the others wait for that before exiting
        if w.is_main:
            click.echo(f"error: {message}", err=True)
        sys.modules["latentnav.distributed"].barrier()
    else:
        click.echo(f"error: rank {w.rank} of {w.size}: {message}", err=True)
    sys.exit(code)


def warn(message: str) -> None:
    """A ``warning: ...`` line on stderr (a run that worked badly says so)."""
    click.echo(f"warning: {message}", err=True)


@click.group(cls=_Group, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"], "show_default": True, "max_content_width": 120})  # fmt: skip
@click.version_option(__version__, prog_name="latentnav")
@click.pass_context
def main(ctx: click.Context) -> None:
    """latentnav: controllable directions in the latent spaces of pretrained generators."""
    help_without_command(ctx)


def help_without_command(ctx: click.Context) -> None:
    """A group called without a command prints its help and exits 0 (not a usage error)."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())
        ctx.exit(0)


def free_cores(samples: int = 5, pause: float = 0.01, loadavg: str = "/proc/loadavg") -> tuple[int, int] | None:
    """``(free, cores)``: this process's cores, and how many of them the other runnable tasks leave free (at least 1).

    The count of runnable tasks is the median of a few readings of ``/proc/loadavg`` (the calling process is one
    of them). ``None`` where it cannot be read (not Linux).
    """
    import statistics
    import time

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        readings = []
        for k in range(samples):
            with open(loadavg) as f:
                readings.append(int(f.read().split()[3].split("/")[0]))
            if k + 1 < samples:
                time.sleep(pause)
    except (OSError, ValueError, IndexError):
        return None
    return max(1, min(cores, cores - (statistics.median_low(readings) - 1))), cores


def share_the_cores(samples: int = 5, pause: float = 0.01, loadavg: str = "/proc/loadavg") -> int | None:
    """Run on the cores other processes leave free: ``OMP_NUM_THREADS`` = :func:`free_cores`, when fewer than all.

    torch's threads meet at a barrier after each operation, so a second thread that must share its core with
    another busy process makes every operation wait for it: on 2 cores beside one busy process, the main job
    took 1.6-3.1x longer with 2 threads than with 1 (docs/benchmarks.md). Nothing changes where
    ``OMP_NUM_THREADS`` is already set, torch is already imported, or ``/proc/loadavg`` cannot be read.

    Returns:
        The threads chosen, or ``None`` when left to torch (all the cores).
    """
    if "OMP_NUM_THREADS" in os.environ or "torch" in sys.modules:
        return None
    found = free_cores(samples, pause, loadavg)
    if found is None or found[0] >= found[1]:
        return None
    os.environ["OMP_NUM_THREADS"] = str(found[0])
    return found[0]


def entry() -> None:
    """The ``latentnav`` program: :func:`main` with every way it can end turned into one line and an exit code.

    Usage errors found while parsing print one ``error:`` line (exit 2). Ctrl-C exits 130 wherever it lands:
    one inside C code run through ``PyRun_*`` (pybind11's exec, in torch) leaves CPython's "unhandled
    KeyboardInterrupt" flag set even though latentnav handled it, and the interpreter would then end by killing
    itself with SIGINT; so the process leaves at once (everything the run owns is cleaned up by then).
    """
    interrupt.install()
    share_the_cores()
    try:
        code = main(standalone_mode=False)
    except click.exceptions.Abort:  # Ctrl-C while click parsed
        click.echo("error: interrupted (Ctrl-C); nothing was written", err=True)
        code = 130
    except click.ClickException as err:
        click.echo(f"error: {' '.join(err.format_message().split())}", err=True)
        code = err.exit_code
    except SystemExit as done:
        code = done.code
    except KeyboardInterrupt:  # after the command had finished
        code = 130
    if interrupt.interrupted() and code in (0, None):  # a Ctrl-C swallowed where no output was left to refuse
        click.echo("error: interrupted (Ctrl-C)", err=True)
        code = 130
    if code == 130:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    gc.freeze()  # the interpreter's last collections skip what is left (torch's modules): 0.5 s less to exit
    sys.exit(code if isinstance(code, int) else 0)
