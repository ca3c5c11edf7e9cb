"""SeFa: closed-form factorisation of the weight that first acts on the latent (Shen & Zhou, CVPR 2021).

A latent direction n changes the first layer's output by A n, for the weight A [out, D]. The directions
that change it most are the maximisers of ||A n||^2 = n^T A^T A n on the unit sphere: the eigenvectors of
A^T A, by decreasing eigenvalue. As in the reference (genforce/sefa ``factorize_weight``), each output
unit's weight vector (a row of A here, a column of their transposed matrix) is first scaled to unit length,
so units with large weights do not dominate. For StyleGAN2's w/w+ the style affines of the chosen layers
are stacked (:func:`latentnav.methods.layers.latent_weight`); a selection of layers gives directions
that act on those layers only (W+).

No generator evaluations: on a 512-wide W this is one 512x512 ``torch.linalg.eigh``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from latentnav.directions import Direction, identity_direction, restrict_layers
from latentnav.errors import BadInputError
from latentnav.methods import Candidates
from latentnav.methods.layers import check_layers, latent_weight, num_style_layers


def factorize(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigen-decomposition of A^T A for the row-normalised weight A.

    Args:
        weight: [out, D], one row per output unit.

    Returns:
        ``(eigenvalues [D], directions [D, D])``, by decreasing eigenvalue; row k of ``directions`` is
        the k-th unit direction (the sign of each is arbitrary).

    Raises:
        ValueError: a weight that is not 2-D, not finite, or has a zero row.
    """
    if not isinstance(weight, torch.Tensor) or weight.ndim != 2:
        raise BadInputError(f"expected a weight of shape [out, D], got {getattr(weight, 'shape', type(weight).__name__)}")
    a = weight.double()
    if not torch.isfinite(a).all():
        raise BadInputError("the weight contains NaN or infinite values")
    norms = a.norm(dim=1, keepdim=True)
    if (norms == 0).any():
        raise BadInputError(f"the weight has {int((norms == 0).sum())} zero row(s); cannot normalise them")
    a = a / norms
    values, vectors = torch.linalg.eigh(a.T @ a)  # ascending
    return values.flip(0).float(), vectors.flip(1).T.contiguous().float()


@dataclass
class SefaResult:
    """SeFa's directions of one generator.

    Attributes:
        directions: one :class:`Direction` per eigenvector, by decreasing eigenvalue.
        eigenvalues: [K] the matching eigenvalues of A^T A.
        weight_shape: the shape of the factorised weight A.
    """

    directions: list[Direction]
    eigenvalues: torch.Tensor
    weight_shape: tuple[int, int]


def sefa(G, space: str = "z", *, layers: Sequence[int] | None = None, n_components: int | None = None) -> SefaResult:
    """SeFa's directions in ``G``'s latent ``space``.

    Args:
        G: a generator whose latent-facing weight latentnav knows (see :mod:`latentnav.methods.layers`).
        space: ``"z"``, or ``"w"``/``"w+"`` for StyleGAN2.
        layers: StyleGAN2 only, the W+ layers whose style affines are factorised (all by default). With a
            subset (or ``space="w+"``) the directions act on those layers only (W+ directions).
        n_components: keep the top this many (all D by default).

    Returns:
        A :class:`SefaResult`; each direction is uncalibrated (raw steps), ``method="sefa"``, with its
        rank, eigenvalue and layers in ``meta``.

    Raises:
        MethodNotApplicableError: ``G`` exposes no latent-facing weight, or bad layers.
    """
    chosen = check_layers(G, space, layers) if space in ("w", "w+") else None
    if layers is not None and chosen is None:
        check_layers(G, space, layers)  # raises: layers given where there are none
    weight = latent_weight(G, space, chosen)
    values, vectors = factorize(weight)
    k = vectors.shape[0] if n_components is None else max(1, min(int(n_components), vectors.shape[0]))
    count = num_style_layers(G)
    lift = count is not None and (space == "w+" or (chosen is not None and len(chosen) < count))
    directions = []
    for rank in range(k):
        d = identity_direction(vectors[rank], "w" if space == "w+" else space, model=G.name, method="sefa")
        if lift:
            d = restrict_layers(d, chosen if chosen is not None else range(count), count)
        d.meta = {**d.meta, "rank": rank, "eigenvalue": float(values[rank]), "layers": chosen, "space": space,
                  "weight_shape": list(weight.shape)}  # fmt: skip
        directions.append(d)
    return SefaResult(directions, values[:k], tuple(weight.shape))


def candidates(G, *, space: str = "z", meter=None, scorer=None, scorer_name: str = "scorer", settings) -> Candidates:
    """SeFa behind the method registry's call (:class:`~latentnav.methods.Method`): every component."""
    if scorer is not None:
        raise BadInputError("sefa is unsupervised: it takes --attribute (to pick a component), not --scorer")
    res = sefa(G, space, layers=settings.layers, n_components=settings.n_components)
    info = {"eigenvalues": res.eigenvalues.tolist(), "weight_shape": list(res.weight_shape)}
    return Candidates(res.directions, "", info, ranked=True)
