"""The oracle a VAE allows: its best single latent axis for a factor, found with the encoder on renders with
known factors and calibrated on its own images (the reference the testbed's control tables compare with).
"""

from __future__ import annotations

import numpy as np
import torch

from latentnav import measure
from latentnav.directions import Direction, monotone_calibration
from latentnav.metrics.control import Meter


@torch.no_grad()
def oracle_direction(G, factor: str, meter: Meter, *, n_renders: int = 5000, n_calib: int = 64,
                     grid: int = 41, seed: int = 123_457) -> Direction:  # fmt: skip
    """The VAE's best single latent axis for a dSprites ``factor``, calibrated by isotonic regression.

    The axis is the latent whose encoder mean has the largest |Spearman r| with the factor on fresh
    renders; its sign makes the factor grow. The calibration g maps the axis value to the meter's
    reading, averaged over ``n_calib`` prior latents on a ``grid`` of axis values in [-3, 3], fitted
    monotone (isotonic) and pinned to g(0) = 0.
    """
    from latentnav.testbed.report import factor_axes

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
        r = meter(G(moved.to(G.device))).cpu().numpy()
        r = r[np.isfinite(r)]  # blank images have nothing to measure (NaN, or -inf in log units)
        readings.append(r.mean() if r.size else np.nan)
    values = monotone_calibration(alphas, np.array(readings))
    return Direction(u, torch.tensor(alphas, dtype=torch.float32), torch.tensor(values, dtype=torch.float32),
                     model=G.name, transform=f"oracle:{factor}", method="oracle-axis",
                     meta={"axis": k, "sign": sign, "abs_r": axis["abs_r"]})  # fmt: skip


#: For each testbed transform: (meter in the transform's t units, cross meter for leakage).
TRANSFORM_METERS = {
    "shift-x": (measure.centroid_x, measure.centroid_y),
    "shift-y": (measure.centroid_y, measure.centroid_x),
    "zoom": (measure.scale, measure.centroid_x),
    "zoom-object": (measure.scale, measure.centroid_x),
}
