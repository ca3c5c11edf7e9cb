"""The trajectory method's settings: ``TrajectoryConfig`` (the CLI's flags map one to one onto its fields).

Light on purpose (no torch): the command line reads its defaults from here when it starts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from latentnav.errors import BadInputError

SCHEDULES = ("default", "paper")


CALIBRATIONS = ("trajectories", "achieved", "matched")


@dataclass(frozen=True)
class TrajectoryConfig:
    """Settings of a trajectory run (CLI flags map onto these fields).

    Attributes:
        n_trajectories: number of starting latents z0 (seeds ``seed .. seed + n - 1``).
        max_t: largest |t| followed (defaults to the transform's ``default_max_t``).
        n_steps: targets per sign, evenly spaced in (0, max_t].
        lr: Adam learning rate on z.
        max_iters: iteration cap per target.
        tol: relative loss improvement over ``patience`` iterations below which a latent has converged.
        patience: iterations over which the improvement is measured.
        reset_optimizer: start the optimiser afresh at every target (the reference code does).
        optimizer: ``"row-adam"`` (one step size per latent, steps stay parallel to the gradient; see
            :class:`RowAdam`) or ``"adam"`` (torch's coordinate-wise Adam, as the reference code).
        sigma: low-pass width in pixels of the Fourier loss (default: 3 px at 128 px, scaled).
        loss: ``"fourier"`` or ``"mse"``.
        batch_size: trajectories per batch (both signs run together); ``None`` = all at once.
        drop_worst: fraction of fits (highest final loss) dropped before fitting a direction.
        prior_radius: keep latents inside the generator's prior ball (``G.prior_radius(space)``: ||z|| <=
            sqrt(d) for a standard normal z) by projecting after each update; spaces without a prior
            (StyleGAN2's W, W+) are never projected.
        seed: first seed of z0.
        calibration: how g is fitted once u is known: ``"trajectories"`` fits g on the
            trajectory rows (paper eq. 6) with the requested t; ``"achieved"`` (the default) fits it on the same rows with
            the t each fit actually reached, re-read by matching ``G(z_t)`` against ``T_t(G(z0))`` over a
            grid of t (the same loss; no labels), so fits that fell short, where the generator saturates,
            do not steepen g; ``"matched"`` renders ``G(z0 + delta u)`` for a few starts and
            offsets and reads t as the transform of ``G(z0)`` it matches best (same loss, a 1-D search over
            t), so g describes moving along u itself. It is biased when moving along u only approximates
            the transform (a sprite that grows in place matches a zoom about the frame centre at a smaller
            t, so g comes out too flat); see docs/discover.md for measured figures.
        calibration_starts: starts used by the matched calibration (the first trajectories' z0).
        calibration_offsets: offsets along u per start, spread over the range the trajectories moved.
        schedule: ``"default"`` or ``"paper"`` (see module docstring; it overrides the other fields).
    """

    n_trajectories: int = 64
    max_t: float | None = None
    n_steps: int = 4
    lr: float = 0.05
    max_iters: int = 15
    tol: float = 0.01
    patience: int = 3
    reset_optimizer: bool = False
    optimizer: str = "row-adam"
    sigma: float | None = None
    loss: str = "fourier"
    batch_size: int | None = None
    drop_worst: float = 0.1
    prior_radius: bool = True
    seed: int = 0
    calibration: str = "achieved"
    calibration_starts: int = 32
    calibration_offsets: int = 12
    schedule: str = "default"

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise BadInputError(f"unknown schedule {self.schedule!r}; known: {', '.join(SCHEDULES)}")
        if self.loss not in ("fourier", "mse"):
            raise BadInputError(f"unknown loss {self.loss!r}; known: fourier, mse")
        if self.optimizer not in ("row-adam", "adam"):
            raise BadInputError(f"unknown optimizer {self.optimizer!r}; known: row-adam, adam")
        if self.sigma is not None and not self.sigma > 0:
            raise BadInputError(f"sigma must be > 0 pixels, got {self.sigma}")
        if self.max_t is not None and not self.max_t > 0:
            raise BadInputError(f"max_t must be > 0, got {self.max_t}")
        if min(self.n_trajectories, self.n_steps, self.max_iters, self.patience) < 1 or not self.lr > 0:
            raise BadInputError("n_trajectories, n_steps, max_iters and patience must be >= 1 and lr > 0")
        if self.calibration not in CALIBRATIONS:
            raise BadInputError(f"unknown calibration {self.calibration!r}; known: {', '.join(CALIBRATIONS)}")
        if min(self.calibration_starts, self.calibration_offsets) < 1:
            raise BadInputError("calibration_starts and calibration_offsets must be >= 1")
        if not 0 <= self.drop_worst < 1:
            raise BadInputError(f"drop_worst must lie in [0, 1), got {self.drop_worst}")

    def resolved(self) -> "TrajectoryConfig":
        """The settings actually used: ``schedule="paper"`` replaces the optimiser settings."""
        if self.schedule == "paper":
            return replace(self, n_trajectories=50, n_steps=5, lr=0.01, max_iters=50, tol=0.0,
                           reset_optimizer=True, batch_size=10, optimizer="adam", calibration="trajectories")  # fmt: skip
        return self


def config_dict(config: TrajectoryConfig) -> dict:
    """The resolved settings as a JSON-ready dict."""
    return asdict(config.resolved())
