"""Data-parallel runs on ``torch.distributed`` under ``torchrun``: the few collectives latentnav needs.

Without torchrun (or before :func:`setup`) everything here is a single-process no-op, so library code
calls these helpers unconditionally:

- :func:`setup` reads the torchrun environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``), initialises the
  process group (NCCL when the ranks run on GPUs, gloo on CPUs), pins one GPU per rank and quiets the
  other ranks' logging; :func:`teardown` ends it.
- :func:`world` says who this process is; :func:`local` runs a block as if alone (whole jobs per rank).
- :func:`shard` / :func:`shard_range` cut a list of seeds (or jobs) into one contiguous block per rank.
  One seed per sample means the union of the blocks is exactly the single-process run.
- :func:`exchange` runs a function on every rank and returns every rank's result, in rank order;
  :func:`concat` is the common case of concatenating sample rows; :func:`all_reduce_sum` adds tensors
  (sample statistics); :func:`gather_to_main` and :func:`broadcast` move objects to and from rank 0;
  :func:`on_main` runs a function on rank 0 only and hands its result to all.
- :func:`map_jobs` spreads whole jobs (one direction per class or transform) over the ranks.

These helpers are generic: any stage that draws one sample per seed shards with :func:`shard` and
gathers with :func:`exchange` / :func:`concat` (the corrector's low-density synthesis and inversion can
use them the same way).

Failures: every collective first exchanges each rank's outcome, so an error raised on one rank (a scorer
that fails on its shard) is raised on every rank as :class:`RankError`, carrying the failing rank's
message and exit code, instead of leaving the others waiting. Nothing here runs at import.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

from latentnav.errors import BadInputError, LatentnavError

T = TypeVar("T")
J = TypeVar("J")

_logger = logging.getLogger("latentnav")
#: errors a user can cause (the CLI prints them as one line): reported by message alone, without a traceback
USER_ERRORS = (LatentnavError, ValueError, FileNotFoundError)
_alone = 0  # depth of local() blocks


class RankError(LatentnavError):
    """An error raised on one rank of a distributed run, raised on every rank with that rank's message."""

    def __init__(self, rank: int, size: int, message: str, exit_code: int = 1) -> None:
        self.rank, self.size, self.exit_code = rank, size, exit_code
        super().__init__(f"rank {rank} of {size}: {message}")


@dataclass(frozen=True)
class World:
    """Who this process is in the run.

    Attributes:
        rank: this process's rank, 0 .. size - 1.
        size: number of processes (1 without torchrun).
        local_rank: rank on this node (picks the GPU).
        backend: ``"nccl"``, ``"gloo"``, or ``None`` when running alone.
    """

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0, the one that writes files and shows progress."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """Whether more than one process takes part."""
        return self.size > 1


def from_env(environ: dict[str, str] | None = None) -> World:
    """The :class:`World` the torchrun environment describes (a single process when it describes none).

    Raises:
        ValueError: malformed or inconsistent ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK``.
    """
    env = os.environ if environ is None else environ
    try:
        size = int(env.get("WORLD_SIZE", "1"))
        rank = int(env.get("RANK", "0"))
        local_rank = int(env.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise BadInputError(f"malformed torchrun environment: RANK={env.get('RANK')!r}, WORLD_SIZE={env.get('WORLD_SIZE')!r}, "
                         f"LOCAL_RANK={env.get('LOCAL_RANK')!r}") from None  # fmt: skip
    if size < 1 or not 0 <= rank < size or local_rank < 0:
        raise BadInputError(f"inconsistent torchrun environment: RANK={rank}, WORLD_SIZE={size}, LOCAL_RANK={local_rank}")
    return World(rank, size, local_rank, None)


def _initialised() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def world() -> World:
    """The current :class:`World`: the process group's when one is initialised (outside :func:`local`), else one process."""
    if _alone or not _initialised():
        return World()
    dist = torch.distributed
    return World(dist.get_rank(), dist.get_world_size(), from_env().local_rank, dist.get_backend())


def setup(device: str | torch.device = "auto") -> torch.device:
    """Join the run torchrun started (if any) and return the device this rank computes on.

    Under torchrun with ``WORLD_SIZE`` > 1: a GPU device (``"auto"`` with CUDA present, or ``"cuda"``)
    becomes ``cuda:LOCAL_RANK`` and the group uses NCCL; otherwise the ranks use gloo on their CPUs. Ranks
    other than 0 log at warning level. Calling it again, or without torchrun, changes nothing.

    Args:
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` (taken as given) or ``"mps"``.

    Returns:
        The resolved ``torch.device``.
    """
    from latentnav.devices import resolve_device

    env = from_env()
    resolved = resolve_device(device)
    if env.size == 1:
        return resolved
    if resolved.type == "cuda":
        if resolved.index is None:
            resolved = torch.device("cuda", env.local_rank % max(torch.cuda.device_count(), 1))
        torch.cuda.set_device(resolved)
    if not _initialised():
        backend = "nccl" if resolved.type == "cuda" else "gloo"
        try:
            torch.distributed.init_process_group(backend=backend, rank=env.rank, world_size=env.size)
        except (ValueError, RuntimeError) as err:
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise BadInputError(f"cannot join a torchrun run of {env.size} processes ({first}); start the command "
                                "with torchrun, or unset WORLD_SIZE, RANK and LOCAL_RANK to run alone") from None  # fmt: skip
    if env.rank != 0:
        _logger.setLevel(logging.WARNING)
    return resolved


def barrier() -> None:
    """Wait until every rank gets here (nothing when alone)."""
    if world().distributed:
        torch.distributed.barrier()


def teardown() -> None:
    """Leave the process group (if one was initialised)."""
    if _initialised():
        torch.distributed.destroy_process_group()


@contextlib.contextmanager
def local() -> Iterator[None]:
    """Run the block as a single process: helpers inside neither shard nor communicate (whole jobs per rank)."""
    global _alone
    _alone += 1
    try:
        yield
    finally:
        _alone -= 1


# ------------------------------------------------------------------------------------------ sharding
def shard_range(n: int, w: World | None = None) -> range:
    """Indices ``start .. stop - 1`` of this rank's contiguous block of ``n`` items (sizes differ by at most 1)."""
    w = w or world()
    return range(w.rank * n // w.size, (w.rank + 1) * n // w.size)


def shard(items: Sequence[T], w: World | None = None) -> Sequence[T]:
    """This rank's contiguous block of ``items`` (seeds, jobs); concatenated in rank order they are ``items``."""
    r = shard_range(len(items), w)
    return items[r.start : r.stop]


# ------------------------------------------------------------------------------------------ collectives
def _outcome(fn: Callable[[], T]) -> tuple[bool, Any]:
    """``(True, fn())``, or ``(False, (message, exit code))`` when it raises."""
    try:
        return True, fn()
    except Exception as err:  # noqa: BLE001 - every failure is reported to the other ranks
        if not isinstance(err, USER_ERRORS):  # a bug, not a user error: keep its traceback on this rank's stderr
            traceback.print_exc(file=sys.stderr)
        message = str(err) if isinstance(err, USER_ERRORS) else f"{type(err).__name__}: {err}"
        return False, (message, getattr(err, "exit_code", 1))


def _raise_first_failure(outcomes: Sequence[tuple[bool, Any]], size: int) -> None:
    for rank, (ok, payload) in enumerate(outcomes):
        if not ok:
            message, code = payload
            raise RankError(rank, size, message, code)


def _all_gather(obj: Any) -> list[Any]:
    w = world()
    out: list[Any] = [None] * w.size
    torch.distributed.all_gather_object(out, obj)
    return out


def exchange(fn: Callable[[], T]) -> list[T]:
    """Run ``fn`` on this rank and return every rank's result, in rank order (``[fn()]`` when alone).

    Raises:
        RankError: ``fn`` raised on some rank (on every rank, with the lowest failing rank's message).
            Alone, ``fn``'s own exception propagates unchanged.
    """
    w = world()
    if not w.distributed:
        return [fn()]
    outcomes = _all_gather(_outcome(fn))
    _raise_first_failure(outcomes, w.size)
    return [payload for _, payload in outcomes]


def concat(fn: Callable[[], torch.Tensor], dim: int = 0) -> torch.Tensor:
    """Every rank's ``fn()`` (CPU tensors of its shard's rows) concatenated along ``dim`` in rank order."""
    parts = exchange(fn)
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=dim)


def check(fn: Callable[[], T]) -> T:
    """Run ``fn`` on this rank; if it raised on any rank, raise :class:`RankError` on every rank."""
    w = world()
    if not w.distributed:
        return fn()
    ok, payload = _outcome(fn)
    outcomes = _all_gather((ok, None if ok else payload))
    _raise_first_failure(outcomes, w.size)
    return payload


def all_reduce_sum(tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """The element-wise sums over ranks of ``tensors`` (same shapes on every rank), returned on their devices.

    The ranks must reach this call together (compute the parts inside :func:`check`, so a failure on one
    rank stops all). Sums run in the tensors' dtype on the group's device (the rank's GPU under NCCL).
    """
    w = world()
    if not w.distributed:
        return list(tensors)
    device = torch.device("cuda", torch.cuda.current_device()) if w.backend == "nccl" else torch.device("cpu")
    out = []
    for t in tensors:
        buf = t.detach().to(device).contiguous().clone()
        torch.distributed.all_reduce(buf, op=torch.distributed.ReduceOp.SUM)
        out.append(buf.to(t.device))
    return out


def gather_to_main(fn: Callable[[], T]) -> list[T] | None:
    """Every rank's ``fn()`` on rank 0, in rank order (``None`` on the other ranks); failures stop all ranks."""
    w = world()
    if not w.distributed:
        return [fn()]
    value = check(fn)
    out: list[Any] | None = [None] * w.size if w.is_main else None
    torch.distributed.gather_object(value, out, dst=0)
    return out


def broadcast(value: T) -> T:
    """Rank 0's ``value`` on every rank."""
    w = world()
    if not w.distributed:
        return value
    box = [value if w.is_main else None]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]


def on_main(fn: Callable[[], T]) -> T:
    """Run ``fn`` on rank 0 only and return its result on every rank (its exception on every rank as :class:`RankError`)."""
    w = world()
    if not w.distributed:
        return fn()
    outcome = _outcome(fn) if w.is_main else (True, None)
    box = [outcome]
    torch.distributed.broadcast_object_list(box, src=0)
    ok, payload = box[0]
    if not ok:
        raise RankError(0, w.size, *payload)
    return payload


def map_jobs(jobs: Sequence[J], fn: Callable[[J], T], *, label: Callable[[J], str] = str,
             progress: Callable[[J], None] | None = None) -> list[T]:  # fmt: skip
    """``[fn(job) for job in jobs]`` with whole jobs spread over the ranks, results on every rank in job order.

    Each rank runs its contiguous block of the jobs as a single process (inside :func:`local`, so the
    stages within a job do not shard further). A job that raises stops every rank; the message names it.

    Args:
        jobs: the jobs (picklable).
        fn: runs one job; its result must be picklable (directions, dicts, CPU tensors).
        label: a job's name in error messages.
        progress: called after each job on this rank (e.g. a progress bar's update).

    Raises:
        LatentnavError (alone) or :class:`RankError`: ``job <label>: <message>``.
    """

    def run_mine() -> list[T]:
        out = []
        with local():
            for job in shard(jobs):
                try:
                    out.append(fn(job))
                except USER_ERRORS as err:
                    raise JobError(label(job), err) from err
                if progress is not None:
                    progress(job)
        return out

    return [result for part in exchange(run_mine) for result in part]


class JobError(LatentnavError):
    """One job of a batch failed (its name, then its error's message)."""

    def __init__(self, job: str, err: Exception) -> None:
        self.exit_code = getattr(err, "exit_code", 1)
        super().__init__(f"job {job}: {err}")
