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


def zoom_between(a: torch.Tensor, b: torch.Tensor, max_log_scale: float = 0.7, steps: int = 57) -> torch.Tensor:
    """Log scale factor that best maps ``a`` onto ``b`` (zoom about the centre), by a grid search, [N].

    Each candidate zoom of ``a`` is compared with ``b`` over the pixels the zoom keeps valid; the best
    candidate is refined with a parabola through its neighbours.
    """
    from latentnav.transforms import zoom

    a, b = _check(a), _check(b)
    grid = torch.linspace(-max_log_scale, max_log_scale, steps, dtype=a.dtype)
    errs = []
    for s in grid:
        z, mask = zoom(a, float(s))
        errs.append((((z - b) ** 2) * mask).sum(dim=(1, 2, 3)) / (mask.sum(dim=(1, 2, 3)) * a.shape[1]).clamp_min(1))
    err = torch.stack(errs, dim=1)  # [N, S]
    k = err.argmin(dim=1).clamp(1, steps - 2)
    rows = torch.arange(len(k))
    l, c, r = err[rows, k - 1], err[rows, k], err[rows, k + 1]
    denom = l - 2 * c + r
    off = torch.where(denom.abs() > 1e-12, 0.5 * (l - r) / denom, torch.zeros_like(c)).clamp(-0.5, 0.5)
    return grid[k] + off * (grid[1] - grid[0])
