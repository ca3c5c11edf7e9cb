"""The corrector's steps 1-4: score latents, choose low-density targets, synthesize them (a linear move that holds
the other attributes, or W+ layer mixing), invert them back into the latent space and keep those that landed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from scipy.stats import gaussian_kde
from tqdm.auto import tqdm

from latentnav import distributed
from latentnav.correction.config import CorrectConfig
from latentnav.errors import LatentnavError
from latentnav.evaluate import read_latents
from latentnav.generators.base import SupportsEncode
from latentnav.measure import MeterSpec, losses
from latentnav.measure.transforms import get_transform
from latentnav.methods.layers import layer_indices
from latentnav.methods.trajectory.optimizer import project_to_ball


# ------------------------------------------------------------------------------------ 1. scores
def read(images: torch.Tensor, meters: Sequence[MeterSpec]) -> np.ndarray:
    """[N, len(meters)] readings of ``images``."""
    return np.stack([m(images).detach().cpu().numpy().astype(np.float64) for m in meters], axis=1)


def score_latents(G, meters: Sequence[MeterSpec], n: int, *, space: str = "z", seed: int = 0, chunk: int = 250,
                  bar: tqdm | None = None) -> tuple[torch.Tensor, np.ndarray]:  # fmt: skip
    """Latents (seeds ``seed .. seed + n - 1``) whose images every meter can read, and their readings [M, K]
    (read ``chunk`` at a time, advancing ``bar``)."""
    z = G.sample_latent(range(seed, seed + n), space)
    parts = []
    for i in range(0, n, chunk):
        parts.append(read_latents(G, z[i : i + chunk], space, meters).T)
        if bar is not None:
            bar.update(len(parts[-1]))
    scores = np.concatenate(parts)
    ok = np.isfinite(scores).all(axis=1)
    if ok.sum() < 10:
        raise LatentnavError(f"only {int(ok.sum())} of {n} images could be measured (blank images?)")
    return z[torch.as_tensor(ok)], scores[ok]


# ------------------------------------------------------------------------------- 2. where to go
def low_density_targets(scores: np.ndarray, n_low: int, offset: float = 1.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Which samples to move, and the change of A asked of each (B stays).

    A's value expected from B is its linear regression on B; a sample whose A lies above that moves down by
    ``offset`` standard deviations of A, one below it moves up: both land where the data are thin (against
    the correlation). The ``n_low`` samples are drawn at random (seeded) from those with the largest |B - mean|,
    where the correlation pushes hardest.

    Args:
        scores: [N, 1 + K] readings, A first.
        n_low: how many samples to move (at most N).
        offset: size of the asked change of A, in standard deviations of A.

    Returns:
        ``(index [n], delta_a [n])``.
    """
    a, b = scores[:, 0], scores[:, 1:]
    bz = (b - b.mean(0)) / np.maximum(b.std(0), 1e-12)
    coef, *_ = np.linalg.lstsq(np.c_[np.ones(len(a)), bz], a, rcond=None)
    expected = np.c_[np.ones(len(a)), bz] @ coef
    extreme = np.argsort(-np.abs(bz @ coef[1:]))[: max(n_low, len(a) // 2)]
    rng = np.random.default_rng(seed)
    index = rng.permutation(extreme)[:n_low]
    direction = np.where(a[index] >= expected[index], -1.0, 1.0)
    return index, direction * offset * a.std()


def joint_density(scores: np.ndarray, at: np.ndarray | None = None) -> np.ndarray:
    """Gaussian kernel density of the standardized readings ``scores`` [N, K], evaluated at ``at`` (default: them)."""
    mu, sd = scores.mean(0), np.maximum(scores.std(0), 1e-12)
    kde = gaussian_kde(((scores - mu) / sd).T)
    return kde((((at if at is not None else scores) - mu) / sd).T)


def density_percentile(scores: np.ndarray, points: np.ndarray) -> float:
    """Median, over ``points``, of the percentage of the population ``scores`` whose joint density is lower."""
    population = np.sort(joint_density(scores))
    return float(np.median(np.searchsorted(population, joint_density(scores, points)) / len(population) * 100))


# ----------------------------------------------------------------------------------- 3. synthesis
def linear_gradients(z: torch.Tensor, scores: np.ndarray, ridge: float = 1e-3) -> np.ndarray:
    """Ridge-regression gradients of each reading on the latents, [K, D] (how each attribute moves with z)."""
    x = z.double().numpy()
    x = x - x.mean(0)
    y = scores - scores.mean(0)
    return np.linalg.solve(x.T @ x + ridge * len(x) * np.eye(x.shape[1]), x.T @ y).T


def holding_step(u: np.ndarray, grads: np.ndarray) -> np.ndarray:
    """The latent step ``dz = u + V beta`` (V: the held attributes' gradients) that leaves them unchanged to first
    order and changes A by the same amount as ``u`` does, scaled so that it changes A by one unit.

    Args:
        u: [D] A's direction.
        grads: [1 + K, D] gradients of A (first) and of the held attributes.
    """
    ga, gb = grads[0], grads[1:]
    beta = -np.linalg.lstsq(gb @ gb.T, gb @ u, rcond=None)[0]  # gb . (u + gb^T beta) = 0
    step = u + gb.T @ beta
    rate = ga @ step
    if abs(rate) < 1e-12:
        raise LatentnavError("holding the other attributes leaves nothing of the target's change")
    return step / rate


def edit_back(images: torch.Tensor, wanted: np.ndarray, now: np.ndarray, meters: Sequence[MeterSpec]) -> torch.Tensor:
    """Images edited so that each held attribute that has an image transform reads ``wanted`` again."""
    for k, m in enumerate(meters):
        if not m.transform:
            continue
        t = np.nan_to_num(wanted[:, k] - now[:, k])
        tf = get_transform(m.transform)
        t = np.clip(t, -tf.max_t, tf.max_t)
        edited, mask = tf(images, torch.as_tensor(t, dtype=images.dtype))
        fill = images.amin(dim=(1, 2, 3), keepdim=True)  # outside the frame: the darkest, as the background
        images = torch.where(mask > 0, edited, fill)
    return images


def pick_donors(scores: np.ndarray, index: np.ndarray, delta_a: np.ndarray, k: int = 5, seed: int = 0) -> np.ndarray:
    """For each moved sample ``index[i]``, a donor among the scored samples whose A reads the wanted
    ``A + delta_a[i]``: one of the ``k`` nearest in A (not the sample itself), drawn at random (seeded). [n]."""
    a = scores[:, 0]
    wanted = a[index] + delta_a
    gap = np.abs(a[None, :] - wanted[:, None])
    gap[np.arange(len(index)), index] = np.inf
    nearest = np.argsort(gap, axis=1)[:, : max(1, min(k, len(a) - 1))]
    pick = np.random.default_rng(seed).integers(0, nearest.shape[1], size=len(index))
    return nearest[np.arange(len(index)), pick]


def mix_layers(w: torch.Tensor, donors: torch.Tensor, layers: Sequence[int], shape: Sequence[int]) -> torch.Tensor:
    """Flattened W+ latents ``w`` [n, num_ws * w_dim] with ``layers`` taken from ``donors`` (same shape).

    Args:
        shape: one latent's shape, ``(num_ws, w_dim)`` (``G.latent_shape("w+")``).
    """
    layer_indices(layers, shape[0])
    mixed = w.reshape(len(w), *shape).clone()
    mixed[:, list(layers)] = donors.reshape(len(donors), *shape)[:, list(layers)].to(mixed)
    return mixed.reshape(len(w), -1)


@torch.no_grad()
def synthesize(G, z: torch.Tensor, delta_a: np.ndarray, step: np.ndarray, held: np.ndarray,
               meters_b: Sequence[MeterSpec], *, space: str = "z", donors: torch.Tensor | None = None,
               layers: Sequence[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Images of the low-density combinations and the latents drawn, ``(images, latents)``.

    The latent is ``z + delta_a * step`` or, with ``layers`` (W+ only), ``z`` with those layers from ``donors``
    (:func:`mix_layers`); then held attributes are edited back in the image (:func:`edit_back`).

    Args:
        z: [n, D] starts; delta_a: [n] asked change of A; step: [D] latent step per unit of A
            (:func:`holding_step`); held: [n, K] readings of B at the starts; meters_b: B's meters.
        donors: [n, D] latents carrying the wanted A (:func:`pick_donors`), with ``layers``.
    """
    if layers is not None:
        moved = mix_layers(z, donors, layers, G.latent_shape(space))
    else:
        moved = z + torch.as_tensor(delta_a[:, None] * step[None], dtype=z.dtype)
    if G.prior_radius(space):
        moved = project_to_ball(moved, G.prior_radius(space))
    images = G(moved.to(G.device).view(-1, *G.latent_shape(space)), space=space).cpu()
    return edit_back(images, held, read(images, meters_b), meters_b), moved


# ------------------------------------------------------------------------------------ 4. inversion
def invert(G, images: torch.Tensor, *, start: torch.Tensor | None = None, steps: int = 150, lr: float = 0.05,
           space: str = "z", batch_size: int = 250, progress: bool = False) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Latents whose images match ``images`` under the Fourier-weighted loss, and the final losses [N].

    Starts from the encoder's posterior mean when ``G`` has one, else from ``start``, else from the latent of
    seed k for image k; Adam on z, projected into the prior's ball after each step where the space has one.
    Each image's loss is summed and Adam works per element, so an image's latent does not depend on the
    other images in its batch (up to float rounding).
    """
    sigma = losses.default_sigma(G.img_resolution)
    radius = G.prior_radius(space)
    shape = G.latent_shape(space)
    out, final = [], []
    bar = tqdm(total=len(images), disable=not progress, desc="inverting", unit="image")
    for i in range(0, len(images), batch_size):
        target = images[i : i + batch_size].to(G.device)
        if isinstance(G, SupportsEncode):
            with torch.no_grad():
                z0 = G.encode(target).reshape(len(target), -1)
        elif start is not None:
            z0 = start[i : i + batch_size].to(G.device)
        else:
            z0 = G.sample_latent(range(i, i + len(target)), space).to(G.device)
        z = z0.clone().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=lr)
        for _ in range(steps):
            loss = losses.fourier_texture_loss(G(z.view(-1, *shape), space=space), target, None, sigma=sigma)
            opt.zero_grad()
            loss.sum().backward()
            opt.step()
            if radius:
                with torch.no_grad():
                    z.copy_(project_to_ball(z, radius))
        with torch.no_grad():
            final.append(losses.fourier_texture_loss(G(z.view(-1, *shape), space=space), target, None, sigma=sigma).cpu())
        out.append(z.detach().cpu())
        bar.update(len(target))
    bar.close()
    return torch.cat(out), torch.cat(final)


def synthesize_and_invert(G, z: torch.Tensor, delta_a: np.ndarray, step: np.ndarray, held: np.ndarray,
                          meters_b: Sequence[MeterSpec], config: CorrectConfig, *, space: str = "z",
                          donors: torch.Tensor | None = None, progress: bool = False,
                          stage=None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """Steps 3 and 4 (:func:`synthesize`, then :func:`invert` from the synthesized latents):
    ``(images, latents, losses)``, one row each.

    In a distributed run each rank synthesizes and inverts its contiguous block of the rows
    (:func:`latentnav.distributed.shard_range`) and every rank gets all of them back in order; each row depends
    only on its own start, so the result is the single-process one.

    Args:
        z: [n, D] starts; delta_a: [n] asked change of A; step: [D] (:func:`holding_step`); held: [n, K]
            readings of B at the starts; meters_b: B's meters; config: inversion settings (and ``layers``).
        donors: [n, D] donor latents when ``config.layers`` mixes W+ layers.
        progress: show the inversion's progress bar (rank 0's block in a distributed run).
        stage: a :meth:`~latentnav.correction.correct.StageClock.stage` that times ``"synthesis"`` and ``"inversion"``.
    """
    stage = stage or _untimed
    rows = distributed.shard_range(len(z))
    show = progress and distributed.world().is_main

    def mine() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if not len(rows):  # more ranks than rows
            res = G.img_resolution
            return torch.empty(0, G.img_channels, res, res), z[:0].clone(), torch.empty(0)
        part = slice(rows.start, rows.stop)
        with stage("synthesis"):
            images, drawn = synthesize(G, z[part], delta_a[part], step, held[part], meters_b, space=space,
                                       donors=None if donors is None else donors[part], layers=config.layers)  # fmt: skip
        with stage("inversion"):
            z_inv, loss = invert(G, images, start=drawn, steps=config.invert_steps, lr=config.invert_lr, space=space,
                                 batch_size=config.batch_size, progress=show)  # fmt: skip
        return images, z_inv, loss

    parts = distributed.exchange(mine)
    return tuple(torch.cat(column) for column in zip(*parts))


@contextmanager
def _untimed(name: str) -> Iterator[None]:
    yield None


def fit_set(z: torch.Tensor, scores: np.ndarray, z_inverted: torch.Tensor, rescored: np.ndarray, kept: np.ndarray,
            n: int = 0, seed: int = 0) -> tuple[torch.Tensor, np.ndarray]:  # fmt: skip
    """The latents the re-fit fits on and their readings: the scored latents and the kept inversions, or, with ``n``
    > 0, at most ``n`` of them: the kept inversions (up to half, drawn at random, seeded) and scored latents to fill.
    """
    kept_z, kept_s = z_inverted[torch.as_tensor(kept)], rescored[kept]
    if n <= 0 or n >= len(z) + len(kept_z):
        return torch.cat([z, kept_z]), np.concatenate([scores, kept_s])
    rng = np.random.default_rng(seed)
    n_kept = min(len(kept_z), n // 2)
    pick_k = np.sort(rng.permutation(len(kept_z))[:n_kept])
    pick_s = np.sort(rng.permutation(len(z))[: n - n_kept])
    return (torch.cat([z[torch.as_tensor(pick_s)], kept_z[torch.as_tensor(pick_k)]]),
            np.concatenate([scores[pick_s], kept_s[pick_k]]))  # fmt: skip


def landed(start: np.ndarray, now: np.ndarray, delta_a: np.ndarray, scores: np.ndarray, keep: float = 0.5) -> np.ndarray:
    """Which re-projected samples landed off the diagonal: bool [n].

    In readings standardized by the population ``scores``, the asked move is ``(delta_a, 0, ...)``; a sample is
    kept when its achieved move, measured off the population's A-on-B regression line (A minus what B
    predicts), goes the asked way by at least ``keep`` of the asked amount.
    """
    a, b = scores[:, 0], scores[:, 1:]
    coef, *_ = np.linalg.lstsq(np.c_[np.ones(len(a)), b], a, rcond=None)

    def residual(s):
        return s[:, 0] - np.c_[np.ones(len(s)), s[:, 1:]] @ coef

    moved = residual(now) - residual(start)
    return np.isfinite(moved) & (moved * np.sign(delta_a) >= keep * np.abs(delta_a))
