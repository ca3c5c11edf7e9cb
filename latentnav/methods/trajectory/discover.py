"""``discover``: trajectories, then a calibrated direction (the API behind ``latentnav discover``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from latentnav import distributed
from latentnav.directions import Direction
from latentnav.errors import BadInputError, MethodNotApplicableError
from latentnav.generators.base import Generator
from latentnav.measure.transforms import Transform, get_transform
from latentnav.methods import Candidates
from latentnav.methods.trajectory.calibration import achieved_t, fit_calibration, fit_direction, matched_calibration
from latentnav.methods.trajectory.config import TrajectoryConfig, config_dict
from latentnav.methods.trajectory.optimizer import Trajectories, run_trajectories


def discover(
    G: Generator,
    transform: str | Transform | Callable,
    config: TrajectoryConfig | None = None,
    *,
    space: str = "z",
    n_knots: int = 101,
    progress: bool = True,
    return_trajectories: bool = False,
    check_control: bool = True,
    **overrides,
) -> Direction | tuple[Direction, Trajectories]:
    """Find a direction that performs ``transform`` in ``G``'s latent space, with its calibration g.

    Args:
        G: a :class:`~latentnav.generators.base.Generator`.
        transform: a transform name (``"shift-x"``, ``"zoom"``, ...) or a callable ``(images, t) -> (images, mask)``.
        config: trajectory settings; keyword ``overrides`` replace single fields
            (``discover(G, "zoom", n_trajectories=32)``).
        space: the latent space to search.
        n_knots: knots of the calibration g.
        progress: show progress bars.
        return_trajectories: also return the recorded :class:`~latentnav.methods.trajectory.optimizer.Trajectories`.
        check_control: measure the achieved control on fresh latents (:func:`latentnav.metrics.control.measure_control`,
            into ``meta["control"]``) and warn (``warnings.warn``) when it is weak.

    Returns:
        The :class:`~latentnav.directions.Direction` (and the trajectories when asked).
    """
    tf = get_transform(transform)
    check_channels(G, tf)
    config = config or TrajectoryConfig()
    if overrides:
        from dataclasses import replace

        config = replace(config, **overrides)
    traj = run_trajectories(G, tf, config, space=space, progress=progress)
    clock = time.perf_counter()
    k = traj.kept
    meta = {
        "unit": tf.unit, "config": config_dict(config), "seed": config.seed,
        "generator_evals": traj.generator_evals, "trajectory_seconds": round(traj.wall_time, 3),
        "mean_final_loss": float(traj.loss[k].mean()), "fits": int(len(k)), "fits_kept": int(k.sum()),
    }  # fmt: skip
    direction = fit_direction(traj.z0[k], traj.zt[k], traj.t[k], n_knots=n_knots, space=space, model=G.name,
                              transform=tf.name, method="trajectory", meta=meta)  # fmt: skip
    direction.meta["calibration"] = config.resolved().calibration
    stages = {"trajectories": round(traj.wall_time, 3)}
    if direction.meta["calibration"] == "matched":
        a0, at, t, evals = matched_calibration(G, tf, direction.u, traj, config, space=space, progress=progress)
        direction.knots, direction.values, r2 = fit_calibration(a0, at, t, n_knots)
        direction.meta.update(calibration_r2=r2, calibration_pairs=int(len(t)),
                              generator_evals=traj.generator_evals + evals)  # fmt: skip
    elif direction.meta["calibration"] == "achieved":
        t, evals = achieved_t(G, tf, traj, config, space=space, progress=progress)
        direction.knots, direction.values, r2 = fit_calibration(traj.z0[k] @ direction.u, traj.zt[k] @ direction.u, t, n_knots)
        direction.meta.update(calibration_r2=r2, generator_evals=traj.generator_evals + evals,
                              achieved_over_requested=float((t * traj.t[k]).sum() / (traj.t[k] ** 2).sum()))  # fmt: skip
    stages["calibration"] = round(time.perf_counter() - clock, 3)
    if check_control:
        clock = time.perf_counter()
        _check_control(G, direction, tf, config)
        stages["control_check"] = round(time.perf_counter() - clock, 3)
    direction.meta["stage_seconds"] = stages
    return (direction, traj) if return_trajectories else direction


def _check_control(G: Generator, direction: Direction, tf: Transform, config: TrajectoryConfig) -> None:
    """The achieved control on fresh latents into ``direction.meta["control"]``; a Python warning when weak."""
    import warnings

    from latentnav.metrics.control import measure_control

    cfg = config.resolved()
    max_t = cfg.max_t if cfg.max_t is not None else tf.default_max_t
    check = measure_control(G, direction, transform=tf, max_t=max_t, loss=cfg.loss, sigma=cfg.sigma)
    direction.meta["control"] = check
    direction.meta["generator_evals"] = direction.meta.get("generator_evals", 0) + check["generator_evals"]
    if check["warning"]:
        warnings.warn(check["warning"], stacklevel=3)


@dataclass(frozen=True)
class Job:
    """One direction of a batch: a transform, and the class to generate for class-conditional models.

    Attributes:
        transform: a transform name.
        class_index: the class bound to the generator for this job (``None``: the generator's own).
    """

    transform: str
    class_index: int | None = None

    @property
    def name(self) -> str:
        """A file-system name: ``zoom`` or ``class-0207-zoom``."""
        return self.transform if self.class_index is None else f"class-{self.class_index:04d}-{self.transform}"


def check_channels(G: Generator, tf: Transform) -> None:
    """Refuse, before any work, a transform that needs colour on a generator of grey images."""
    if tf.rgb_only and G.img_channels != 3:
        raise BadInputError(f"{tf.name} needs RGB images; {G.name} makes {G.img_channels}-channel ones")


def check_jobs(G: Generator, jobs: list[Job]) -> None:
    """Refuse, before any work, unknown transforms and classes the model does not have.

    Raises:
        UnknownNameError: an unknown transform; ValueError: a class for an unconditional model, or out of range.
    """
    for tf in dict.fromkeys(job.transform for job in jobs):
        check_channels(G, get_transform(tf))
    classes = sorted({job.class_index for job in jobs if job.class_index is not None})
    if classes and not G.num_classes:
        G.bind_class(classes[0])  # raises the model's own "not class-conditional" message
    if classes and not 0 <= classes[0] <= classes[-1] < G.num_classes:
        raise BadInputError(f"classes must lie in 0..{G.num_classes - 1} for {G.name}, got {classes[0]}..{classes[-1]}")


def discover_jobs(G: Generator, jobs: list[Job], config: TrajectoryConfig | None = None, *, space: str = "z",
                  n_knots: int = 101, progress: Callable[[Job], None] | None = None) -> list[Direction]:  # fmt: skip
    """One direction per job (``latentnav discover --classes 0-999 --transforms shift-x,zoom``).

    In a distributed run whole jobs are spread over the ranks (:func:`latentnav.distributed.map_jobs`),
    each job running on its rank alone, and every rank gets every direction, in job order. Each
    direction records its class in ``meta["class_index"]``.

    Args:
        G: the generator (each rank's own copy); the class of each job is bound with ``G.bind_class``.
        jobs: the jobs.
        config, space, n_knots: as :func:`discover`.
        progress: called after each job on this rank.

    Raises:
        ValueError: a class for a model that has none (before any work); a job's error names the job.
    """
    config = config or TrajectoryConfig()
    check_jobs(G, jobs)

    def run(job: Job) -> Direction:
        if job.class_index is not None:
            G.bind_class(job.class_index)
        d = discover(G, job.transform, config, space=space, n_knots=n_knots, progress=False)
        d.meta["class_index"] = job.class_index
        return d

    return distributed.map_jobs(jobs, run, label=lambda job: job.name, progress=progress)


def candidates(G: Generator, *, space: str = "z", meter=None, scorer=None, scorer_name: str = "scorer",
               settings) -> Candidates:  # fmt: skip
    """The trajectory method behind the method registry's call: the direction of the transform that changes
    ``meter``'s attribute, calibrated by its own g.

    Raises:
        MethodNotApplicableError: no transform changes the attribute (or a scorer was given).
    """
    if meter is None or meter.transform is None:
        what = repr(meter.name) if meter is not None else scorer_name
        raise MethodNotApplicableError(f"no image transform changes {what}, so there is nothing to follow")
    config = settings.trajectory or TrajectoryConfig()
    d = discover(G, meter.transform, config, space=space, progress=False)
    return Candidates([d], "its own calibration", {"fit_r2": d.meta["fit_r2"]})
