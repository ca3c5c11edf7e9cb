import math

import pytest
import torch
import torch.nn.functional as F

from latentnav.measure.losses import default_sigma, fourier_texture_loss, gaussian_transfer, masked_mse


def blurred_squared_error(a, b, mask, sigma):
    """Independent reference: the masked difference convolved in space with the same Gaussian.

    The kernel is the inverse FFT of the loss's Gaussian transfer function on a grid twice the image size,
    i.e. exactly the (periodically sampled) Gaussian the loss applies; convolving with zero padding over
    the full output equals the loss's zero-padded FFT filtering.
    """
    n, c, h, w = a.shape
    kernel = torch.fft.irfft2(gaussian_transfer(2 * h, 2 * w, sigma, dtype=torch.float64), s=(2 * h, 2 * w))
    kernel = torch.fft.fftshift(kernel)  # centre at (h, w)
    diff = ((a - b) * mask).double().reshape(n * c, 1, h, w)
    padded = F.pad(diff, (w, w, h, h))  # room for the whole linear convolution
    out = F.conv2d(padded, kernel.flip(0, 1)[None, None], padding=(h, w))[..., : 3 * h, : 3 * w]
    # keep the 2h x 2w window the FFT covers (the rest is numerically zero for sigma << h)
    energy = (out**2).reshape(n, c, -1).sum(dim=(1, 2))
    return energy / (mask.sum(dim=(1, 2, 3)) * c)


def test_fourier_loss_equals_the_spatially_blurred_squared_error():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.rand(2, 3, 24, 24, generator=gen), torch.rand(2, 3, 24, 24, generator=gen)
    mask = torch.ones(2, 1, 24, 24)
    mask[:, :, :, :5] = 0
    for sigma in (1.0, 2.5):
        got = fourier_texture_loss(a, b, mask, sigma=sigma).double()
        ref = blurred_squared_error(a, b, mask, sigma)
        assert torch.allclose(got, ref, rtol=1e-3), (sigma, got, ref)


def test_fourier_loss_equals_the_padded_spectrum_energy_on_non_square_images():
    """The matrix-product form against the definition: the energy of the zero-padded difference's ``rfft2``
    weighted by the squared Gaussian transfer (Parseval), in float64, on a non-square image with a per-channel
    mask; gradients included."""
    gen = torch.Generator().manual_seed(1)
    a = torch.rand(3, 2, 20, 28, generator=gen, dtype=torch.float64, requires_grad=True)
    b = torch.rand(3, 2, 20, 28, generator=gen, dtype=torch.float64)
    mask = (torch.rand(3, 2, 20, 28, generator=gen) > 0.3).double()

    def spectrum_energy(a):
        spec = torch.fft.rfft2((a - b) * mask, s=(40, 56))
        weight = gaussian_transfer(40, 56, 1.7, dtype=torch.float64) ** 2
        full = weight * spec.abs() ** 2
        energy = full.sum(dim=(1, 2, 3)) * 2 - full[..., 0].sum(dim=(1, 2)) - full[..., -1].sum(dim=(1, 2))
        return energy / (40 * 56) / mask.sum(dim=(1, 2, 3))

    got, want = fourier_texture_loss(a, b, mask, sigma=1.7), spectrum_energy(a)
    assert torch.allclose(got, want, rtol=1e-10)
    (g_got,) = torch.autograd.grad(got.sum(), a)
    (g_want,) = torch.autograd.grad(want.sum(), a)
    assert torch.allclose(g_got, g_want, rtol=1e-8, atol=1e-14)


def test_fourier_loss_is_a_low_pass_mse():
    """A slowly varying difference passes; a checkerboard (Nyquist) difference is filtered out."""
    h = 32
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(h), indexing="ij")
    smooth = torch.cos(2 * math.pi * xx / h)[None, None].float() * 0.5
    checker = ((xx + yy) % 2 * 2 - 1)[None, None].float() * 0.5
    zero = torch.zeros_like(smooth)
    sigma = 1.5
    assert fourier_texture_loss(smooth, zero, sigma=sigma).item() > 0.5 * masked_mse(smooth, zero).item()
    assert fourier_texture_loss(checker, zero, sigma=sigma).item() < 1e-4 * masked_mse(checker, zero).item()


def test_fourier_loss_ignores_masked_pixels_and_is_zero_for_equal_images():
    gen = torch.Generator().manual_seed(1)
    a = torch.rand(3, 1, 16, 16, generator=gen)
    b = torch.rand(3, 1, 16, 16, generator=gen)
    mask = (torch.rand(3, 1, 16, 16, generator=gen) > 0.3).float()
    changed = b + (1 - mask) * 5.0  # differs only where the mask is 0
    assert torch.allclose(fourier_texture_loss(a, b, mask), fourier_texture_loss(a, changed, mask))
    assert torch.allclose(masked_mse(a, b, mask), masked_mse(a, changed, mask))
    assert fourier_texture_loss(a, a).abs().max() < 1e-10
    assert fourier_texture_loss(a, b, mask).shape == (3,)


def test_masked_mse_known_value_and_sigma_checks():
    a = torch.zeros(1, 2, 2, 2)
    b = torch.ones(1, 2, 2, 2)
    mask = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])
    b[0, :, 0, 0] = 3.0
    assert masked_mse(a, b, mask).item() == pytest.approx(9.0)
    assert default_sigma(128) == 3.0 and default_sigma(64) == 1.5
    with pytest.raises(ValueError, match="sigma must be > 0"):
        fourier_texture_loss(a, b, sigma=0.0)
    with pytest.raises(ValueError, match="same shape"):
        fourier_texture_loss(a, torch.zeros(1, 2, 3, 3))
