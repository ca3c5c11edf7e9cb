"""Where each generator family's latent meets its network: the weights SeFa factorises, the features GANSpace reads.

Each family says it itself, as capabilities (Protocols): :class:`SupportsLatentWeight` (``latent_weight(space,
layers)``, for SeFa) and :class:`SupportsFeatures` (``default_feature(space)``, for GANSpace, with its network in
``G.net``). A new family takes part by implementing them (docs/add-a-model.md); there is no table of classes here.

The latent-facing weight ``A`` is returned as [out, D]: one row per output unit, D = the latent's width.

| family | space | SeFa weight (rows) | GANSpace default feature |
|---|---|---|---|
| beta-VAE | z | ``decoder_fc.0`` (first linear of the decoder) | ``decoder_fc`` (output of the FC stack) |
| BigGAN-deep | z | ``generator.gen_z``, the z columns (the class embedding's are left out) | ``generator.gen_z`` |
| DCGAN | z | ``main.0`` (the 4x4 transposed convolution, a linear map of z) | ``main.2`` (after batch norm + ReLU) |
| StyleGAN2 | z | ``mapping.fc0`` (on the normalised z) | ``mapping.fc{last}`` (w before broadcast) |
| StyleGAN2 | w, w+ | the style affines of the chosen layers' convolutions (the last layer: the final ToRGB) | the latent w itself |

(what the shipped families' ``latent_weight`` and ``default_feature`` return)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import torch

from latentnav.errors import BadInputError, MethodNotApplicableError


@runtime_checkable
class SupportsLatentWeight(Protocol):
    """A generator that says which weight first acts on its latent (for SeFa)."""

    def latent_weight(self, space: str, layers: Sequence[int] | None = None) -> torch.Tensor:
        """The weight A [out, D] that first acts on a latent of ``space`` (rows = output units)."""
        ...


@runtime_checkable
class SupportsFeatures(Protocol):
    """A generator that names GANSpace's default feature: a module path in ``G.net``, or ``None`` for the latent."""

    def default_feature(self, space: str) -> str | None:
        """The feature GANSpace analyses by default in ``space``."""
        ...


def num_style_layers(G) -> int | None:
    """Number of W+ layers (StyleGAN2's ``num_ws``) or ``None`` for generators without layers."""
    return getattr(G, "num_ws", None) if "w+" in G.latent_spaces else None


def layer_indices(layers: Sequence[int], count: int) -> list[int]:
    """``layers`` as distinct sorted W+ layer indices, each within ``0 .. count - 1`` (the one check every caller uses).

    Raises:
        BadInputError: no layer, or layers out of range (named).
    """
    chosen = sorted({int(k) for k in layers})
    if not chosen:
        raise BadInputError("give at least one W+ layer")
    bad = [k for k in chosen if not 0 <= k < count]
    if bad:
        raise BadInputError(f"W+ layer(s) {bad} out of range: this generator has layers 0-{count - 1}")
    return chosen


def check_layers(G, space: str, layers: Sequence[int] | None) -> list[int] | None:
    """Validate a layer selection for ``space`` ("w"/"w+" of a layered generator); ``None`` = all layers.

    Raises:
        MethodNotApplicableError: ``G`` has no layers in ``space``; BadInputError: see :func:`layer_indices`.
    """
    if layers is None:
        return None
    count = num_style_layers(G)
    if count is None or space not in ("w", "w+"):
        raise MethodNotApplicableError(f"layers apply to the w/w+ spaces of a layered generator (StyleGAN2); "
                                       f"{G.name} in space {space!r} has none")  # fmt: skip
    return layer_indices(layers, count)


def latent_weight(G, space: str = "z", layers: Sequence[int] | None = None) -> torch.Tensor:
    """The weight A [out, D] that first acts on a latent of ``space`` (detached float32 on the CPU).

    For StyleGAN2's w and w+ it stacks the style affines of ``layers`` (all by default), and D = w_dim.

    Raises:
        MethodNotApplicableError: the generator exposes no such weight (says which families are known).
    """
    G._check_space(space)
    layers = check_layers(G, space, layers) if space in ("w", "w+") else layers
    if not isinstance(G, SupportsLatentWeight):
        raise MethodNotApplicableError(
            f"SeFa needs the weight that first acts on the latent, and {G.name} ({type(G).__name__}) exposes none; "
            "a generator gives it with a latent_weight(space, layers) method (docs/add-a-model.md)"
        )
    weight = G.latent_weight(space, layers)
    weight = torch.as_tensor(weight).detach().float().cpu()
    width = G.latent_shape(space)[-1]
    if weight.ndim != 2 or weight.shape[1] != width:
        raise MethodNotApplicableError(f"the latent-facing weight of {G.name} has shape {list(weight.shape)}; "
                                       f"expected [out, {width}]")  # fmt: skip
    return weight


def default_feature(G, space: str = "z") -> str | None:
    """GANSpace's default feature for ``G`` in ``space``: a module path in ``G.net``, or ``None`` for the latent."""
    return G.default_feature(space) if isinstance(G, SupportsFeatures) else None


class _Stop(Exception):
    """Raised by the feature hook to skip the rest of the forward pass."""


@torch.no_grad()
def capture_feature(G, latents: torch.Tensor, space: str, layer: str, batch_size: int | None = None) -> torch.Tensor:
    """The output of module ``layer`` of ``G.net`` for latents [N, D] (flattened to [N, F], float32, CPU).

    The forward pass stops at that module, so a feature early in the network costs a fraction of an image.

    Raises:
        MethodNotApplicableError: ``G`` has no ``net`` or no module called ``layer`` (lists a few).
    """
    net = getattr(G, "net", None)
    if not isinstance(net, torch.nn.Module):
        raise MethodNotApplicableError(f"GANSpace on a feature needs the network in G.net; {G.name} has none")
    try:
        module = net.get_submodule(layer)
    except AttributeError:
        names = [n for n, _ in net.named_modules() if n and n.count(".") <= 1][:12]
        raise MethodNotApplicableError(f"{G.name} has no layer {layer!r}; some known: {', '.join(names)}") from None
    captured: list[torch.Tensor] = []

    def hook(_module, _inputs, output):
        captured.append(output.detach().float().flatten(1).cpu())
        raise _Stop

    handle = module.register_forward_hook(hook)
    step = batch_size or G.batch_size
    shape = G.latent_shape(space)
    try:
        for i in range(0, len(latents), step):
            try:
                G(latents[i : i + step].reshape(-1, *shape), space=space)
            except _Stop:
                continue
            raise MethodNotApplicableError(f"layer {layer!r} of {G.name} is not used when generating from {space}")
    finally:
        handle.remove()
    return torch.cat(captured)
