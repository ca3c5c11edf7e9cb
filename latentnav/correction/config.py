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
            minutes); every other fit in docs/correct.md stopped by itself in 4-16. Each iteration renders every fitted latent
            twice with gradients (about 0.9 s on 400 latents on two cores, the re-fit's whole cost).
        fit_optimizer: ``"adam"`` (minibatches of 128 latents, the leakage plus a penalty below ``fit_keep`` and a
            small reward for A's change) or ``"slsqp"`` (scipy's SLSQP on all the latents at once: the leakage
            alone, subject to keeping ``fit_keep``).
        fit_keep: the meter re-fit keeps at least this fraction of the base direction's A change per unit
            step (a floor against a direction that barely moves A, not a target: the corrected direction is
            calibrated, so a user asks for A in its units and the report gives the latent distance it takes; less
            leakage costs some of it: on ``bvae-dsprites-corr`` the directions that leak no more
            than the unbiased model's keep about 0.075 of the width per unit step, 51-66% of the four methods'
            base directions). The fit starts from InterFaceGAN's projection when that keeps at least this
            much, else from the nearest mix of projection and base direction that does (SLSQP) or from the base
            direction (Adam).
        layers: W+ layers to synthesize by mixing (StyleGAN2's ``"w+"`` space only): each low-density sample
            takes these layers from a donor whose A is the wanted one and keeps its own others (where B lives)
            instead of the linear move; ``None``: the linear move.
        fit_latents: the meter re-fit fits on at most this many latents (:func:`~latentnav.correction.steps.fit_set`:
            the kept inversions, up to half, and scored latents to fill; 0: all of them). Each SLSQP iteration
            renders every one of them twice with gradients, so this sets the re-fit's time.
        hold_others: the meter re-fit also holds the further attributes the report reads (``correct(also=...)``;
            by default the testbed's attributes ``G`` carries, e.g. the sprite's scale when correcting x against y),
            so that holding B does not push the change into them: each one's change per unit of A's must stay
            within the base direction's plus ``hold_margin`` (in absolute value, on the fitted latents).
        hold_margin: see ``hold_others``.
        seed: first seed.
        batch_size: images inverted together (one optimisation batch).
    """

    n_samples: int = 2000
    n_low: int = 300
    offset: float = 1.0
    invert_steps: int = 20
    invert_lr: float = 0.05
    keep: float = 0.5
    max_weight: float = 20.0
    refit: str = "meters"
    fit_steps: int = 150
    fit_iterations: int = 20
    fit_keep: float = 0.25
    fit_optimizer: str = "slsqp"
    layers: tuple[int, ...] | None = None
    fit_latents: int = 400
    hold_others: bool = True
    hold_margin: float = 0.15
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
        if min(self.fit_steps, self.fit_iterations, self.fit_latents) < 0:
            raise BadInputError(f"fit_steps, fit_iterations and fit_latents must be >= 0, got {self.fit_steps}, "
                                f"{self.fit_iterations}, {self.fit_latents}")  # fmt: skip
        if not self.hold_margin >= 0:
            raise BadInputError(f"hold_margin must be >= 0, got {self.hold_margin}")
        if not 0 <= self.fit_keep <= 1:
            raise BadInputError(f"fit_keep must lie in [0, 1], got {self.fit_keep}")
        if self.layers is not None:
            object.__setattr__(self, "layers", tuple(int(k) for k in self.layers))
            if not self.layers or min(self.layers) < 0:
                raise BadInputError(f"layers must be W+ layer indices >= 0, got {list(self.layers)}")
