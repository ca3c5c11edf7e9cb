"""Two-code VAE (after Tang et al. 2021): z1 for the complementary factors, z2 for the specified ones.

The network is the Burgess et al. beta-VAE (:class:`~latentnav.generators.betavae.BurgessVAE`) whose
code is split as ``z = [z1, z2]`` (``z1_dim`` then ``z2_dim`` coordinates), plus a linear head that
reads the specified factor from z2 (class logits for a categorical factor, one value for a continuous
one). Training (``latentnav/train/cmivae.py``) adds lower bounds of I(x; z2 | z1) and I(x; z1 | z2) to
the ELBO; docs/cmivae.md derives them.

As a Generator it is a beta-VAE with ``z_dim = z1_dim + z2_dim`` in one latent space ``z``, so
``discover``, ``evaluate`` and ``correct`` run on it unchanged; :meth:`CMIVAEGenerator.swap` exchanges
one code between images (controllable synthesis).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from latentnav.errors import BadInputError
from latentnav.generators import betavae
from latentnav.generators.base import (
    MAX_WIDTH,
    check_int_settings,
    describe_settings,
    load_checked,
    read_header,
    save_weights,
)

ARCH = "cmivae"
#: The :class:`CMIVAE` settings a file carries, and the values latentnav accepts for them.
LIMITS = {"z1_dim": (1, MAX_WIDTH), "z2_dim": (1, MAX_WIDTH), "img_channels": (1, 4), "label_classes": (0, MAX_WIDTH)}


class CMIVAE(nn.Module):
    """A :class:`BurgessVAE` with a split code and a head reading the specified factor from z2."""

    def __init__(self, z1_dim: int = 8, z2_dim: int = 3, img_channels: int = 3, label_classes: int = 6) -> None:
        """
        Args:
            z1_dim: coordinates of the complementary code z1.
            z2_dim: coordinates of the specified code z2.
            img_channels: image channels.
            label_classes: values of a categorical specified factor, or 0 for a continuous one.
        """
        super().__init__()
        if z1_dim < 1 or z2_dim < 1 or label_classes < 0:
            raise BadInputError(f"expected z1_dim, z2_dim >= 1 and label_classes >= 0, got {z1_dim}, {z2_dim}, {label_classes}")
        self.z1_dim, self.z2_dim, self.label_classes = z1_dim, z2_dim, label_classes
        self.vae = betavae.BurgessVAE(z_dim=z1_dim + z2_dim, img_channels=img_channels)
        self.head = nn.Linear(z2_dim, max(label_classes, 1))

    def settings(self) -> dict[str, int]:
        """The constructor arguments (stored in the file's metadata)."""
        return {"z1_dim": self.z1_dim, "z2_dim": self.z2_dim, "img_channels": self.vae.img_channels,
                "label_classes": self.label_classes}  # fmt: skip


class CMIVAEGenerator(betavae.BetaVAEGenerator):
    """A trained :class:`CMIVAE` behind the Generator contract: ``G(z)`` with ``z = [z1, z2]``."""

    def __init__(self, model: CMIVAE, *, name: str, device: str | torch.device = "auto", batch_size: int = 1024,
                 metadata: dict | None = None) -> None:  # fmt: skip
        super().__init__(model.vae, name=name, device=device, batch_size=batch_size, metadata=metadata)
        self.model = model.to(self.device).eval().requires_grad_(False)
        self.z1_dim, self.z2_dim = model.z1_dim, model.z2_dim
        self.specified = (metadata or {}).get("specified", "")

    def split(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``z`` [N, z_dim] -> (z1 [N, z1_dim], z2 [N, z2_dim])."""
        z = self.check_latent(z)
        return z[:, : self.z1_dim], z[:, self.z1_dim :]

    def swap(self, z_keep: torch.Tensor, z_donor: torch.Tensor, code: str = "z2") -> torch.Tensor:
        """Latents with ``code`` ("z1" or "z2") taken from ``z_donor`` and the other code kept from ``z_keep``."""
        if code not in ("z1", "z2"):
            raise BadInputError(f"code must be 'z1' or 'z2', got {code!r}")
        k1, k2 = self.split(z_keep)
        d1, d2 = self.split(z_donor)
        return torch.cat([k1, d2] if code == "z2" else [d1, k2], dim=1)

    def predict_specified(self, images: torch.Tensor) -> torch.Tensor:
        """The head's reading of the specified factor: class indices [N] (categorical) or values [N]."""
        z2 = self.encode(images)[:, self.z1_dim :]
        out = self.model.head(z2)
        return out.argmax(1) if self.model.label_classes else out[:, 0]


def save(model: CMIVAE, path: str | Path, metadata: dict | None = None) -> None:
    """Write a :class:`CMIVAE` as safetensors with its settings in the metadata (atomic rename)."""
    save_weights(model.state_dict(), path, ARCH, model.settings(), metadata)


def load(path: str | Path, *, name: str | None = None, device: str | torch.device = "auto", **settings) -> CMIVAEGenerator:
    """Load a two-code VAE written by :func:`save` (a ``.safetensors`` file), checked as :func:`betavae.load` is.

    Raises:
        WeightsNotFoundError: no such file.
        CheckpointError: not a readable latentnav cmivae file, settings outside :data:`LIMITS` or that
            disagree with the tensors, a tensor that is not finite.
        BadInputError: an unknown or out-of-range setting given here.
    """
    path, meta, stored, layout = read_header(path, ARCH)
    batch_size = settings.pop("batch_size", 1024)
    unknown = set(settings) - set(stored)
    if unknown:
        raise BadInputError(f"unknown cmivae settings {sorted(unknown)}; known: batch_size, {', '.join(sorted(stored))}")
    check_int_settings(str(path), stored, LIMITS)
    check_int_settings("cmivae settings", settings, LIMITS, error=BadInputError)
    stored.update(settings)
    model = load_checked(path, lambda: CMIVAE(**stored), layout, describe_settings(stored))
    return CMIVAEGenerator(model, name=name or str(path), device=device, batch_size=batch_size, metadata=meta)
