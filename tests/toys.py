"""Toy generators with planted answers for the discovery tests."""

import math

import torch

from latentnav.generators.base import Generator


class BlobGenerator(Generator):
    """A soft disc whose centre follows two planted latent directions.

    x centre = 0.5 + 0.25 tanh(<z, u_x>), y centre = 0.5 + 0.25 tanh(<z, u_y>) (fractions of the width);
    the other latent directions change nothing. Images in [-1, 1], 1 channel.
    """

    def __init__(self, z_dim: int = 6, resolution: int = 32, seed: int = 0) -> None:
        super().__init__(name="toy-blob", z_dim=z_dim, img_resolution=resolution, img_channels=1, device="cpu")
        gen = torch.Generator().manual_seed(seed)
        basis, _ = torch.linalg.qr(torch.randn(z_dim, z_dim, generator=gen))
        self.u_x, self.u_y = basis[:, 0].contiguous(), basis[:, 1].contiguous()
        grid = (torch.arange(resolution, dtype=torch.float32) + 0.5) / resolution
        self.gy, self.gx = torch.meshgrid(grid, grid, indexing="ij")

    def centre(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return 0.5 + 0.25 * torch.tanh(z @ self.u_x), 0.5 + 0.25 * torch.tanh(z @ self.u_y)

    def _synthesize(self, latent: torch.Tensor, space: str) -> torch.Tensor:
        cx, cy = self.centre(latent)
        d2 = (self.gx - cx[:, None, None]) ** 2 + (self.gy - cy[:, None, None]) ** 2
        blob = torch.sigmoid((0.12**2 - d2) / 0.002)
        return (blob * 2 - 1)[:, None]


def atanh_calibration(frac_shift: float, start: float) -> float:
    """Latent projection that puts the planted x centre at ``start + frac_shift``."""
    return math.atanh((start + frac_shift - 0.5) / 0.25)
