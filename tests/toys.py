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


class PlantedGenerator(Generator):
    """A blob read off a first linear layer with planted structure (for SeFa, GANSpace and InterFaceGAN).

    ``net.first`` (Linear D -> 48, no bias): rows 0..31 are unit vectors close to ``u_x``, rows 32..47
    close to ``u_y`` (each plus a small random part orthogonal to both). The blob's x centre is
    ``0.5 + 0.25 tanh(mean of features 0..31)``, y likewise from features 32..47. So ``u_x`` is at once the
    top eigenvector of A^T A (SeFa), the top principal axis of the features (GANSpace), the direction
    that moves the blob right (trajectory) and the normal of the "blob is right" boundary (InterFaceGAN).
    """

    def __init__(self, z_dim: int = 6, resolution: int = 32, seed: int = 0, noise: float = 0.25) -> None:
        super().__init__(name="toy-planted", z_dim=z_dim, img_resolution=resolution, img_channels=1, device="cpu")
        gen = torch.Generator().manual_seed(seed)
        basis, _ = torch.linalg.qr(torch.randn(z_dim, z_dim, generator=gen))
        self.u_x, self.u_y = basis[:, 0].contiguous(), basis[:, 1].contiguous()
        rest = basis[:, 2:]
        rows = [self.u_x] * 32 + [self.u_y] * 16
        weight = torch.stack([r + noise * rest @ torch.randn(z_dim - 2, generator=gen) / (z_dim - 2) ** 0.5 for r in rows])
        self.net = torch.nn.Module()
        self.net.first = torch.nn.Linear(z_dim, len(rows), bias=False)
        with torch.no_grad():
            self.net.first.weight.copy_(weight / weight.norm(dim=1, keepdim=True))
        self.net.requires_grad_(False)
        grid = (torch.arange(resolution, dtype=torch.float32) + 0.5) / resolution
        self.gy, self.gx = torch.meshgrid(grid, grid, indexing="ij")

    def latent_weight(self, space, layers=None):
        return self.net.first.weight

    def _synthesize(self, latent: torch.Tensor, space: str) -> torch.Tensor:
        h = self.net.first(latent)
        cx = 0.5 + 0.25 * torch.tanh(h[:, :32].mean(dim=1))
        cy = 0.5 + 0.25 * torch.tanh(h[:, 32:].mean(dim=1))
        d2 = (self.gx - cx[:, None, None]) ** 2 + (self.gy - cy[:, None, None]) ** 2
        return (torch.sigmoid((0.12**2 - d2) / 0.002) * 2 - 1)[:, None]


class LayeredBlobGenerator(Generator):
    """A blob whose x lives in W+ layers 0-1 and y in layers 2-3, correlated through the mapping.

    z [4] -> w+ [4 layers, 2]: layers 0-1 = (a, z2), layers 2-3 = (b, z3) with a = z0 and
    b = rho z0 + sqrt(1 - rho^2) z1, so samples keep x and y correlated by about ``rho``. The blob's x centre is
    ``0.5 + 0.25 tanh(mean of w[0:2, 0])``, y likewise from ``w[2:4, 0]``: in W+, x and y have layers of their
    own (what StyleGAN2's layer mixing relies on), in z they share z0.
    """

    latent_spaces = ("z", "w+")

    def __init__(self, rho: float = 0.8, resolution: int = 32) -> None:
        super().__init__(name="toy-layered", z_dim=4, img_resolution=resolution, img_channels=1, device="cpu")
        self.rho = rho
        grid = (torch.arange(resolution, dtype=torch.float32) + 0.5) / resolution
        self.gy, self.gx = torch.meshgrid(grid, grid, indexing="ij")

    def latent_shape(self, space: str = "z") -> tuple[int, ...]:
        self._check_space(space)
        return (4,) if space == "z" else (4, 2)

    def to_w(self, z: torch.Tensor) -> torch.Tensor:
        a, b = z[:, 0], self.rho * z[:, 0] + (1 - self.rho**2) ** 0.5 * z[:, 1]
        first, second = torch.stack([a, z[:, 2]], 1), torch.stack([b, z[:, 3]], 1)
        return torch.stack([first, first, second, second], 1)

    def sample_latent(self, seeds, space: str = "z") -> torch.Tensor:
        z = self.sample_z(seeds=seeds)
        return z if space == "z" else self.to_w(z).flatten(1)

    def _synthesize(self, latent: torch.Tensor, space: str) -> torch.Tensor:
        ws = self.to_w(latent) if space == "z" else latent
        cx = 0.5 + 0.25 * torch.tanh(ws[:, 0:2, 0].mean(1))
        cy = 0.5 + 0.25 * torch.tanh(ws[:, 2:4, 0].mean(1))
        d2 = (self.gx - cx[:, None, None]) ** 2 + (self.gy - cy[:, None, None]) ** 2
        return (torch.sigmoid((0.12**2 - d2) / 0.002) * 2 - 1)[:, None]


class SizedBlobGenerator(BlobGenerator):
    """:class:`BlobGenerator` whose radius also follows a third planted direction ``u_s``:
    radius = 0.12 exp(0.3 tanh(<z, u_s>))."""

    def __init__(self, z_dim: int = 6, resolution: int = 32, seed: int = 0) -> None:
        super().__init__(z_dim=z_dim, resolution=resolution, seed=seed)
        gen = torch.Generator().manual_seed(seed)
        basis, _ = torch.linalg.qr(torch.randn(z_dim, z_dim, generator=gen))
        self.u_s = basis[:, 2].contiguous()

    def _synthesize(self, latent: torch.Tensor, space: str) -> torch.Tensor:
        cx, cy = self.centre(latent)
        r = 0.12 * torch.exp(0.3 * torch.tanh(latent @ self.u_s))
        d2 = (self.gx - cx[:, None, None]) ** 2 + (self.gy - cy[:, None, None]) ** 2
        blob = torch.sigmoid((r[:, None, None] ** 2 - d2) / 0.002)
        return (blob * 2 - 1)[:, None]
