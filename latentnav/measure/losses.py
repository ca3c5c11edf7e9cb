"""Image losses for trajectory fitting: the Fourier-weighted texture loss and masked MSE.

Both return one value per image ([N]) so callers can follow convergence per trajectory, and both are
means over the valid pixels (mask sum times channels).
"""

from __future__ import annotations

import functools
import math

import torch

from latentnav.errors import BadInputError


def default_sigma(resolution: int) -> float:
    """Low-pass width in pixels: 3 px at 128 px (the reference code), scaled with the resolution."""
    return 3.0 * resolution / 128.0


def _check(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if a.shape != b.shape or a.ndim != 4:
        raise BadInputError(f"expected two image batches of the same shape [N, C, H, W], got {list(a.shape)} and {list(b.shape)}")
    if mask is None:
        return torch.ones_like(a[:, :1])
    if mask.ndim != 4 or mask.shape[0] != a.shape[0] or mask.shape[2:] != a.shape[2:] or mask.shape[1] not in (1, a.shape[1]):
        raise BadInputError(f"expected a mask of shape [N, 1 or C, H, W] matching {list(a.shape)}, got {list(mask.shape)}")
    return mask


def _valid_count(mask: torch.Tensor, channels: int) -> torch.Tensor:
    per = mask.sum(dim=(1, 2, 3))
    return (per * (channels if mask.shape[1] == 1 else 1)).clamp_min(1.0)


def masked_mse(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error over valid pixels, [N]."""
    mask = _check(a, b, mask)
    return ((a - b) ** 2 * mask).sum(dim=(1, 2, 3)) / _valid_count(mask, a.shape[1])


def gaussian_transfer(height: int, width: int, sigma: float, device=None, dtype=torch.float32) -> torch.Tensor:
    """The Gaussian's transfer function exp(-2 pi^2 sigma^2 (fx^2 + fy^2)) on an ``rfft2`` grid, [H, W//2+1]."""
    fy = torch.fft.fftfreq(height, device=device, dtype=dtype)
    fx = torch.fft.rfftfreq(width, device=device, dtype=dtype)
    return torch.exp(-2 * math.pi**2 * sigma**2 * (fy[:, None] ** 2 + fx[None, :] ** 2))


@functools.lru_cache(maxsize=32)
def _energy_weights(height: int, width: int, sigma: float, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Weights [height, width//2+1, 1] on an ``rfft2`` spectrum seen as (real, imaginary) pairs (``width`` even)
    whose weighted sum of squares is the spatial energy of the Gaussian-filtered signal (Parseval): the squared
    transfer function, columns that stand for two of the full spectrum counted twice, divided by the number of
    samples."""
    with torch.inference_mode(False):  # a plain tensor even when first asked for under inference mode
        columns = torch.full((width // 2 + 1,), 2.0, dtype=dtype, device=device)
        columns[0] = columns[-1] = 1.0  # the zero and Nyquist columns have no mirror image
        weights = gaussian_transfer(height, width, sigma, device, dtype) ** 2 * columns / (height * width)
        return weights[..., None]  # against the real and imaginary parts alike


def fourier_texture_loss(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None, sigma: float | None = None) -> torch.Tensor:
    """Plumerault et al. (2020): ``|| F{I1 - I2} . F{g_sigma} ||^2``, a Gaussian low-pass of the difference.

    The masked difference is zero-padded to twice its size before ``rfft2``, so the filtering equals a
    linear convolution with a Gaussian of ``sigma`` pixels and a zero boundary (no wrap-around). The
    energy of the filtered difference is summed in the frequency domain (Parseval: the same value as in the
    spatial domain, without an inverse transform) and divided by the number of valid pixels.

    Args:
        a, b: [N, C, H, W] images.
        mask: [N, 1 or C, H, W], 1 = compare, 0 = ignore (``None``: every pixel).
        sigma: Gaussian width in pixels (default :func:`default_sigma` of the image height).

    Returns:
        [N] losses.
    """
    mask = _check(a, b, mask)
    sigma = default_sigma(a.shape[-1]) if sigma is None else sigma
    if not sigma > 0:
        raise BadInputError(f"sigma must be > 0 pixels, got {sigma}")
    h, w = a.shape[-2:]
    diff = (a - b) * mask
    spec = torch.view_as_real(torch.fft.rfft2(diff, s=(2 * h, 2 * w)))
    energy = (spec.square() * _energy_weights(2 * h, 2 * w, float(sigma), a.device, a.dtype)).sum(dim=(1, 2, 3, 4))
    return energy / _valid_count(mask, a.shape[1])
