"""GANSpace: principal directions of sampled latents or of an intermediate feature (Harkonen et al., NeurIPS 2020).

Two ways, as in the paper:

- in a latent space whose samples are not isotropic (StyleGAN2's W), PCA of sampled latents: the
  principal axes are the directions;
- otherwise (BigGAN's z, a VAE's z: an isotropic prior has no principal axes), PCA of a feature ``y``
  computed from z (BigGAN's first linear layer, as in the paper), then the latent basis U that best
  explains the PCA coordinates ``x = V^T (y - mean)``: least squares ``z ~= x U`` over the samples; row
  k of U, normalised, is the k-th direction.

The PCA is the eigendecomposition of the feature's covariance, accumulated chunk by chunk as sums over
the samples (one pass; the features never all sit in memory, and distributed ranks add their sums), with
the regression solved from the same sums. Features wider than :data:`MOMENTS_MAX_WIDTH` (BigGAN's first
layer) use scikit-learn's ``IncrementalPCA`` instead, in chunks, with the latents regenerated from their
seeds for the regression (a second pass).
For StyleGAN2, ``layers`` gives W+ directions acting on those layers only (the paper's layer ranges).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.decomposition import IncrementalPCA

from latentnav import distributed
from latentnav.directions import Direction, identity_direction, restrict_layers
from latentnav.errors import BadInputError
from latentnav.methods import Candidates
from latentnav.methods.layers import capture_feature, check_layers, default_feature, num_style_layers

#: feature width above which IncrementalPCA is used (``incremental=None``): the F x F float64 covariance
#: of a wider feature would pass 128 MiB
MOMENTS_MAX_WIDTH = 4096


@dataclass
class GanspaceResult:
    """GANSpace's directions of one generator.

    Attributes:
        directions: one :class:`Direction` per principal component, by decreasing variance.
        explained_variance_ratio: [K] share of the feature's variance along each component.
        feature: the module whose output was analysed, or ``None`` for the latent itself.
        generator_evals: samples passed through (part of) the generator.
    """

    directions: list[Direction]
    explained_variance_ratio: np.ndarray
    feature: str | None
    generator_evals: int = 0
    info: dict = field(default_factory=dict)


class Moments:
    """Running sums of two paired sample matrices, a [n, P] and b [n, Q], in float64: enough for their covariances.

    Sums are additive, so the ranks of a distributed run each add their own samples and
    :meth:`all_reduce` adds the ranks' sums: the covariance of all samples, whoever drew them. Rows are
    shifted by a reference row (the first seed's) before summing, so large means do not cancel digits.
    """

    def __init__(self, ref_a: torch.Tensor, ref_b: torch.Tensor) -> None:
        self.ref_a, self.ref_b = ref_a.double().flatten(), ref_b.double().flatten()
        p, q = len(self.ref_a), len(self.ref_b)
        self.n = torch.zeros((), dtype=torch.float64)
        self.sa, self.sb = torch.zeros(p, dtype=torch.float64), torch.zeros(q, dtype=torch.float64)
        self.saa, self.sab = torch.zeros(p, p, dtype=torch.float64), torch.zeros(p, q, dtype=torch.float64)

    def add(self, a: torch.Tensor, b: torch.Tensor) -> None:
        """Add samples a [n, P] and b [n, Q] (row i of each is the same sample)."""
        a, b = a.double() - self.ref_a, b.double() - self.ref_b
        self.n += len(a)
        self.sa += a.sum(0)
        self.sb += b.sum(0)
        self.saa += a.T @ a
        self.sab += a.T @ b

    def all_reduce(self) -> Moments:
        """Sum every rank's moments (in place; alone, nothing changes)."""
        self.n, self.sa, self.sb, self.saa, self.sab = distributed.all_reduce_sum([self.n, self.sa, self.sb, self.saa, self.sab])
        return self

    def covariances(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(cov(a) [P, P], cov(a, b) [P, Q])`` over all samples added (denominator n - 1, as sklearn's PCA)."""
        n = self.n.item()
        ma, mb = self.sa / n, self.sb / n
        caa = (self.saa - n * torch.outer(ma, ma)) / (n - 1)
        cab = (self.sab - n * torch.outer(ma, mb)) / (n - 1)
        return (caa + caa.T) / 2, cab


def pca_of_covariance(cov: torch.Tensor, n_components: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Principal axes of a covariance: ``(components [K, F] by decreasing variance, explained variance ratio [K])``.

    ``torch.linalg.eigh`` of the covariance rather than sklearn's ``PCA`` on the samples, because the
    covariance is a sum over samples that distributed ranks can add up (sklearn needs every sample in one
    process). Signs follow sklearn's convention: the largest-magnitude entry of each component is positive.
    """
    values, vectors = torch.linalg.eigh(cov)
    order = values.argsort(descending=True)[:n_components]
    components = vectors[:, order].T
    pick = components.abs().argmax(dim=1)
    components = components * torch.sign(components[torch.arange(len(order)), pick])[:, None]
    total = torch.diagonal(cov).sum().clamp_min(1e-300)
    return components, values[order].clamp_min(0) / total


def fit_incremental_pca(chunk_fn: Callable[[int], np.ndarray], n_chunks: int, n_components: int) -> IncrementalPCA:
    """sklearn's ``IncrementalPCA`` fed chunk 0, 1, ... in order, the chunks computed by all ranks in turn.

    In a distributed run chunk i is computed by rank ``i % world`` and fitted on rank 0 (so the fit is the
    single-process one, chunk for chunk); the fitted model is then sent to every rank.
    """
    w = distributed.world()
    model = IncrementalPCA(n_components=n_components) if w.is_main else None
    for first in range(0, n_chunks, w.size):
        i = first + w.rank
        parts = distributed.gather_to_main(lambda i=i: chunk_fn(i) if i < n_chunks else None)
        if model is not None:
            for part in parts:
                if part is not None:
                    model.partial_fit(part)
    return distributed.broadcast(model)


def regress_latent_basis(cov_xx: torch.Tensor, cov_xz: torch.Tensor) -> np.ndarray:
    """Least-squares U [K, D] with ``latents - mean ~= coords U`` (the paper's map back), from covariances.

    ``cov_xx`` [K, K] is the covariance of the PCA coordinates, ``cov_xz`` [K, D] their covariance with
    the latents: the normal equations of the regression, which distributed ranks can sum.
    """
    return torch.linalg.solve(cov_xx, cov_xz).numpy()


def ganspace(
    G,
    space: str = "z",
    *,
    n_samples: int = 10_000,
    n_components: int = 10,
    feature: str | None = "auto",
    layers: Sequence[int] | None = None,
    incremental: bool | None = None,
    chunk: int = 2000,
    seed: int = 0,
) -> GanspaceResult:
    """GANSpace's directions in ``G``'s latent ``space``.

    Args:
        G: a generator.
        space: the latent space the directions live in (``"z"``, or ``"w"``/``"w+"`` for StyleGAN2).
        n_samples: latents sampled (seeds ``seed .. seed + n_samples - 1``).
        n_components: principal components kept (at most the latent's width).
        feature: a module path inside ``G.net`` whose output is analysed; ``None`` = PCA of the latents
            themselves; ``"auto"`` = the family's default (:func:`latentnav.methods.layers.default_feature`).
        layers: StyleGAN2 only: the W+ layers the directions act on (the paper's layer ranges).
        incremental: use IncrementalPCA (two passes over the samples) instead of the covariance (one
            pass); ``None`` = only when the feature is wider than :data:`MOMENTS_MAX_WIDTH`.
        chunk: samples per generator call / PCA chunk.
        seed: first seed.

    In a distributed run (:mod:`latentnav.distributed`) the ranks split the samples: each sums the
    moments of its own block of seeds and the sums are added up (or, incremental, each computes every
    world-th chunk and rank 0 fits them in order), so the result is the single-process one.

    Returns:
        A :class:`GanspaceResult`; directions are uncalibrated (raw steps, sign arbitrary), ``method="ganspace"``.

    Raises:
        ValueError: bad counts; MethodNotApplicableError: an unknown feature or bad layers.
    """
    if n_samples < 2 or n_components < 1:
        raise BadInputError(f"GANSpace needs n_samples >= 2 and n_components >= 1, got {n_samples} and {n_components}")
    base = "w" if space == "w+" else space
    chosen = check_layers(G, space, layers)
    if space == "w+" and chosen is None:
        chosen = list(range(num_style_layers(G)))
    if feature == "auto":
        feature = default_feature(G, base)
    width = int(np.prod(G.latent_shape(base)))
    n_components = min(n_components, width, n_samples)

    def samples(seeds: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        z = G.sample_latent(seeds, base)
        return (z if feature is None else capture_feature(G, z, base, feature)), z

    ref_y, ref_z = distributed.on_main(lambda: samples([seed]))  # the first sample: width, and the moments' shift
    feature_width = ref_y.shape[1]
    if incremental is None:
        incremental = feature_width > MOMENTS_MAX_WIDTH
    if incremental:
        vectors, ratio = _incremental(samples, seed, n_samples, n_components, chunk, ref_z)
        evals = 2 * n_samples
    else:
        vectors, ratio = _from_moments(samples, seed, n_samples, n_components, chunk, feature is None, ref_y, ref_z)
        evals = n_samples
    evals = evals if feature is not None else 0
    directions = []
    count = num_style_layers(G)
    for k, vec in enumerate(vectors):
        d = identity_direction(torch.from_numpy(np.ascontiguousarray(vec)).float(), base, model=G.name, method="ganspace")
        if count is not None and chosen is not None:
            d = restrict_layers(d, chosen, count)
        d.meta = {**d.meta, "rank": k, "explained_variance_ratio": float(ratio[k]),
                  "feature": feature, "space": space, "layers": chosen, "n_samples": n_samples, "seed": seed}  # fmt: skip
        directions.append(d)
    return GanspaceResult(directions, np.asarray(ratio), feature, evals,
                          {"incremental": incremental, "feature_width": int(feature_width)})  # fmt: skip


def _from_moments(samples, seed, n_samples, n_components, chunk, is_latent, ref_y, ref_z) -> tuple[np.ndarray, np.ndarray]:
    """Directions and explained variance ratios from the feature's covariance (one pass, sums over ranks)."""
    seeds = distributed.shard(range(seed, seed + n_samples))

    def accumulate() -> Moments:
        moments = Moments(ref_y, ref_z)
        for i in range(0, len(seeds), chunk):
            moments.add(*samples(seeds[i : i + chunk]))
        return moments

    moments = distributed.check(accumulate).all_reduce()
    cov_yy, cov_yz = moments.covariances()
    components, ratio = pca_of_covariance(cov_yy, n_components)
    if is_latent:
        return components.numpy(), ratio.numpy()
    # coordinates x = V (y - mean): cov(x) = V cov(y) V^T and cov(x, z) = V cov(y, z)
    return regress_latent_basis(components @ cov_yy @ components.T, components @ cov_yz), ratio.numpy()


def _incremental(samples, seed, n_samples, n_components, chunk, ref_z) -> tuple[np.ndarray, np.ndarray]:
    """Directions and ratios with IncrementalPCA: fit chunk by chunk, then a second pass for the regression."""
    n_chunks = -(-n_samples // chunk)

    def seeds_of(i: int) -> range:
        return range(seed + i * chunk, seed + min((i + 1) * chunk, n_samples))

    model = fit_incremental_pca(lambda i: samples(seeds_of(i))[0].numpy().astype(np.float64), n_chunks, n_components)
    ratio = np.asarray(model.explained_variance_ratio_)
    w = distributed.world()

    def accumulate() -> Moments:  # the same seeds give the same features again: their PCA coordinates
        moments = Moments(torch.zeros(len(ratio)), ref_z)
        for i in range(w.rank, n_chunks, w.size):
            y, z = samples(seeds_of(i))
            moments.add(torch.from_numpy(model.transform(y.numpy().astype(np.float64))), z)
        return moments

    cov_xx, cov_xz = distributed.check(accumulate).all_reduce().covariances()
    return regress_latent_basis(cov_xx, cov_xz), ratio


def candidates(G, *, space: str = "z", meter=None, scorer=None, scorer_name: str = "scorer", settings) -> Candidates:
    """GANSpace behind the method registry's call (:class:`~latentnav.methods.Method`): every component."""
    if scorer is not None:
        raise BadInputError("ganspace is unsupervised: it takes --attribute (to pick a component), not --scorer")
    res = ganspace(G, space, n_samples=settings.samples, n_components=settings.n_components, feature=settings.feature,
                   layers=settings.layers, seed=settings.seed)  # fmt: skip
    info = {"feature": res.feature, "explained_variance_ratio": res.explained_variance_ratio.tolist()}
    return Candidates(res.directions, f"feature {res.feature or 'latent'}", info, ranked=True)
