"""DCGAN generators (the PyTorch-tutorial layout) and their Generator adapter.

Layout (``main.N`` keys): ConvTranspose(z_dim -> 8 ngf, k4 s1 p0) at 4x4, then up-blocks of
ConvTranspose(k4 s2 p1) halving the channels, each followed by BatchNorm + ReLU, and a last
ConvTranspose to ``img_channels`` + tanh; no biases. 64x64 output has 4 up-steps: ``main.0`` (z -> 512),
``main.3`` (-> 256), ``main.6`` (-> 128), ``main.9`` (-> 64), ``main.12`` (-> 3) for ngf 64.

Files read: torch files loaded with ``weights_only=True`` holding a state dict or
``{"netG_state_dict": ...}`` (gan-face-generate), ``model.*`` keys (huggan/dcgan-mnist) renamed to
``main.*``, and safetensors.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import torch
from torch import nn

from latentnav.errors import BadInputError, CheckpointError
from latentnav.generators.base import (
    MAX_WIDTH,
    Generator,
    check_int_settings,
    describe_settings,
    layout_of,
    load_checked,  # fmt: skip
    read_safetensors,
    read_torch_file,
    require_file,
)

ARCH = "dcgan"
#: What latentnav accepts for the settings read off a file's shapes.
LIMITS = {"z_dim": (1, MAX_WIDTH), "ngf": (1, MAX_WIDTH), "img_channels": (1, 4), "img_resolution": (8, 4096)}


class DCGAN(nn.Module):
    """A DCGAN generator: z [N, z_dim, 1, 1] -> images [N, img_channels, R, R] in [-1, 1] (tanh)."""

    def __init__(self, z_dim: int = 100, ngf: int = 64, img_channels: int = 3, img_resolution: int = 64) -> None:
        super().__init__()
        ups = int(round(math.log2(img_resolution))) - 2  # 4x4 start, then doubling
        if ups < 1 or 4 * 2**ups != img_resolution:
            raise BadInputError(f"DCGAN needs a power-of-two resolution >= 8, got {img_resolution}")
        self.z_dim, self.img_channels, self.img_resolution = z_dim, img_channels, img_resolution
        widths = [ngf * 2 ** (ups - 1 - k) for k in range(ups)]  # e.g. 512, 256, 128, 64
        layers: list[nn.Module] = [nn.ConvTranspose2d(z_dim, widths[0], 4, 1, 0, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU(True)]
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(widths[-1], img_channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z[:, :, None, None])


class DCGANGenerator(Generator):
    """A :class:`DCGAN` behind the Generator contract (standard normal prior, eval-mode batch norm)."""

    latent_spaces = ("z",)

    def __init__(self, net: DCGAN, *, name: str, device: str | torch.device = "auto", batch_size: int = 256) -> None:
        super().__init__(name=name, z_dim=net.z_dim, img_resolution=net.img_resolution, img_channels=net.img_channels,
                         device=device, batch_size=batch_size)  # fmt: skip
        self.net = net.to(self.device).eval().requires_grad_(False)

    def _synthesize(self, latent: torch.Tensor, space: str) -> torch.Tensor:
        return self.net(latent)

    # ------------------------------------------------------------- where the latent meets the network (SeFa, GANSpace)
    def latent_weight(self, space: str, layers=None) -> torch.Tensor:
        """The weight that first acts on a latent of ``space``, [out, D] (SeFa factorises it)."""
        return self.net.main[0].weight.flatten(1).T  # ConvTranspose2d(z_dim, C, 4): [z_dim, C, 4, 4], linear in z

    def default_feature(self, space: str) -> str | None:
        """GANSpace's default feature: a module path in :attr:`net` (``None``: the latent itself)."""
        return "main.2"  # after batch norm and ReLU


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The generator's tensors from a torch file (``weights_only=True``) or safetensors, keys ``main.*``.

    Raises:
        WeightsNotFoundError: no such file.
        CheckpointError: an unreadable file, or one that holds no state dict of tensors.
    """
    path = require_file(path)
    if path.suffix == ".safetensors":
        state = read_safetensors(path)
    else:
        state = read_torch_file(path)
        if isinstance(state, dict) and "netG_state_dict" in state:
            state = state["netG_state_dict"]
    if not isinstance(state, dict) or not state or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                           for k, v in state.items()):  # fmt: skip
        raise CheckpointError(f"{path.name}: expected a state dict of tensors (or {{'netG_state_dict': ...}})")
    return {("main." + k[len("model."):] if k.startswith("model.") else k): v for k, v in state.items()}


def infer_settings(state: dict[str, torch.Tensor]) -> dict[str, int]:
    """z_dim, ngf, img_channels and img_resolution from the weight shapes.

    Raises:
        CheckpointError: not a DCGAN generator state dict.
    """
    layers = [(re.fullmatch(r"main\.(\d+)\.weight", k), v) for k, v in state.items()]
    convs = sorted((int(match.group(1)), v) for match, v in layers if match and v.ndim == 4)
    if not convs or not all(k.startswith("main.") for k in state):
        sample = ", ".join(list(state)[:3])
        raise CheckpointError(f"not a DCGAN generator state dict: expected keys main.N.weight, got {sample} ...")
    first, last = convs[0][1], convs[-1][1]
    return {"z_dim": first.shape[0], "ngf": last.shape[0], "img_channels": last.shape[1], "img_resolution": 4 * 2 ** (len(convs) - 1)}


def load(path: str | Path, *, name: str | None = None, device: str | torch.device = "auto", **settings) -> DCGANGenerator:
    """Load a DCGAN generator file (see module docstring); settings not given are read off the shapes.

    The settings read off the shapes must build a network whose every tensor has the file's shape (checked
    before anything is allocated), and the tensors must be finite.

    Raises:
        WeightsNotFoundError: no such file.
        CheckpointError: an unreadable file, not the DCGAN layout, a tensor that is not finite.
        BadInputError: an unknown setting, or one that contradicts the weights.
    """
    state = read_state_dict(path)
    path = Path(path)
    batch_size = settings.pop("batch_size", 256)
    try:
        inferred = infer_settings(state)
    except CheckpointError as err:
        raise CheckpointError(f"{path.name}: {err}") from None
    unknown = set(settings) - set(inferred)
    if unknown:
        raise BadInputError(f"unknown dcgan settings {sorted(unknown)}; known: batch_size, {', '.join(sorted(inferred))}")
    clash = {k: (v, inferred[k]) for k, v in settings.items() if v != inferred[k]}
    if clash:
        k, (asked, found) = next(iter(clash.items()))
        raise BadInputError(f"{path.name}: {k}={asked} was asked but the weights say {k}={found}")
    check_int_settings(f"{path.name} (settings read off its shapes)", inferred, LIMITS)
    described = f"{describe_settings(inferred)} (read off its shapes)"
    net = load_checked(path, lambda: DCGAN(**inferred), layout_of(state), described, tensors=state)
    return DCGANGenerator(net, name=name or str(path), device=device, batch_size=batch_size)
