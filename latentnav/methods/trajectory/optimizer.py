"""Stepwise trajectory optimizer (Plumerault et al., ICLR 2020, Algorithm 1).

From latents z0, follow an image transform T in small steps t_1 < t_2 < ... < t_K on both signs: at each
step, starting from the previous step's latent, minimise L(G(z), T_t(G(z0))) (the Fourier-weighted
texture loss by default, over the pixels the transform keeps valid) under ||z|| <= sqrt(d). Every
trajectory and both signs run in one batch; the target images come from G(z0), rendered once.

Each step stops on convergence (a latent stops once its loss has improved by less than ``tol`` of its
value over ``patience`` iterations; converged latents cost no more generator evaluations), or after
``max_iters``. ``schedule="paper"`` reproduces the reference code instead: t = +-0.1 ... +-0.5 of the
range, torch's Adam with lr 0.01 reset per target, 50 iterations per target, 50 trajectories in batches of 10.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from latentnav import distributed
from latentnav.errors import BadInputError, LatentnavError
from latentnav.generators.base import Generator, all_finite
from latentnav.measure import losses
from latentnav.measure.transforms import Transform, get_transform
from latentnav.methods.trajectory.config import TrajectoryConfig


class GeneratorNaNError(LatentnavError):
    """The generator returned NaN or infinite values during optimisation."""




@dataclass
class Trajectories:
    """Recorded fits: one row per (trajectory, sign, step).

    Attributes:
        z0: [M, D] starting latent of each row.
        zt: [M, D] optimised latent.
        t: [M] requested transform parameter.
        loss: [M] final loss of the fit.
        seed: [M] seed of z0.
        kept: [M] bool, False for the worst ``drop_worst`` fraction of fits.
        generator_evals: images generated with gradients (the optimiser's cost).
        wall_time: seconds.
    """

    z0: torch.Tensor
    zt: torch.Tensor
    t: torch.Tensor
    loss: torch.Tensor
    seed: torch.Tensor
    kept: torch.Tensor
    generator_evals: int
    wall_time: float

    def to_numpy(self) -> dict[str, np.ndarray]:
        """Arrays for ``np.savez``."""
        out = {k: getattr(self, k).cpu().numpy() for k in ("z0", "zt", "t", "loss", "seed", "kept")}
        out["generator_evals"] = np.array(self.generator_evals)
        out["wall_time"] = np.array(self.wall_time)
        return out


def targets(config: TrajectoryConfig, transform: Transform) -> np.ndarray:
    """The positive targets t_1 < ... < t_K (the negative ones mirror them)."""
    max_t = config.max_t if config.max_t is not None else transform.default_max_t
    if max_t > transform.max_t:
        raise BadInputError(f"{transform.name}: max_t={max_t} is outside the transform's range (|t| <= {transform.max_t})")
    return max_t * np.arange(1, config.n_steps + 1) / config.n_steps


def project_to_ball(z: torch.Tensor, radius: float) -> torch.Tensor:
    """Rows of ``z`` [N, D] pulled back onto the ball of ``radius`` where they lie outside it."""
    norm = z.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return z * (radius / norm).clamp(max=1.0)


def _loss_fn(config: TrajectoryConfig, resolution: int) -> Callable[..., torch.Tensor]:
    if config.loss == "mse":
        return losses.masked_mse
    sigma = config.sigma if config.sigma is not None else losses.default_sigma(resolution)
    return lambda a, b, mask: losses.fourier_texture_loss(a, b, mask, sigma=sigma)


class RowAdam:
    """Adam with one second-moment scalar per latent (row) instead of one per coordinate.

    Hand-written on purpose: torch's Adam normalises each coordinate separately, so a gradient along a
    dense direction u becomes a step along sign(u), and trajectories drift off the direction they
    follow. Normalising by the row's mean squared gradient keeps each step parallel to the (momentum)
    gradient while still adapting the step size per latent.
    """

    def __init__(self, n: int, dim: int, lr: float, betas=(0.9, 0.999), eps: float = 1e-8, device=None) -> None:
        self.lr, self.b1, self.b2, self.eps = lr, betas[0], betas[1], eps
        self.m = torch.zeros(n, dim, device=device)
        self.v = torch.zeros(n, device=device)
        self.k = torch.zeros(n, device=device)

    def step(self, z: torch.Tensor, grad: torch.Tensor, rows: torch.Tensor) -> None:
        """Update ``z[rows]`` in place from ``grad`` (gradients of those rows, [len(rows), D])."""
        self.k[rows] += 1
        self.m[rows] = self.b1 * self.m[rows] + (1 - self.b1) * grad
        self.v[rows] = self.b2 * self.v[rows] + (1 - self.b2) * grad.pow(2).mean(dim=1)
        m_hat = self.m[rows] / (1 - self.b1 ** self.k[rows])[:, None]
        v_hat = self.v[rows] / (1 - self.b2 ** self.k[rows])
        z[rows] -= self.lr * m_hat / (v_hat.sqrt() + self.eps)[:, None]


class CoordAdam:
    """torch's Adam restricted to active rows (the reference code's optimiser, for ``schedule="paper"``)."""

    def __init__(self, n: int, dim: int, lr: float, device=None) -> None:
        self.param = torch.zeros(n, dim, device=device, requires_grad=True)
        self.opt = torch.optim.Adam([self.param], lr=lr)

    def step(self, z: torch.Tensor, grad: torch.Tensor, rows: torch.Tensor) -> None:
        with torch.no_grad():
            self.param.copy_(z)
        self.param.grad = torch.zeros_like(z)
        self.param.grad[rows] = grad
        self.opt.step()
        with torch.no_grad():
            z[rows] = self.param[rows]


def _fit_step(G, z, target, mask, loss_fn, config, opt, space, radius, step_label):
    """Optimise every row of ``z`` (flat latents [N, D]) towards ``target``.

    Returns (z, final loss, generator evals, optimiser). ``radius``: prior ball to project onto, or None.
    """
    z = z.detach().clone()
    n, dim = z.shape
    shape = G.latent_shape(space)
    if opt is None or config.reset_optimizer:
        kind = CoordAdam if config.optimizer == "adam" else RowAdam
        opt = kind(n, dim, config.lr, device=z.device)
    active = torch.ones(n, dtype=torch.bool, device=z.device)
    history: list[torch.Tensor] = []
    last = torch.full((n,), float("inf"), device=z.device)
    evals = 0
    for it in range(config.max_iters):
        idx = active.nonzero().squeeze(1)
        zi = z[idx].requires_grad_(True)
        images = G(zi.view(-1, *shape), space=space)
        if not all_finite(images):
            raise GeneratorNaNError(f"the generator returned NaN or infinite values at {step_label}, iteration {it}")
        loss = loss_fn(images, target[idx], mask[idx])
        evals += len(idx)
        (grad,) = torch.autograd.grad(loss.sum(), zi)
        with torch.no_grad():
            current = last.clone()
            current[idx] = loss.detach()
            last = current
            opt.step(z, grad, idx)
            if radius is not None:
                z[idx] = project_to_ball(z[idx], radius)
            history.append(current)
            if config.tol > 0 and len(history) > config.patience:
                old = history[-1 - config.patience]
                active &= (old - current) > config.tol * current.clamp_min(1e-12)
            if not active.any():
                break
    with torch.no_grad():
        final = loss_fn(G(z.view(-1, *shape), space=space), target, mask)
    return z, final, evals + n, opt


def run_trajectories(
    G: Generator,
    transform: str | Transform | Callable,
    config: TrajectoryConfig = TrajectoryConfig(),
    *,
    space: str = "z",
    progress: bool = True,
) -> Trajectories:
    """Follow ``transform`` from ``config.n_trajectories`` starting latents (Algorithm 1).

    Args:
        G: any :class:`~latentnav.generators.base.Generator`.
        transform: a name from :data:`latentnav.measure.transforms.TRANSFORMS` or a callable
            ``(images, t) -> (images, mask)``.
        config: see :class:`TrajectoryConfig`.
        space: latent space to optimise in.
        progress: show a progress bar (on rank 0 only, in a distributed run).

    Under torchrun (after :func:`latentnav.distributed.setup`) each rank follows a contiguous block of the
    seeds; the rows are gathered on every rank and put in the single-process order, so the result is the
    single-process one (each trajectory depends only on its own seed: convergence is tested per latent).

    Returns:
        :class:`Trajectories` with every (z0, z_t, t, loss) and the worst fits flagged.
    """
    tf = get_transform(transform)
    cfg = config.resolved()
    steps = targets(cfg, tf)
    w = distributed.world()
    seeds = list(range(cfg.seed, cfg.seed + cfg.n_trajectories))
    t_start = time.perf_counter()
    mine = distributed.shard(seeds, w)
    bar = tqdm(total=len(mine) * len(steps), disable=not (progress and w.is_main), unit="fit",
               desc=f"trajectories {tf.name}" + (f" (rank 0 of {w.size})" if w.distributed else ""))  # fmt: skip
    parts = distributed.exchange(lambda: _follow(G, tf, cfg, steps, mine, space, bar))
    bar.close()
    filled = [rows for rows, _ in parts if len(rows["seed"])]  # a rank may have had no seeds
    out = {k: torch.cat([rows[k] for rows in filled]) for k in filled[0]}
    out = {k: v[_canonical_order(out, cfg)] for k, v in out.items() if k != "step"}
    kept = _keep_best(out["loss"], out["t"], cfg.drop_worst)
    evals = sum(p[1] for p in parts)
    return Trajectories(**out, kept=kept, generator_evals=evals, wall_time=time.perf_counter() - t_start)


def _follow(G, tf, cfg, steps, seeds, space, bar) -> tuple[dict[str, torch.Tensor], int]:
    """Fit every step of the trajectories starting at ``seeds`` (one rank's share); rows on the CPU, and evals."""
    loss_fn = _loss_fn(cfg, G.img_resolution)
    batch = cfg.batch_size or cfg.n_trajectories
    radius = G.prior_radius(space) if cfg.prior_radius else None
    rows: dict[str, list[torch.Tensor]] = {k: [] for k in ("z0", "zt", "t", "loss", "seed", "step")}
    evals = 0
    for b0 in range(0, len(seeds), batch):
        chunk = list(seeds[b0 : b0 + batch])
        z0 = G.sample_latent(chunk, space).to(G.device)
        if radius is not None:
            z0 = project_to_ball(z0, radius)
        with torch.no_grad():
            x0 = G(z0.view(-1, *G.latent_shape(space)), space=space)
        evals += len(chunk)
        z0_both, x0_both = torch.cat([z0, z0]), torch.cat([x0, x0])
        sign = torch.cat([torch.ones(len(chunk)), -torch.ones(len(chunk))]).to(G.device)
        seed_both = torch.tensor(chunk + chunk)
        z, opt = z0_both.clone(), None
        for k, t_k in enumerate(steps):
            t = sign * float(t_k)
            with torch.no_grad():
                target, mask = tf(x0_both, t)
            label = f"step {k + 1}/{len(steps)} (t = +-{t_k:.3g})"
            z, loss, used, opt = _fit_step(G, z, target, mask, loss_fn, cfg, opt, space, radius, label)
            evals += used
            for key, val in (("z0", z0_both), ("zt", z), ("t", t), ("loss", loss), ("seed", seed_both)):
                rows[key].append(val.detach().cpu())
            rows["step"].append(torch.full((2 * len(chunk),), k))
            bar.update(len(chunk))
            bar.set_postfix(loss=f"{loss.mean().item():.4g}")
    return {k: torch.cat(v) if v else torch.empty(0) for k, v in rows.items()}, evals


def _canonical_order(rows: dict[str, torch.Tensor], cfg: TrajectoryConfig) -> torch.Tensor:
    """The row order of a single-process run: by batch of seeds, then step, then sign (+ first), then seed.

    Each row depends only on its own seed, so rows gathered from any split of the seeds, put in this
    order, are the single-process run's.
    """
    batch = cfg.batch_size or cfg.n_trajectories
    seed = rows["seed"].numpy()
    keys = (seed, (rows["t"] < 0).numpy(), rows["step"].numpy(), (seed - cfg.seed) // batch)  # last key sorts first
    return torch.from_numpy(np.lexsort(keys))


def _keep_best(loss: torch.Tensor, t: torch.Tensor, drop: float) -> torch.Tensor:
    """Flag the worst ``drop`` fraction of fits, ranked within each target t (larger |t| fits worse)."""
    kept = torch.ones(len(loss), dtype=torch.bool)
    if drop <= 0:
        return kept
    for value in t.unique():
        rows = (t == value).nonzero().squeeze(1)
        n_drop = int(math.floor(drop * len(rows)))
        if n_drop:
            worst = loss[rows].argsort(descending=True)[:n_drop]
            kept[rows[worst]] = False
    return kept


