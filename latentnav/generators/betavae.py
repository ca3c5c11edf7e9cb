"""beta-VAE for 64x64 images (Burgess et al. 2018 architecture) and its Generator adapter.

Encoder: 4 convolutions of 32 channels (4x4, stride 2) -> FC 256 -> FC 256 -> FC 2*z_dim (mean, log-variance).
Decoder: the mirror image with transposed convolutions, Bernoulli logits out. The Generator decodes
``z`` to the Bernoulli mean mapped to [-1, 1]; ``encode`` returns the posterior mean.

latentnav writes these models as safetensors whose metadata carries the constructor settings
(``z_dim``, ``img_channels``) and the training config.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from latentnav.errors import BadInputError
from latentnav.generators.base import (
    MAX_WIDTH,
    Generator,
    all_finite,
    check_int_settings,
    describe_settings,
    load_checked,
    read_header,  # fmt: skip
    save_weights,
)

ARCH = "betavae"
#: The :class:`BurgessVAE` settings a file may carry, and the values latentnav accepts for them.
LIMITS = {"z_dim": (1, MAX_WIDTH), "img_channels": (1, 4), "hidden": (1, MAX_WIDTH), "fc": (1, MAX_WIDTH)}


class BurgessVAE(nn.Module):
    """The Burgess et al. (2018) beta-VAE network for 64x64 inputs."""

    def __init__(self, z_dim: int = 10, img_channels: int = 1, hidden: int = 32, fc: int = 256) -> None:
        super().__init__()
        self.z_dim, self.img_channels, self.hidden = z_dim, img_channels, hidden

        def down(c_in: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, hidden, 4, 2, 1), nn.ReLU(inplace=True)]

        def up(c_out: int, last: bool = False) -> list[nn.Module]:
            return [nn.ConvTranspose2d(hidden, c_out, 4, 2, 1)] + ([] if last else [nn.ReLU(inplace=True)])

        self.encoder = nn.Sequential(
            *down(img_channels), *down(hidden), *down(hidden), *down(hidden), nn.Flatten(),
            nn.Linear(hidden * 16, fc), nn.ReLU(inplace=True), nn.Linear(fc, fc), nn.ReLU(inplace=True),
            nn.Linear(fc, 2 * z_dim),
        )  # fmt: skip
        # In-place ReLUs: the same values, one tensor fewer per layer (the decoder's forward+backward about 18% faster).
        self.decoder_fc = nn.Sequential(
            nn.Linear(z_dim, fc), nn.ReLU(inplace=True), nn.Linear(fc, fc), nn.ReLU(inplace=True),
            nn.Linear(fc, hidden * 16), nn.ReLU(inplace=True),
        )  # fmt: skip
        self.decoder_conv = nn.Sequential(*up(hidden), *up(hidden), *up(hidden), *up(img_channels, last=True))

    def encode(self, x01: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images in [0, 1] -> (mean, log-variance), each [N, z_dim]."""
        h = self.encoder(x01)
        return h[:, : self.z_dim], h[:, self.z_dim :]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latents [N, z_dim] -> Bernoulli logits [N, C, 64, 64]."""
        h = self.decoder_fc(z).view(-1, self.hidden, 4, 4)
        return self.decoder_conv(h)


class SubPixelConvTranspose2d(nn.ConvTranspose2d):
    """A ``ConvTranspose2d(kernel 4, stride 2, padding 1)`` computed as a 3x3 convolution to 4 phases per output
    channel followed by ``pixel_shuffle(2)``: the same map (to float rounding), the same parameters and state-dict keys.

    Each output pixel of such a layer at (2m + ry, 2n + rx) sees the inputs at rows m-1..m+1 (two of them) and
    columns n-1..n+1, through kernel taps fixed by its phase (ry, rx): row taps (3, 1, -) for ry = 0 and (-, 2, 0)
    for ry = 1, columns likewise. oneDNN runs a transposed convolution to one or three channels slowly on the CPU;
    as a convolution to 4 or 12 it is about 1.5x faster forward and backward (the beta-VAE's last layer).
    """

    #: Kernel taps per phase and offset (-1, 0, +1); 4 indexes the zero appended to the kernel.
    TAPS = torch.tensor([[3, 1, 4], [4, 2, 0]])

    @classmethod
    def like(cls, conv: nn.ConvTranspose2d) -> SubPixelConvTranspose2d:
        """A copy of ``conv`` (which must be kernel 4, stride 2, padding 1, no output padding, dilation or groups)."""
        same = (conv.kernel_size, conv.stride, conv.padding, conv.output_padding, conv.dilation, conv.groups)
        if same != ((4, 4), (2, 2), (1, 1), (0, 0), (1, 1), 1):
            raise ValueError(f"not a 4x4, stride-2, padding-1 transposed convolution: {conv}")
        new = cls(conv.in_channels, conv.out_channels, 4, 2, 1, bias=conv.bias is not None,
                  device=conv.weight.device, dtype=conv.weight.dtype)  # fmt: skip
        new.load_state_dict(conv.state_dict())
        return new.requires_grad_(conv.weight.requires_grad)

    def phase_weight(self) -> torch.Tensor:
        """The 3x3 kernels of the 4 phases, [out * 4, in, 3, 3] in ``pixel_shuffle``'s channel order."""
        w = F.pad(self.weight, (0, 1, 0, 1))  # [in, out, 5, 5]: index 4 is a zero tap
        taps = self.TAPS.to(w.device)
        k = w[:, :, taps[:, None, :, None], taps[None, :, None, :]]  # [in, out, ry, rx, 3, 3]
        return k.permute(1, 2, 3, 0, 4, 5).reshape(self.out_channels * 4, self.in_channels, 3, 3)

    def forward(self, x: torch.Tensor, output_size=None) -> torch.Tensor:
        if output_size is not None:
            return super().forward(x, output_size)
        bias = None if self.bias is None else self.bias.repeat_interleave(4)
        weight = self.phase_weight()
        if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last):
            weight = weight.contiguous(memory_format=torch.channels_last)  # oneDNN's fast path wants both alike
        return F.pixel_shuffle(F.conv2d(x, weight, bias, padding=1), 2)


class BetaVAEGenerator(Generator):
    """A trained :class:`BurgessVAE` behind the Generator contract (decoder = G, encoder = ``encode``)."""

    latent_spaces = ("z",)

    def __init__(self, net: BurgessVAE, *, name: str, device: str | torch.device = "auto", batch_size: int = 1024,
                 metadata: dict | None = None) -> None:  # fmt: skip
        super().__init__(name=name, z_dim=net.z_dim, img_resolution=64, img_channels=net.img_channels,
                         device=device, batch_size=batch_size)  # fmt: skip
        self.net = net.to(self.device).eval().requires_grad_(False)
        if self.device.type == "cpu":  # oneDNN's transposed convolutions run about 1.3-2x faster on NHWC weights here,
            self.net.to(memory_format=torch.channels_last)  # same images; codes equal to float rounding
            self.net.decoder_conv[-1] = SubPixelConvTranspose2d.like(self.net.decoder_conv[-1])  # about 1.5x faster
        self.metadata = metadata or {}

    def _synthesize(self, latent: torch.Tensor, space: str) -> torch.Tensor:
        return torch.sigmoid(self.net.decode(latent)) * 2 - 1

    # ------------------------------------------------------------- where the latent meets the network (SeFa, GANSpace)
    def latent_weight(self, space: str, layers=None) -> torch.Tensor:
        """The weight that first acts on a latent of ``space``, [out, D] (SeFa factorises it)."""
        return self.net.decoder_fc[0].weight  # the decoder's first linear layer

    def default_feature(self, space: str) -> str | None:
        """GANSpace's default feature: a module path in :attr:`net` (``None``: the latent itself)."""
        return "decoder_fc"  # the output of the FC stack

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Posterior mean of images.

        Args:
            images: [N, img_channels, 64, 64] in [-1, 1] (the convention ``G`` returns).

        Returns:
            [N, z_dim] float32 on :attr:`device`.
        """
        want = [self.img_channels, 64, 64]
        if not isinstance(images, torch.Tensor) or images.ndim != 4 or list(images.shape[1:]) != want:
            got = list(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
            raise BadInputError(f"expected images of shape [N, {', '.join(map(str, want))}], got {got}")
        if not all_finite(images):
            raise BadInputError(f"images to encode contain NaN or infinite values (shape {list(images.shape)})")
        images = images.to(self.device).float()
        outs = [self.net.encode((images[i : i + self.batch_size] + 1) / 2)[0] for i in range(0, len(images), self.batch_size)]
        return torch.cat(outs) if outs else torch.empty(0, self.z_dim, device=self.device)


def save(net: BurgessVAE, path: str | Path, metadata: dict | None = None) -> None:
    """Write a :class:`BurgessVAE` as safetensors with its settings in the metadata (atomic rename)."""
    save_weights(net.state_dict(), path, ARCH, {"z_dim": net.z_dim, "img_channels": net.img_channels}, metadata)


def load(path: str | Path, *, name: str | None = None, device: str | torch.device = "auto", **settings) -> BetaVAEGenerator:
    """Load a beta-VAE written by :func:`save` (a ``.safetensors`` file).

    The settings in the header are checked against the tensors' shapes before anything is allocated, and
    the tensors must be finite.

    Raises:
        WeightsNotFoundError: no such file.
        CheckpointError: not a readable latentnav betavae file, settings outside :data:`LIMITS` or that
            disagree with the tensors, a tensor that is not finite.
        BadInputError: an unknown or out-of-range setting given here.
    """
    path, meta, stored, layout = read_header(path, ARCH)
    batch_size = settings.pop("batch_size", 1024)
    unknown = set(settings) - {"z_dim", "img_channels"}
    if unknown:
        raise BadInputError(f"unknown betavae settings {sorted(unknown)}; known: batch_size, img_channels, z_dim")
    check_int_settings(str(path), stored, LIMITS)
    check_int_settings("betavae settings", settings, LIMITS, error=BadInputError)
    stored.update(settings)
    net = load_checked(path, lambda: BurgessVAE(**stored), layout, describe_settings(stored))
    return BetaVAEGenerator(net, name=name or str(path), device=device, batch_size=batch_size, metadata=meta)
