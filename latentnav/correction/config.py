"""The corrector's settings (``latentnav correct`` flags map one to one onto :class:`CorrectConfig`)."""

from __future__ import annotations

from dataclasses import dataclass

from latentnav.errors import BadInputError

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
