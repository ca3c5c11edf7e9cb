"""Control metrics: how precisely a direction moves a factor, measured from pixels.

``control_report`` traverses fresh latents along a direction and reads the factor back with a meter:

- relative mode (move every image by t): the achieved change against the requested t over all
  (z0, t) pairs: R^2 of the identity-free linear fit, its slope (1 is perfect), the spread (std across
  z0 of the achieved change at each t, averaged over t), and the leakage into another meter
  (mean |change of the other meter| per unit of |achieved change|);
- absolute mode (set the factor to t, the paper's protocol): the std across z0 of the measured value at
  each t (averaged over t) and whether the mean rises with t (Spearman rho of mean vs t);
- blank images (no foreground) among everything generated.

``oracle_direction`` builds the reference a VAE allows: its best single latent axis for a factor (found
with the encoder on renders with known factors), calibrated on its own images with isotonic regression.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from scipy.stats import spearmanr
from sklearn.isotonic import IsotonicRegression

from latentnav import measure
from latentnav.directions import Direction

Meter = Callable[[torch.Tensor], torch.Tensor]


def _linear_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Slope and R^2 of the least-squares line y ~ a x + b."""
    slope, icpt = np.polyfit(x, y, 1)
    resid = y - (slope * x + icpt)
    r2 = 1 - (resid**2).sum() / max(((y - y.mean()) ** 2).sum(), 1e-12)
    return float(slope), float(r2)


@torch.no_grad()
def _measure_along(G, direction: Direction, z: torch.Tensor, t_values, mode: str, meters: list[Meter]):
    base = G(z.to(G.device))
    rows, blanks = [], int(measure.is_blank(base).sum())
    for t in t_values:
        images = G(direction.move(z.to(G.device), float(t), mode))
        blanks += int(measure.is_blank(images).sum())
        rows.append([m(images).cpu().numpy() for m in meters])
    base_vals = [m(base).cpu().numpy() for m in meters]
    return np.array(rows), np.array(base_vals), blanks, (len(t_values) + 1) * len(z)


def control_report(
    G,
    direction: Direction,
    meter: Meter,
    t_values: np.ndarray,
    z: torch.Tensor,
    *,
    cross_meter: Meter | None = None,
    response: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> dict[str, float]:
    """Relative and absolute control of ``direction`` on latents ``z``.

    Args:
        G: the generator.
        direction: a calibrated :class:`~latentnav.directions.Direction`.
        meter: images -> [N] factor values (e.g. :func:`latentnav.measure.centroid_x`).
        t_values: requested t's (transform units).
        z: [N, D] fresh starting latents.
        cross_meter: a factor that should not move (for leakage), e.g. centroid y for shift-x.
        response: maps (moved values, base values) to the achieved change in t units
            (default: their difference; zoom uses half the log area ratio).

    Returns:
        A dict of figures (see module docstring); NaN measurements (blank images) are left out.
    """
    response = response or (lambda new, old: new - old)
    meters = [meter] + ([cross_meter] if cross_meter else [])
    t_values = np.asarray(t_values, dtype=np.float64)
    rel, base, blanks_rel, count_rel = _measure_along(G, direction, z, t_values, "relative", meters)
    achieved = response(rel[:, 0], base[0][None])  # [T, N]
    req = np.broadcast_to(t_values[:, None], achieved.shape)
    ok = np.isfinite(achieved)
    slope, r2 = _linear_fit(req[ok], achieved[ok])
    spread = float(np.nanmean(np.nanstd(achieved, axis=1)))
    out = {"relative_r2": r2, "relative_slope": slope, "relative_spread": spread}
    if cross_meter is not None:
        cross = np.abs(rel[:, 1] - base[1][None])
        moving = np.abs(t_values) > 0
        out["leakage"] = float(np.nanmean(cross[moving]) / max(np.nanmean(np.abs(achieved[moving])), 1e-12))
    ab, _, blanks_abs, count_abs = _measure_along(G, direction, z, t_values, "absolute", meters)
    values = ab[:, 0]
    means = np.nanmean(values, axis=1)
    out["absolute_std"] = float(np.nanmean(np.nanstd(values, axis=1)))
    out["absolute_monotone_rho"] = float(spearmanr(t_values, means)[0])
    out["blank_fraction"] = (blanks_rel + blanks_abs) / (count_rel + count_abs)
    return out


@torch.no_grad()
def oracle_direction(G, factor: str, meter: Meter, *, n_renders: int = 5000, n_calib: int = 64,
                     grid: int = 41, seed: int = 123_457) -> Direction:  # fmt: skip
    """The VAE's best single latent axis for a dSprites ``factor``, calibrated by isotonic regression.

    The axis is the latent whose encoder mean has the largest |Spearman r| with the factor on fresh
    renders; its sign makes the factor grow. The calibration g maps the axis value to the meter's
    reading, averaged over ``n_calib`` prior latents on a ``grid`` of axis values in [-3, 3], fitted
    monotone (isotonic) and pinned to g(0) = 0.
    """
    from latentnav.train.report import factor_axes

    axis = factor_axes(G, n_renders, seed)[factor]
    k, sign = axis["axis"], float(np.sign(axis["r"]) or 1.0)
    u = torch.zeros(G.z_dim)
    u[k] = sign
    alphas = np.linspace(-3, 3, grid)
    z = G.sample_z(n_calib, seed=seed)
    readings = []
    for a in alphas:
        moved = z.clone()
        moved[:, k] = sign * a
        readings.append(np.nanmean(meter(G(moved.to(G.device))).cpu().numpy()))
    readings = np.array(readings)
    ok = np.isfinite(readings)
    iso = IsotonicRegression(increasing=True).fit(alphas[ok], readings[ok])
    values = iso.predict(alphas)
    values = values + np.linspace(0, 1e-3 * max(np.ptp(values), 1e-6), grid)  # strictly increasing (float32-resolvable), so g inverts
    values = values - np.interp(0.0, alphas, values)
    return Direction(u, torch.tensor(alphas, dtype=torch.float32), torch.tensor(values, dtype=torch.float32),
                     model=G.name, transform=f"oracle:{factor}", method="oracle-axis",
                     meta={"axis": k, "sign": sign, "abs_r": axis["abs_r"]})  # fmt: skip


#: For each testbed transform: (meter in the transform's t units, cross meter for leakage).
TRANSFORM_METERS = {
    "shift-x": (measure.centroid_x, measure.centroid_y),
    "shift-y": (measure.centroid_y, measure.centroid_x),
    "zoom": (measure.log_scale, measure.centroid_x),
}
