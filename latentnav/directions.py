"""Directions: a unit vector u in a latent space plus a monotone calibration g_theta, and their files.

The model (Plumerault et al. 2020, eq. 6): the transform parameter of an image is ``t = g(<z, u>)`` for a
monotone g, so the change between two latents is ``g(<z_t, u>) - g(<z_0, u>)``. g is piecewise linear on
evenly spaced knots with non-negative increments (fitted by non-negative least squares, with a mild
smoothness penalty), extended linearly beyond its end knots, and pinned to ``g(0) = 0``. Unlike the
reference code, g is kept: it is what turns "shift by 0.2 of the width" into a step along u.

Two ways to move (``traverse``):

- relative, ``z' = z + (alpha_for(t_of(<z, u>) + t) - <z, u>) u``: "move this image by t";
- absolute, ``z' = z - <z, u> u + alpha_for(t) u``: "put the factor at t" (t relative to g's zero).

Files are safetensors (``u``, ``knots``, ``values``) whose metadata says which model, latent space,
transform, method, config, seed and latentnav version made them, plus a JSON sidecar with the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from scipy.optimize import nnls

from latentnav._version import __version__
from latentnav.errors import LatentnavError

FORMAT = "latentnav-direction"
FORMAT_VERSION = 1


class DirectionMismatchError(LatentnavError):
    """A direction used with a generator or latent space it was not made for."""


def _interp(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear interpolation; beyond the ends, linear with the mean slope over the whole range.

    Written by hand because torch has no ``interp``; ``xp`` must be increasing. The mean slope (not the
    end segment's) keeps the inverse of a calibration whose ends flatten out from running off to huge
    steps when a t beyond the fitted range is asked for.
    """
    xp, fp = xp.to(x), fp.to(x)
    i = torch.searchsorted(xp, x.contiguous()).clamp(1, len(xp) - 1)
    x0, x1, f0, f1 = xp[i - 1], xp[i], fp[i - 1], fp[i]
    width = x1 - x0
    inside = f0 + (f1 - f0) * (x - x0) / torch.where(width > 0, width, torch.ones_like(width))
    slope = (fp[-1] - fp[0]) / (xp[-1] - xp[0]).clamp_min(1e-12)
    below = fp[0] + slope * (x - xp[0])
    above = fp[-1] + slope * (x - xp[-1])
    return torch.where(x < xp[0], below, torch.where(x > xp[-1], above, inside))


@dataclass
class Direction:
    """A unit direction u with a monotone calibration g (``t = g(<z, u>)``).

    Attributes:
        u: [D] unit vector.
        knots: [K] increasing projections ``alpha`` where g is tabulated.
        values: [K] increasing ``g(knots)`` (with ``g(0) = 0``).
        space: latent space (``"z"``, ``"w"``, ...).
        model: name of the generator it was made on.
        transform: what t measures (a transform name), or ``""`` for raw vectors.
        method: how it was found (``"trajectory"``, ``"npy"``, ...).
        calibrated: False for imported raw vectors (g is then the identity: t = alpha).
        meta: anything else worth keeping (config, seed, fit figures).
        layers: for a layered space (StyleGAN2's W+, [num_ws, w_dim]), the layers u acts on (u is zero on
            the others; see :func:`restrict_layers`); ``None`` = no restriction.
    """

    u: torch.Tensor
    knots: torch.Tensor
    values: torch.Tensor
    space: str = "z"
    model: str = ""
    transform: str = ""
    method: str = "trajectory"
    calibrated: bool = True
    meta: dict[str, Any] = field(default_factory=dict)
    layers: tuple[int, ...] | None = None

    @property
    def dim(self) -> int:
        """Latent dimension D."""
        return int(self.u.numel())

    def project(self, z: torch.Tensor) -> torch.Tensor:
        """``<z, u>`` for z [N, D] -> [N]."""
        return z @ self.u.to(z)

    def t_of(self, alpha: torch.Tensor | float) -> torch.Tensor:
        """g: projection(s) along u -> transform parameter t."""
        alpha = torch.as_tensor(alpha, dtype=torch.float32)
        return _interp(alpha, self.knots, self.values)

    def alpha_for(self, t: torch.Tensor | float) -> torch.Tensor:
        """g's inverse: transform parameter(s) t -> projection along u."""
        t = torch.as_tensor(t, dtype=torch.float32)
        return _interp(t, self.values, self.knots)

    # ----------------------------------------------------------------- moving
    def move(self, z: torch.Tensor, t: float | torch.Tensor, mode: str = "relative") -> torch.Tensor:
        """Latents moved by ``t`` (relative) or set to ``t`` (absolute), z [N, D] -> [N, D]."""
        a = self.project(z)
        u = self.u.to(z)
        t = torch.as_tensor(t, dtype=z.dtype, device=z.device)
        if mode == "relative":
            target = self.alpha_for((self.t_of(a.cpu()) + t.cpu())).to(z)
            return z + (target - a)[:, None] * u
        if mode == "absolute":
            target = self.alpha_for(t.cpu()).to(z).expand_as(a)
            return z + (target - a)[:, None] * u
        raise ValueError(f"unknown mode {mode!r}; known: relative, absolute")

    def step(self, z: torch.Tensor, alpha: float | torch.Tensor) -> torch.Tensor:
        """Raw step ``z + alpha u`` (no calibration)."""
        return z + torch.as_tensor(alpha, dtype=z.dtype, device=z.device) * self.u.to(z)

    # ------------------------------------------------------------------ checks
    def check_compatible(self, G, space: str | None = None) -> None:
        """Raise :class:`DirectionMismatchError` unless this direction fits ``G`` (model, space, dimension)."""
        space = space or self.space
        if space != self.space:
            raise DirectionMismatchError(f"direction lives in latent space {self.space!r}, not {space!r}")
        shape = G.latent_shape(space)
        width = int(np.prod(shape))
        if width != self.dim:
            raise DirectionMismatchError(
                f"direction has dimension {self.dim} but {G.name}'s {space} has {width} ({list(shape)}); "
                f"it was made for model {self.model or '(unknown)'}"
            )
        if self.layers is not None:
            if len(shape) != 2:
                raise DirectionMismatchError(f"direction acts on layers {list(self.layers)}, but {G.name}'s {space} "
                                             f"{list(shape)} has no layers")  # fmt: skip
            bad = [k for k in self.layers if not 0 <= k < shape[0]]
            if bad:
                raise DirectionMismatchError(f"direction acts on layers {bad}, but {G.name}'s {space} has {shape[0]} layers")
        if self.model and self.model != G.name:
            raise DirectionMismatchError(
                f"direction was made for model {self.model!r}, not {G.name!r} (same dimension {self.dim}, "
                f"but its directions mean nothing here)"
            )

    # -------------------------------------------------------------------- files
    def metadata(self) -> dict[str, str]:
        """The self-description stored with the file."""
        return {
            "format": FORMAT, "format_version": str(FORMAT_VERSION), "latentnav_version": __version__,
            "model": self.model, "space": self.space, "dim": str(self.dim), "transform": self.transform,
            "unit": str(self.meta.get("unit", "")), "method": self.method, "calibrated": str(self.calibrated).lower(),
            "meta": json.dumps(self.meta, default=str), "layers": "" if self.layers is None else json.dumps(list(self.layers)),
        }  # fmt: skip

    def save(self, path: str | Path) -> Path:
        """Write ``path`` (safetensors) and ``path`` with ``.json`` (sidecar), each atomically."""
        from safetensors.torch import save_file

        path = Path(path)
        if path.suffix != ".safetensors":
            raise ValueError(f"a direction file must end in .safetensors, got {path.name}")
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {"u": self.u, "knots": self.knots, "values": self.values}
        tmp = path.with_name(".tmp-" + path.name)
        save_file({k: v.detach().float().cpu().contiguous() for k, v in tensors.items()}, str(tmp), metadata=self.metadata())
        side = path.with_suffix(".json")
        meta = self.metadata()
        sidecar = {**{k: v for k, v in meta.items() if k != "meta"}, "meta": self.meta, "u": self.u.tolist()}
        tmp_side = side.with_name(".tmp-" + side.name)
        tmp_side.write_text(json.dumps(sidecar, indent=2, default=str))
        tmp.replace(path)
        tmp_side.replace(side)
        return path


def identity_direction(u: torch.Tensor, space: str, model: str = "", method: str = "npy") -> Direction:
    """A raw vector as an uncalibrated direction (t = alpha, normalised to unit length)."""
    u = torch.as_tensor(u, dtype=torch.float32).flatten()
    norm = u.norm()
    if not torch.isfinite(u).all() or norm == 0:
        raise ValueError("a direction vector must be finite and non-zero")
    knots = torch.tensor([-1.0, 1.0])
    return Direction(u / norm, knots, knots.clone(), space=space, model=model, method=method, calibrated=False)


def load_direction(path: str | Path, *, space: str | None = None, model: str = "") -> Direction:
    """Read a direction: latentnav's safetensors, or a plain ``.npy`` vector (give ``space``).

    Raises:
        ValueError: unknown format, or a ``.npy`` without ``space``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no direction file at {path}")
    if path.suffix == ".npy":
        if space is None:
            raise ValueError(f"{path.name} is a plain vector: say which latent space it lives in (space=/--space)")
        return identity_direction(torch.from_numpy(np.load(path, allow_pickle=False)), space, model)
    if path.suffix != ".safetensors":
        raise ValueError(f"unknown direction format {path.suffix!r}: expected .safetensors (latentnav) or .npy")
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata() or {})
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path} is not a latentnav direction file (format {meta.get('format')!r})")
        tensors = {k: f.get_tensor(k) for k in ("u", "knots", "values")}
    d = Direction(**tensors, space=meta["space"], model=meta["model"], transform=meta["transform"],
                  method=meta["method"], calibrated=meta["calibrated"] == "true", meta=json.loads(meta.get("meta", "{}")),
                  layers=tuple(json.loads(meta["layers"])) if meta.get("layers") else None)  # fmt: skip
    if space is not None and space != d.space:
        raise DirectionMismatchError(f"{path.name} lives in latent space {d.space!r}, not {space!r}")
    return d


def restrict_layers(direction: Direction, layers: Sequence[int], num_layers: int) -> Direction:
    """The direction acting only on some layers of W+ (layer-wise edits, e.g. coarse vs fine StyleGAN2 styles).

    A ``"w+"`` direction keeps its components on ``layers`` (zero elsewhere, renormalised). A ``"w"``
    direction is lifted into ``"w+"``: the same u on each chosen layer, divided by sqrt(len(layers)).

    The calibration g is kept where it still measures the same move: a W direction lifted onto every
    layer (its knots scaled by sqrt(num_layers), since a w broadcast to all layers has
    ``<w+, u'> = sqrt(num_layers) <w, u>``), or a W+ direction that was already zero off ``layers``.
    Otherwise the result is uncalibrated (raw ``alpha`` steps; run discovery again to calibrate it).

    Args:
        direction: a direction in ``"w"`` or ``"w+"``.
        layers: indices of the W+ layers to act on.
        num_layers: number of W+ layers (StyleGAN2's ``num_ws``).

    Raises:
        DirectionMismatchError: a space without layers, or layers out of range.
    """
    if direction.space not in ("w", "w+"):
        raise DirectionMismatchError(f"layer-wise edits need a direction in w or w+, not {direction.space!r}")
    chosen = sorted({int(k) for k in layers})
    if not chosen or chosen[0] < 0 or chosen[-1] >= num_layers:
        raise DirectionMismatchError(f"layers must be a non-empty subset of 0..{num_layers - 1}, got {list(layers)}")
    if direction.space == "w":
        u = torch.zeros(num_layers, direction.dim)
        u[chosen] = direction.u / len(chosen) ** 0.5
        keeps = len(chosen) == num_layers
        scale = num_layers**0.5
    else:
        if direction.dim % num_layers:
            raise DirectionMismatchError(f"a w+ direction of dimension {direction.dim} does not split into {num_layers} layers")
        u = direction.u.reshape(num_layers, -1).clone()
        off = [k for k in range(num_layers) if k not in chosen]
        keeps = bool(u[off].abs().max() <= 1e-6) if off else True
        u[off] = 0
        if u.norm() == 0:
            raise DirectionMismatchError(f"the direction is zero on layers {chosen}")
        u, scale = u / u.norm(), 1.0
    calibrated = direction.calibrated and keeps
    knots = direction.knots * scale if calibrated else torch.tensor([-1.0, 1.0])
    values = direction.values.clone() if calibrated else knots.clone()
    meta = {**direction.meta, "restricted_from": {"space": direction.space, "layers": list(direction.layers or [])}}
    return Direction(u.flatten(), knots, values, space="w+", model=direction.model, transform=direction.transform,
                     method=direction.method, calibrated=calibrated, meta=meta, layers=tuple(chosen))  # fmt: skip


# ---------------------------------------------------------------------- fitting
def _basis(a: torch.Tensor, knots: torch.Tensor) -> torch.Tensor:
    """Ramp features: g(a) = sum_k delta_k * phi_k(a), each phi_k rising by 1 across segment k.

    The first and last segments continue linearly beyond the end knots. Returns [N, K-1].
    """
    h = knots[1:] - knots[:-1]
    phi = (a[:, None] - knots[:-1]) / h
    lo = torch.zeros_like(phi)
    hi = torch.ones_like(phi)
    lo[:, 0] = -float("inf")
    hi[:, -1] = float("inf")
    return torch.maximum(torch.minimum(phi, hi), lo)


def fit_calibration(a0: torch.Tensor, at: torch.Tensor, t: torch.Tensor, n_knots: int = 101,
                    smooth: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, float]:  # fmt: skip
    """Monotone piecewise-linear g with ``g(at) - g(a0) ~= t``, ``g(0) = 0``.

    Args:
        a0, at: [M] projections of the start and end latents.
        t: [M] requested transform parameters.
        n_knots: knots spread evenly over the 0.5-99.5% range of the projections.
        smooth: weight of the penalty on changes of slope between neighbouring segments.

    Returns:
        ``(knots [K], values [K], r2)`` where ``r2`` is the fit's R^2 on t.
    """
    a0, at, t = (x.double().cpu() for x in (a0, at, t))
    both = torch.cat([a0, at])
    lo, hi = torch.quantile(both, 0.005).item(), torch.quantile(both, 0.995).item()
    if not hi > lo:
        raise LatentnavError("the trajectories did not move along the fitted direction; nothing to calibrate")
    knots = torch.linspace(lo, hi, n_knots, dtype=torch.float64)
    design = (_basis(at, knots) - _basis(a0, knots)).numpy()
    k = n_knots - 1
    scale = np.sqrt(len(t) / k) * smooth
    penalty = scale * (np.eye(k, k, 1) - np.eye(k))[:-1]
    deltas, _ = nnls(np.vstack([design, penalty]), np.concatenate([t.numpy(), np.zeros(k - 1)]), maxiter=50 * k)
    # Strictly increasing (so g inverts), with steps that float32 still resolves.
    deltas = np.maximum(deltas, 1e-4 * max(deltas.mean(), 1e-9))
    values = torch.cat([torch.zeros(1, dtype=torch.float64), torch.from_numpy(deltas).cumsum(0)])
    g0 = _interp(torch.zeros(1, dtype=torch.float64), knots, values)
    values = values - g0
    pred = _interp(at, knots, values) - _interp(a0, knots, values)
    r2 = 1 - ((pred - t) ** 2).sum().item() / max(((t - t.mean()) ** 2).sum().item(), 1e-12)
    return knots.float(), values.float(), r2


def fit_u(z0: torch.Tensor, zt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Initial unit direction: the t-weighted mean displacement ``w = sum_i t_i (z_t,i - z_0,i)``, ``u = w/|w|``.

    Not the least-squares solution of ``t ~= <dz, w>``: that one divides by the variance of each
    displacement component, so the small, noisy components orthogonal to the true direction get large
    weights (errors in variables); the cross-covariance keeps them at their size. ``_refine`` then
    sharpens u against the calibrated model. Returns [D].
    """
    dz = (zt - z0).double().cpu()
    w = dz.T @ t.double().cpu()
    if not torch.isfinite(w).all() or w.norm() == 0:
        raise LatentnavError("cannot fit a direction: the trajectories did not move")
    return (w / w.norm()).float()


def fit_direction(z0: torch.Tensor, zt: torch.Tensor, t: torch.Tensor, *, n_knots: int = 101, smooth: float = 1.0,
                  refine_iters: int = 200, **info: Any) -> Direction:  # fmt: skip
    """Fit u and g from trajectory rows (paper eq. 6): least squares for u, NNLS for g, then a joint refinement.

    Args:
        z0, zt: [M, D] start and end latents; t: [M] requested changes.
        n_knots, smooth: see :func:`fit_calibration`.
        refine_iters: Adam iterations refining u and g's increments together (0 to skip).
        **info: fields of the :class:`Direction` (space, model, transform, method, meta).

    Returns:
        A :class:`Direction` whose ``meta["fit_r2"]`` is the final R^2 of the fitted changes on t.
    """
    u = fit_u(z0, zt, t)
    knots, values, r2 = fit_calibration(z0 @ u, zt @ u, t, n_knots, smooth)
    if refine_iters > 0:
        u, knots, values, r2 = _refine(z0, zt, t, u, knots, values, refine_iters, n_knots, smooth)
    meta = dict(info.pop("meta", {}))
    meta["fit_r2"] = r2
    return Direction(u, knots, values, meta=meta, **info)


def _refine(z0, zt, t, u, knots, values, iters, n_knots, smooth):
    """Gradient steps on u (kept unit length) against the piecewise-linear g, then g re-fitted by NNLS."""
    z0, zt, t = z0.float().cpu(), zt.float().cpu(), t.float().cpu()
    w = u.clone().requires_grad_(True)
    opt = torch.optim.Adam([w], lr=1e-3)
    for _ in range(iters):
        unit = w / w.norm()
        pred = _interp(zt @ unit, knots, values) - _interp(z0 @ unit, knots, values)
        loss = ((pred - t) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    u = (w / w.norm()).detach()
    knots, values, r2 = fit_calibration(z0 @ u, zt @ u, t, n_knots, smooth)
    return u, knots, values, r2


# -------------------------------------------------------------------- traversal
def traverse(G, direction: Direction, z: torch.Tensor, t: Sequence[float] | None = None, *, alpha: Sequence[float] | None = None,
             mode: str = "relative", space: str | None = None) -> torch.Tensor:  # fmt: skip
    """Images along a direction.

    Args:
        G: the generator the direction was made for.
        direction: a :class:`Direction`.
        z: [N, D] starting latents in the direction's space (or [N, *G.latent_shape(space)]).
        t: steps in transform units through g (``mode`` relative or absolute).
        alpha: raw steps along u instead of ``t``.
        mode: ``"relative"`` (move by t) or ``"absolute"`` (set the factor to t).
        space: latent space (defaults to the direction's).

    Returns:
        [len(t), N, C, H, W] images.
    """
    direction.check_compatible(G, space)
    if (t is None) == (alpha is None):
        raise ValueError("give either t (transform units) or alpha (raw steps along u)")
    if t is not None and not direction.calibrated:
        raise ValueError("this direction has no calibration (a plain vector): use alpha= raw steps")
    z = z.to(G.device).reshape(len(z), -1)
    shape = G.latent_shape(direction.space)
    rows = []
    with torch.no_grad():
        for value in (t if t is not None else alpha):
            moved = direction.move(z, value, mode) if t is not None else direction.step(z, value)
            rows.append(G(moved.view(-1, *shape), space=direction.space))
    return torch.stack(rows)


def sample_with_t(G, direction: Direction, n: int, t_values: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Latents whose factor follows given values (the paper's output-distribution shaping): absolute moves.

    Args:
        t_values: [n] wanted transform parameters (draw them from the distribution you want).

    Returns:
        [n, D] latents (in the direction's space, flattened) on the CPU.
    """
    z = G.sample_latent(range(seed, seed + n), direction.space)
    t_values = torch.as_tensor(t_values, dtype=torch.float32)
    if t_values.shape != (n,):
        raise ValueError(f"expected {n} t values, got shape {list(t_values.shape)}")
    a = direction.project(z)
    return z + (direction.alpha_for(t_values) - a)[:, None] * direction.u


def code_direction(G, code: str) -> Direction:
    """A model's own code as a raw direction: ``z<k>`` (latent axis k of ``z``) or a named code of an
    InfoGAN (``cont0``, ...). Uncalibrated: t is the step along the axis until a meter calibrates it.

    Raises:
        UnknownNameError: a code the model does not have (lists the known ones).
    """
    from latentnav.errors import UnknownNameError

    if hasattr(G, "code_direction") and not code.startswith("z"):
        return G.code_direction(code)
    known = [f"z{k}" for k in range(G.z_dim)] + (G.spec.names() if hasattr(G, "spec") else [])
    if code not in known[: G.z_dim]:
        raise UnknownNameError("code", code, known)
    u = torch.zeros(G.z_dim)
    u[int(code[1:])] = 1.0
    return Direction(u, torch.tensor([-3.0, 3.0]), torch.tensor([-3.0, 3.0]), model=G.name, method="code-axis",
                     calibrated=False, meta={"code": code})  # fmt: skip
