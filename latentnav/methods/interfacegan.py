"""InterFaceGAN: a linear boundary of an attribute in latent space, and conditional directions (Shen et al. 2020).

Boundary (as genforce/interfacegan ``train_boundary``): sample latents, score their images, sort by score;
the top and bottom ``ratio`` of the samples are the positives and negatives, split 70/30 into training
and validation; a linear SVM (scikit-learn's ``LinearSVC``) separates them and its unit normal is the
direction (pointing towards higher scores). The samples in between, labelled by the mid score, are an
extra test set.

Conditional manipulation: :func:`project_orthogonal` removes from the primal direction its component in
the span of one or more condition directions (so moving along it leaves them unchanged), and refuses
when nothing is left, where the reference would divide by zero.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.svm import LinearSVC

from latentnav import distributed
from latentnav.directions import Direction, identity_direction
from latentnav.errors import BadInputError, ConditionVanishedError
from latentnav.measure import checked_scores
from latentnav.methods import Candidates

#: relative norm below which a projected direction counts as vanished
VANISH_TOL = 1e-6


def _as_matrix(x, name: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    if not t.is_floating_point():
        raise BadInputError(f"{name} must be floating point, got dtype {t.dtype}")
    if not torch.isfinite(t).all():
        raise BadInputError(f"{name} contains NaN or infinite values")
    return t.double()


def project_orthogonal(primal: torch.Tensor, conditions: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
    """The primal direction with its component in the span of the conditions removed, at unit length.

    ``n = p - C^T c`` with ``c`` the least-squares solution of ``C^T c = p`` (the projection onto the
    span of the condition rows; ``torch.linalg.lstsq``, so the conditions need not be orthogonal or
    even independent), then ``n / ||n||``. With one unit condition this is InterFaceGAN's
    ``p - (p . q) q``.

    Args:
        primal: [D] the direction to correct.
        conditions: [K, D] (or a list of [D]) directions to keep unchanged.

    Returns:
        [D] float32 unit vector orthogonal to every condition.

    Raises:
        ValueError: wrong shapes (names both), NaN, a zero primal or condition.
        ConditionVanishedError: the primal lies in the span of the conditions (nothing is left).
    """
    p = _as_matrix(primal, "the primal direction")
    if isinstance(conditions, (list, tuple)):
        if not conditions:
            raise BadInputError("give at least one condition direction")
        conditions = torch.stack([torch.as_tensor(c).flatten() for c in conditions])
    c = _as_matrix(conditions, "the conditions")
    if p.ndim != 1:
        raise BadInputError(f"expected the primal direction of shape [D], got {list(p.shape)}")
    if c.ndim == 1:
        c = c[None]
    if c.ndim != 2 or c.shape[1] != p.shape[0]:
        raise BadInputError(f"expected conditions of shape [K, {p.shape[0]}] for a primal of shape [{p.shape[0]}], "
                         f"got {list(c.shape)}")  # fmt: skip
    if p.norm() == 0:
        raise BadInputError("the primal direction is zero")
    zero = (c.norm(dim=1) == 0).nonzero().flatten().tolist()
    if zero:
        raise BadInputError(f"condition(s) {zero} are zero vectors")
    coef = torch.linalg.lstsq(c.T, p[:, None], driver="gelsd").solution
    rest = p - (c.T @ coef)[:, 0]
    if rest.norm() <= VANISH_TOL * p.norm():
        raise ConditionVanishedError(
            f"the direction vanishes after removing the conditions (left {rest.norm().item():.2e} of norm "
            f"{p.norm().item():.3g}): it lies in their span, so no move changes it while keeping them fixed"
        )
    return (rest / rest.norm()).float()


@dataclass
class Boundary:
    """A trained attribute boundary.

    Attributes:
        normal: [D] unit normal, pointing towards higher scores.
        val_accuracy: accuracy on the held-out 30% of the chosen extremes.
        remaining_accuracy: accuracy on the samples between the extremes, labelled by the mid score.
        n_train, n_val: counts.
    """

    normal: torch.Tensor
    val_accuracy: float
    remaining_accuracy: float
    n_train: int
    n_val: int


def train_boundary(latents: torch.Tensor | np.ndarray, scores: torch.Tensor | np.ndarray, *, ratio: float = 0.02,
                   split: float = 0.7, C: float = 1.0, seed: int = 0) -> Boundary:  # fmt: skip
    """A linear SVM between the highest- and lowest-scoring samples (InterFaceGAN's boundary).

    Args:
        latents: [N, D] latent codes.
        scores: [N] (or [N, 1]) attribute scores, finite.
        ratio: fraction of N taken as positives, and as negatives (InterFaceGAN's ``chosen_num_or_ratio``).
        split: fraction of the chosen samples used for training (the rest validates).
        C: the SVM's regularisation.
        seed: shuffles the chosen samples.

    Raises:
        ValueError: wrong shapes, NaN, ratio outside (0, 0.5], too few samples per side, constant scores.
    """
    z = _as_matrix(latents, "latents").numpy()
    if z.ndim != 2:
        raise BadInputError(f"expected latents of shape [N, D], got {list(z.shape)}")
    s = checked_scores(scores, len(z), "scores").numpy().astype(np.float64)
    if not 0 < ratio <= 0.5:
        raise BadInputError(f"ratio must lie in (0, 0.5], got {ratio}")
    if not 0 < split < 1:
        raise BadInputError(f"split must lie in (0, 1), got {split}")
    k = int(np.ceil(ratio * len(z)))
    n_train = int(split * k)
    if n_train < 2 or k - n_train < 1:
        raise BadInputError(f"ratio {ratio} of {len(z)} samples leaves {k} per side; need at least 3 (more samples or a larger ratio)")
    order = np.argsort(s, kind="stable")
    pos, neg = order[::-1][:k], order[:k]
    if s[pos].min() <= s[neg].max():
        raise BadInputError("the scores do not separate: the top and bottom samples score the same (a constant attribute?)")
    rng = np.random.default_rng(seed)
    pos, neg = rng.permutation(pos), rng.permutation(neg)
    train = np.concatenate([pos[:n_train], neg[:n_train]])
    val = np.concatenate([pos[n_train:], neg[n_train:]])
    label = np.zeros(len(z), dtype=np.int64)
    label[pos] = 1
    svm = LinearSVC(C=C, max_iter=10_000).fit(z[train], label[train])
    middle = order[k:-k]
    rest_acc = float("nan")
    if len(middle):
        threshold = (s[order[k]] + s[order[-k - 1]]) / 2
        rest_acc = float(svm.score(z[middle], (s[middle] > threshold).astype(np.int64)))
    normal = torch.from_numpy(svm.coef_[0]).float()
    if normal.norm() == 0:
        raise BadInputError("the SVM found no boundary (zero normal)")
    return Boundary(normal / normal.norm(), float(svm.score(z[val], label[val])), rest_acc, len(train), len(val))


def score_latents(G, scorer: Callable[[torch.Tensor], torch.Tensor], seeds: Sequence[int], *, space: str = "z",
                  name: str = "", allow_nan: bool = False, batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Latents of ``seeds`` and the scores of their images: ``(z [n, D], scores [n])`` on the CPU.

    Raises:
        ScorerError: the scorer returned the wrong shape, non-numbers, infinities or (unless ``allow_nan``) NaN.
    """
    z = G.sample_latent(seeds, space)
    shape = G.latent_shape(space)
    parts = [torch.empty(0)]
    with torch.no_grad():
        for i in range(0, len(z), batch_size):
            images = G(z[i : i + batch_size].view(-1, *shape), space=space)
            parts.append(checked_scores(scorer(images), len(images), name or "scorer", allow_nan=allow_nan).cpu())
    return z, torch.cat(parts)


def interfacegan(G, scorer: Callable[[torch.Tensor], torch.Tensor], *, space: str = "z", n_samples: int = 10_000,
                 ratio: float = 0.02, conditions: Sequence[Direction | torch.Tensor] = (), name: str = "",
                 allow_nan: bool = False, seed: int = 0, batch_size: int = 500) -> Direction:  # fmt: skip
    """InterFaceGAN's direction for an attribute of ``G``'s images.

    Args:
        G: a generator.
        scorer: images [N, C, H, W] in [-1, 1] -> [N] scores (a meter from :mod:`latentnav.measure`, or
            a classifier you own).
        space: latent space.
        n_samples: latents sampled and scored (seeds ``seed ..``).
        ratio: see :func:`train_boundary`.
        conditions: directions to keep unchanged (conditional manipulation, :func:`project_orthogonal`).
        name: the attribute's name (recorded in the direction).
        allow_nan: drop samples whose score is NaN (meters: blank images) instead of refusing them.
        seed: first seed.
        batch_size: images scored per call.

    In a distributed run (:mod:`latentnav.distributed`) each rank scores its own block of the seeds and
    the scores are gathered; a scorer that fails on any rank stops every rank with its message.

    Returns:
        An uncalibrated :class:`Direction` (``method="interfacegan"``), towards higher scores.
    """
    mine = distributed.shard(range(seed, seed + n_samples))
    parts = distributed.exchange(lambda: score_latents(G, scorer, mine, space=space, name=name, allow_nan=allow_nan,
                                                       batch_size=batch_size))  # fmt: skip
    z, scores = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    ok = torch.isfinite(scores)
    boundary = train_boundary(z[ok], scores[ok], ratio=ratio, seed=seed)
    u = boundary.normal
    cond_names = []
    if conditions:
        rows = [c.u if isinstance(c, Direction) else torch.as_tensor(c).flatten() for c in conditions]
        u = project_orthogonal(u, rows)
        cond_names = [c.meta.get("attribute", c.transform) if isinstance(c, Direction) else "vector" for c in conditions]
    d = identity_direction(u, space, model=G.name, method="interfacegan")
    d.meta = {"attribute": name, "ratio": ratio, "n_samples": n_samples, "n_scored": int(ok.sum()), "seed": seed,
              "val_accuracy": boundary.val_accuracy, "remaining_accuracy": boundary.remaining_accuracy,
              "conditions": cond_names, "generator_evals": n_samples}  # fmt: skip
    return d


def candidates(G, *, space: str = "z", meter=None, scorer=None, scorer_name: str = "scorer", settings) -> Candidates:
    """InterFaceGAN behind the method registry's call (:class:`~latentnav.methods.Method`): one boundary normal,
    for a meter's attribute or a user scorer's."""
    if (meter is None) == (scorer is None):
        raise BadInputError("interfacegan needs the attribute to separate: give --attribute NAME (a meter) "
                             "or --scorer module:function, one of the two")  # fmt: skip
    fn, name = (meter.fn, meter.name) if meter is not None else (scorer, scorer_name)
    d = interfacegan(G, fn, space=space, n_samples=settings.samples, ratio=settings.ratio, conditions=settings.conditions,
                     name=name, allow_nan=meter is not None, seed=settings.seed)  # fmt: skip
    info = {"val_accuracy": d.meta["val_accuracy"], "remaining_accuracy": d.meta["remaining_accuracy"],
            "conditions": d.meta["conditions"]}  # fmt: skip
    return Candidates([d], f"boundary val. acc. {d.meta['val_accuracy']:.2f}", info)
