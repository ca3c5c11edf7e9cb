"""Does a new direction do what it says? Its achieved control, measured on fresh latents it was not fitted on.

Every discovery ends with this check (``discover`` and ``latentnav discover``), because the fit's own figures
can look fine when the images do not do what was asked: the trajectory fit's R^2 says how well one line
explains the trajectories, not whether moving along it performs the transform.

How: ``n`` fresh latents (seeds from :data:`CONTROL_SEED`, which no discovery uses) are moved in relative mode
by ``steps`` requested values of t spread over +-``max_t`` (0 left out), and the change each image actually
shows is read back:

- a transform's direction (``shift-x``, ``zoom``, ...) by the transform's own read-back: the t whose
  ``T_t(G(z0))`` matches ``G(z_t)`` best under the discovery loss (candidates from -0.5 to 1.5 times the
  request, as the calibration reads the fits), so no meter or label is involved;
- a direction calibrated by a meter (``--attribute pos_x``) by that meter.

The achieved change against the requested one gives R^2 and slope (:func:`latentnav.metrics.steerability`).
Control is called weak when R^2 < :data:`MIN_R2` or the slope lies outside :data:`SLOPE_RANGE`; the check's
``warning`` then says, in one sentence, what that means for the user.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

#: first seed of the fresh latents of the control check (discovery starts at 0, its grids at 10,000, the
#: evaluation benchmark at 50,000, meter calibration at 900,000)
CONTROL_SEED = 70_000
#: R^2 below which control is weak
MIN_R2 = 0.8
#: slopes (achieved per requested) outside this range are weak control: the direction does much less or
#: much more than asked
SLOPE_RANGE = (0.7, 1.3)


def requested_steps(max_t: float, steps: int) -> np.ndarray:
    """``steps`` requested values spread evenly over [-max_t, max_t] without 0 (``steps`` is made even)."""
    half = max(1, steps // 2)
    pos = max_t * np.arange(1, half + 1) / half
    return np.concatenate([-pos[::-1], pos])


@torch.no_grad()
def measure_control(G, direction, *, transform=None, meter=None, max_t: float, n: int = 32, steps: int = 8,
                    seed: int = CONTROL_SEED, loss: str = "fourier", sigma: float | None = None,
                    grid: int = 61) -> dict[str, Any]:  # fmt: skip
    """The achieved control of a calibrated ``direction`` on ``n`` fresh latents (see the module docstring).

    Args:
        G: the generator the direction was made for.
        direction: a calibrated :class:`~latentnav.directions.Direction`.
        transform: read back with this transform (a name or :class:`~latentnav.transforms.Transform`), or
        meter: read back with this meter (a :class:`~latentnav.measure.MeterSpec`); give one of the two.
        max_t: the largest requested |t| (the range the direction was made for).
        n: fresh latents (seeds ``seed .. seed + n - 1``).
        steps: requested values of t.
        seed: first seed.
        loss, sigma: the discovery loss of the read-back (transforms only).
        grid: candidate t of the read-back (transforms only).

    Returns:
        A JSON-ready dict: ``r2``, ``slope``, ``intercept``, ``spread`` (std across latents of the achieved
        change, averaged over t), ``requested`` (the t values), ``achieved_mean`` (per t), ``n_latents``,
        ``first_seed``, ``read_by``, ``generator_evals``, ``weak`` (bool) and ``warning`` (a sentence, or None).
    """
    from latentnav.metrics import steerability

    if (transform is None) == (meter is None):
        raise ValueError("give a transform or a meter to read the control with")
    t_values = requested_steps(max_t, steps)
    z = G.sample_latent(range(seed, seed + n), direction.space)
    shape = G.latent_shape(direction.space)
    x0 = G(z.to(G.device).view(-1, *shape), space=direction.space)
    achieved = []
    if transform is not None:
        from latentnav.trajectory import TrajectoryConfig, _loss_fn, _read_t, _t_grid
        from latentnav.transforms import get_transform

        tf = get_transform(transform)
        config = TrajectoryConfig(max_t=max_t, loss=loss, sigma=sigma)
        loss_fn, t_grid = _loss_fn(config, G.img_resolution), _t_grid(config, tf, grid)
        read_by = f"{tf.name} read-back ({loss} loss)"
    else:
        base = meter(x0).cpu()
        read_by = f"meter {meter.name}"
    for t in t_values.tolist():
        x = G(direction.move(z.to(G.device), t, "relative").view(-1, *shape), space=direction.space)
        if transform is not None:
            achieved.append(_read_t(x, x0, tf, loss_fn, t_grid, near=torch.full((n,), t)).numpy())
        else:
            achieved.append(np.asarray(meter.change(meter(x).cpu(), base), dtype=np.float64))
    achieved = np.asarray(achieved, dtype=np.float64)
    try:
        s = steerability(t_values, achieved)
    except ValueError:  # nothing measurable (a meter that reads NaN on every image)
        s = {"r2": float("nan"), "slope": float("nan"), "intercept": float("nan"), "spread": float("nan"),
             "mean_per_step": [float("nan")] * len(t_values)}  # fmt: skip
    check = {
        "r2": _num(s["r2"]), "slope": _num(s["slope"]), "intercept": _num(s["intercept"]), "spread": _num(s["spread"]),
        "requested": [round(float(t), 6) for t in t_values], "achieved_mean": [_num(v) for v in s["mean_per_step"]],
        "n_latents": n, "first_seed": seed, "read_by": read_by, "generator_evals": n * (len(t_values) + 1),
    }  # fmt: skip
    check["weak"] = is_weak(check)
    check["warning"] = warning(check, direction, max_t) if check["weak"] else None
    return check


def _num(v: Any) -> float | None:
    v = float(v)
    return round(v, 6) if math.isfinite(v) else None


def is_weak(check: dict[str, Any]) -> bool:
    """Whether a control check shows weak control (R^2 below :data:`MIN_R2` or a slope outside :data:`SLOPE_RANGE`)."""
    r2, slope = check.get("r2"), check.get("slope")
    if r2 is None or slope is None:
        return True
    return r2 < MIN_R2 or not SLOPE_RANGE[0] <= slope <= SLOPE_RANGE[1]


def warning(check: dict[str, Any], direction, max_t: float) -> str:
    """One sentence on what weak control means for the user."""
    what = direction.transform or "the attribute"
    unit = direction.meta.get("unit") or ""
    asked = f"t in [-{max_t:g}, {max_t:g}]" + (f" ({unit})" if unit else "")
    if check["r2"] is None:
        return (f"weak control: the change of {what} could not be measured on {check['n_latents']} fresh latents "
                "moved along this direction; do not rely on its calibration")  # fmt: skip
    slope, r2 = check["slope"], check["r2"]
    parts = []
    if slope < SLOPE_RANGE[0]:
        parts.append(f"changed {what} by only {slope:.2f} of what was asked")
    elif slope > SLOPE_RANGE[1]:
        parts.append(f"changed {what} by {slope:.2f} times what was asked")
    if r2 < MIN_R2:
        parts.append(f"the requested change explains only R^2 {r2:.2f} of the change they showed")
    return (f"weak control: moving {check['n_latents']} fresh latents by {asked}, {' and '.join(parts)} (weak: "
            f"R^2 below {MIN_R2} or a slope outside {SLOPE_RANGE[0]}-{SLOPE_RANGE[1]}); this model may not be able "
            f"to do {what} well: look at its traversal before trusting the direction or its units")  # fmt: skip
