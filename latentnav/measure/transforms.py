"""Differentiable, batched image transforms T_t with validity masks.

Every transform takes images [N, C, H, W] in [-1, 1] and ``t`` (a float, or a tensor [N] with one value
per image) and returns ``(images, mask)``; ``mask`` is [N, 1, H, W] with 1 where the pixel is valid and
0 where its source lay outside the frame (such pixels are never compared). Gradients flow through the
images. Conventions:

- ``shift-x`` / ``shift-y``: t = fraction of the width / height; positive moves content right / down;
- ``zoom``: t = natural log of the scale factor about the centre; positive makes content bigger;
- ``zoom-object``: the same scale factor about each image's content centre (the centroid of its difference
  from the border colour), so an off-centre object grows in place instead of also moving outwards;
- ``rotate``: t in degrees, positive turns content counter-clockwise on screen;
- ``brightness``: adds t (units of the [-1, 1] range); not clamped, so gradients never die;
- RGB only: ``contrast`` (t = log factor about each image's mean) and ``hue`` (t in degrees, a rotation
  of the colour about the grey axis, which is linear in RGB).

Register your own with :func:`register_transform`, or pass any callable ``(images, t) -> (images, mask)``
where a transform is expected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from latentnav.errors import BadInputError, UnknownNameError

TransformFn = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def _per_image(t: torch.Tensor | float, images: torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(t, dtype=images.dtype, device=images.device)
    return t.expand(images.shape[0]) if t.ndim == 0 else t


def _warp(images: torch.Tensor, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample ``images`` at ``theta @ [x, y, 1]`` (normalised output coordinates) with a validity mask.

    Where every image has the same ``theta`` (one t for the whole batch, as in a read-back's candidates) and no
    gradient flows to it, the sampling grid and the mask are made once and shared: the same values, without
    the per-image grid that otherwise costs as much as the sampling itself."""
    n = images.shape[0]
    shared = n > 1 and not theta.requires_grad and bool((theta == theta[:1]).all())
    size = [1 if shared else n, *images.shape[1:]]
    grid = F.affine_grid(theta[:1] if shared else theta, size, align_corners=False)
    ones = torch.ones_like(images[: size[0], :1])
    mask = F.grid_sample(ones, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if shared:
        grid, mask = grid.expand(n, *grid.shape[1:]), mask.expand(n, *mask.shape[1:])
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out, (mask > 0.999).to(images.dtype)


def _affine(images: torch.Tensor, a11, a12, a21, a22, b1, b2) -> tuple[torch.Tensor, torch.Tensor]:
    theta = torch.stack([torch.stack([a11, a12, b1], -1), torch.stack([a21, a22, b2], -1)], -2)
    return _warp(images, theta)


def shift_x(images: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Move content right by t of the width."""
    t = _per_image(t, images)
    one, zero = torch.ones_like(t), torch.zeros_like(t)
    return _affine(images, one, zero, zero, one, -2 * t, zero)


def shift_y(images: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Move content down by t of the height."""
    t = _per_image(t, images)
    one, zero = torch.ones_like(t), torch.zeros_like(t)
    return _affine(images, one, zero, zero, one, zero, -2 * t)


def zoom(images: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale content by exp(t) about the image centre."""
    t = _per_image(t, images)
    s, zero = torch.exp(-t), torch.zeros_like(t)
    return _affine(images, s, zero, zero, s, zero, zero)


def content_centre(images: torch.Tensor, min_weight: float = 1e-3) -> torch.Tensor:
    """Centroid of each image's difference from its border colour, [N, 2] (x, y in normalised coordinates).

    The border colour is the per-channel median of the outermost pixels; the weight of a pixel is its
    absolute difference from it summed over channels. Images with (almost) no content, total weight below
    ``min_weight`` per pixel, get the frame centre (0, 0). No gradient flows through the centre.
    """
    images = images.detach()
    n, c, h, w = images.shape
    border = torch.cat([images[..., 0, :], images[..., -1, :], images[..., :, 0], images[..., :, -1]], -1)
    weight = (images - border.median(-1).values[..., None, None]).abs().sum(1)  # [N, H, W]
    xs = (2 * torch.arange(w, dtype=images.dtype, device=images.device) + 1) / w - 1
    ys = (2 * torch.arange(h, dtype=images.dtype, device=images.device) + 1) / h - 1
    total = weight.sum((1, 2))
    cx = (weight.sum(1) * xs).sum(1) / total.clamp_min(1e-12)
    cy = (weight.sum(2) * ys).sum(1) / total.clamp_min(1e-12)
    centre = torch.stack([cx, cy], 1)
    return torch.where((total > min_weight * h * w)[:, None], centre, torch.zeros_like(centre))


def zoom_object(images: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale content by exp(t) about each image's content centre (:func:`content_centre`)."""
    t = _per_image(t, images)
    s, zero = torch.exp(-t), torch.zeros_like(t)
    centre = content_centre(images)
    return _affine(images, s, zero, zero, s, centre[:, 0] * (1 - s), centre[:, 1] * (1 - s))


def rotate(images: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Turn content counter-clockwise on screen by t degrees about the centre (square images)."""
    t = _per_image(t, images)
    a, zero = torch.deg2rad(t), torch.zeros_like(t)
    # Output pixel (x, y) samples the source at R(-a) (x, y) in screen coordinates (y down), so the content
    # turns counter-clockwise as seen on screen.
    c, s = torch.cos(a), torch.sin(a)
    return _affine(images, c, -s, s, c, zero, zero)


def brightness(images: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Add t to every pixel (unclamped)."""
    t = _per_image(t, images)
    return images + t[:, None, None, None], torch.ones_like(images[:, :1])


def _require_rgb(images: torch.Tensor, name: str) -> None:
    if images.shape[1] != 3:
        raise BadInputError(f"{name} needs RGB images (3 channels), got {images.shape[1]} channel(s)")


def contrast(images: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale each image's deviation from its mean by exp(t)."""
    _require_rgb(images, "contrast")
    t = _per_image(t, images)
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    return mean + torch.exp(t)[:, None, None, None] * (images - mean), torch.ones_like(images[:, :1])


def hue(images: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate colours by t degrees about the grey axis (1, 1, 1) (Rodrigues' rotation, linear in RGB)."""
    _require_rgb(images, "hue")
    t = _per_image(t, images)
    a = torch.deg2rad(t)
    c, s = torch.cos(a)[:, None, None], torch.sin(a)[:, None, None]
    k = torch.full((3,), 1 / math.sqrt(3), dtype=images.dtype, device=images.device)
    cross = torch.tensor([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]], dtype=images.dtype, device=images.device)
    cross = cross / math.sqrt(3)
    outer = torch.outer(k, k)
    eye = torch.eye(3, dtype=images.dtype, device=images.device)
    rot = c * eye + s * cross + (1 - c) * outer  # [N, 3, 3]
    return torch.einsum("nij,njhw->nihw", rot, images), torch.ones_like(images[:, :1])


@dataclass(frozen=True)
class Transform:
    """A named transform with its default range (used by discovery) and its hard limit.

    Attributes:
        name: registry name.
        fn: ``(images, t) -> (images, mask)``.
        default_max_t: the largest |t| discovery follows by default.
        max_t: |t| beyond which the transform makes no sense and t is refused.
        unit: what t measures.
        rgb_only: needs 3-channel images.
    """

    name: str
    fn: TransformFn
    default_max_t: float
    max_t: float = math.inf
    unit: str = ""
    rgb_only: bool = False

    def check_t(self, t: torch.Tensor | float) -> None:
        """Raise ValueError when t is not finite or outside [-max_t, max_t]."""
        tt = torch.as_tensor(t, dtype=torch.float32)
        if not torch.isfinite(tt).all():
            raise BadInputError(f"{self.name}: t must be finite")
        if tt.numel() and tt.abs().max().item() > self.max_t:
            raise BadInputError(f"{self.name}: t={tt.abs().max().item():.4g} is outside [-{self.max_t:.4g}, "
                             f"{self.max_t:.4g}] ({self.unit})")  # fmt: skip

    def __call__(self, images: torch.Tensor, t: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(images, torch.Tensor) or images.ndim != 4 or not images.is_floating_point():
            got = list(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
            raise BadInputError(f"{self.name}: expected float images of shape [N, C, H, W], got {got}")
        self.check_t(t)
        tt = torch.as_tensor(t, dtype=images.dtype, device=images.device)
        if tt.ndim == 1 and tt.shape[0] != images.shape[0]:
            raise BadInputError(f"{self.name}: expected t as a number or of shape [{images.shape[0]}], got {list(tt.shape)}")
        if self.rgb_only:
            _require_rgb(images, self.name)
        out = self.fn(images, tt)
        if not (isinstance(out, tuple) and len(out) == 2 and all(isinstance(x, torch.Tensor) for x in out)
                and out[0].shape == images.shape):  # fmt: skip
            raise BadInputError(f"transform {self.name!r} must return (images of shape {list(images.shape)}, mask "
                                f"[N, 1, H, W]), got {type(out).__name__}")  # fmt: skip
        return out


TRANSFORMS: dict[str, Transform] = {
    "shift-x": Transform("shift-x", shift_x, 0.2, 0.999, "fraction of width"),
    "shift-y": Transform("shift-y", shift_y, 0.2, 0.999, "fraction of height"),
    "zoom": Transform("zoom", zoom, 0.4, math.log(4), "log of the scale factor"),
    "zoom-object": Transform("zoom-object", zoom_object, 0.4, math.log(4), "log of the scale factor"),
    "rotate": Transform("rotate", rotate, 45.0, 180.0, "degrees"),
    "brightness": Transform("brightness", brightness, 0.5, 2.0, "units of the [-1, 1] range"),
    "contrast": Transform("contrast", contrast, 0.5, math.log(8), "log of the contrast factor", rgb_only=True),
    "hue": Transform("hue", hue, 60.0, 360.0, "degrees", rgb_only=True),
}


def register_transform(name: str, fn: TransformFn, *, default_max_t: float, max_t: float = math.inf,
                       unit: str = "", rgb_only: bool = False) -> Transform:  # fmt: skip
    """Add a transform to :data:`TRANSFORMS` (so the CLI and ``discover`` find it by name)."""
    tf = Transform(name, fn, default_max_t, max_t, unit, rgb_only)
    TRANSFORMS[name] = tf
    return tf


def get_transform(transform: str | Transform | TransformFn) -> Transform:
    """A :class:`Transform` from a name, a Transform, or a user callable ``(images, t) -> (images, mask)``."""
    if isinstance(transform, Transform):
        return transform
    if isinstance(transform, str):
        if transform not in TRANSFORMS:
            raise UnknownNameError("transform", transform, list(TRANSFORMS))
        return TRANSFORMS[transform]
    if callable(transform):
        return Transform(getattr(transform, "__name__", "custom"), transform, default_max_t=1.0)
    raise BadInputError(f"expected a transform name, a Transform or a callable, got {type(transform).__name__}")
