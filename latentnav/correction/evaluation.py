"""How the corrector judges a direction, in the user's units: the calibrated direction is traversed in relative
mode (``t`` in the attribute's units, e.g. +0.1 of the width) on fresh latents, and every meter is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from latentnav.directions import Direction
from latentnav.measure import MeterSpec
from latentnav.measure.meters import BLANK_AREA, area, is_blank
from latentnav.metrics.control import origin_slope, origin_slope_interval, steerability

#: the steps a corrected direction is judged over, in the attribute's units (relative moves)
EVAL_T = (-0.1, -0.05, 0.05, 0.1)

#: a moved image has lost its sprite when it is blank or keeps less than this share of its start's foreground
LOST_AREA = 0.25


def prior_norm_quantile(z: torch.Tensor, q: float = 0.99) -> float:
    """The ``q`` quantile of the norms of latents ``z`` [N, D] drawn from the prior (the scored latents)."""
    return float(torch.quantile(z.double().norm(dim=1), q))


def user_effect(G, direction: Direction, meter_a: MeterSpec, others: Sequence[MeterSpec], z: torch.Tensor, *,
                t: Sequence[float] = EVAL_T, norm99: float | None = None, start: torch.Tensor | None = None,
                space: str | None = None, n_boot: int = 1000, bar: tqdm | None = None) -> dict[str, Any]:  # fmt: skip
    """What a calibrated ``direction`` does, moved by ``t`` (relative, in ``meter_a``'s units) from latents ``z``.

    Args:
        direction: calibrated in ``meter_a``'s units.
        others: every other meter to read (the held ones first; the report names each).
        z: [N, D] fresh latents.
        norm99: the 99th percentile of the prior's latent norm (:func:`prior_norm_quantile`).
        start: the images of ``z`` when already rendered (several directions judged on the same latents).
        bar: a progress bar to advance by ``len(z)`` per step.

    Returns:
        ``steer``: slope and R^2 of the achieved A change on the requested t (slope 1: does what it says);
        ``changes``: each other meter's change per unit A (slope through the origin), with ``change_intervals``
        (5-95% bootstrap over the latents, of its absolute value); ``on_target``: A per unit latent step;
        ``lost_share`` (moved images that are blank or keep under a quarter of their start's foreground) and
        ``lost_share_start`` (blank starts); ``distance_per_0.1``: median latent distance moved per 0.1 of A;
        ``beyond_prior_99``: share of moved latents whose norm exceeds ``norm99``.
    """
    space = space or direction.space
    meters = [meter_a, *others]
    shape = G.latent_shape(space)
    z = z.float()
    with torch.no_grad():
        if start is None:
            start = G(z.to(G.device).view(-1, *shape), space=space).cpu()
        base = np.stack([m(start).double().numpy() for m in meters], axis=1)
        start_area = area(start)
        readings, lost, dist, beyond = [], [], [], []
        for value in t:
            moved = direction.move(z, float(value), "relative")
            images = G(moved.to(G.device).view(-1, *shape), space=space).cpu()
            readings.append(np.stack([m(images).double().numpy() for m in meters], axis=1))
            lost.append((is_blank(images) | (area(images) < LOST_AREA * start_area)).numpy())
            dist.append(((moved - z) @ direction.u.to(z)).double().numpy())  # signed: moves lie along u
            if norm99 is not None:
                beyond.append((moved.double().norm(dim=1) > norm99).numpy())
            if bar is not None:
                bar.update(len(z))
    readings = np.stack(readings)  # [T, N, 1 + K]
    change = np.stack([m.change(readings[..., k], base[None, :, k]) for k, m in enumerate(meters)], axis=-1)
    steps = np.broadcast_to(np.asarray(t, dtype=np.float64)[:, None], change.shape[:2])
    da, dist = change[..., 0], np.stack(dist)
    out: dict[str, Any] = {"t": [float(v) for v in t], "n": len(z)}
    try:
        out["steer"] = {k: v for k, v in steerability(steps[:, 0], da).items() if k in ("slope", "r2", "intercept")}
    except ValueError:  # too few moved images still read A (blank or lost): reported as not measured
        out["steer"] = {"slope": float("nan"), "r2": float("nan"), "intercept": float("nan")}
    out["on_target"] = origin_slope(dist, da)
    out["changes"], out["change_intervals"] = {}, {}
    for k, m in enumerate(others, start=1):
        db = np.where(np.isfinite(da), change[..., k], np.nan)
        out["changes"][m.name] = origin_slope(da, db)
        out["change_intervals"][m.name] = origin_slope_interval(da, db, n_boot=n_boot)
    lost = np.stack(lost)
    out["lost_share"] = float(lost.mean())
    out["lost_share_start"] = float((start_area < BLANK_AREA).double().mean())
    top = int(np.argmax(np.asarray(t)))
    out["distance_per_0.1"] = float(np.median(np.abs(dist[top])) * 0.1 / abs(float(t[top])))
    if norm99 is not None:
        out["beyond_prior_99"] = float(np.stack(beyond).mean())
    return out


def judged(effect: dict[str, Any], held: Sequence[str]) -> dict[str, Any]:
    """The legacy summary keys the CLI and the tables read, from :func:`user_effect`: ``leakage`` (|change per unit
    A| of each held attribute), ``leakage_max`` and ``leakage_interval``."""
    leak = {name: abs(effect["changes"][name]) for name in held}
    return {**effect, "leakage": leak, "leakage_max": max(leak.values()) if leak else 0.0,
            "leakage_interval": {name: effect["change_intervals"][name] for name in held}}  # fmt: skip

