"""Attribute meters computed from images alone.

Images follow the latentnav convention (NCHW float in [-1, 1]). Meters read the foreground as the
image's intensity above the background: ``w = clamp((x + 1) / 2, 0, 1)`` averaged over channels, so a
binary sprite counts its pixels and a soft VAE output counts its probability mass.

Positions are fractions of the image width/height (0 = left/top edge, 1 = right/bottom edge), the same
units as the shift transforms' ``t``; :func:`latentnav.data.dsprites.frac_to_pos` converts them to the
dSprites ``pos_x``/``pos_y`` factors.
"""

from __future__ import annotations

import torch

#: A meter maps images [N, C, H, W] in [-1, 1] to scores [N].
BLANK_AREA = 1.0 / 4096  # less than one pixel of foreground in a 64x64 image


def _check(images: torch.Tensor) -> torch.Tensor:
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        got = list(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"expected images of shape [N, C, H, W], got {got}")
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
    """Foreground centroid ``(x, y)`` as fractions of the width and height, each [N] (NaN when blank)."""
    w = foreground(images)
    _, h, wd = w.shape
    xs = (torch.arange(wd, dtype=w.dtype, device=w.device) + 0.5) / wd
    ys = (torch.arange(h, dtype=w.dtype, device=w.device) + 0.5) / h
    mass = w.sum(dim=(1, 2))
    cx = (w.sum(dim=1) * xs).sum(dim=1) / mass
    cy = (w.sum(dim=2) * ys).sum(dim=1) / mass
    blank = mass <= 0
    return cx.masked_fill(blank, float("nan")), cy.masked_fill(blank, float("nan"))


def centroid_x(images: torch.Tensor) -> torch.Tensor:
    """Centroid x as a fraction of the width, [N]."""
    return centroid(images)[0]


def centroid_y(images: torch.Tensor) -> torch.Tensor:
    """Centroid y as a fraction of the height (0 = top), [N]."""
    return centroid(images)[1]


#: Meters by name, for the CLI and the metrics (testbed factor names where they measure them).
METERS = {
    "pos_x": centroid_x,
    "pos_y": centroid_y,
    "area": area,
    "log_scale": log_scale,
}
