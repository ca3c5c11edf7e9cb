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

``oracle_direction`` builds the reference a VAE allows: its best single latent axis for a factor (found
with the encoder on renders with known factors), calibrated on its own images with isotonic regression.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from scipy.stats import spearmanr
from sklearn.isotonic import IsotonicRegression

from latentnav import distributed, measure
from latentnav.directions import Direction
from latentnav.errors import BadInputError

Meter = Callable[[torch.Tensor], torch.Tensor]


def _linear_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Slope and R^2 of the least-squares line y ~ a x + b."""
    slope, icpt = np.polyfit(x, y, 1)
    resid = y - (slope * x + icpt)
    r2 = 1 - (resid**2).sum() / max(((y - y.mean()) ** 2).sum(), 1e-12)
    return float(slope), float(r2)


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
    out["absolute_monotone_rho"] = float(spearmanr(t_values, means)[0])
    out["blank_fraction"] = (counts_rel[0] + counts_abs[0]) / (counts_rel[1] + counts_abs[1])
    out["blank_start_fraction"] = counts_rel[4] / len(z)
    out["blank_moved_fraction"] = (counts_rel[2] + counts_abs[2]) / max(counts_rel[3] + counts_abs[3], 1)
    out["degenerate_start_fraction"] = float(degenerate.mean())
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
        r = meter(G(moved.to(G.device))).cpu().numpy()
        r = r[np.isfinite(r)]  # blank images have nothing to measure (NaN, or -inf in log units)
        readings.append(r.mean() if r.size else np.nan)
    readings = np.array(readings)
    ok = np.isfinite(readings)
    iso = IsotonicRegression(increasing=True, out_of_bounds="clip").fit(alphas[ok], readings[ok])
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
    "zoom": (measure.scale, measure.centroid_x),
    "zoom-object": (measure.scale, measure.centroid_x),
}


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
        slope = float((x[ok] * y[ok]).sum() / max((x[ok] ** 2).sum(), 1e-24)) if ok.any() else float("nan")
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


# ============================================================================================ total correlation
def gaussian_total_correlation(codes) -> float:
    """Total correlation of a Gaussian fitted to ``codes`` [N, D], in nats: 0.5 (sum log diag S - log det S).

    0 for independent coordinates; for two unit Gaussians with correlation rho, -0.5 log(1 - rho^2).
    (disentanglement_lib ``gaussian_total_correlation`` of the mean codes.) Blind to rotations between
    equal-variance factors: see docs/evaluate.md.
    """
    x = np.asarray(codes, dtype=np.float64)
    if x.ndim != 2 or len(x) < x.shape[1] + 1:
        raise BadInputError(f"expected codes of shape [N, D] with N > D, got {list(x.shape)}")
    cov = np.cov(x, rowvar=False)
    keep = np.diag(cov) > 1e-12  # constant coordinates carry no dependence
    cov = cov[np.ix_(keep, keep)]
    sign, logdet = np.linalg.slogdet(cov)
    if sign <= 0:
        return float("inf")
    return float(0.5 * (np.log(np.diag(cov)).sum() - logdet))


def sampled_total_correlation(mu, logvar, *, seed: int = 0, chunk: int = 512) -> float:
    """Total correlation of a VAE's aggregate posterior q(z) = mean_n q(z | x_n), by sampling, in nats.

    For one sample z_i ~ q(z | x_i) per data point: ``log q(z_i) - sum_j log q(z_ij)``, averaged, where
    ``q(z) = 1/N sum_n N(z; mu_n, diag exp(logvar_n))`` and its marginals are estimated over all N points
    (the dataset estimator behind beta-TCVAE's minibatch one, without the minibatch weighting). q is a
    mixture of N narrow Gaussians, so where posteriors are much narrower than the spacing of the data
    (a well-trained VAE's active latents) the joint density is overestimated and the figure reads high;
    compare models at the same N.

    Args:
        mu, logvar: [N, D] posterior means and log-variances of the encoder on N data points.
    """
    mu = torch.as_tensor(np.asarray(mu), dtype=torch.float64)
    logvar = torch.as_tensor(np.asarray(logvar), dtype=torch.float64)
    if mu.ndim != 2 or mu.shape != logvar.shape:
        raise BadInputError(f"expected mu and logvar of the same shape [N, D], got {list(mu.shape)} and {list(logvar.shape)}")
    n = len(mu)
    gen = torch.Generator().manual_seed(seed)
    z = mu + torch.randn(mu.shape, generator=gen, dtype=torch.float64) * (0.5 * logvar).exp()
    log_n = np.log(n)
    joint, marginal = [], []
    for i in range(0, n, chunk):
        zi = z[i : i + chunk, None, :]  # [c, 1, D] against every component [1, N, D]
        logq = -0.5 * (((zi - mu[None]) ** 2) / logvar.exp()[None] + logvar[None] + np.log(2 * np.pi))  # [c, N, D]
        joint.append(torch.logsumexp(logq.sum(-1), dim=1) - log_n)
        marginal.append((torch.logsumexp(logq, dim=1) - log_n).sum(-1))
    return float((torch.cat(joint) - torch.cat(marginal)).mean())


def log_density_matrix(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``log q(z_i,d | x_j)`` for every pair (i, j) and coordinate d of diagonal Gaussian posteriors.

    Args:
        z: [M, D] samples, one per data point.
        mu, logvar: [M, D] posterior means and log-variances of the same M points.

    Returns:
        [M, M, D] log densities (row i: sample i, column j: posterior j).
    """
    if z.ndim != 2 or z.shape != mu.shape or mu.shape != logvar.shape:
        raise BadInputError(f"expected z, mu and logvar of one shape [M, D], got {list(z.shape)}, {list(mu.shape)}, {list(logvar.shape)}")
    diff = z[:, None, :] - mu[None]
    return -0.5 * (diff.pow(2) * torch.exp(-logvar)[None] + logvar[None] + math.log(2 * math.pi))


def minibatch_total_correlation(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                                dataset_size: int | None = None) -> torch.Tensor:
    """Minibatch-weighted sampling (MWS) estimate of the total correlation of q(z) (Chen et al. 2018), nats.

    ``TC = E[log q(z) - sum_d log q(z_d)]`` with, for sample i of the minibatch,
    ``log q(z_i) ~ logsumexp_j log q(z_i | x_j) - log(N M)`` and the same per coordinate, where M is the
    batch size and N the data set size. The ``log(N M)`` terms add the constant ``(D - 1) log(N M)``,
    which has no gradient; with ``dataset_size=None`` the minibatch itself is taken as the data set
    (``log M`` instead of ``log(N M)``), which makes the figure a consistent TC estimate for the batch's
    aggregate posterior (the value latentnav logs; the planted-answer test checks it on Gaussian codes).
    Differentiable: this is the beta-TCVAE penalty.

    Args:
        z: [M, D] one posterior sample per data point.
        mu, logvar: [M, D] the posteriors they were drawn from.
        dataset_size: N of the MWS weighting, or ``None`` (the batch is the data set).

    Returns:
        A scalar tensor.
    """
    m = len(z)
    log_norm = math.log(m) + (math.log(dataset_size) if dataset_size is not None else 0.0)
    logq = log_density_matrix(z, mu, logvar)
    joint = torch.logsumexp(logq.sum(-1), dim=1) - log_norm
    marginals = (torch.logsumexp(logq, dim=1) - log_norm).sum(-1)
    return (joint - marginals).mean()


def code_information(codes, decoded_codes) -> np.ndarray:
    """Per-code lower bound on the information the generated image carries about each code, I(c_d; G(c)), nats.

    Barber-Agakov bound with a Gaussian decoder q(c_d | x) whose mean is the best affine function of a
    read-out of the image (the encoder mean, or InfoGAN's Q head) and whose variance is the residual
    variance: ``I(c_d; x) >= H(c_d) - H_gauss(residual) >= -0.5 log(1 - R^2_d)`` for Gaussian c_d
    (a Gaussian has the largest entropy for a given variance). 0 when the read-out tells nothing,
    large when it recovers the code exactly. This is InfoGAN's quantity (Paul et al.'s "control").

    Args:
        codes: [N, D] codes fed to the generator (drawn from a standard normal prior).
        decoded_codes: [N, K] a read-out of the generated images (e.g. the encoder mean), K >= 1.

    Returns:
        [D] lower bounds in nats.
    """
    c, r = np.asarray(codes, dtype=np.float64), np.asarray(decoded_codes, dtype=np.float64)
    if c.ndim != 2 or r.ndim != 2 or len(c) != len(r) or len(c) <= r.shape[1] + 1:
        raise BadInputError(f"expected codes [N, D] and read-outs [N, K] with N > K + 1, got {list(c.shape)} and {list(r.shape)}")
    design = np.column_stack([r, np.ones(len(r))])
    coef, *_ = np.linalg.lstsq(design, c, rcond=None)
    resid = (c - design @ coef).var(axis=0)
    r2 = np.clip(1 - resid / np.maximum(c.var(axis=0), 1e-300), 0.0, 1 - 1e-12)
    return -0.5 * np.log1p(-r2)
