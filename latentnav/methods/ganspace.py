"""GANSpace: principal directions of sampled latents or of an intermediate feature (Harkonen et al., NeurIPS 2020).

Two ways, as in the paper:

- in a latent space whose samples are not isotropic (StyleGAN2's W), PCA of sampled latents: the
  principal axes are the directions;
- otherwise (BigGAN's z, a VAE's z: an isotropic prior has no principal axes), PCA of a feature ``y``
  computed from z (BigGAN's first linear layer, as in the paper), then the latent basis U that best
  explains the PCA coordinates ``x = V^T (y - mean)``: least squares ``z ~= x U`` over the samples; row
  k of U, normalised, is the k-th direction.

PCA is scikit-learn's (``PCA``, or ``IncrementalPCA`` in chunks when samples x features is large, so the
features never all sit in memory; the latents are regenerated from their seeds for the regression).
For StyleGAN2, ``layers`` gives W+ directions acting on those layers only (the paper's layer ranges).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.decomposition import PCA, IncrementalPCA

from latentnav.directions import Direction, identity_direction, restrict_layers
from latentnav.methods.layers import capture_feature, check_layers, default_feature, num_style_layers

#: samples x feature width above which IncrementalPCA is used (``incremental=None``)
INCREMENTAL_ABOVE = 50_000_000


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


def fit_pca(chunks, n_components: int, incremental: bool) -> tuple[PCA | IncrementalPCA, np.ndarray | None]:
    """Fit sklearn's PCA on all chunks at once, or IncrementalPCA chunk by chunk (never holding them all).

    Args:
        chunks: an iterable of [n_i, F] arrays.

    Returns:
        ``(model, coords)``: the fitted model and, for the plain PCA, the PCA coordinates [N, K] of the
        samples (``None`` for the incremental one, which kept no samples).
    """
    if not incremental:
        data = np.concatenate(list(chunks))
        model = PCA(n_components=n_components, svd_solver="full").fit(data)
        return model, model.transform(data)
    model = IncrementalPCA(n_components=n_components)
    for part in chunks:
        model.partial_fit(part)
    return model, None


def regress_latent_basis(coords: np.ndarray, latents: np.ndarray) -> np.ndarray:
    """Least-squares U [K, D] with ``latents - mean ~= coords U`` (the paper's map back to the latent)."""
    centred = latents - latents.mean(axis=0)
    basis, *_ = np.linalg.lstsq(coords, centred, rcond=None)
    return basis


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
        incremental: use IncrementalPCA; ``None`` decides from the size.
        chunk: samples per generator call / PCA chunk.
        seed: first seed.

    Returns:
        A :class:`GanspaceResult`; directions are uncalibrated (raw steps, sign arbitrary), ``method="ganspace"``.

    Raises:
        ValueError: bad counts; MethodNotApplicableError: an unknown feature or bad layers.
    """
    if n_samples < 2 or n_components < 1:
        raise ValueError(f"GANSpace needs n_samples >= 2 and n_components >= 1, got {n_samples} and {n_components}")
    base = "w" if space == "w+" else space
    chosen = check_layers(G, space, layers)
    if space == "w+" and chosen is None:
        chosen = list(range(num_style_layers(G)))
    if feature == "auto":
        feature = default_feature(G, base)
    width = int(np.prod(G.latent_shape(base)))
    n_components = min(n_components, width, n_samples)
    n_chunks = -(-n_samples // chunk)

    def latents(i: int) -> torch.Tensor:
        return G.sample_latent(range(seed + i * chunk, seed + min((i + 1) * chunk, n_samples)), base)

    def samples(i: int) -> np.ndarray:
        z = latents(i)
        return (z if feature is None else capture_feature(G, z, base, feature)).numpy().astype(np.float64)

    if incremental is None:
        probe = G.sample_latent([seed], base)
        feature_width = width if feature is None else capture_feature(G, probe, base, feature).shape[1]
        incremental = n_samples * feature_width > INCREMENTAL_ABOVE
    model, coords = fit_pca((samples(i) for i in range(n_chunks)), n_components, incremental)
    evals = n_samples if feature is not None else 0
    if feature is None:
        vectors = model.components_
    else:
        if coords is None:  # IncrementalPCA kept no samples: the same seeds give the same features again
            coords = np.concatenate([model.transform(samples(i)) for i in range(n_chunks)])
            evals += n_samples
        z = np.concatenate([latents(i).numpy() for i in range(n_chunks)]).astype(np.float64)
        vectors = regress_latent_basis(coords, z)
    directions = []
    count = num_style_layers(G)
    for k, vec in enumerate(vectors):
        d = identity_direction(torch.from_numpy(np.ascontiguousarray(vec)).float(), base, model=G.name, method="ganspace")
        if count is not None and chosen is not None:
            d = restrict_layers(d, chosen, count)
        d.meta = {**d.meta, "rank": k, "explained_variance_ratio": float(model.explained_variance_ratio_[k]),
                  "feature": feature, "space": space, "layers": chosen, "n_samples": n_samples, "seed": seed}  # fmt: skip
        directions.append(d)
    return GanspaceResult(directions, np.asarray(model.explained_variance_ratio_), feature, evals,
                          {"incremental": incremental, "feature_width": int(model.components_.shape[1])})  # fmt: skip
