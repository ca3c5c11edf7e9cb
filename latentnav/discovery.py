"""``discover``: trajectories, then a calibrated direction (the API behind ``latentnav discover``)."""

from __future__ import annotations

from typing import Callable

from latentnav.directions import Direction, fit_calibration, fit_direction
from latentnav.generators.base import Generator
from latentnav.trajectory import Trajectories, TrajectoryConfig, achieved_t, config_dict, matched_calibration, run_trajectories
from latentnav.transforms import Transform, get_transform


def discover(
    G: Generator,
    transform: str | Transform | Callable,
    config: TrajectoryConfig | None = None,
    *,
    space: str = "z",
    n_knots: int = 101,
    progress: bool = True,
    return_trajectories: bool = False,
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
        return_trajectories: also return the recorded :class:`~latentnav.trajectory.Trajectories`.

    Returns:
        The :class:`~latentnav.directions.Direction` (and the trajectories when asked).
    """
    tf = get_transform(transform)
    config = config or TrajectoryConfig()
    if overrides:
        from dataclasses import replace

        config = replace(config, **overrides)
    traj = run_trajectories(G, tf, config, space=space, progress=progress)
    k = traj.kept
    meta = {
        "unit": tf.unit, "config": config_dict(config), "seed": config.seed,
        "generator_evals": traj.generator_evals, "trajectory_seconds": round(traj.wall_time, 3),
        "mean_final_loss": float(traj.loss[k].mean()), "fits": int(len(k)), "fits_kept": int(k.sum()),
    }  # fmt: skip
    direction = fit_direction(traj.z0[k], traj.zt[k], traj.t[k], n_knots=n_knots, space=space, model=G.name,
                              transform=tf.name, method="trajectory", meta=meta)  # fmt: skip
    direction.meta["calibration"] = config.resolved().calibration
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
    return (direction, traj) if return_trajectories else direction
