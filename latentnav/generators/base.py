"""The Generator contract every model in latentnav stands behind.

Output contract, stated once: ``G(latent)`` returns images as float32 NCHW tensors with nominal range
[-1, 1] (``img_channels`` channels, ``img_resolution`` pixels square), on the generator's device.
Latents are sampled on the CPU from a per-sample seed, so a seed means the same latent (and image) on
every device and in every batch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import torch

from latentnav.devices import resolve_device


class Generator(ABC):
    """A pretrained generator behind one ``G(z)`` contract.

    Attributes:
        name: registry name (or the path it was loaded from).
        z_dim: dimension of the input latent ``z``.
        img_resolution: image side in pixels.
        img_channels: 1 (grey) or 3 (RGB).
        latent_spaces: the spaces ``G`` accepts, e.g. ``("z",)`` or ``("z", "w", "w+")``.
        num_classes: 0 when unconditional.
        device: where the weights live.
        batch_size: the chunk size ``G`` uses, so large inputs never run out of memory.
    """

    latent_spaces: tuple[str, ...] = ("z",)
    num_classes: int = 0

    def __init__(
        self,
        *,
        name: str,
        z_dim: int,
        img_resolution: int,
        img_channels: int,
        device: str | torch.device = "auto",
        batch_size: int = 256,
    ) -> None:
        self.name = name
        self.z_dim = int(z_dim)
        self.img_resolution = int(img_resolution)
        self.img_channels = int(img_channels)
        self.device = resolve_device(device)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = int(batch_size)

    # ----------------------------------------------------------------- latents
    def latent_shape(self, space: str = "z") -> tuple[int, ...]:
        """Shape of one latent in ``space`` (without the batch dimension)."""
        self._check_space(space)
        return (self.z_dim,)

    def bind_class(self, class_index: int) -> None:
        """Make ``class_index`` the class every later call generates (class-conditional models).

        Raises:
            ValueError: the model is not class-conditional, or the index is outside ``0 .. num_classes - 1``.
        """
        if not self.num_classes:
            raise ValueError(f"{self.name} is not class-conditional: it has no classes to choose from")
        raise NotImplementedError(f"{type(self).__name__} cannot bind a class")

    def sample_z(self, n: int | None = None, seed: int = 0, *, seeds: Sequence[int] | None = None) -> torch.Tensor:
        """Draw latents from the prior, one seed per sample.

        Sample ``k`` comes from seed ``seed + k`` alone, so it is the same whatever ``n`` is, and
        ``--seeds 0-15`` on the CLI gives the same latents as ``sample_z(16, seed=0)``.

        Args:
            n: number of samples (seeds ``seed .. seed + n - 1``).
            seed: first seed.
            seeds: explicit list of seeds instead of ``n``/``seed``.

        Returns:
            [n, z_dim] float32 on the CPU (move it with ``.to(G.device)``).
        """
        if seeds is None:
            if n is None or n < 0:
                raise ValueError(f"sample_z needs n >= 0 or a list of seeds, got n={n}")
            seeds = range(seed, seed + n)
        rows = [self._draw_z(torch.Generator().manual_seed(int(s))) for s in seeds]
        if not rows:
            return torch.empty(0, self.z_dim)
        return torch.stack(rows).float()

    def sample_latent(self, seeds: Sequence[int], space: str = "z") -> torch.Tensor:
        """Starting latents in ``space``, one seed per sample, flattened to [n, prod(latent_shape(space))].

        The default knows only ``"z"`` (:meth:`sample_z`); families with other spaces (StyleGAN2's W and
        W+) override it, e.g. by mapping ``sample_z(seeds=seeds)``. Returned on the CPU.
        """
        self._check_space(space)
        if space != "z":
            raise NotImplementedError(f"{type(self).__name__} cannot sample starting latents in space {space!r}")
        return self.sample_z(seeds=seeds)

    def prior_radius(self, space: str = "z") -> float | None:
        """Radius of the ball the trajectory optimizer keeps latents of ``space`` in, or ``None`` for none.

        For a standard normal z of dimension d this is sqrt(d) (Plumerault et al.: ||z|| <= sqrt(d) keeps
        the optimiser where the generator was trained). Spaces without such a prior (W, W+) return ``None``;
        families with another latent distribution override it.
        """
        self._check_space(space)
        return float(self.z_dim) ** 0.5 if space == "z" else None

    def _draw_z(self, generator: torch.Generator) -> torch.Tensor:
        """One prior sample [z_dim] from ``generator``; standard normal unless a family overrides it."""
        return torch.randn(self.z_dim, generator=generator)

    # ------------------------------------------------------------------ images
    def __call__(self, latent: torch.Tensor, space: str = "z", batch_size: int | None = None) -> torch.Tensor:
        return self.G(latent, space=space, batch_size=batch_size)

    def G(self, latent: torch.Tensor, space: str = "z", batch_size: int | None = None) -> torch.Tensor:
        """Generate images from latents.

        Args:
            latent: [N, *latent_shape(space)] float tensor, on any device.
            space: one of :attr:`latent_spaces`.
            batch_size: chunk size (defaults to :attr:`batch_size`).

        Returns:
            [N, img_channels, img_resolution, img_resolution] float32 in [-1, 1], on :attr:`device`.
            Gradients flow through it (wrap the call in ``torch.no_grad()`` when you do not need them).
        """
        latent = self.check_latent(latent, space).to(self.device)
        step = batch_size or self.batch_size
        chunks = [self._synthesize(latent[i : i + step], space) for i in range(0, latent.shape[0], step)]
        if not chunks:
            shape = (0, self.img_channels, self.img_resolution, self.img_resolution)
            return torch.empty(shape, device=self.device)
        return torch.cat(chunks) if len(chunks) > 1 else chunks[0]

    @abstractmethod
    def _synthesize(self, latent: torch.Tensor, space: str) -> torch.Tensor:
        """Generate one chunk; ``latent`` is already checked and on :attr:`device`."""

    # ------------------------------------------------------------------ checks
    def _check_space(self, space: str) -> None:
        if space not in self.latent_spaces:
            raise ValueError(f"{self.name} has no latent space {space!r}; known: {', '.join(self.latent_spaces)}")

    def check_latent(self, latent: torch.Tensor, space: str = "z") -> torch.Tensor:
        """Validate a batch of latents: a tensor of the right shape, floating point and finite.

        Raises:
            ValueError: naming the expected shape, e.g. ``expected z of shape [N, 10], got [4, 12]``.
        """
        expected = self.latent_shape(space)
        want = "[N, " + ", ".join(str(d) for d in expected) + "]"
        if not isinstance(latent, torch.Tensor):
            raise ValueError(f"expected {space} as a torch.Tensor of shape {want}, got {type(latent).__name__}")
        if latent.ndim != len(expected) + 1 or tuple(latent.shape[1:]) != expected:
            raise ValueError(f"expected {space} of shape {want}, got {list(latent.shape)}")
        if not latent.is_floating_point():
            raise ValueError(f"expected {space} as a floating-point tensor of shape {want}, got dtype {latent.dtype}")
        if not torch.isfinite(latent).all():
            raise ValueError(f"{space} of shape {want} contains NaN or infinite values")
        return latent.float()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, z_dim={self.z_dim}, img_resolution={self.img_resolution}, "
            f"img_channels={self.img_channels}, latent_spaces={self.latent_spaces}, device={self.device})"
        )


@runtime_checkable
class SupportsEncode(Protocol):
    """A generator that can map images back to its latent space (VAEs)."""

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Images [N, C, R, R] in [-1, 1] -> posterior mean [N, z_dim]."""
        ...


@runtime_checkable
class SupportsCodeReadout(Protocol):
    """A generator with a recognition network that reads its control codes back from images (InfoGAN's Q).

    ``spec`` describes the codes (a :class:`latentnav.generators.infogan.CodeSpec`: categorical codes
    first, then continuous ones); :meth:`code_readout` gives one column per code in that order.
    """

    spec: Any

    def code_readout(self, images: torch.Tensor) -> torch.Tensor:
        """Images [N, C, R, R] in [-1, 1] -> one column per control code [N, n_codes]."""
        ...


# ------------------------------------------------------------------ latentnav's own weight files (safetensors)
def save_weights(tensors: dict[str, torch.Tensor], path, arch: str, settings: dict, metadata: dict | None = None) -> None:
    """Write ``tensors`` as safetensors with ``arch``, the JSON ``settings`` and ``metadata`` in the header; the file
    appears whole or not at all (temporary name, then renamed)."""
    import json
    from pathlib import Path

    from safetensors.torch import save_file

    path = Path(path)
    meta = {"arch": arch, "settings": json.dumps(settings)}
    meta.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in (metadata or {}).items()})
    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp), metadata=meta)
    tmp.replace(path)


def load_weights(path, arch: str) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """``(header metadata, tensors)`` of a file written by :func:`save_weights`; nothing in it is executed.

    Raises:
        ValueError: ``path`` is not a ``.safetensors`` file.
    """
    from pathlib import Path

    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"a{'n' if arch[0] in 'aeiou' else ''} {arch} checkpoint must be a .safetensors file written by "
                         f"latentnav, got {path.name}")  # fmt: skip
    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata() or {})
    return meta, load_file(str(path))
