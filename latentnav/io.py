"""Writing what a run makes without ever losing what the user owns.

Every output is checked before the run does any work (:meth:`RunDir.open`, :meth:`OutputFiles.open`): its
parent must be a writable directory (or creatable inside one), its extension one latentnav can write, and it
must not be, or hold, one of the run's own inputs. A run then writes into a hidden temporary sibling,
``.latentnav-tmp-<name>-XXXX``, and moves the result into place at the end:

- a run directory is renamed into place; the rename itself fails if files appeared in it during the run
  (the "is it empty?" check happens again, atomically, at the rename), and then the result is kept in a
  visible sibling and the run ends with an error: nothing is deleted and no result is dropped;
- ``--force`` replaces only a directory an earlier latentnav run wrote (its manifest,
  ``.latentnav-manifest.json``, lists every file it wrote, and the directory must hold nothing else), and
  never the working directory, one of its parents, the home directory or a directory holding the run's
  inputs;
- single files (a grid, a direction, a report) are linked into place without replacing a file that
  appeared during the run; ``--force`` replaces the named files (never a directory, never an input).

Each temporary sibling holds a lock (``fcntl.flock``) while its run lives: a second run into the same
output finds it and stops at once (:class:`~latentnav.errors.OutputBusyError`); one left by a killed run
has no live lock and is removed by the next run into the same place. What latentnav writes follows the
user's umask.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from latentnav import interrupt
from latentnav._version import __version__
from latentnav.errors import OutputBusyError, OutputError, OutputExistsError

MANIFEST = ".latentnav-manifest.json"
TMP_PREFIX = ".latentnav-tmp-"
_LOCK = ".lock"

#: picture formats latentnav writes grids in, by extension
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


# ----------------------------------------------------------------------------------------------- umask
def _umask() -> int:
    """The process's umask (read by setting it and putting it back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def follow_umask(path: Path) -> None:
    """Give ``path`` (and, for a directory, everything inside it) the modes a plain ``open``/``mkdir``
    would have given it: ``mkdtemp`` and ``mkstemp`` make 0700 / 0600 entries, which a run must not leave."""
    mask = _umask()
    entries = [path] if not path.is_dir() else [path, *path.rglob("*")]
    for entry in entries:
        if entry.is_symlink():
            continue
        entry.chmod((0o777 if entry.is_dir() else 0o666) & ~mask)


# ------------------------------------------------------------------------------------------------- checks
def _describe(path: Path) -> str:
    return str(path)


def check_writable_parent(path: Path) -> None:
    """Raise :class:`OutputError` unless ``path``'s parent is, or can be made as, a writable directory."""
    parent = path.parent
    probe = parent
    while not probe.exists():
        if probe.is_symlink():  # a dangling link where a folder should be
            raise OutputError(f"cannot write {path}: {probe} is a broken link")
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(f"cannot write {path}: {probe} is a file, not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: the directory {probe} is not writable")


def check_suffix(path: Path, allowed: Sequence[str], what: str) -> None:
    """Raise :class:`OutputError` unless ``path`` ends in one of ``allowed`` (case-insensitive)."""
    if path.suffix.lower() not in allowed:
        raise OutputError(f"cannot write {what} as {path.name!r}: the name must end in {', '.join(allowed)}")


def check_not_package(path: Path) -> None:
    """Raise :class:`OutputError` for an output inside the installed latentnav package (its shipped weights, its code)."""
    package = Path(__file__).resolve().parent
    if _inside(path.resolve(), package):
        raise OutputError(f"refusing to write {path}: it lies inside the installed latentnav package ({package})")


def check_not_link(path: Path) -> None:
    """Raise :class:`OutputError` when ``path`` is a symbolic link (dangling or not): where it points is not
    what the user named, and replacing it would surprise either way."""
    if path.is_symlink():
        raise OutputError(f"{path} is a symbolic link (to {os.readlink(path)}); give the real path, or another name")


def protected_dirs() -> list[Path]:
    """Directories no run may replace: the working directory and each of its parents, and the home directory."""
    cwd = Path.cwd().resolve()
    dirs = [cwd, *cwd.parents]
    with contextlib.suppress(RuntimeError, KeyError):
        dirs.append(Path.home().resolve())
    return dirs


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_not_input(path: Path, inputs: Iterable[str | Path], *, directory: bool) -> None:
    """Raise :class:`OutputError` when the output ``path`` is one of ``inputs`` or (a directory) holds one."""
    target = path.resolve()
    for item in inputs:
        if item is None:
            continue
        source = Path(item).expanduser().resolve()
        if source == target or (directory and _inside(source, target)):
            what = "holds" if source != target else "is"
            raise OutputError(f"the output {path} {what} this run's input {item}; choose another output")


# ------------------------------------------------------------------------------------------ temporary dirs
class _TempDir:
    """A hidden temporary sibling of an output, locked for as long as this process holds it."""

    def __init__(self, target: Path) -> None:
        self.target = target
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            self.path = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{target.name}-", dir=target.parent))
        except OSError as err:
            raise OutputError(f"cannot write {target}: {err.strerror or err} in {target.parent}") from None
        self._lock = os.open(self.path / _LOCK, os.O_CREAT | os.O_WRONLY, 0o600)
        fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(self._lock, f"{os.getpid()}\n".encode())

    def unlock(self) -> None:
        """Release the lock and remove the lock file (the directory is about to become an output)."""
        if self._lock is not None:
            with contextlib.suppress(FileNotFoundError):
                (self.path / _LOCK).unlink()
            os.close(self._lock)
            self._lock = None

    def discard(self) -> None:
        """Remove the temporary directory (only this run's own files are in it)."""
        self.unlock()
        shutil.rmtree(self.path, ignore_errors=True)


def _siblings(target: Path) -> list[Path]:
    prefix = f"{TMP_PREFIX}{target.name}-"
    if not target.parent.is_dir():
        return []
    return [p for p in target.parent.iterdir() if p.name.startswith(prefix) and p.is_dir() and not p.is_symlink()]


def claim(target: Path) -> None:
    """Refuse when another live run writes ``target``; remove what killed runs left beside it.

    A temporary sibling whose lock can be taken belongs to no live process. Only latentnav's own temporary
    folders (named ``.latentnav-tmp-<name>-*`` and holding a lock file) are ever removed.
    """
    for tmp in _siblings(target):
        lock = tmp / _LOCK
        try:
            fd = os.open(lock, os.O_RDWR)
        except FileNotFoundError:
            continue  # being created or being finished right now: leave it alone
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputBusyError(f"another latentnav run is writing {target} right now; wait for it or choose "
                                  "another output") from None  # fmt: skip
        try:
            if os.fstat(fd).st_size:  # empty: a run between making its lock and writing its pid; leave it
                shutil.rmtree(tmp, ignore_errors=True)  # left by a run that was killed
        finally:
            os.close(fd)


@contextlib.contextmanager
def exclusive(target: Path):
    """Hold ``target`` for this process while the block runs (another run into it is refused at once): for
    outputs a run rewrites in place, such as a model that training snapshots."""
    claim(target)
    tmp = _TempDir(target)
    try:
        yield
    finally:
        tmp.discard()


def save_safetensors(tensors: dict, path: str | Path, metadata: dict[str, str] | None = None) -> Path:
    """Write ``tensors`` as safetensors at ``path``, whole or not at all, with the mode a plain ``open`` would give
    (safetensors itself creates files 0600, whatever the umask)."""
    from safetensors.torch import save_file

    path = Path(path)
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}")
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp), metadata=metadata)
    follow_umask(tmp)
    os.replace(tmp, path)
    return path


def write_text(path: Path, text: str) -> None:
    """Write a small text file whole or not at all (temporary name, then rename)."""
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}")
    tmp.write_text(text)
    os.replace(tmp, path)


# ----------------------------------------------------------------------------------------------- run dirs
def read_manifest(path: Path) -> dict[str, Any] | None:
    """The manifest of a run directory latentnav wrote, or ``None``."""
    try:
        data = json.loads((path / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(data, dict) and data.get("written_by") == "latentnav" and isinstance(data.get("files"), list)
    return data if ok else None


def _listing(path: Path) -> set[str]:
    return {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file() or p.is_symlink()}


def _check_replaceable(path: Path) -> None:
    """Raise unless ``path`` is a directory that an earlier latentnav run wrote and that holds only its files."""
    if path.resolve() in protected_dirs():
        raise OutputError(f"refusing to replace {path}: it is the working directory, one of its parents or the "
                          "home directory")  # fmt: skip
    manifest = read_manifest(path)
    if manifest is None:
        raise OutputError(f"{path} exists and was not written by latentnav (no {MANIFEST}); --force replaces only "
                          "latentnav's own run directories: choose another -o")  # fmt: skip
    extra = sorted(_listing(path) - set(manifest["files"]) - {MANIFEST})
    if extra:
        shown = ", ".join(extra[:3]) + (f" and {len(extra) - 3} more" if len(extra) > 3 else "")
        raise OutputError(f"{path} holds files latentnav did not write ({shown}); refusing to replace it: move them "
                          "or choose another -o")  # fmt: skip


class RunDir:
    """An output directory written whole at the end of a run, or not at all.

    Usage::

        with RunDir("runs/x", force=False, inputs=[direction_path], command="discover") as run:
            ...                          # the expensive work
            run.commit(lambda tmp: ...)  # write every file into tmp; it becomes runs/x

    Creating it checks everything (before the work); leaving the ``with`` block without :meth:`commit`
    (an error, Ctrl-C) removes the temporary directory and leaves ``runs/x`` as it was.

    Args:
        path: the output directory.
        force: replace an earlier latentnav run directory there.
        inputs: files and directories the run reads (the output may not be or hold one).
        command: recorded in the manifest.
        active: ``False`` on processes that write nothing (ranks other than 0): every method is a no-op.
    """

    def __init__(self, path: str | Path, *, force: bool = False, inputs: Iterable[str | Path] = (), command: str = "",
                 active: bool = True) -> None:  # fmt: skip
        self.path = Path(path).expanduser()
        self.force, self.command, self.active = force, command, active
        self.inputs = [i for i in inputs if i is not None]
        self._tmp: _TempDir | None = None
        if active:
            self._check()

    def _check(self) -> None:
        path = self.path
        check_not_link(path)
        check_not_package(path)
        if path.resolve() in protected_dirs():
            raise OutputError(f"refusing to write a run into {path}: it is the working directory, one of its parents "
                              "or the home directory; choose a new folder")  # fmt: skip
        check_writable_parent(path)
        if path.exists() and not path.is_dir():
            raise OutputError(f"{path} is a file, not a directory; choose another -o")
        check_not_input(path, self.inputs, directory=True)
        if path.is_dir() and any(path.iterdir()):
            if not self.force:
                raise OutputExistsError(f"{path} exists and is not empty; choose another -o or pass --force")
            _check_replaceable(path)

    def open(self) -> RunDir:
        """Claim the output (refusing if another run writes it) and make the temporary directory."""
        if self.active and self._tmp is None:
            claim(self.path)
            self._tmp = _TempDir(self.path)
        return self

    def __enter__(self) -> RunDir:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.discard()

    def discard(self) -> None:
        """Remove the temporary directory (nothing else is touched)."""
        if self._tmp is not None:
            self._tmp.discard()
            self._tmp = None

    @property
    def tmp(self) -> Path:
        """The temporary directory the run writes into."""
        if self._tmp is None:
            raise RuntimeError("RunDir.open() was not called")
        return self._tmp.path

    def commit(self, write: Callable[[Path], Any] | None = None) -> Any:
        """``write(tmp)``, then the manifest, then move the result into place; returns what ``write`` returned."""
        if not self.active:
            return None
        result = write(self.tmp) if write is not None else None
        interrupt.check()  # a Ctrl-C swallowed on its way up never lets the run publish
        tmp = self._tmp
        tmp.unlock()
        files = sorted(_listing(tmp.path))
        (tmp.path / MANIFEST).write_text(json.dumps({
            "written_by": "latentnav", "latentnav_version": __version__, "command": self.command,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "files": files}, indent=2))  # fmt: skip
        follow_umask(tmp.path)
        self._place(tmp.path)
        self._tmp = None
        return result

    def _place(self, tmp: Path) -> None:
        path = self.path
        old = None
        if path.is_dir() and any(path.iterdir()):
            try:
                if not self.force:
                    raise OutputExistsError(f"{path} was filled by something else while this run worked")
                _check_replaceable(path)  # again: files may have appeared during the run
            except OutputError as err:
                raise self._keep(tmp, str(err)) from None
            old = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{path.name}-old-", dir=path.parent))
            path.replace(old / path.name)
        try:
            os.rename(tmp, path)  # fails if path is (again) a non-empty directory: nothing is replaced
        except OSError as err:
            if old is not None:
                (old / path.name).replace(path) if not path.exists() else None
            raise self._keep(tmp, f"{path} could not be replaced ({err.strerror})") from None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def _keep(self, tmp: Path, why: str) -> OutputError:
        """Move a finished result out of the hidden temporary name, so it is not lost; the error to raise."""
        kept = self.path.with_name(f"{self.path.name}.{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
        os.rename(tmp, kept)
        return OutputError(f"{why}; nothing there was changed, and this run's result is in {kept}")


# --------------------------------------------------------------------------------------------- files
def _place_new(tmp: Path, path: Path) -> None:
    """Move ``tmp`` to ``path`` without replacing a file there (:class:`FileExistsError` if one appeared)."""
    try:
        os.link(tmp, path)  # atomic and never replaces
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links: reserve the name, then fill it
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        os.replace(tmp, path)
        return
    tmp.unlink()


class OutputFiles:
    """A group of output files written together at the end of a run (a grid and its GIF, a direction and
    its report), each appearing whole or not at all.

    Usage::

        with OutputFiles(["grid.png"], force=False, suffixes=IMAGE_SUFFIXES, inputs=[...]) as out:
            ...
            out.commit(lambda tmp_paths: ...)   # write each file at tmp_paths[k]

    Args:
        paths: the output files.
        force: replace existing files (never a directory, never an input).
        inputs: files the run reads.
        suffixes: ``path -> allowed extensions`` or one sequence for all.
        what: what the files are, for messages.
    """

    def __init__(self, paths: Sequence[str | Path], *, force: bool = False, inputs: Iterable[str | Path] = (),
                 suffixes: Sequence[str] | None = None, what: str = "the output", active: bool = True) -> None:  # fmt: skip
        self.paths = [Path(p).expanduser() for p in paths]
        self.force, self.active = force, active
        self._tmp: _TempDir | None = None
        if not active:
            return
        inputs = [i for i in inputs if i is not None]
        for path in self.paths:
            if suffixes is not None:
                check_suffix(path, suffixes, what)
            check_writable_parent(path)
            check_not_link(path)
            check_not_package(path)
            if path.is_dir():
                raise OutputError(f"{path} is a directory; give a file name")
            check_not_input(path, inputs, directory=False)
            if path.exists() and not force:
                raise OutputExistsError(f"{path} exists; choose another name or pass --force to replace it")
        if len({p.resolve() for p in self.paths}) != len(self.paths):
            raise OutputError(f"two outputs of this run are the same file: {', '.join(map(str, self.paths))}")

    def open(self) -> OutputFiles:
        """Claim the outputs (refusing if another run writes the first) and make the temporary directory."""
        if self.active and self._tmp is None:
            claim(self.paths[0])
            self._tmp = _TempDir(self.paths[0])
        return self

    def __enter__(self) -> OutputFiles:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        if self._tmp is not None:
            self._tmp.discard()
            self._tmp = None

    def commit(self, write: Callable[[list[Path]], Any]) -> Any:
        """``write([tmp path per output])``, then move each into place; returns what ``write`` returned."""
        if not self.active:
            return None
        tmp_paths = [self._tmp.path / f"{k}-{p.name}" for k, p in enumerate(self.paths)]
        result = write(tmp_paths)
        interrupt.check()  # a Ctrl-C swallowed on its way up never lets the run publish
        missing = [str(p) for p, t in zip(self.paths, tmp_paths) if not t.is_file()]
        if missing:
            raise RuntimeError(f"the writer did not write {', '.join(missing)}")
        for t in tmp_paths:
            follow_umask(t)
        clashes = []
        for path, t in zip(self.paths, tmp_paths):
            path.parent.mkdir(parents=True, exist_ok=True)
            if self.force and not path.is_dir():
                os.replace(t, path)
                continue
            try:
                _place_new(t, path)
            except FileExistsError:
                clashes.append(path)
        if clashes:
            kept = []
            for path, t in zip(self.paths, tmp_paths):
                if path in clashes:
                    keep = path.with_name(f"{path.stem}.{os.getpid()}{path.suffix}")
                    os.replace(t, keep) if not keep.exists() else None
                    kept.append(str(keep))
            self._tmp.discard()
            self._tmp = None
            raise OutputError(f"{', '.join(map(str, clashes))} appeared while this run worked and was left as it is; "
                              f"this run's result is in {', '.join(kept)}")  # fmt: skip
        self._tmp.discard()
        self._tmp = None
        return result
