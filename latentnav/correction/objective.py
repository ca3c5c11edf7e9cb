"""What the meter re-fit minimises and how a direction's effect is measured: each attribute's change per unit
step, weighted by its inverse variance over the latents.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from latentnav.evaluate import read_latents
from latentnav.measure import MeterSpec
from latentnav.metrics.control import origin_slope, origin_slope_interval


def held_weights(base: torch.Tensor) -> torch.Tensor:
    """Weights of the held attributes in the meter re-fit, from readings ``base`` [N, 1 + K] (A first): several Bs
    in different units (degrees, fractions of the width) are weighed by their inverse variances, relative to
    each other, so none drowns the others; with one B the weight is 1."""
    weight = 1.0 / base[:, 1:].var(dim=0).clamp_min(1e-12)
    return weight / weight.mean()


def refit_terms(G, u: torch.Tensor, meters: Sequence[MeterSpec], z: torch.Tensor, base: torch.Tensor,
                alphas: torch.Tensor, *, space: str = "z") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """What the meter re-fit sees of unit ``u`` on latents ``z`` [n, D] moved by ``alphas`` [T] (differentiable in u).

    ``meters``: A then the Bs; ``base`` [n, 1 + K]: their readings at ``z``. A pair whose reading is not finite
    counts as no change. Returns A's change per unit step (least squares), and per B [K]: the slope of its
    change on A's (B per unit of A) and sum(dB^2) / sum(dA^2) (all of B's change, per unit of A's, squared).
    """
    shape = G.latent_shape(space)
    moved = (z[None] + alphas[:, None, None] * u[None, None]).reshape(-1, z.shape[1])
    images = G(moved.to(G.device).view(-1, *shape), space=space).cpu()
    change = torch.stack([m.change(m(images).view(len(alphas), -1), base[:, k][None]) for k, m in enumerate(meters)],
                         dim=-1)  # [T, n, 1 + K]  # fmt: skip
    good = torch.isfinite(change).all(dim=-1, keepdim=True)
    change = torch.where(good, change, torch.zeros(()))
    step = alphas[:, None] * good[..., 0]
    on_target = (step * change[..., 0]).sum() / (step**2).sum().clamp_min(1e-12)
    da2 = (change[..., 0] ** 2).sum().clamp_min(1e-12)
    slope = (change[..., :1] * change[..., 1:]).sum(dim=(0, 1)) / da2
    return on_target, slope, (change[..., 1:] ** 2).sum(dim=(0, 1)) / da2


# --------------------------------------------------------------------------------------- measuring
def direction_effect(G, u: torch.Tensor, meter_a: MeterSpec, meters_b: Sequence[MeterSpec], z: torch.Tensor, *,
                     alphas: Sequence[float] = (-1.0, -0.5, 0.5, 1.0), space: str = "z",
                     base: np.ndarray | None = None) -> dict[str, Any]:  # fmt: skip
    """What moving by raw steps ``alphas`` along unit ``u`` does to A and to B on latents ``z``.

    ``base`` [N, 1 + K]: the readings at ``z`` when already known (saves rendering them again).

    Returns:
        ``on_target``: least-squares slope of A's change on the step (A per unit step);
        ``leakage``: for each B, |slope through the origin of B's change on A's change| (B per unit of A);
        ``leakage_max``: the largest of those;
        ``leakage_interval``: for each B, the 5th and 95th percentiles of the leakage over 1,000 bootstrap
        resamples of the latents (a few latents whose image jumps can carry the whole figure).
    """
    meters = [meter_a, *meters_b]
    if base is None:
        base = read_latents(G, z, space, meters).T
    rows = [read_latents(G, z + float(a) * u[None].to(z), space, meters).T for a in alphas]
    changes = np.stack([np.stack([m.change(r[:, k], base[:, k]) for k, m in enumerate(meters)], axis=1)
                        for r in rows])  # [T, N, K], circular meters wrapped  # fmt: skip
    steps = np.broadcast_to(np.asarray(alphas, dtype=np.float64)[:, None], changes.shape[:2])
    da = changes[..., 0]
    on_target = origin_slope(steps, da)
    leak, interval = {}, {}
    for k, m in enumerate(meters_b, start=1):
        db = np.where(np.isfinite(da), changes[..., k], np.nan)
        leak[m.name] = abs(origin_slope(da, db))
        interval[m.name] = origin_slope_interval(da, db)
    return {"on_target": on_target, "leakage": leak, "leakage_max": max(leak.values()) if leak else 0.0,
            "leakage_interval": interval}  # fmt: skip
