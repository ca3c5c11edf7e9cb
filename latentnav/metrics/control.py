"""Control metrics: how precisely a direction moves a factor, measured from pixels.

``control_report`` traverses fresh latents along a direction and reads the factor back with a meter:

- relative mode (move every image by t): the achieved change against the requested t over all
  (z0, t) pairs: R^2 of the identity-free linear fit, its slope (1 is perfect), the spread (std across
  z0 of the achieved change at each t, averaged over t), and the leakage into another meter
  (mean |change of the other meter| per unit of |achieved change|);
- absolute mode (set the factor to t, the paper's protocol): the std across z0 of the measured value at
  each t (averaged over t) and whether the mean rises with t (Spearman rho of mean vs t);
- blank images (no foreground) among everything generated; also split into blank starting latents (the
  model's prior) and images that moving blanked although their start was not blank (the direction's doing);
- with ``min_start_area``, starts whose foreground is smaller than that (a smudge, not an object the data
  contains) are left out of the relative and absolute figures and counted as ``degenerate_start_fraction``.

``measure_control`` is the check every discovery ends with: the achieved control of a new direction on
fresh latents it was not fitted on (seeds from :data:`CONTROL_SEED`), read back by the transform itself or by a
meter, and called weak when R^2 < :data:`MIN_R2` or the slope lies outside :data:`SLOPE_RANGE` (the fit's own
R^2 can look fine when the images do not do what was asked).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from latentnav import distributed, measure
from latentnav.directions import Direction
from latentnav.errors import BadInputError
from latentnav.seeds import CONTROL_SEED

Meter = Callable[[torch.Tensor], torch.Tensor]


def origin_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope through the origin of ``y`` on ``x`` over the pairs where both are finite (NaN if none).

    The one formula behind every "B per unit of A" figure (leakage rows, the corrector's reports); the
    corrector's differentiable re-fit writes the same sums in torch (``correction/objective.refit_terms``).
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    return float((x[ok] * y[ok]).sum() / max((x[ok] ** 2).sum(), 1e-24)) if ok.any() else float("nan")


def origin_slope_interval(x: np.ndarray, y: np.ndarray, *, n_boot: int = 1000, seed: int = 0) -> list[float]:
    """5th and 95th percentiles of ``|origin_slope|`` over ``n_boot`` resamples of the columns of ``x``, ``y`` [T, N]
    (the latents: a few whose image jumps can carry the whole figure)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    cross, square = np.where(ok, x * y, 0.0).sum(0), np.where(ok, x**2, 0.0).sum(0)  # per latent
    draws = np.random.default_rng(seed).integers(0, x.shape[1], size=(n_boot, x.shape[1]))
    boot = np.abs(cross[draws].sum(1) / np.maximum(square[draws].sum(1), 1e-24))
    return [float(np.percentile(boot, 5)), float(np.percentile(boot, 95))]


def _linear_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Slope and R^2 of the least-squares line y ~ a x + b (R^2 0 when y does not change at all: no control)."""
    slope, icpt = np.polyfit(x, y, 1)
    resid = y - (slope * x + icpt)
    total = ((y - y.mean()) ** 2).sum()
    if total <= 1e-12 * max(len(y), 1) * max(float(np.abs(y).max()) ** 2, 1e-12):
        return float(slope), 0.0
    return float(slope), float(1 - (resid**2).sum() / total)


def spearman(x, y) -> float:
    """Spearman's rho, NaN (no warning) when either side is constant."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    from scipy.stats import spearmanr  # imported when needed: scipy.stats costs 0.4 s of start-up

    return float(spearmanr(x, y)[0])


def _measure_along(G, direction: Direction, z: torch.Tensor, t_values, mode: str, meters: list[Meter]):
    """Meter readings along ``direction``: rows [T, M, N], base [M, N], and blank counts.

    The counts are (blank images, images, blank moved images whose start was not blank, such images, blank
    starts): the first pair counts every image (starts included), the second only what moving did. In a
    distributed run each rank measures its block of the latents; readings and counts are gathered.
    """
    block = distributed.shard_range(len(z))
    parts = distributed.exchange(lambda: _measure_block(G, direction, z[block.start : block.stop], t_values, mode, meters))
    rows = np.concatenate([p[0] for p in parts], axis=2)
    base = np.concatenate([p[1] for p in parts], axis=1)
    counts = tuple(int(sum(c)) for c in zip(*(p[2] for p in parts)))
    return rows, base, counts


@torch.no_grad()
def _measure_block(G, direction: Direction, z: torch.Tensor, t_values, mode: str, meters: list[Meter]):
    """:func:`_measure_along` on one block of latents, on this process."""
    if not len(z):
        return np.empty((len(t_values), len(meters), 0)), np.empty((len(meters), 0)), (0, 0, 0, 0, 0)
    base = G(z.to(G.device))
    base_blank = measure.is_blank(base).cpu()
    rows, blanks, moved_blanks = [], int(base_blank.sum()), 0
    for t in t_values:
        images = G(direction.move(z.to(G.device), float(t), mode))
        blank = measure.is_blank(images).cpu()
        blanks += int(blank.sum())
        moved_blanks += int((blank & ~base_blank).sum())
        rows.append([m(images).cpu().numpy() for m in meters])
    base_vals = [m(base).cpu().numpy() for m in meters]
    counts = (blanks, (len(t_values) + 1) * len(z), moved_blanks, len(t_values) * int((~base_blank).sum()),
              int(base_blank.sum()))  # fmt: skip
    return np.array(rows), np.array(base_vals), counts


def control_report(
    G,
    direction: Direction,
    meter: Meter,
    t_values: np.ndarray,
    z: torch.Tensor,
    *,
    cross_meter: Meter | None = None,
    response: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    min_start_area: float | None = None,
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
        min_start_area: starts with less foreground than this fraction of the image are left out of the
            relative and absolute figures (and counted); ``None`` keeps every start.

    Returns:
        A dict of figures (see module docstring); NaN measurements (blank images) are left out.
    """
    response = response or (lambda new, old: new - old)
    meters = [meter] + ([cross_meter] if cross_meter else []) + [measure.area]  # area last: the starts' foreground
    t_values = np.asarray(t_values, dtype=np.float64)
    rel, base, counts_rel = _measure_along(G, direction, z, t_values, "relative", meters)
    degenerate = base[-1] < min_start_area if min_start_area is not None else np.zeros(len(z), dtype=bool)
    rel[:, :, degenerate] = np.nan
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
    ab, _, counts_abs = _measure_along(G, direction, z, t_values, "absolute", meters)
    values = ab[:, 0]
    values[:, degenerate] = np.nan
    means = np.nanmean(values, axis=1)
    out["absolute_std"] = float(np.nanmean(np.nanstd(values, axis=1)))
    out["absolute_monotone_rho"] = spearman(t_values, means)
    out["blank_fraction"] = (counts_rel[0] + counts_abs[0]) / (counts_rel[1] + counts_abs[1])
    out["blank_start_fraction"] = counts_rel[4] / len(z)
    out["blank_moved_fraction"] = (counts_rel[2] + counts_abs[2]) / max(counts_rel[3] + counts_abs[3], 1)
    out["degenerate_start_fraction"] = float(degenerate.mean())
    return out


# ============================================================================================ steerability
# Pure functions on measured changes: ``achieved`` is [T, N], the change of an attribute for each requested
# step t (rows) and starting latent (columns); NaN where an image had nothing to measure.
def steerability(t_values, achieved, *, min_r2: float = 0.8) -> dict:
    """Achieved against requested change along a direction (Jahanian et al. 2020; Plumerault et al. 2020).

    Args:
        t_values: [T] requested steps (transform units, or raw alpha for uncalibrated directions).
        achieved: [T, N] achieved changes of the target attribute.
        min_r2: the R^2 that bounds the usable range.

    Returns:
        ``r2`` and ``slope``/``intercept`` of the least-squares line achieved ~ requested over all pairs
        (slope 1 = does what it says); ``usable_range``: the largest T such that the pairs with |t| <= T
        still have R^2 >= ``min_r2`` (0 if none); ``spread_per_step`` [T]: std across latents at each t
        (the reference paper's std per step) and ``spread``, its mean; ``mean_per_step`` [T].
    """
    t = np.asarray(t_values, dtype=np.float64)
    y = np.asarray(achieved, dtype=np.float64)
    if y.ndim != 2 or y.shape[0] != len(t):
        raise BadInputError(f"expected achieved changes of shape [{len(t)}, N], got {list(y.shape)}")
    req = np.broadcast_to(t[:, None], y.shape)
    ok = np.isfinite(y)
    if ok.sum() < 3 or np.ptp(req[ok]) == 0:
        raise BadInputError("steerability needs at least 3 finite measurements at 2 or more steps")
    slope, r2 = _linear_fit(req[ok], y[ok])
    intercept = float(np.mean(y[ok] - slope * req[ok]))
    usable = 0.0
    for bound in np.unique(np.abs(t[t != 0])):
        keep = ok & (np.abs(req) <= bound + 1e-12)
        if np.ptp(req[keep]) > 0 and _linear_fit(req[keep], y[keep])[1] >= min_r2:
            usable = float(bound)
    with np.errstate(all="ignore"):
        spread = np.array([np.nanstd(row) if np.isfinite(row).any() else np.nan for row in y])
        mean = np.array([np.nanmean(row) if np.isfinite(row).any() else np.nan for row in y])
    return {"r2": r2, "slope": slope, "intercept": intercept, "usable_range": usable, "spread": float(np.nanmean(spread)),
            "spread_per_step": spread.tolist(), "mean_per_step": mean.tolist()}  # fmt: skip


def leakage(changes: dict[str, np.ndarray], target: str, scales: dict[str, float] | None = None) -> dict[str, dict]:
    """Change of every measured attribute per unit change of the target (one row of the leakage matrix).

    Args:
        changes: attribute name -> [T, N] achieved changes along one direction (the target included).
        target: the attribute the direction is meant to change.
        scales: optional attribute name -> natural scale (e.g. its std over the model's samples); changes
            are divided by it first, so attributes in different units compare (``normalised`` entries).

    Returns:
        For each attribute: ``ratio`` = mean |change| / mean |target change| (any leak, also one that does
        not follow the sign of the move) and ``slope`` = least-squares slope through the origin of its
        change on the target's change (a leak that follows the move); both are 1 for the target itself.
        With ``scales``, also ``ratio_normalised`` and ``slope_normalised``.
    """
    if target not in changes:
        raise BadInputError(f"the target {target!r} is not among the measured attributes {sorted(changes)}")
    x = np.asarray(changes[target], dtype=np.float64)
    out = {}
    for name, values in changes.items():
        y = np.asarray(values, dtype=np.float64)
        if y.shape != x.shape:
            raise BadInputError(f"changes of {name!r} have shape {list(y.shape)}, the target's {list(x.shape)}")
        ok = np.isfinite(x) & np.isfinite(y)
        denom_abs = max(np.abs(x[ok]).mean() if ok.any() else 0.0, 1e-12)
        ratio = float(np.abs(y[ok]).mean() / denom_abs) if ok.any() else float("nan")
        slope = origin_slope(x, y)
        row = {"ratio": ratio, "slope": slope}
        if scales is not None:
            k = scales[target] / scales[name] if scales.get(name) else float("nan")
            row.update(ratio_normalised=ratio * k, slope_normalised=slope * k)
        out[name] = row
    return out


def leakage_matrix(rows: dict[str, tuple[dict[str, np.ndarray], str]], key: str = "slope",
                   scales: dict[str, float] | None = None) -> tuple[list[str], list[str], np.ndarray]:
    """The leakage matrix: one :func:`leakage` row per direction, one column per attribute.

    Args:
        rows: direction name -> (its changes by attribute, its target attribute).
        key: which figure fills the cells (``"slope"``, ``"ratio"``, or their ``_normalised`` forms with ``scales``).
        scales: attribute -> natural scale, for the normalised figures.

    Returns:
        ``(direction names, attribute names, matrix [directions, attributes])``; NaN where a direction
        did not measure an attribute.
    """
    names = list(rows)
    attributes = list(dict.fromkeys(a for changes, _ in rows.values() for a in changes))
    matrix = np.full((len(names), len(attributes)), np.nan)
    for i, name in enumerate(names):
        changes, target = rows[name]
        row = leakage(changes, target, scales)
        for j, a in enumerate(attributes):
            if a in row:
                matrix[i, j] = row[a][key]
    return names, attributes, matrix


def discretize(values, bins: int = 20, min_width: float = 0.0) -> np.ndarray:
    """``values`` [n] into ``bins`` equal-width bins over their range (as MIG does), as bin indices.

    ``min_width``: the narrowest bin allowed; values spread over less than ``bins * min_width`` share
    bins of that width around their middle, so differences below a meter's resolution (float noise of an
    attribute that does not move) fall into one bin and carry no information.
    """
    values = np.asarray(values, dtype=np.float64)
    edges = np.histogram_bin_edges(values, bins=bins)
    if edges[-1] - edges[0] < bins * min_width:
        mid = (edges[-1] + edges[0]) / 2
        edges = mid + min_width * (np.arange(bins + 1) - bins / 2 - 0.5)  # the middle sits inside a bin
    return np.digitize(values, edges[1:-1])


def discrete_mutual_info(labels, values, bins: int = 20, min_width: float = 0.0) -> float:
    """Plug-in I(labels; values) in nats, ``values`` discretised by :func:`discretize`."""
    from sklearn.metrics import mutual_info_score

    return float(mutual_info_score(np.asarray(labels), discretize(values, bins, min_width)))


def mi_control(t_values, changes: dict[str, np.ndarray], target: str, bins: int = 20,
               min_width: dict[str, float] | None = None, shuffles: int = 20, seed: int = 0) -> dict:  # fmt: skip
    """Mutual-information control metrics, after Paul et al. (2020): how much the step decides each attribute.

    The requested step S (uniform over the T values of ``t_values``) against each attribute's achieved
    change A (discretised into ``bins`` equal-width bins over its range, see :func:`discretize`):

    - ``mi_target``: I(S; A_target) relative to H(S), 1 when the target's change tells the step exactly
      (perfect control), 0 when it tells no more than chance;
    - ``mi_other`` = {attribute: the same for A_j} for the other attributes (0 = untouched);
    - ``mi_leak_share`` = sum_j mi_other_j / (mi_target + sum_j mi_other_j): the share of the step's
      information that went into attributes other than the target (0 = none).

    Plug-in MI from a few hundred pairs reads well above 0 for independent variables (about
    (bins - 1)(T - 1) / 2n nats), so every figure is chance-adjusted like sklearn's adjusted MI:
    (I - E0) / (H(S) - E0), with E0 the mean MI after ``shuffles`` seeded permutations of the steps,
    clipped to [0, 1]. Latents with a NaN in any attribute are left out. ``min_width``: per attribute,
    the narrowest bin. ``mi_nats`` holds the raw plug-in values.
    """
    from sklearn.metrics import mutual_info_score

    t = np.asarray(t_values, dtype=np.float64)
    stacked = {k: np.asarray(v, dtype=np.float64) for k, v in changes.items()}
    if target not in stacked:
        raise BadInputError(f"the target {target!r} is not among the measured attributes {sorted(stacked)}")
    ok = np.all([np.isfinite(v) for v in stacked.values()], axis=0)
    labels = np.broadcast_to(np.arange(len(t))[:, None], ok.shape)[ok]
    h = float(mutual_info_score(labels, labels)) if len(labels) else 0.0  # H(S)
    if h <= 0:
        raise BadInputError("mi_control needs measurements at 2 or more steps")
    rng = np.random.default_rng(seed)
    perms = [rng.permutation(labels) for _ in range(shuffles)]
    widths = min_width or {}
    raw, adjusted = {}, {}
    for k, v in stacked.items():
        binned = discretize(v[ok], bins, widths.get(k, 0.0))
        raw[k] = float(mutual_info_score(labels, binned))
        chance = float(np.mean([mutual_info_score(p, binned) for p in perms])) if perms else 0.0
        adjusted[k] = float(np.clip((raw[k] - chance) / max(h - chance, 1e-12), 0.0, 1.0))
    others = {k: v for k, v in adjusted.items() if k != target}
    total = adjusted[target] + sum(others.values())
    return {"mi_target": adjusted[target], "mi_other": others, "mi_leak_share": sum(others.values()) / total if total > 0 else 0.0,
            "step_entropy_nats": h, "mi_nats": raw}  # fmt: skip


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
        transform: read back with this transform (a name or :class:`~latentnav.measure.transforms.Transform`), or
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
    from latentnav.metrics.control import steerability

    if (transform is None) == (meter is None):
        raise ValueError("give a transform or a meter to read the control with")
    t_values = requested_steps(max_t, steps)
    z = G.sample_latent(range(seed, seed + n), direction.space)
    shape = G.latent_shape(direction.space)
    x0 = G(z.to(G.device).view(-1, *shape), space=direction.space)
    achieved = []
    if transform is not None:
        from latentnav.measure.transforms import get_transform
        from latentnav.methods.trajectory.calibration import _read_t, _t_grid
        from latentnav.methods.trajectory.config import TrajectoryConfig
        from latentnav.methods.trajectory.optimizer import _loss_fn

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
