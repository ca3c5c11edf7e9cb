"""Correct a direction that drags a correlated attribute along (SC2GAN-style, Chen et al. 2023).

A generator inherits the correlations of its data: on ``bvae-dsprites-corr`` sprites sit near the diagonal,
so a direction that moves x also moves y. The corrector, one function per step:

1. :func:`score_latents`: sample latents and read the target attribute A and the correlated ones B.
2. :func:`low_density_targets`: where the joint density of (A, B) is thin: each chosen sample is asked to
   move A *against* the correlation (up where B predicts a low A, down where it predicts a high one) while
   B stays where it is, which lands it off the diagonal.
3. :func:`synthesize`: move along A's direction and back against B's (linear) direction by the measured
   leakage, or, for StyleGAN2's W+ with ``layers``, mix in those layers from a donor sample that carries the
   wanted A (:func:`pick_donors`, :func:`mix_layers`; SC2GAN's layer-specific mixing); where B has an image
   transform (position, size, brightness, hue), the image is then edited so that B reads what it read before
   (the generator need not follow the edit).
4. :func:`invert`: back into the latent space, by optimisation under the Fourier-weighted loss, from the
   encoder's mean for VAEs (else from the synthesized latent), with the prior's ball constraint; re-score and
   keep the samples whose attributes landed off the diagonal (:func:`landed`); an inversion that diverges
   is counted and its sample dropped.
5. Re-fit A's direction on the original and the re-projected samples together: by default
   :func:`fit_on_meters` (the unit direction that changes A and leaves B alone on all of them, measured
   through the meters on the generated images); or :func:`refit`, the issue's classifier: a balanced
   logistic regression for A, each sample weighted by the inverse of the estimated joint density of (A, B).

:func:`correct` runs the five steps; under torchrun each rank synthesizes and inverts its block of the chosen
samples (:func:`synthesize_and_invert`) and every rank goes on with all of them. :func:`direction_effect`
measures a direction (A change per unit step and B change per unit A change); the report puts base,
InterFaceGAN's orthogonal projection and the corrected direction side by side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from scipy.optimize import minimize
from scipy.stats import gaussian_kde
from sklearn.linear_model import LogisticRegression
from tqdm.auto import tqdm

from latentnav import distributed, losses
from latentnav.directions import Direction, identity_direction
from latentnav.errors import BadInputError, LatentnavError
from latentnav.evaluate import read_latents
from latentnav.measure import MeterSpec, get_meter
from latentnav.methods.interfacegan import project_orthogonal, train_boundary
from latentnav.trajectory import project_to_ball
from latentnav.transforms import get_transform

REFITS = ("meters", "logistic")
OPTIMIZERS = ("adam", "slsqp")


@dataclass(frozen=True)
class CorrectConfig:
    """Settings of :func:`correct` (the CLI's flags map one to one onto them).

    Attributes:
        n_samples: latents scored to estimate the joint density (seeds ``seed ..``).
        n_low: low-density samples synthesized (at most).
        offset: how far each is asked to move A against the correlation, in standard deviations of A.
        invert_steps: optimisation steps of the inversion.
        invert_lr: Adam learning rate of the inversion.
        keep: a re-projected sample is kept when it landed at least this fraction of the asked offset off the
            diagonal (see :func:`landed`).
        max_weight: cap of the inverse-density weights, relative to the median weight (logistic re-fit).
        refit: ``"meters"`` (:func:`fit_on_meters`: the direction that moves A and holds B on the original
            and re-projected latents together, through the meters) or ``"logistic"`` (:func:`refit`: a balanced,
            density-weighted logistic regression for A).
        fit_steps: optimisation steps of the Adam re-fit.
        fit_iterations: iteration limit of the SLSQP re-fit. Its tail fits the noise of the fit set: on
            ``bvae-dsprites-corr06`` at ``fit_keep`` 0.8, GANSpace's direction ran 96 iterations (113 minutes) and its
            iterates measured 0.100, 0.099, 0.099 and 0.107 y per unit x after 5, 10, 20 and 30 on 2,000 fresh
            latents (``benchmarks/slsqp_iterations.py``), the last 0.117 on 5,000 (stopped at 20: 0.114, in 11
            minutes); every other fit in docs/correct.md stopped by itself in 4-16.
        fit_optimizer: ``"adam"`` (minibatches of 128 latents, the leakage plus a penalty below ``fit_keep`` and a
            small reward for A's change) or ``"slsqp"`` (scipy's SLSQP on all the latents at once: the leakage
            alone, subject to keeping ``fit_keep``).
        fit_keep: the meter re-fit keeps at least this fraction of the base direction's A change per unit
            step (less leakage costs some of it: on ``bvae-dsprites-corr`` the directions that leak no more
            than the unbiased model's keep about 0.075 of the width per unit step, 51-66% of the four methods'
            base directions). The fit starts from InterFaceGAN's projection when that keeps at least this
            much, else from the nearest mix of projection and base direction that does (SLSQP) or from the base
            direction (Adam).
        layers: W+ layers to synthesize by mixing (StyleGAN2's ``"w+"`` space only): each low-density sample
            takes these layers from a donor whose A is the wanted one and keeps its own others (where B lives)
            instead of the linear move; ``None``: the linear move.
        seed: first seed.
        batch_size: images inverted together (one optimisation batch).
    """

    n_samples: int = 2000
    n_low: int = 500
    offset: float = 1.0
    invert_steps: int = 150
    invert_lr: float = 0.05
    keep: float = 0.5
    max_weight: float = 20.0
    refit: str = "meters"
    fit_steps: int = 150
    fit_iterations: int = 20
    fit_keep: float = 0.5
    fit_optimizer: str = "slsqp"
    layers: tuple[int, ...] | None = None
    seed: int = 0
    batch_size: int = 250

    @property
    def fit_limit(self) -> int:
        """The meter re-fit's limit for its optimizer: ``fit_iterations`` for SLSQP, ``fit_steps`` for Adam."""
        return self.fit_iterations if self.fit_optimizer == "slsqp" else self.fit_steps

    def __post_init__(self) -> None:
        if min(self.n_samples, self.n_low, self.invert_steps, self.batch_size) < 1:
            raise BadInputError("n_samples, n_low, invert_steps and batch_size must be >= 1")
        if not self.offset > 0 or not self.invert_lr > 0 or not self.max_weight >= 1:
            raise BadInputError("offset and invert_lr must be > 0 and max_weight >= 1")
        if not 0 <= self.keep < 1:
            raise BadInputError(f"keep must lie in [0, 1), got {self.keep}")
        if self.refit not in REFITS:
            raise BadInputError(f"unknown re-fit {self.refit!r}; known: {', '.join(REFITS)}")
        if self.fit_optimizer not in OPTIMIZERS:
            raise BadInputError(f"unknown re-fit optimizer {self.fit_optimizer!r}; known: {', '.join(OPTIMIZERS)}")
        if min(self.fit_steps, self.fit_iterations) < 0:
            raise BadInputError(f"fit_steps and fit_iterations must be >= 0, got {self.fit_steps}, {self.fit_iterations}")
        if not 0 <= self.fit_keep <= 1:
            raise BadInputError(f"fit_keep must lie in [0, 1], got {self.fit_keep}")
        if self.layers is not None:
            object.__setattr__(self, "layers", tuple(int(k) for k in self.layers))
            if not self.layers or min(self.layers) < 0:
                raise BadInputError(f"layers must be W+ layer indices >= 0, got {list(self.layers)}")


# ------------------------------------------------------------------------------------ 1. scores
def read(images: torch.Tensor, meters: Sequence[MeterSpec]) -> np.ndarray:
    """[N, len(meters)] readings of ``images``."""
    return np.stack([m(images).detach().cpu().numpy().astype(np.float64) for m in meters], axis=1)


def score_latents(G, meters: Sequence[MeterSpec], n: int, *, space: str = "z", seed: int = 0) -> tuple[torch.Tensor, np.ndarray]:
    """Latents (seeds ``seed .. seed + n - 1``) whose images every meter can read, and their readings [M, K]."""
    z = G.sample_latent(range(seed, seed + n), space)
    scores = read_latents(G, z, space, meters).T
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


def check_layers(layers: Sequence[int], num_ws: int) -> None:
    """Raise ``ValueError`` naming the W+ layers outside ``0 .. num_ws - 1``."""
    bad = [k for k in layers if not 0 <= k < num_ws]
    if bad:
        raise BadInputError(f"W+ layer(s) {bad} out of range: this generator has layers 0-{num_ws - 1}")


def mix_layers(w: torch.Tensor, donors: torch.Tensor, layers: Sequence[int], shape: Sequence[int]) -> torch.Tensor:
    """Flattened W+ latents ``w`` [n, num_ws * w_dim] with ``layers`` taken from ``donors`` (same shape).

    Args:
        shape: one latent's shape, ``(num_ws, w_dim)`` (``G.latent_shape("w+")``).
    """
    check_layers(layers, shape[0])
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
        if hasattr(G, "encode"):
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
                          donors: torch.Tensor | None = None,
                          progress: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
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
    """
    rows = distributed.shard_range(len(z))
    show = progress and distributed.world().is_main

    def mine() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if not len(rows):  # more ranks than rows
            res = G.img_resolution
            return torch.empty(0, G.img_channels, res, res), z[:0].clone(), torch.empty(0)
        part = slice(rows.start, rows.stop)
        images, drawn = synthesize(G, z[part], delta_a[part], step, held[part], meters_b, space=space,
                                   donors=None if donors is None else donors[part], layers=config.layers)  # fmt: skip
        z_inv, loss = invert(G, images, start=drawn, steps=config.invert_steps, lr=config.invert_lr, space=space,
                             batch_size=config.batch_size, progress=show)  # fmt: skip
        return images, z_inv, loss

    parts = distributed.exchange(mine)
    return tuple(torch.cat(column) for column in zip(*parts))


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


# ------------------------------------------------------------------------------------------ 5. re-fit
def refit(z: torch.Tensor, scores: np.ndarray, *, max_weight: float = 20.0, seed: int = 0) -> tuple[np.ndarray, dict]:
    """A's direction from a balanced logistic regression (A above / below its median) on latents ``z``, each
    sample weighted by the inverse of the joint density of its readings (capped at ``max_weight`` x the median
    weight), so the classes are balanced and B no longer predicts A. Returns ``(u [D] unit, info)``."""
    a = scores[:, 0]
    label = (a > np.median(a)).astype(int)
    weight = 1.0 / np.maximum(joint_density(scores), 1e-12)
    weight = np.minimum(weight, max_weight * np.median(weight))
    weight = weight / weight.mean()
    clf = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000, random_state=seed)
    x = z.double().numpy()
    clf.fit(x, label, sample_weight=weight)
    u = clf.coef_[0]
    w = weight / weight.sum()
    cov = np.cov(scores.T, aweights=w)
    corr_after = float(np.max(np.abs(cov[0, 1:]) / np.sqrt(cov[0, 0] * np.diag(cov)[1:])))
    return u / np.linalg.norm(u), {"accuracy": float(clf.score(x, label)), "weighted_corr": corr_after}


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


def fit_on_meters(G, z: torch.Tensor, u0: torch.Tensor, meter_a: MeterSpec, meters_b: Sequence[MeterSpec], *,
                  steps: int = 150, lr: float = 0.03, batch: int | None = 128, decay: bool = True,
                  alphas: Sequence[float] = (-1.0, 1.0),
                  keep: float = 0.9, jitter: float = 0.1, reward: float = 0.05, optimizer: str = "adam",
                  start: torch.Tensor | None = None, base: np.ndarray | None = None, space: str = "z", seed: int = 0,
                  progress: bool = False, on_iterate=None) -> tuple[np.ndarray, dict]:  # fmt: skip
    """A's direction re-fitted on latents ``z`` through the meters themselves, starting from ``u0``.

    Each step draws ``batch`` of the latents, moves them by ``alphas`` along the unit direction and reads A and
    B on the images (the meters are differentiable functions of the pixels); the loss is the squared slope of
    each B's change on A's change (the leakage :func:`direction_effect` reports) plus ``jitter`` times
    sum(dB^2) / sum(dA^2) (B's changes that do not follow A's), several Bs weighed by the inverse of their
    variances over ``z`` relative to each other (one B: weight 1), plus a penalty when A's change per unit step
    falls below ``keep`` of ``u0``'s on the same latents, minus ``reward`` times A's change over ``u0``'s (so that
    components that change nothing are dropped rather than kept). A ``start`` that keeps less than ``keep``
    (a projection, when more is asked than it has) is replaced by ``u0`` for Adam, and for SLSQP by the point
    nearest it on the arc towards ``u0`` that keeps ``keep`` (``info["started_from"]``; ``info["start_mix"]``, the weight of ``u0`` in the start: 0 for ``start``
    itself, 1 for ``u0``). Adam's
    step decays to zero on a cosine over the ``steps`` (``decay``): with a constant step the result wandered with the minibatch order (on ``bvae-dsprites-corr``, the trajectory
    direction at keep 0.6 leaked 0.011 to 0.061 over three seeds; with the decay 0.021 to 0.032);
    ``batch=None`` uses every latent at every step. ``optimizer="slsqp"`` instead minimises the leakage term
    alone, on one fixed draw of ``batch`` latents (all of them with ``batch=None``), with scipy's SLSQP (at
    most ``steps`` iterations; ``info["stopped"]`` says whether it converged or reached that limit) subject
    to A's change per unit step >= ``keep`` of ``u0``'s (no reward: a direction that keeps more than asked is
    left as it is). The fit starts from ``start`` (default ``u0``);
    ``base`` [N, 1 + K] are the readings at ``z`` when already known (saves rendering them again).
    ``on_iterate``: called with each SLSQP iterate as a unit direction (``benchmarks/slsqp_iterations.py``
    measures them). Returns ``(u [D] unit, info)``.

    Raises:
        LatentnavError: a meter whose readings carry no gradient (a user scorer that leaves torch), or a fit that
            diverged (a direction that is no longer finite).
        ValueError: an unknown ``optimizer``.
    """
    if optimizer not in OPTIMIZERS:
        raise BadInputError(f"unknown re-fit optimizer {optimizer!r}; known: {', '.join(OPTIMIZERS)}")
    meters = [meter_a, *meters_b]
    shape = G.latent_shape(space)
    al = torch.tensor([float(a) for a in alphas])
    if base is None:
        base = read_latents(G, z, space, meters).T
    base = torch.as_tensor(base, dtype=torch.float32)
    ok = torch.isfinite(base).all(dim=1)
    z, base = z[ok].float(), base[ok]
    weight = held_weights(base)

    def effect(u: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        on_target, slope, spread = refit_terms(G, u, meters, z[rows], base[rows], al, space=space)
        return on_target, (weight * slope**2).sum() + jitter * (weight * spread).sum()

    with torch.no_grad():
        on_base, leak_base = effect((u0 / u0.norm()).float(), torch.arange(len(z)))
    v = (start if start is not None else u0).float().clone()
    v = v / v.norm()
    with torch.no_grad():  # without a start, v is u0, which keeps all of itself: no pass to render
        on_start = effect(v, torch.arange(len(z)))[0] if start is not None else on_base
    started, mix = "start", 0.0
    if float(on_start / on_base) < keep:  # the start keeps less than asked
        if optimizer == "slsqp" and keep <= 1.0:
            v, mix = _feasible_start(lambda w: effect(w, torch.arange(len(z)))[0] / on_base, v, u0, keep)
            started = "arc"
        else:
            v, started, mix = (u0 / u0.norm()).float().clone(), "base", 1.0
    v.requires_grad_(True)
    probe = G((z[:2] + v[None]).to(G.device).view(-1, *shape), space=space).cpu()
    flat = [m.name for m in meters if not m(probe).requires_grad]
    if flat:
        raise LatentnavError(f"the readings of {', '.join(flat)} carry no gradient (a scorer that leaves torch?), so "
                             "the direction cannot be fitted through them; use the logistic re-fit (--refit logistic)")  # fmt: skip
    gen = torch.Generator().manual_seed(seed)
    iterations, stopped = steps, "steps"
    if optimizer == "slsqp" and steps:
        rows = torch.randperm(len(z), generator=gen)[:batch] if batch else torch.arange(len(z))
        v, iterations, stopped = _slsqp(effect, v.detach(), rows, on_base, keep, steps, progress, on_iterate)
        steps = 0
    opt = torch.optim.Adam([v], lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1)) if decay else None
    for _ in tqdm(range(steps), disable=not progress or not steps, desc="re-fitting on the meters", unit="step"):
        rows = torch.randperm(len(z), generator=gen)[:batch] if batch else torch.arange(len(z))
        on_target, leak = effect(v / v.norm(), rows)
        gain = on_target / on_base
        loss = leak + 10.0 * torch.relu(keep - gain) ** 2 - reward * gain
        opt.zero_grad()
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
    u = (v / v.norm()).detach()
    if not torch.isfinite(u).all():
        raise LatentnavError(f"the meter re-fit ({optimizer}) diverged: the direction is no longer finite; try "
                             f"--fit-optimizer {'adam' if optimizer == 'slsqp' else 'slsqp'} or --refit logistic")  # fmt: skip
    with torch.no_grad():
        on_after, leak_after = effect(u, torch.arange(len(z)))
    info = {"latents": len(z), "optimizer": optimizer, "iterations": iterations, "stopped": stopped, "keep": keep,
            "started_from": started, "start_mix": mix,
            "on_target_before": float(on_base), "on_target_after": float(on_after),
            "leak_ratio_before": float(leak_base), "leak_ratio_after": float(leak_after)}  # fmt: skip
    return u.double().numpy(), info


def _feasible_start(share, start: torch.Tensor, u0: torch.Tensor, keep: float, halvings: int = 6) -> tuple[torch.Tensor, float]:
    """The unit direction nearest ``start`` on the arc from ``start`` to ``u0`` whose ``share`` (A's change per
    unit step over ``u0``'s) is at least ``keep``, by bisection on the mixing weight t of (1 - t) start + t u0
    (``u0`` itself, t = 1, keeps everything). SLSQP started there is feasible and close to its answer: started
    from ``u0`` with the keep constraint active, it ran for more than an hour on one core (2,400 dSprites
    latents, InterFaceGAN's direction at keep 0.8, iteration limit 150) without finishing; from here it
    took 7 iterations (GANSpace's direction took 96 of a limit of 150). Returns ``(unit direction, t)``."""
    start, u0 = start / start.norm(), (u0 / u0.norm()).float()
    lo, hi = 0.0, 1.0
    with torch.no_grad():
        for _ in range(halvings):
            mid = (lo + hi) / 2
            w = (1 - mid) * start + mid * u0
            if float(share(w / w.norm())) >= keep:
                hi = mid
            else:
                lo = mid
    w = (1 - hi) * start + hi * u0
    return (w / w.norm()).clone(), hi


def _slsqp(effect, v: torch.Tensor, rows: torch.Tensor, on_base: torch.Tensor, keep: float, steps: int,
           progress: bool, on_iterate=None) -> tuple[torch.Tensor, int, str]:  # fmt: skip
    """:func:`fit_on_meters`'s ``optimizer="slsqp"``: the leakage term on the fixed latents ``rows``, minimised
    by scipy's SLSQP over the direction subject to A's change per unit step >= ``keep`` of ``u0``'s.
    Each point is rendered once; the backward passes run only where SLSQP asks for the gradient (its line
    search needs values alone). Returns the unit direction, the iterations taken and why it stopped
    (``"converged"``, ``"iteration limit"`` or scipy's message)."""
    at: dict = {"key": None}

    def forward(x: np.ndarray) -> dict:
        if at["key"] != x.tobytes():
            w = torch.tensor(x, dtype=torch.float32, requires_grad=True)
            on_target, leak = effect(w / w.norm(), rows)
            at.update(key=x.tobytes(), w=w, on_target=on_target, leak=leak, grads=None)
        return at

    def value(x: np.ndarray) -> tuple[float, float]:
        f = forward(x)
        return float(f["leak"].detach()), float(f["on_target"].detach() / on_base) - keep

    def grad(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        f = forward(x)
        if f["grads"] is None:
            g_leak, g_on = (torch.autograd.grad(q, f["w"], retain_graph=True)[0].double().numpy()
                            for q in (f["leak"], f["on_target"]))  # fmt: skip
            f["grads"] = (g_leak, g_on / float(on_base))
        return f["grads"]

    bar = tqdm(total=steps, disable=not progress, desc="re-fitting on the meters (SLSQP)", unit="iteration")

    def iterated(x: np.ndarray) -> None:
        bar.update()
        if on_iterate is not None:
            on_iterate(x / np.linalg.norm(x))

    res = minimize(lambda x: value(x)[0], v.double().numpy(), jac=lambda x: grad(x)[0], method="SLSQP",
                   constraints=[{"type": "ineq", "fun": lambda x: value(x)[1], "jac": lambda x: grad(x)[1]}],
                   options={"maxiter": max(steps, 1)}, callback=iterated)  # fmt: skip
    bar.close()
    stopped = {0: "converged", 9: "iteration limit"}.get(int(res.status), str(res.message))
    return torch.tensor(res.x / np.linalg.norm(res.x), dtype=torch.float32).requires_grad_(True), int(res.nit), stopped


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
    ok = np.isfinite(da)
    on_target = float((steps[ok] * da[ok]).sum() / (steps[ok] ** 2).sum())
    leak, interval = {}, {}
    draws = np.random.default_rng(0).integers(0, da.shape[1], size=(1000, da.shape[1]))  # latents resampled
    for k, m in enumerate(meters_b, start=1):
        db = changes[..., k]
        good = ok & np.isfinite(db)
        cross, square = np.where(good, da * db, 0.0).sum(0), np.where(good, da**2, 0.0).sum(0)  # per latent
        leak[m.name] = abs(float(cross.sum() / max(square.sum(), 1e-24)))
        boot = np.abs(cross[draws].sum(1) / np.maximum(square[draws].sum(1), 1e-24))
        interval[m.name] = [float(np.percentile(boot, 5)), float(np.percentile(boot, 95))]
    return {"on_target": on_target, "leakage": leak, "leakage_max": max(leak.values()) if leak else 0.0,
            "leakage_interval": interval}  # fmt: skip


# ------------------------------------------------------------------------------------------- the job
@dataclass
class Correction:
    """The result of :func:`correct`: the corrected direction, InterFaceGAN's projection, and a report.

    ``samples`` holds the working data: the scored latents and scores (``z``, ``scores``), the synthesized
    samples (``index``, ``delta_a``, ``images``, ``donors``), their inversions and re-scores (``z_inverted``,
    ``rescored``, ``kept``), the oriented base direction (``base_u``) and what the re-fit fitted on
    (``refit_z``, ``refit_scores``: the scored latents plus the kept inversions).
    """

    direction: Direction
    projection: Direction
    report: dict[str, Any] = field(default_factory=dict)
    samples: dict[str, Any] = field(default_factory=dict)


def _oriented(u: np.ndarray | torch.Tensor, grad_a: np.ndarray) -> torch.Tensor:
    u = torch.as_tensor(np.asarray(u, dtype=np.float64)).float()
    return u if float(u.double().numpy() @ grad_a) >= 0 else -u


def correct(G, direction: Direction | torch.Tensor, attribute: str | MeterSpec, against: Sequence[str | MeterSpec],
            config: CorrectConfig = CorrectConfig(), *, space: str | None = None, eval_n: int = 50,
            eval_seed: int = 50_000, progress: bool = False) -> Correction:  # fmt: skip
    """Remove from ``direction`` what it does to the ``against`` attributes (SC2GAN-style; see module docstring).

    Args:
        G: the generator.
        direction: the base direction (a :class:`Direction` or a plain [D] vector).
        attribute: A, the attribute the direction should change (a meter name or spec).
        against: B, the attributes it should leave alone.
        config: see :class:`CorrectConfig`.
        space: latent space (default: the direction's, or ``"z"`` for a plain vector).
        eval_n, eval_seed: fresh latents on which the report measures base, projection and corrected directions.

    Returns:
        A :class:`Correction`; its directions are unit vectors oriented to make A grow, uncalibrated (calibrate
        them with :func:`latentnav.evaluate.calibrate_direction` to step in A's units).
    """
    if isinstance(direction, Direction):
        direction.check_compatible(G, space)
        space, base_u, base_method = direction.space, direction.u, direction.method
    else:
        space, base_u, base_method = space or "z", torch.as_tensor(direction).flatten().float(), "vector"
        base_u = base_u / base_u.norm()
    meter_a = get_meter(attribute, G) if isinstance(attribute, str) else attribute
    meters_b = [get_meter(b, G) if isinstance(b, str) else b for b in against]
    if not meters_b:
        raise BadInputError("give at least one attribute to correct against (--against)")
    if meter_a.name in {m.name for m in meters_b}:
        raise BadInputError(f"the target {meter_a.name!r} cannot also be an attribute to hold")
    meters = [meter_a, *meters_b]
    cfg = config
    if cfg.layers is not None:
        if space != "w+":
            raise BadInputError(f"layer mixing (--layers) needs a direction in StyleGAN2's W+ space; this one is in {space!r}")
        check_layers(cfg.layers, G.latent_shape(space)[0])
    # 1. scores
    z, scores = score_latents(G, meters, cfg.n_samples, space=space, seed=cfg.seed)
    grads = linear_gradients(z, scores)
    u = _oriented(base_u, grads[0])
    # 2. where to go
    index, delta_a = low_density_targets(scores, cfg.n_low, cfg.offset, cfg.seed)
    step = holding_step(u.double().numpy(), grads)
    # 3. synthesis and 4. inversion (split over the ranks of a distributed run), re-scoring
    donors = None if cfg.layers is None else pick_donors(scores, index, delta_a, seed=cfg.seed)
    images, z_inv, inv_loss = synthesize_and_invert(G, z[index], delta_a, step, scores[index, 1:], meters_b, cfg,
                                                    space=space, donors=None if donors is None else z[donors],
                                                    progress=progress)  # fmt: skip
    # an inversion that diverged (non-finite latent or loss) is reported and its sample dropped, never kept
    diverged = ~(torch.isfinite(inv_loss) & torch.isfinite(z_inv).all(dim=1))
    if diverged.any():
        z_inv = torch.where(diverged[:, None], z[index], z_inv)  # placeholder rows, dropped below
        tqdm.write(f"{int(diverged.sum())} of {len(index)} inversions diverged (non-finite); their samples are dropped")
    rescored = read_latents(G, z_inv, space, meters).T
    rescored[diverged.numpy()] = np.nan
    kept = landed(scores[index], rescored, delta_a, scores, cfg.keep) & ~diverged.numpy()
    if kept.sum() < 5:
        raise LatentnavError(
            f"only {int(kept.sum())} of {len(index)} synthesized samples landed off the diagonal after inversion "
            f"({int(diverged.sum())} inversions diverged): the generator does not draw those combinations, or the "
            "inversion falls back onto the diagonal; ask for a smaller move (--offset), more samples (--samples) "
            "or more inversion steps (--invert-steps), or correct a weaker correlation"
        )
    # 5. re-fit on both together (the meter fit starts from InterFaceGAN's projection, the first-order answer)
    boundaries = [train_boundary(z, scores[:, k], ratio=0.1, seed=cfg.seed).normal for k in range(1, scores.shape[1])]
    projected = _oriented(project_orthogonal(u, boundaries), grads[0])
    union_z = torch.cat([z, z_inv[torch.as_tensor(kept)]])
    union_s = np.concatenate([scores, rescored[kept]])
    if cfg.refit == "meters":
        new_u, fit = fit_on_meters(G, union_z, u, meter_a, meters_b, steps=cfg.fit_limit, keep=cfg.fit_keep,
                                   optimizer=cfg.fit_optimizer, batch=None if cfg.fit_optimizer == "slsqp" else 128,
                                   start=projected, base=union_s, space=space, seed=cfg.seed,
                                   progress=progress)  # fmt: skip
    else:
        new_u, fit = refit(union_z, union_s, max_weight=cfg.max_weight, seed=cfg.seed)
    corrected = _oriented(new_u, grads[0])

    def made(v, method):
        return identity_direction(v, space, model=G.name, method=method)

    out_dir, proj_dir = made(corrected, f"corrected:{base_method}"), made(projected, f"projected:{base_method}")
    z_eval = G.sample_latent(range(eval_seed, eval_seed + eval_n), space)
    base = read_latents(G, z_eval, space, meters).T
    measured = {name: direction_effect(G, v, meter_a, meters_b, z_eval, space=space, base=base)
                for name, v in (("base", u), ("projection", projected), ("corrected", corrected))}  # fmt: skip
    asked = scores[index].copy()
    asked[:, 0] += delta_a
    report = {
        "attribute": meter_a.name, "against": [m.name for m in meters_b], "config": asdict(cfg),
        "base_method": base_method, "samples_scored": len(z),
        "correlation": [float(np.corrcoef(scores[:, 0], scores[:, k])[0, 1]) for k in range(1, scores.shape[1])],
        "synthesis": "linear move" if cfg.layers is None else f"W+ layer mixing (layers {list(cfg.layers)})",
        "low_density_made": len(index), "low_density_kept": int(kept.sum()),
        "target_density_percentile": density_percentile(scores, asked),
        "inversion_diverged": int(diverged.sum()), "inversion_loss_mean": float(inv_loss[~diverged].mean()),
        "inversion_loss_kept": float(inv_loss[torch.as_tensor(kept)].mean()),
        "refit": fit, "cos_base_corrected": float(u @ corrected), "cos_base_projection": float(u @ projected),
        "eval": {"n": eval_n, "seed": eval_seed, **measured},
    }  # fmt: skip
    for d in (out_dir, proj_dir):
        d.meta = {"attribute": meter_a.name, "against": report["against"], "base_method": base_method}
    out_dir.meta.update(low_density_kept=report["low_density_kept"], leakage_before=measured["base"]["leakage_max"],
                        leakage_after=measured["corrected"]["leakage_max"])  # fmt: skip
    samples = {"z": z, "scores": scores, "index": index, "delta_a": delta_a, "z_inverted": z_inv,
               "rescored": rescored, "kept": kept, "base_u": u, "images": images, "donors": donors,
               "refit_z": union_z, "refit_scores": union_s}  # fmt: skip
    return Correction(out_dir, proj_dir, report, samples)
