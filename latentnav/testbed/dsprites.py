"""A vectorized procedural dSprites renderer and factor samplers (the ground-truth testbed).

The factors are the public dSprites ones (deepmind/dsprites-dataset): ``shape`` (0 square, 1 ellipse,
2 heart), ``scale`` in [0.5, 1], ``orientation`` in [0, 2 pi], ``pos_x`` and ``pos_y`` in [0, 1].
Discrete dSprites grids are available through :data:`DSPRITES_VALUES`; continuous values render too.

Geometry (latentnav's own, chosen so every sprite stays inside the frame):

- the sprite's area centroid sits at ``(POS_LO + POS_SPAN * pos) * W`` pixels, so ``pos`` 0..1 spans
  the central 60% of the image and a change of ``pos_x`` by 1 moves the sprite by ``POS_SPAN`` of the
  width (:func:`pos_to_frac` and :func:`frac_to_pos` convert);
- every shape fits in a disc of radius ``SIZE * scale * W`` around its centroid;
- ``pos_y`` grows downwards (image row order), ``orientation`` turns counter-clockwise on screen.

Images follow the latentnav convention: float32 NCHW in [-1, 1], here binary (-1 background, +1 sprite).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from latentnav.errors import BadInputError

FACTORS: tuple[str, ...] = ("shape", "scale", "orientation", "pos_x", "pos_y")
SHAPES: tuple[str, ...] = ("square", "ellipse", "heart")
RESOLUTION = 64
POS_LO = 0.2
POS_SPAN = 0.6
SIZE = 0.16

#: The discrete values of the original dSprites grid, per factor.
DSPRITES_VALUES: dict[str, np.ndarray] = {
    "shape": np.arange(3, dtype=np.float64),
    "scale": np.linspace(0.5, 1.0, 6),
    "orientation": np.linspace(0.0, 2 * math.pi, 40),
    "pos_x": np.linspace(0.0, 1.0, 32),
    "pos_y": np.linspace(0.0, 1.0, 32),
}
#: The continuous range of each factor (shape is categorical: 0, 1, 2).
FACTOR_RANGES: dict[str, tuple[float, float]] = {
    "shape": (0.0, 2.0),
    "scale": (0.5, 1.0),
    "orientation": (0.0, 2 * math.pi),
    "pos_x": (0.0, 1.0),
    "pos_y": (0.0, 1.0),
}

# Heart: the curve (x^2 + y^2 - 1)^3 = x^2 y^3 (y up), moved so its area centroid is the origin
# (centroid y = 0.2935, measured on a 4001^2 grid) and shrunk so it fits the unit disc around it.
_HEART_CY = 0.2935
_HEART_R = 1.2935
_SQUARE_HALF = 0.7
_ELLIPSE_AXES = (1.0, 0.5)


def pos_to_frac(pos: torch.Tensor | float) -> torch.Tensor | float:
    """Map a ``pos_x``/``pos_y`` factor value to the centroid's position as a fraction of the width."""
    return POS_LO + POS_SPAN * pos


def frac_to_pos(frac: torch.Tensor | float) -> torch.Tensor | float:
    """Inverse of :func:`pos_to_frac`."""
    return (frac - POS_LO) / POS_SPAN


def _check_factors(factors: torch.Tensor) -> torch.Tensor:
    factors = torch.as_tensor(factors, dtype=torch.float32)
    if factors.ndim != 2 or factors.shape[1] != len(FACTORS):
        raise BadInputError(f"expected factors of shape [N, {len(FACTORS)}] ({', '.join(FACTORS)}), got {list(factors.shape)}")
    if not torch.isfinite(factors).all():
        raise BadInputError("factors contain NaN or infinite values")
    for k, name in enumerate(FACTORS):
        lo, hi = FACTOR_RANGES[name]
        col = factors[:, k]
        if name == "orientation":
            continue  # any angle is fine
        if (col < lo - 1e-6).any() or (col > hi + 1e-6).any():
            raise BadInputError(f"factor {name} must lie in [{lo}, {hi}], got values in [{col.min():.3g}, {col.max():.3g}]")
    return factors


def render(factors: torch.Tensor, resolution: int = RESOLUTION, antialias: int = 1) -> torch.Tensor:
    """Render sprites from factor values.

    Args:
        factors: [N, 5] float, columns in :data:`FACTORS` order. Shape is rounded to 0/1/2.
        resolution: image side in pixels (64 for dSprites).
        antialias: supersampling factor per axis (1 = binary images like dSprites).

    Returns:
        [N, 1, resolution, resolution] float32 in [-1, 1] (binary when ``antialias == 1``).
    """
    factors = _check_factors(factors)
    n = factors.shape[0]
    sub = resolution * antialias
    # Each sprite fits a disc of radius SIZE * scale * width around its centroid, so only a k x k window
    # around it is evaluated (8x fewer pixels than the whole frame) and then pasted into the canvas.
    k = math.ceil(2 * SIZE * sub) + 2
    shape = factors[:, 0].round().long()
    scale, theta = factors[:, 1], factors[:, 2]
    cx, cy = pos_to_frac(factors[:, 3]) * sub, pos_to_frac(factors[:, 4]) * sub  # centroid in sub-pixels
    ox = torch.floor(cx - k / 2).long().clamp(0, sub - k)
    oy = torch.floor(cy - k / 2).long().clamp(0, sub - k)
    offs = torch.arange(k)
    dx = ((ox[:, None] + offs + 0.5) - cx[:, None])[:, None, :]  # [N, 1, k], pixel centres
    dy = ((oy[:, None] + offs + 0.5) - cy[:, None])[:, :, None]  # [N, k, 1]
    radius = (SIZE * sub * scale)[:, None, None]
    cos, sin = torch.cos(theta)[:, None, None], torch.sin(theta)[:, None, None]
    # Rotate the sampling grid by -theta (screen y points down, so this turns the sprite counter-clockwise).
    u = (cos * dx - sin * dy) / radius
    v = (sin * dx + cos * dy) / radius
    inside = torch.zeros(n, k, k, dtype=torch.bool)
    for s_idx, fn in enumerate((_square, _ellipse, _heart)):
        rows = shape == s_idx
        if rows.any():
            inside[rows] = fn(u[rows], v[rows])
    canvas = torch.zeros(n, sub * sub)
    index = ((oy[:, None] + offs)[:, :, None] * sub + (ox[:, None] + offs)[:, None, :]).reshape(n, -1)
    canvas.scatter_(1, index, inside.reshape(n, -1).float())
    img = canvas.view(n, sub, sub)
    if antialias > 1:
        img = torch.nn.functional.avg_pool2d(img[:, None], antialias)[:, 0]
    return (img * 2 - 1)[:, None]


def _square(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return torch.maximum(u.abs(), v.abs()) <= _SQUARE_HALF


def _ellipse(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    a, b = _ELLIPSE_AXES
    return (u / a) ** 2 + (v / b) ** 2 <= 1


def _heart(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    x = u * _HEART_R
    y = -v * _HEART_R + _HEART_CY  # screen v points down, the curve's y points up
    return (x * x + y * y - 1) ** 3 - x * x * y**3 <= 0


@dataclass(frozen=True)
class Correlation:
    """Couple two factors with a target Pearson correlation ``rho`` (Gaussian copula, marginals kept).

    Parse ``"pos_x:pos_y:0.8"`` with :meth:`parse`.
    """

    a: str
    b: str
    rho: float

    def __post_init__(self) -> None:
        for name in (self.a, self.b):
            if name not in FACTORS or name == "shape":
                known = ", ".join(f for f in FACTORS if f != "shape")
                raise BadInputError(f"cannot correlate unknown or categorical factor {name!r}; known: {known}")
        if self.a == self.b:
            raise BadInputError(f"a factor cannot be correlated with itself ({self.a})")
        if not (-1.0 < self.rho < 1.0):
            raise BadInputError(f"correlation rho must satisfy |rho| < 1, got {self.rho}")

    @classmethod
    def parse(cls, text: str) -> "Correlation":
        """Parse ``"A:B:RHO"``, e.g. ``"pos_x:pos_y:0.8"``."""
        parts = text.split(":")
        if len(parts) != 3:
            raise BadInputError(f"expected a correlation as FACTOR:FACTOR:RHO (e.g. pos_x:pos_y:0.8), got {text!r}")
        try:
            rho = float(parts[2])
        except ValueError:
            raise BadInputError(f"correlation rho must be a number, got {parts[2]!r}") from None
        return cls(parts[0], parts[1], rho)

    @property
    def copula_rho(self) -> float:
        """Normal-copula correlation that gives Pearson ``rho`` between two uniform marginals."""
        return 2.0 * math.sin(math.pi * self.rho / 6.0)


def sample_factors(
    n: int,
    generator: torch.Generator | None = None,
    correlate: Correlation | None = None,
    discrete: bool = False,
) -> torch.Tensor:
    """Draw factor values, independent uniform or with one pair of factors correlated.

    Args:
        n: number of samples.
        generator: source of randomness (a seeded ``torch.Generator``); ``None`` uses a fresh one seeded 0.
        correlate: optional :class:`Correlation` between two continuous factors. Their marginals stay
            uniform; their Pearson correlation is ``rho`` (exactly for continuous values).
        discrete: snap every factor to the original dSprites grid (:data:`DSPRITES_VALUES`).

    Returns:
        [n, 5] float32 factor values in :data:`FACTORS` order.
    """
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    u = torch.rand(n, len(FACTORS), generator=generator, dtype=torch.float64)
    if correlate is not None:
        ia, ib = FACTORS.index(correlate.a), FACTORS.index(correlate.b)
        r = correlate.copula_rho
        g = torch.randn(n, 2, generator=generator, dtype=torch.float64)
        g1, g2 = g[:, 0], r * g[:, 0] + math.sqrt(1 - r * r) * g[:, 1]
        normal = torch.distributions.Normal(0.0, 1.0)
        u[:, ia], u[:, ib] = normal.cdf(g1), normal.cdf(g2)
    out = torch.empty(n, len(FACTORS), dtype=torch.float64)
    for k, name in enumerate(FACTORS):
        lo, hi = FACTOR_RANGES[name]
        if name == "shape":
            out[:, k] = torch.clamp((u[:, k] * 3).floor(), max=2)
        elif discrete:
            values = torch.as_tensor(DSPRITES_VALUES[name])
            idx = torch.clamp((u[:, k] * len(values)).floor().long(), max=len(values) - 1)
            out[:, k] = values[idx]
        else:
            out[:, k] = lo + (hi - lo) * u[:, k]
    return out.float()


def sample(
    n: int,
    generator: torch.Generator | None = None,
    correlate: Correlation | None = None,
    discrete: bool = False,
    resolution: int = RESOLUTION,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw factors with :func:`sample_factors` and render them.

    Returns:
        ``(images, factors)``: [n, 1, R, R] float32 in [-1, 1] and [n, 5] float32.
    """
    factors = sample_factors(n, generator, correlate, discrete)
    return render(factors, resolution), factors


# ------------------------------------------------------------------------------------------- colour dSprites
#: Colour dSprites adds a categorical ``colour`` factor: the sprite is painted in one of six fully
#: saturated hues, 60 degrees apart (red at 0), on a black background.
COLOURS: tuple[tuple[float, float, float], ...] = (
    (1.0, 0.0, 0.0), (1.0, 1.0, 0.0), (0.0, 1.0, 0.0), (0.0, 1.0, 1.0), (0.0, 0.0, 1.0), (1.0, 0.0, 1.0),
)  # fmt: skip
COLOUR_NAMES: tuple[str, ...] = ("red", "yellow", "green", "cyan", "blue", "magenta")
#: Factors of colour dSprites: the dSprites ones, then ``colour`` (index into :data:`COLOURS`).
COLOUR_FACTORS: tuple[str, ...] = FACTORS + ("colour",)
#: Categorical factors and their number of values.
CATEGORICAL: dict[str, int] = {"shape": len(SHAPES), "colour": len(COLOURS)}


def colourize(images: torch.Tensor, colour: torch.Tensor) -> torch.Tensor:
    """Paint one-channel sprites ([N, 1, R, R] in [-1, 1]) in the palette colours ``colour`` ([N] indices).

    Returns:
        [N, 3, R, R] float32 in [-1, 1]; the background stays black (-1).
    """
    rgb = torch.tensor(COLOURS)[colour.long()]  # [N, 3]
    mask = (images + 1) / 2
    return mask * rgb[:, :, None, None] * 2 - 1


def sample_coloured(n: int, generator: torch.Generator | None = None, resolution: int = RESOLUTION) -> tuple[torch.Tensor, torch.Tensor]:
    """Colour dSprites: independent uniform factors, colour uniform over :data:`COLOURS`.

    Returns:
        ``(images, factors)``: [n, 3, R, R] float32 in [-1, 1] and [n, 6] float32 (:data:`COLOUR_FACTORS` order).
    """
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    factors = sample_factors(n, generator)
    colour = torch.randint(len(COLOURS), (n,), generator=generator)
    images = colourize(render(factors, resolution), colour)
    return images, torch.cat([factors, colour[:, None].float()], dim=1)
