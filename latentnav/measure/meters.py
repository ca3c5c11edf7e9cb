"""Attribute meters computed from images alone.

Images follow the latentnav convention (NCHW float in [-1, 1]). Meters read the foreground as the
image's intensity above the background: ``w = clamp((x + 1) / 2, 0, 1)`` averaged over channels, so a
binary sprite counts its pixels and a soft VAE output counts its probability mass.

Positions are fractions of the image width/height (0 = left/top edge, 1 = right/bottom edge), the same
units as the shift transforms' ``t``; :func:`latentnav.testbed.dsprites.frac_to_pos` converts them to the
dSprites ``pos_x``/``pos_y`` factors.
"""

from __future__ import annotations

import importlib
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from latentnav.errors import AttributeNotMeasurableError, BadInputError, ScorerError, UnknownNameError

#: A meter maps images [N, C, H, W] in [-1, 1] to scores [N].
__all__ = ["BLANK_AREA", "foreground", "area", "log_scale", "is_blank", "centroid", "centroid_x", "centroid_y", "METERS", "brightness", "phase_shift", "grid_minimum", "transform_errors", "zoom_between", "rotation_between", "MIN_CHROMA", "hue", "wrap_degrees", "MeterSpec", "scale", "METER_SPECS", "TRANSFORM_ATTRIBUTE", "register_meter", "get_meter", "checked_scores", "scorer_meter", "load_scorer"]

BLANK_AREA = 1.0 / 4096  # less than one pixel of foreground in a 64x64 image


def _check(images: torch.Tensor) -> torch.Tensor:
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        got = list(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise BadInputError(f"expected images of shape [N, C, H, W], got {got}")
    return images.float()


def foreground(images: torch.Tensor) -> torch.Tensor:
    """Foreground weight per pixel, [N, H, W] in [0, 1]."""
    return ((_check(images) + 1) / 2).clamp(0, 1).mean(dim=1)


def area(images: torch.Tensor) -> torch.Tensor:
    """Foreground area as a fraction of the image, [N]."""
    return foreground(images).mean(dim=(1, 2))


def log_scale(images: torch.Tensor) -> torch.Tensor:
    """Half the log of the foreground area, [N]: changes by t under a zoom of log scale factor t."""
    return 0.5 * torch.log(area(images))


def is_blank(images: torch.Tensor, threshold: float = BLANK_AREA) -> torch.Tensor:
    """True for images with (almost) no foreground: area below ``threshold`` of the image, [N] bool."""
    return area(images) < threshold


def centroid(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Foreground centroid ``(x, y)`` as fractions of the width and height, each [N].

    NaN for blank images (:func:`is_blank`): the centroid of a few faint pixels is noise, not a position.
    """
    w = foreground(images)
    _, h, wd = w.shape
    xs = (torch.arange(wd, dtype=w.dtype, device=w.device) + 0.5) / wd
    ys = (torch.arange(h, dtype=w.dtype, device=w.device) + 0.5) / h
    mass = w.sum(dim=(1, 2))
    cx = (w.sum(dim=1) * xs).sum(dim=1) / mass
    cy = (w.sum(dim=2) * ys).sum(dim=1) / mass
    blank = (mass <= 0) | (mass / (h * wd) < BLANK_AREA)
    return cx.masked_fill(blank, float("nan")), cy.masked_fill(blank, float("nan"))


def centroid_x(images: torch.Tensor) -> torch.Tensor:
    """Centroid x as a fraction of the width, [N]."""
    return centroid(images)[0]


def centroid_y(images: torch.Tensor) -> torch.Tensor:
    """Centroid y as a fraction of the height (0 = top), [N]."""
    return centroid(images)[1]


#: Meters by name, for the CLI and the metrics (testbed factor names where they measure them); the
#: ``scale``, ``brightness`` and ``hue`` entries are added below, with each meter's unit in :data:`METER_SPECS`.
METERS = {
    "pos_x": centroid_x,
    "pos_y": centroid_y,
    "area": area,
    "log_scale": log_scale,
}


# ------------------------------------------------------------------ transform estimators between two images
def brightness(images: torch.Tensor) -> torch.Tensor:
    """Mean intensity over pixels and channels, [N] (in the [-1, 1] units of brightness's t)."""
    return _check(images).mean(dim=(1, 2, 3))


def phase_shift(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Translation that maps ``a`` onto ``b`` by phase correlation, as fractions of width and height.

    The normalised cross-power spectrum of the (channel-averaged, mean-removed, Hann-windowed) images
    peaks at the shift; the peak is refined to sub-pixel precision with a parabola through its
    neighbours. Positive x = content moved right, positive y = down (the shift transforms' convention).

    Returns:
        ``(dx, dy)``, each [N].
    """
    a, b = _check(a).mean(dim=1), _check(b).mean(dim=1)
    n, h, w = a.shape
    win = torch.outer(torch.hann_window(h, periodic=False, dtype=a.dtype), torch.hann_window(w, periodic=False, dtype=a.dtype))
    fa = torch.fft.fft2((a - a.mean(dim=(1, 2), keepdim=True)) * win)
    fb = torch.fft.fft2((b - b.mean(dim=(1, 2), keepdim=True)) * win)
    cross = fb * fa.conj()
    corr = torch.fft.ifft2(cross / cross.abs().clamp_min(1e-12)).real  # [N, H, W], peak at the shift
    flat = corr.reshape(n, -1).argmax(dim=1)
    py, px = flat // w, flat % w
    rows = torch.arange(n)

    def refine(get, p, size):
        c, l, r = get(p), get((p - 1) % size), get((p + 1) % size)
        denom = l - 2 * c + r
        off = torch.where(denom.abs() > 1e-12, 0.5 * (l - r) / denom, torch.zeros_like(c))
        s = p.to(a.dtype) + off.clamp(-0.5, 0.5)
        return torch.where(s > size / 2, s - size, s)

    sx = refine(lambda q: corr[rows, py, q], px, w)
    sy = refine(lambda q: corr[rows, q, px], py, h)
    return sx / w, sy / h


def grid_minimum(grid: torch.Tensor, err: torch.Tensor) -> torch.Tensor:
    """Per row, the grid value where ``err`` [N, S] is least, refined by a parabola through its neighbours, [N].

    ``grid`` [S] is evenly spaced; the refinement moves at most half a grid step, and none where a
    neighbour's error is not finite (candidates ruled out with ``inf``).
    """
    k = err.argmin(dim=1).clamp(1, len(grid) - 2)
    rows = torch.arange(len(k))
    l, c, r = err[rows, k - 1], err[rows, k], err[rows, k + 1]
    denom = l - 2 * c + r
    fit = (denom.abs() > 1e-12) & torch.isfinite(l) & torch.isfinite(r)
    off = torch.where(fit, 0.5 * (l - r) / torch.where(fit, denom, torch.ones_like(denom)), torch.zeros_like(c)).clamp(-0.5, 0.5)
    return grid.to(err)[k] + off * (grid[1] - grid[0]).to(err)


def transform_errors(source: torch.Tensor, target: torch.Tensor, fn, grid: torch.Tensor, loss=None) -> torch.Tensor:
    """How well each candidate ``fn(source, t)`` for t in ``grid`` [S] matches ``target``, [N, S].

    ``fn`` is a transform ``(images, t) -> (images, mask)``; ``loss(moved, target, mask)`` -> [N] compares over
    the pixels the transform keeps valid (default: :func:`latentnav.measure.losses.masked_mse`). With
    :func:`grid_minimum` this reads which transform maps one image onto another.
    """
    from latentnav.measure.losses import masked_mse

    loss = loss or masked_mse
    n = len(source)
    errs = []
    for t in grid.tolist():
        moved, mask = fn(source, torch.full((n,), t, dtype=source.dtype, device=source.device))
        errs.append(loss(moved, target, mask))
    return torch.stack(errs, dim=1)


def zoom_between(a: torch.Tensor, b: torch.Tensor, max_log_scale: float = 0.7, steps: int = 57) -> torch.Tensor:
    """Log scale factor that best maps ``a`` onto ``b`` (zoom about the centre), by a grid search, [N].

    Each candidate zoom of ``a`` is compared with ``b`` over the pixels the zoom keeps valid; the best
    candidate is refined with a parabola through its neighbours.
    """
    from latentnav.measure.transforms import zoom

    a, b = _check(a), _check(b)
    grid = torch.linspace(-max_log_scale, max_log_scale, steps, dtype=a.dtype)
    return grid_minimum(grid, transform_errors(a, b, zoom, grid))


def rotation_between(a: torch.Tensor, b: torch.Tensor, max_degrees: float = 45.0, steps: int = 91) -> torch.Tensor:
    """Rotation in degrees (counter-clockwise on screen, the ``rotate`` transform's sense) that best maps ``a``
    onto ``b``, by a grid search, [N].

    Each candidate rotation of ``a`` about the centre is compared with ``b`` over the pixels it keeps valid;
    the best candidate is refined with a parabola through its neighbours (as :func:`zoom_between`).
    """
    from latentnav.measure.transforms import rotate

    a, b = _check(a), _check(b)
    grid = torch.linspace(-max_degrees, max_degrees, steps, dtype=a.dtype)
    return grid_minimum(grid, transform_errors(a, b, rotate, grid))


# ------------------------------------------------------------------------------------------- colour
#: An orthonormal basis of the chroma plane (orthogonal to grey (1, 1, 1)); (E1, E2, grey) is right-handed,
#: so the ``hue`` transform (a rotation about grey by t degrees) adds t to :func:`hue`.
_E1 = torch.tensor([2.0, -1.0, -1.0]) / math.sqrt(6)
_E2 = torch.tensor([0.0, 1.0, -1.0]) / math.sqrt(2)
#: chroma (per pixel, in [0, 1] units) below which an image counts as grey and has no hue
MIN_CHROMA = 1e-3


def hue(images: torch.Tensor) -> torch.Tensor:
    """Mean hue in degrees, (-180, 180], [N] (NaN for grey or one-channel images without colour).

    The angle of the chroma-weighted mean colour in the plane orthogonal to grey (red at 0, green at
    120, blue at -120); it rises by t under the ``hue`` transform of t degrees.

    Raises:
        AttributeNotMeasurableError: images that are not RGB.
    """
    images = _check(images)
    if images.shape[1] != 3:
        raise AttributeNotMeasurableError(f"hue needs RGB images (3 channels), got {images.shape[1]} channel(s)")
    x = (images + 1) / 2
    a = torch.einsum("nchw,c->n", x, _E1.to(x)) / x[0, 0].numel()  # mean chroma coordinates per image
    b = torch.einsum("nchw,c->n", x, _E2.to(x)) / x[0, 0].numel()
    deg = torch.rad2deg(torch.atan2(b, a))
    return deg.masked_fill(torch.hypot(a, b) < MIN_CHROMA, float("nan"))


def wrap_degrees(d: torch.Tensor | np.ndarray):
    """Angles wrapped to (-180, 180] (differences of circular meters such as :func:`hue`)."""
    return 180 - (180 - d) % 360


# ------------------------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class MeterSpec:
    """A named meter and what it reads.

    Attributes:
        name: registry name (the testbed factor's name where it measures one).
        fn: images [N, C, H, W] in [-1, 1] -> [N] (NaN where the image has nothing to measure).
        unit: what one unit means (for changes: the matching transform's t unit).
        transform: the transform whose t this meter's changes measure, if any.
        channels: the channel count the meter needs (``None`` = any).
        circular: values are angles in degrees (changes are wrapped to (-180, 180]).
        resolution: the smallest change that counts as a change (finer differences are float noise);
            used to bin changes for the MI control metrics.
    """

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor]
    unit: str
    transform: str | None = None
    channels: int | None = None
    circular: bool = False
    resolution: float = 0.0

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return self.fn(images)

    def change(self, new, old):
        """The change from ``old`` to ``new`` readings (wrapped for circular meters)."""
        return wrap_degrees(new - old) if self.circular else new - old

    def check_applies(self, G) -> None:
        """Raise :class:`AttributeNotMeasurableError` if ``G``'s images cannot carry this attribute."""
        if self.channels is not None and G.img_channels != self.channels:
            raise AttributeNotMeasurableError(
                f"attribute {self.name!r} cannot be measured on {G.name}: it needs {self.channels}-channel images "
                f"and {G.name} makes {G.img_channels}-channel ones"
            )


def scale(images: torch.Tensor) -> torch.Tensor:
    """:func:`log_scale` where there is a sprite to measure, NaN for blank images (:func:`is_blank`), [N].

    The log of a vanishing area runs off to minus infinity; one blank image among many would otherwise
    decide a mean.
    """
    return log_scale(images).masked_fill(is_blank(images), float("nan"))


METER_SPECS: dict[str, MeterSpec] = {
    "pos_x": MeterSpec("pos_x", centroid_x, "fraction of width", "shift-x", resolution=1e-3),
    "pos_y": MeterSpec("pos_y", centroid_y, "fraction of height", "shift-y", resolution=1e-3),
    "scale": MeterSpec("scale", scale, "log of the linear size (half log area)", "zoom", resolution=1e-3),
    "area": MeterSpec("area", area, "fraction of the image", resolution=1e-4),
    "log_scale": MeterSpec("log_scale", log_scale, "log of the linear size (half log area)", "zoom", resolution=1e-3),
    "brightness": MeterSpec("brightness", brightness, "units of the [-1, 1] range", "brightness", resolution=1e-3),
    "hue": MeterSpec("hue", hue, "degrees", "hue", channels=3, circular=True, resolution=0.1),
}
METERS.update({name: spec.fn for name, spec in METER_SPECS.items() if name not in METERS})

#: the meter that reads each transform's t (the attribute a transform changes)
TRANSFORM_ATTRIBUTE: dict[str, str] = {"shift-x": "pos_x", "shift-y": "pos_y", "zoom": "scale",
                                       "zoom-object": "scale", "brightness": "brightness", "hue": "hue"}  # fmt: skip


def register_meter(name: str, fn: Callable[[torch.Tensor], torch.Tensor], *, unit: str, transform: str | None = None,
                   channels: int | None = None, circular: bool = False, resolution: float = 0.0) -> MeterSpec:
    """Add (or replace) a meter, so ``--attribute``, ``--target``, ``--against`` and ``compare`` find it by name.

    Args:
        name: its name.
        fn: images [N, C, H, W] in [-1, 1] -> [N] (NaN where an image has nothing to measure).
        unit, channels, circular, resolution: see :class:`MeterSpec`.
        transform: the transform whose t it reads (then ``--target TRANSFORM`` means this meter).
    """
    spec = MeterSpec(name, fn, unit, transform, channels, circular, resolution)
    METER_SPECS[name] = spec
    METERS[name] = fn
    if transform is not None:
        TRANSFORM_ATTRIBUTE[transform] = name
    return spec


def get_meter(name: str, G=None) -> MeterSpec:
    """The meter called ``name`` (a transform name is read as the attribute it changes), or a user scorer
    given as ``"module:function"`` (:func:`scorer_meter`).

    Raises:
        UnknownNameError: lists the known meters.
        AttributeNotMeasurableError: the meter does not apply to ``G``'s images (e.g. hue on one channel).
        ScorerError: a ``module:function`` that cannot be imported.
    """
    if ":" in name:
        return scorer_meter(name)
    name = TRANSFORM_ATTRIBUTE.get(name, name)
    if name not in METER_SPECS:
        raise UnknownNameError("attribute", name, list(METER_SPECS), " (or your own scorer as module:function)")
    spec = METER_SPECS[name]
    if G is not None:
        spec.check_applies(G)
    return spec


# ------------------------------------------------------------------------------------------- user scorers
def checked_scores(scores, n: int, name: str = "scorer", *, allow_nan: bool = False) -> torch.Tensor:
    """A scorer's output as a float32 [n] tensor on the CPU, or a one-line :class:`ScorerError`.

    Accepts [n] or [n, 1] tensors, arrays or lists. NaN is refused unless ``allow_nan`` (the built-in
    meters return NaN for images with nothing to measure); infinities are always refused.
    """
    if isinstance(scores, torch.Tensor):
        t = scores.detach().cpu()
    else:
        try:
            arr = np.asarray(scores)
        except (TypeError, ValueError) as err:
            raise ScorerError(f"{name} returned {type(scores).__name__}, not numbers: {err}") from None
        if arr.dtype.kind not in "fiu":
            raise ScorerError(f"{name} returned scores of dtype {arr.dtype}; expected numbers")
        t = torch.from_numpy(arr.astype(np.float64))
    if t.dtype == torch.bool or not (t.is_floating_point() or t.dtype in (torch.int32, torch.int64, torch.int16, torch.uint8)):
        raise ScorerError(f"{name} returned scores of dtype {t.dtype}; expected numbers")
    if t.ndim == 2 and t.shape[1] == 1:
        t = t[:, 0]
    if tuple(t.shape) != (n,):
        raise ScorerError(f"{name} returned scores of shape {list(t.shape)}; expected [{n}] (one score per image)")
    t = t.float()
    nan = torch.isnan(t)
    if torch.isinf(t).any() or (nan.any() and not allow_nan):
        bad = int((~torch.isfinite(t)).sum())
        raise ScorerError(f"{name} returned NaN or infinite scores for {bad} of {n} images")
    return t


def scorer_meter(spec: str) -> MeterSpec:
    """A user scorer ``"module:function"`` (:func:`load_scorer`) as a meter named ``spec``.

    Its scores are checked (:func:`checked_scores`: one finite score per image, NaN allowed for images with
    nothing to score); a scorer that returns a torch tensor keeps its gradient, so the corrector's meter re-fit
    can work through it (one that returns arrays needs ``--refit logistic``).
    """
    fn = load_scorer(spec)

    def read(images: torch.Tensor) -> torch.Tensor:
        scores = fn(images)
        checked = checked_scores(scores, len(images), spec, allow_nan=True)
        if isinstance(scores, torch.Tensor) and scores.requires_grad:
            return scores.reshape(len(images)).float()
        return checked

    return MeterSpec(spec, read, "scorer units")


def load_scorer(spec: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Import a user scorer ``"module:function"`` (a classifier you own: images [N, C, H, W] in [-1, 1] -> [N]).

    The module is imported from the current directory or the installed packages; latentnav runs it only
    because you named it.

    Raises:
        ScorerError: a malformed spec, a module that does not import, a missing or non-callable attribute.
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ScorerError(f"expected a scorer as module:function (e.g. my_scorers:smile), got {spec!r}")
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")
    try:
        module = importlib.import_module(module_name)
    except Exception as err:  # any import failure of user code is a one-line error
        raise ScorerError(f"cannot import scorer module {module_name!r}: {type(err).__name__}: {err}") from None
    fn = module
    for part in attr.split("."):
        if not hasattr(fn, part):
            raise ScorerError(f"scorer module {module_name!r} has no attribute {attr!r}")
        fn = getattr(fn, part)
    if not callable(fn):
        raise ScorerError(f"{spec} is not callable (a scorer maps images [N, C, H, W] to [N] scores)")

    def guarded(images: torch.Tensor):
        """The scorer, whose own failure is a one-line :class:`ScorerError` naming it (it is the user's code)."""
        try:
            return fn(images)
        except ScorerError:
            raise
        except Exception as err:  # noqa: BLE001 - any failure of user code is reported, not a latentnav bug
            first = str(err).splitlines()[0] if str(err) else ""
            raise ScorerError(f"scorer {spec} failed on {len(images)} images: {type(err).__name__}: {first}"[:300]) from None

    guarded.__name__ = getattr(fn, "__name__", spec)
    return guarded
