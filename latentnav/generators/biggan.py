"""BigGAN-deep (Brock et al. 2019), latentnav's own implementation for the released 128/256/512 weights.

Files read: a directory holding ``config.json`` and ``pytorch_model.bin``, the format of the PyTorch port
of DeepMind's TF-Hub modules (``torch.load(..., weights_only=True)``: a plain state dict, nothing of the
file is executed). The load is strict: missing or unexpected keys, and a ``config.json`` whose shapes
differ from the weights', are errors that name the keys.

Forward pass, for z [N, z_dim], a class vector y [N, num_classes] (one-hot or any mixture) and a
truncation 0 < t <= 1:

- ``cond = [z, embeddings(y)]`` (2 z_dim values) conditions every batch norm of the network;
- ``gen_z(cond)`` is reshaped in TF's NHWC order to [N, 4, 4, C0], then moved to NCHW;
- residual blocks (``layers`` of config.json: up-sample?, in and out channels as multiples of
  ``channel_width``), each bn-relu-conv1x1, bn-relu-(up)-conv3x3, bn-relu-conv3x3, bn-relu-conv1x1 on a
  4x narrower bottleneck; the skip keeps the first ``out`` channels and is up-sampled (nearest);
- self-attention inserted before block ``attention_layer_position``;
- unconditional batch norm, relu, 3x3 conv, the first 3 channels, tanh.

Spectral norm: every layer except the class embedding stores ``weight_orig``, ``weight_u`` and
``weight_v``; the weight used is ``weight_orig / sigma`` with ``sigma = u . (W v)`` computed once at load
from the stored vectors (no power iteration, as PyTorch does in eval mode).

Batch norm never uses batch statistics: each one stores ``n_stats`` (51) means and variances, one per
truncation 0, 0.02, ..., 1, and the truncation picks them (see :func:`truncation_stats`).

Latents: ``sample_z`` draws the reference's truncated normal, a standard normal cut to [-2, 2] and scaled
by the truncation. The truncation and the class are bound at load and can be overridden per call:
``G(z, class_vector=..., truncation=...)``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from latentnav.devices import resolve_device
from latentnav.errors import BadInputError, CheckpointError, WeightsNotFoundError
from latentnav.generators.base import MAX_WIDTH, Generator, check_finite, read_torch_file, require_file

ARCH = "biggan-deep"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "pytorch_model.bin"
#: the truncated normal's cut, in standard deviations (the reference's ``truncnorm(-2, 2)``)
Z_CUT = 2.0
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


class BigGANWeightsError(CheckpointError):
    """A BigGAN-deep checkpoint whose keys or shapes do not fit its config.json (or a bad config.json)."""


#: config.json's integer fields and the values latentnav accepts for them.
CONFIG_LIMITS = {"z_dim": (1, MAX_WIDTH), "class_embed_dim": (1, MAX_WIDTH), "channel_width": (1, MAX_WIDTH),
                 "num_classes": (1, MAX_WIDTH), "attention_layer_position": (0, 64), "n_stats": (2, 1024),
                 "output_dim": (4, 4096)}  # fmt: skip


# ------------------------------------------------------------------------------------------------ config
@dataclass(frozen=True)
class BigGANConfig:
    """The fields of a BigGAN-deep ``config.json``.

    Attributes:
        z_dim: latent size; the class embedding has the same size (``class_embed_dim`` is recorded but,
            as in the reference, not used).
        class_embed_dim: recorded for completeness.
        channel_width: channel unit; block widths are multiples of it.
        num_classes: length of the class vector (1000 for ImageNet).
        layers: per residual block (up-sample?, in multiple, out multiple) of ``channel_width``.
        attention_layer_position: the block before which self-attention sits.
        eps: epsilon of every batch norm.
        n_stats: stored batch-norm statistics, for truncations 0, 1/(n_stats-1), ..., 1.
        output_dim: image side in pixels.
    """

    z_dim: int = 128
    class_embed_dim: int = 128
    channel_width: int = 128
    num_classes: int = 1000
    layers: tuple[tuple[bool, int, int], ...] = (
        (False, 16, 16), (True, 16, 16), (False, 16, 16), (True, 16, 8), (False, 8, 8),
        (True, 8, 4), (False, 4, 4), (True, 4, 2), (False, 2, 2), (True, 2, 1),
    )  # fmt: skip
    attention_layer_position: int = 8
    eps: float = 1e-4
    n_stats: int = 51
    output_dim: int = 128

    def __post_init__(self) -> None:
        for name, (low, high) in CONFIG_LIMITS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise BigGANWeightsError(f"config.json: {name}={value!r} is not an integer in {low}..{high}")
        if isinstance(self.eps, bool) or not isinstance(self.eps, (int, float)) or not 0 < self.eps < 1:
            raise BigGANWeightsError(f"config.json: eps={self.eps!r} is not a number in (0, 1)")
        if not isinstance(self.layers, (list, tuple)) or not all(_is_layer(layer) for layer in self.layers):
            raise BigGANWeightsError(f"config.json: layers must be a list of [up-sample?, in, out] with in and out "
                                     f"integers in 1..64, got {str(self.layers)[:60]}")  # fmt: skip
        layers = tuple((bool(up), int(a), int(b)) for up, a, b in self.layers)
        object.__setattr__(self, "layers", layers)
        if not layers:
            raise BigGANWeightsError("config.json: layers is empty")
        ups = sum(up for up, _, _ in layers)
        if 4 * 2**ups != self.output_dim:
            raise BigGANWeightsError(f"config.json: {ups} up-sampling layers make {4 * 2**ups} px images, "
                                     f"but output_dim is {self.output_dim}")  # fmt: skip
        if layers[0][1] != 16 or layers[-1][2] != 1:
            raise BigGANWeightsError(f"config.json: layers must start at 16 channel units (gen_z makes 4x4x16 "
                                     f"channel_width) and end at 1, got {layers[0][1]} and {layers[-1][2]}")  # fmt: skip
        for k, (_, a, b) in enumerate(layers):
            if b != a and b * 2 != a:
                raise BigGANWeightsError(f"config.json: layer {k} goes from {a} to {b} channel units; "
                                         "a block keeps its width or halves it")  # fmt: skip
            if k and layers[k - 1][2] != a:
                raise BigGANWeightsError(f"config.json: layer {k} takes {a} channel units but layer {k - 1} gives "
                                         f"{layers[k - 1][2]}")  # fmt: skip
        if not 0 <= self.attention_layer_position <= len(layers):
            raise BigGANWeightsError(f"config.json: attention_layer_position {self.attention_layer_position} is "
                                     f"outside 0..{len(layers)}")  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = CONFIG_FILE) -> "BigGANConfig":
        """Build from a parsed config.json (unknown keys are an error; missing ones take the 128 defaults)."""
        if not isinstance(data, Mapping):
            raise BigGANWeightsError(f"{where}: expected a JSON object, got {type(data).__name__}")
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise BigGANWeightsError(f"{where}: unknown keys {unknown}; known: {', '.join(known)}")
        try:
            return cls(**data)
        except (TypeError, ValueError) as err:
            if isinstance(err, BigGANWeightsError):
                raise BigGANWeightsError(f"{where}: {str(err).removeprefix('config.json: ')}") from None
            raise BigGANWeightsError(f"{where}: {err}") from None

    def to_dict(self) -> dict[str, Any]:
        """The config.json mapping (layers as lists)."""
        out = asdict(self)
        out["layers"] = [list(layer) for layer in self.layers]
        return out


def _is_layer(layer: Any) -> bool:
    """Whether ``layer`` is a config.json block: (up-sample?, in, out), the widths integers in 1..64."""
    if not isinstance(layer, (list, tuple)) or len(layer) != 3 or not isinstance(layer[0], (bool, int)):
        return False
    return all(not isinstance(v, bool) and isinstance(v, int) and 1 <= v <= 64 for v in layer[1:])


#: the released models' configurations (pytorch_pretrained_biggan's BigGAN128/256/512 conversions)
_LAYERS_256 = BigGANConfig().layers[:5] + ((True, 8, 8), (False, 8, 8), (True, 8, 4), (False, 4, 4),
                                           (True, 4, 2), (False, 2, 2), (True, 2, 1))  # fmt: skip
CONFIGS: Mapping[int, BigGANConfig] = {
    128: BigGANConfig(),
    256: BigGANConfig(layers=_LAYERS_256, output_dim=256),
    512: BigGANConfig(layers=_LAYERS_256 + ((False, 1, 1), (True, 1, 1)), output_dim=512),
}


# -------------------------------------------------------------------------------------------- pure math
def truncation_stats(
    means: torch.Tensor, variances: torch.Tensor, truncation: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch-norm statistics for ``truncation`` from the stored rows (one per 1/(n_stats-1) of truncation).

    Reproduces the reference exactly, its weighting included: with ``coef, i = modf(truncation / step)``
    a truncation on the grid takes row ``i``; between rows ``i`` and ``i + 1`` it takes
    ``row[i] * coef + row[i + 1] * (1 - coef)``, which weights the *farther* row more (so the statistics
    jump at every grid point). The released weights were used this way, so the images depend on it.

    Args:
        means: [n_stats, C] stored means.
        variances: [n_stats, C] stored variances.
        truncation: in (0, 1].

    Returns:
        (mean [C], variance [C]).
    """
    step = 1.0 / (means.shape[0] - 1)
    coef, start = math.modf(truncation / step)
    i = int(start)
    if coef == 0.0:
        return means[i], variances[i]
    return means[i] * coef + means[i + 1] * (1 - coef), variances[i] * coef + variances[i + 1] * (1 - coef)


def spectral_normalised(weight_orig: torch.Tensor, u: torch.Tensor, v: torch.Tensor | None, eps: float) -> torch.Tensor:
    """``weight_orig / sigma`` with ``sigma = u . (W v)``, W = weight_orig as [out, -1] (PyTorch's eval mode).

    When ``v`` is absent (files written without it), it is rebuilt from ``u`` as the converter did:
    ``v = normalize(W^T u)``, then ``u = normalize(W v)``, both with ``eps``.
    """
    w = weight_orig.reshape(weight_orig.shape[0], -1)
    if v is None:
        v = F.normalize(w.t() @ u, dim=0, eps=eps)
        u = F.normalize(w @ v, dim=0, eps=eps)
    sigma = torch.dot(u, torch.mv(w, v))
    return weight_orig / sigma


def check_truncation(truncation: Any) -> float:
    """``truncation`` as a float in (0, 1], or a one-line BadInputError."""
    try:
        value = float(truncation)
    except (TypeError, ValueError):
        raise BadInputError(f"truncation must be a number in (0, 1], got {truncation!r}") from None
    if not 0 < value <= 1:
        raise BadInputError(f"truncation must lie in (0, 1], got {value:g}")
    return value


# --------------------------------------------------------------------------------------------- modules
class TruncationBatchNorm(nn.Module):
    """Batch norm over stored per-truncation statistics; affine from the condition vector, or fixed.

    Keys: ``running_means``/``running_vars`` [n_stats, C], then ``scale``/``offset`` (linear maps of the
    condition, the gain is ``1 + scale(cond)``) when conditional, else ``weight``/``bias`` [C].
    """

    def __init__(self, channels: int, cond_dim: int | None, n_stats: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("running_means", torch.zeros(n_stats, channels))
        self.register_buffer("running_vars", torch.ones(n_stats, channels))
        self.conditional = cond_dim is not None
        if self.conditional:
            self.scale = nn.Linear(cond_dim, channels, bias=False)
            self.offset = nn.Linear(cond_dim, channels, bias=False)
        else:
            self.weight = nn.Parameter(torch.ones(channels))
            self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor, truncation: float, cond: torch.Tensor | None = None) -> torch.Tensor:
        mean, var = truncation_stats(self.running_means, self.running_vars, truncation)
        if not self.conditional:
            return F.batch_norm(x, mean, var, self.weight, self.bias, training=False, eps=self.eps)
        gain = 1 + self.scale(cond)[:, :, None, None]
        shift = self.offset(cond)[:, :, None, None]
        return (x - mean[None, :, None, None]) / torch.sqrt(var[None, :, None, None] + self.eps) * gain + shift


class GenBlock(nn.Module):
    """A BigGAN-deep residual block with a 4x narrower bottleneck (keys ``bn_0..3``, ``conv_0..3``)."""

    def __init__(self, c_in: int, c_out: int, up: bool, cond_dim: int, n_stats: int, eps: float) -> None:
        super().__init__()
        mid = c_in // 4
        self.up, self.c_out = up, c_out
        widths = [(c_in, mid, 1), (mid, mid, 3), (mid, mid, 3), (mid, c_out, 1)]
        for k, (a, b, kernel) in enumerate(widths):
            setattr(self, f"bn_{k}", TruncationBatchNorm(a, cond_dim, n_stats, eps))
            setattr(self, f"conv_{k}", nn.Conv2d(a, b, kernel, padding=kernel // 2))

    def forward(self, x: torch.Tensor, cond: torch.Tensor, truncation: float) -> torch.Tensor:
        h = x
        for k in range(4):
            h = F.relu(getattr(self, f"bn_{k}")(h, truncation, cond))
            if k == 1 and self.up:
                h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = getattr(self, f"conv_{k}")(h)
        skip = x[:, : self.c_out]
        if self.up:
            skip = F.interpolate(skip, scale_factor=2, mode="nearest")
        return h + skip


class SelfAttention(nn.Module):
    """SAGAN self-attention with 2x2 max-pooled keys and values; ``out = x + gamma * o(g . softmax(theta^T phi)^T)``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.snconv1x1_theta = nn.Conv2d(channels, channels // 8, 1, bias=False)
        self.snconv1x1_phi = nn.Conv2d(channels, channels // 8, 1, bias=False)
        self.snconv1x1_g = nn.Conv2d(channels, channels // 2, 1, bias=False)
        self.snconv1x1_o_conv = nn.Conv2d(channels // 2, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        theta = self.snconv1x1_theta(x).flatten(2)  # [N, C/8, HW]
        phi = F.max_pool2d(self.snconv1x1_phi(x), 2).flatten(2)  # [N, C/8, HW/4]
        attn = torch.softmax(theta.transpose(1, 2) @ phi, dim=-1)  # [N, HW, HW/4]
        g = F.max_pool2d(self.snconv1x1_g(x), 2).flatten(2)  # [N, C/2, HW/4]
        o = (g @ attn.transpose(1, 2)).view(n, -1, h, w)
        return x + self.gamma * self.snconv1x1_o_conv(o)


class _Synthesis(nn.Module):
    """The ``generator.*`` part: gen_z, the block list (attention included), the final bn and conv_to_rgb."""

    def __init__(self, config: BigGANConfig) -> None:
        super().__init__()
        ch, cond_dim = config.channel_width, 2 * config.z_dim
        self.c0 = 16 * ch
        self.gen_z = nn.Linear(cond_dim, 4 * 4 * self.c0)
        layers: list[nn.Module] = []
        for k, (up, a, b) in enumerate(config.layers):
            if k == config.attention_layer_position:
                layers.append(SelfAttention(a * ch))
            layers.append(GenBlock(a * ch, b * ch, up, cond_dim, config.n_stats, config.eps))
        self.layers = nn.ModuleList(layers)
        self.bn = TruncationBatchNorm(ch, None, config.n_stats, config.eps)
        self.conv_to_rgb = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, cond: torch.Tensor, truncation: float) -> torch.Tensor:
        x = self.gen_z(cond).view(-1, 4, 4, self.c0).permute(0, 3, 1, 2)  # TF's NHWC -> NCHW
        for layer in self.layers:
            x = layer(x, cond, truncation) if isinstance(layer, GenBlock) else layer(x)
        x = self.conv_to_rgb(F.relu(self.bn(x, truncation)))
        return torch.tanh(x[:, :3])


class BigGANDeep(nn.Module):
    """The BigGAN-deep generator with plain (already spectrally normalised) weights.

    ``forward(z [N, z_dim], y [N, num_classes], truncation)`` -> images [N, 3, R, R] in [-1, 1].
    """

    def __init__(self, config: BigGANConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = nn.Linear(config.num_classes, config.z_dim, bias=False)
        self.generator = _Synthesis(config)

    def forward(self, z: torch.Tensor, y: torch.Tensor, truncation: float) -> torch.Tensor:
        truncation = check_truncation(truncation)
        return self.generator(torch.cat([z, self.embeddings(y)], dim=1), truncation)

    def spectral_norm_layers(self) -> list[str]:
        """Names of the layers stored with spectral norm (every linear and conv but the class embedding)."""
        layers = (nn.Linear, nn.Conv2d)
        return [name for name, m in self.named_modules() if isinstance(m, layers) and name != "embeddings"]


# ------------------------------------------------------------------------------------------ conditioning
def _class_index(label: int | str, num_classes: int) -> int:
    if isinstance(label, str):
        from latentnav.generators import imagenet

        if num_classes != imagenet.NUM_CLASSES:
            raise BadInputError(f"class names need a 1000-class ImageNet model; this one has {num_classes} classes: "
                             f"give an index in 0..{num_classes - 1}")  # fmt: skip
        return imagenet.class_index(label)
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)):
        raise BadInputError(f"a class is an index or an ImageNet class name, got {label!r}")
    if not 0 <= label < num_classes:
        raise BadInputError(f"class index must lie in 0..{num_classes - 1}, got {label}")
    return int(label)


def one_hot(classes: int | str | Sequence[int | str], num_classes: int = 1000) -> torch.Tensor:
    """One-hot class vectors [N, num_classes] for class indices or ImageNet names (one row per class)."""
    labels = [classes] if isinstance(classes, (int, str, np.integer)) else list(classes)
    out = torch.zeros(len(labels), num_classes)
    for row, label in enumerate(labels):
        out[row, _class_index(label, num_classes)] = 1.0
    return out


def as_class_vector(value: Any, num_classes: int = 1000) -> torch.Tensor:
    """A class vector [1, num_classes] or [N, num_classes] from any of the accepted forms.

    Args:
        value: a class index or ImageNet name (one-hot); a mapping ``{class: weight}`` (a mixture,
            e.g. ``{"golden retriever": 0.5, "tabby": 0.5}``); or a tensor / array / list of
            ``num_classes`` weights, or of rows of them.
        num_classes: length of the vector.

    Raises:
        BadInputError: an unknown class, an index out of range, or a vector of the wrong shape.
    """
    if isinstance(value, (int, str, np.integer)) and not isinstance(value, bool):
        return one_hot(value, num_classes)
    if isinstance(value, Mapping):
        out = torch.zeros(1, num_classes)
        for label, weight in value.items():
            out[0, _class_index(label, num_classes)] += float(weight)
        return out
    try:
        vec = torch.as_tensor(np.asarray(value, dtype=np.float32) if not isinstance(value, torch.Tensor) else value)
    except (TypeError, ValueError):
        raise BadInputError(f"a class vector is a class, a {{class: weight}} mapping or {num_classes} weights, "
                         f"got {type(value).__name__}") from None  # fmt: skip
    vec = vec.detach().float().cpu()
    if vec.ndim == 1:
        vec = vec[None]
    if vec.ndim != 2 or vec.shape[1] != num_classes:
        raise BadInputError(f"expected a class vector of shape [{num_classes}] or [N, {num_classes}], got {list(vec.shape)}")
    if not torch.isfinite(vec).all():
        raise BadInputError("the class vector contains NaN or infinite values")
    return vec


# ----------------------------------------------------------------------------------------- the adapter
class BigGANGenerator(Generator):
    """A :class:`BigGANDeep` behind the Generator contract, with its class and truncation bound.

    Args:
        net: the network (weights already loaded).
        name: registry name or path.
        class_index: the class, an index or an ImageNet name (default: class 0); or
        class_vector: any mixture (see :func:`as_class_vector`); give at most one of the two.
        truncation: in (0, 1]; picks the batch-norm statistics and scales the latent prior.
        device: ``"auto"`` or a device.
        dtype: ``"float32"``, or ``"float16"``/``"bfloat16"`` on a CUDA device (outputs stay float32).
        batch_size: chunk size of ``G``.
    """

    latent_spaces = ("z",)

    def __init__(
        self,
        net: BigGANDeep,
        *,
        name: str,
        class_index: int | str | None = None,
        class_vector: Any = None,
        truncation: float = 1.0,
        device: str | torch.device = "auto",
        dtype: str = "float32",
        batch_size: int = 64,
    ) -> None:
        cfg = net.config
        super().__init__(name=name, z_dim=cfg.z_dim, img_resolution=cfg.output_dim, img_channels=3, device=device,
                         batch_size=batch_size)  # fmt: skip
        self.num_classes = cfg.num_classes
        self.truncation = check_truncation(truncation)
        self.class_vector = _bound_class(class_index, class_vector, self.num_classes).to(self.device)
        self.dtype = _resolve_dtype(dtype, self.device)
        self.net = net.to(self.device, self.dtype).eval().requires_grad_(False)

    def bind_class(self, class_index: int | str) -> None:
        """Make ``class_index`` (an index or an ImageNet class name) the class every later call generates."""
        self.class_vector = one_hot(class_index, self.num_classes).to(self.device)

    # ----------------------------------------------------------------- latents
    def _draw_z(self, generator: torch.Generator) -> torch.Tensor:
        """``truncation * truncnorm.rvs(-2, 2, random_state=RandomState(seed))`` as the reference draws it.

        ``seed`` is the seed of ``generator`` (the base class seeds one per sample).
        """
        from scipy.stats import truncnorm

        state = np.random.RandomState(generator.initial_seed() % 2**32)
        row = truncnorm.rvs(-Z_CUT, Z_CUT, size=(1, self.z_dim), random_state=state).astype(np.float32)[0]
        return torch.from_numpy(self.truncation * row)

    def prior_radius(self, space: str = "z") -> float | None:
        """Radius of the ball the trajectory optimizer keeps z in: ``truncation * sqrt(z_dim * v)``.

        ``v`` ~= 0.774 is the variance of a standard normal cut to [-2, 2], so the radius is the RMS norm
        of the truncated prior, the analogue of sqrt(d) for a standard normal. What the optimizer does
        with truncation: the truncation stays the one bound to ``G`` for the whole run (it selects the
        batch-norm statistics and is not optimised); starting latents come from that truncation's prior
        (``sample_z``), and after every update z is projected back into this ball. Single coordinates may
        leave [-2t, 2t] while the norm stays inside; the ball keeps z where images at truncation t live.
        """
        self._check_space(space)
        from scipy.stats import truncnorm

        return self.truncation * math.sqrt(self.z_dim * float(truncnorm.var(-Z_CUT, Z_CUT)))

    # ------------------------------------------------------------------ images
    def __call__(self, latent: torch.Tensor, space: str = "z", batch_size: int | None = None, *,
                 class_vector: Any = None, truncation: float | None = None) -> torch.Tensor:  # fmt: skip
        return self.G(latent, space=space, batch_size=batch_size, class_vector=class_vector, truncation=truncation)

    def G(self, latent: torch.Tensor, space: str = "z", batch_size: int | None = None, *,
          class_vector: Any = None, truncation: float | None = None) -> torch.Tensor:  # fmt: skip
        """Images from latents, with the bound class and truncation unless overridden for this call.

        Args:
            latent: [N, z_dim] (draw it with the same truncation, e.g. ``sample_z``).
            space: ``"z"``.
            batch_size: chunk size (defaults to :attr:`batch_size`).
            class_vector: a class, mixture or vector (see :func:`as_class_vector`): one row for all, or N rows.
            truncation: in (0, 1].

        Returns:
            [N, 3, R, R] float32 in [-1, 1] on :attr:`device`; gradients flow to ``latent``.
        """
        t = self.truncation if truncation is None else check_truncation(truncation)
        y = self.class_vector if class_vector is None else as_class_vector(class_vector, self.num_classes)
        latent = self.check_latent(latent, space).to(self.device)
        n = latent.shape[0]
        if y.shape[0] not in (1, n):
            raise BadInputError(f"class_vector has {y.shape[0]} rows for {n} latents; give 1 row or {n}")
        y = y.to(self.device).expand(n, -1)
        step = batch_size or self.batch_size
        chunks = [self._forward(self._counted(latent[i : i + step]), y[i : i + step], t) for i in range(0, n, step)]
        if not chunks:
            return torch.empty((0, 3, self.img_resolution, self.img_resolution), device=self.device)
        return torch.cat(chunks) if len(chunks) > 1 else chunks[0]

    def _synthesize(self, latent: torch.Tensor, space: str) -> torch.Tensor:
        return self._forward(latent, self.class_vector.expand(latent.shape[0], -1), self.truncation)

    # ------------------------------------------------------------- where the latent meets the network (SeFa, GANSpace)
    def latent_weight(self, space: str, layers=None) -> torch.Tensor:
        """The weight that first acts on a latent of ``space``, [out, D] (SeFa factorises it)."""
        return self.net.generator.gen_z.weight[:, : self.z_dim]  # cond = [z, embed(class)]; only z's columns

    def default_feature(self, space: str) -> str | None:
        """GANSpace's default feature: a module path in :attr:`net` (``None``: the latent itself)."""
        return "generator.gen_z"

    def _forward(self, z: torch.Tensor, y: torch.Tensor, truncation: float) -> torch.Tensor:
        return self.net(z.to(self.dtype), y.to(self.dtype), truncation).float()

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", truncation={self.truncation:g}, dtype={str(self.dtype)[6:]})"


def _bound_class(class_index: int | str | None, class_vector: Any, num_classes: int) -> torch.Tensor:
    """The [1, num_classes] class vector bound at load (class 0 when neither is given)."""
    if class_index is not None and class_vector is not None:
        raise BadInputError("give class_index or class_vector, not both")
    if class_index is not None and not isinstance(class_index, (int, str, np.integer)):
        raise BadInputError(f"class_index is an index or an ImageNet class name, got {class_index!r}")
    value = class_vector if class_vector is not None else class_index if class_index is not None else 0
    vec = as_class_vector(value, num_classes)
    if vec.shape[0] != 1:
        raise BadInputError(f"the bound class vector must be one row, got {vec.shape[0]}; pass rows per call instead")
    return vec


def _resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype not in DTYPES:
        raise BadInputError(f"unknown dtype {dtype!r}; known: {', '.join(DTYPES)}")
    if dtype != "float32" and device.type != "cuda":
        raise BadInputError(f"{dtype} inference needs a CUDA device; on {device.type} use float32")
    return DTYPES[dtype]


# ---------------------------------------------------------------------------------------------- loading
def _listing(keys: Sequence[str], limit: int = 6) -> str:
    keys = sorted(keys)
    more = f", ... ({len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def checkpoint_shapes(net: BigGANDeep) -> dict[str, tuple[int, ...]]:
    """The keys and shapes a checkpoint for ``net``'s config holds (spectral norm as weight_orig/u/v)."""
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    for layer in net.spectral_norm_layers():
        w = shapes.pop(f"{layer}.weight")
        shapes[f"{layer}.weight_orig"] = w
        shapes[f"{layer}.weight_u"] = (w[0],)
        shapes[f"{layer}.weight_v"] = (math.prod(w[1:]),)
    return shapes


def convert_state_dict(
    state: Mapping[str, torch.Tensor], net: BigGANDeep, where: str = WEIGHTS_FILE
) -> dict[str, torch.Tensor]:
    """Check a checkpoint strictly against ``net``'s layout and fold its spectral norms into plain weights.

    Raises:
        BigGANWeightsError: missing or unexpected keys (listed), or shapes that differ from the config's.
    """
    expected = checkpoint_shapes(net)
    layers = net.spectral_norm_layers()
    no_v = all(f"{layer}.weight_v" not in state for layer in layers)  # older files: v is rebuilt from u
    missing = [k for k in expected if k not in state and not (no_v and k.endswith(".weight_v"))]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = [f"missing {len(missing)} keys ({_listing(missing)})" if missing else "",
                 f"unexpected {len(unexpected)} keys ({_listing(unexpected)})" if unexpected else ""]  # fmt: skip
        raise BigGANWeightsError(f"{where} does not fit the BigGAN-deep layout of its config.json: "
                                 f"{'; '.join(p for p in parts if p)}; is config.json the one for these weights?")  # fmt: skip
    wrong = [(k, tuple(state[k].shape), s) for k, s in expected.items() if k in state and tuple(state[k].shape) != s]
    if wrong:
        k, got, want = wrong[0]
        cfg = net.config
        more = f" ({len(wrong) - 1} more tensors differ)" if len(wrong) > 1 else ""
        raise BigGANWeightsError(f"config.json does not match the weights' shapes: {k} is {list(got)} in {where} but "
                                 f"config.json (z_dim={cfg.z_dim}, channel_width={cfg.channel_width}, "
                                 f"num_classes={cfg.num_classes}) implies {list(want)}{more}")  # fmt: skip
    out = {k: v.float() for k, v in state.items() if not k.rsplit(".", 1)[-1].startswith("weight_")}
    for layer in layers:
        v = None if no_v else state[f"{layer}.weight_v"].float()
        w, u = state[f"{layer}.weight_orig"].float(), state[f"{layer}.weight_u"].float()
        out[f"{layer}.weight"] = spectral_normalised(w, u, v, net.config.eps)
    return out


def _files(path: Path, need_config: bool) -> tuple[Path | None, Path]:
    directory = path if path.is_dir() else path.parent
    weights = directory / WEIGHTS_FILE if path.is_dir() else path
    config = directory / CONFIG_FILE
    for f in (config, weights) if need_config else (weights,):
        if not f.is_file():
            raise WeightsNotFoundError(f"{f} not found: a BigGAN-deep checkpoint is a directory holding "
                                       f"{CONFIG_FILE} and {WEIGHTS_FILE} (or pass config=128, 256 or 512)")  # fmt: skip
    return (config if config.is_file() else None), weights


def _read_config(path: Path) -> BigGANConfig:
    try:
        return BigGANConfig.from_dict(json.loads(path.read_text()), where=str(path))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BigGANWeightsError(f"{path} is not valid JSON: {err}") from None


def _builtin_config(key: Any) -> BigGANConfig:
    try:
        return CONFIGS[int(key)]
    except (KeyError, TypeError, ValueError):
        known = ", ".join(map(str, CONFIGS))
        raise BadInputError(f"unknown built-in BigGAN-deep config {key!r}; known: {known}") from None


def read_config(path: str | Path, config: int | None = None) -> tuple[BigGANConfig, Path]:
    """The configuration of a BigGAN-deep checkpoint and the path of its weights file.

    Args:
        path: a directory holding config.json and pytorch_model.bin, or the weights file itself.
        config: 128, 256 or 512 to use the released model's configuration instead of a config.json
            (a config.json found beside the weights must then agree with it).
    """
    config_path, weights_path = _files(Path(path), need_config=config is None)
    cfg = _builtin_config(config) if config is not None else _read_config(config_path)
    if config is not None and config_path is not None and _read_config(config_path) != cfg:
        raise BigGANWeightsError(f"{config_path} differs from the built-in BigGAN-deep-{config} configuration")
    return cfg, weights_path


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """The raw state dict of a pytorch_model.bin, read with ``weights_only=True`` (no code is executed).

    Raises:
        WeightsNotFoundError: no such file.
        CheckpointError: an unreadable file (truncated, corrupted, another format), or not a state dict of tensors.
    """
    path = require_file(path)
    state = read_torch_file(path)
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BigGANWeightsError(f"{path}: expected a state dict of tensors, got {type(state).__name__}")
    return dict(state)


def is_checkpoint(path: str | Path) -> bool:
    """Whether ``path`` looks like a BigGAN-deep checkpoint: a config.json with ``layers`` and ``channel_width``
    in the directory (or beside the file)."""
    path = Path(path)
    config = (path if path.is_dir() else path.parent) / CONFIG_FILE
    try:
        data = json.loads(config.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and {"layers", "channel_width"} <= set(data)


def random_checkpoint(config: BigGANConfig, seed: int = 0, power_iterations: int = 10) -> dict[str, torch.Tensor]:
    """Random weights in the released checkpoint format (weight_orig/u/v, 51 statistics), for tests and benchmarks.

    Weights are normal with u and v from ``power_iterations`` steps of power iteration (so every layer's
    spectral norm is about 1), statistics vary across truncations, and the condition-dependent gains
    stay near 1.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.device("meta"):
        net = BigGANDeep(config)
    sn = set(net.spectral_norm_layers())
    state: dict[str, torch.Tensor] = {}
    for key, shape in checkpoint_shapes(net).items():
        layer, leaf = key.rsplit(".", 1)
        if leaf in ("weight_u", "weight_v") and layer in sn:
            continue
        if leaf == "running_vars":
            state[key] = 0.5 + 1.5 * torch.rand(shape, generator=gen)
        elif leaf == "running_means":
            state[key] = 0.2 * torch.randn(shape, generator=gen)
        elif layer.endswith((".scale", ".offset")):
            state[key] = 0.1 * torch.randn(shape, generator=gen)
        else:
            state[key] = torch.randn(shape, generator=gen) / (math.prod(shape[1:]) ** 0.5 if len(shape) > 1 else 2)
    for layer in sn:  # u and v from a few power iterations, as after training: sigma ~ the spectral norm
        w = state[f"{layer}.weight_orig"].reshape(state[f"{layer}.weight_orig"].shape[0], -1)
        v = F.normalize(torch.randn(w.shape[1], generator=gen), dim=0)
        for _ in range(power_iterations):
            u = F.normalize(w @ v, dim=0)
            v = F.normalize(w.t() @ u, dim=0)
        state[f"{layer}.weight_v"], state[f"{layer}.weight_u"] = v, F.normalize(w @ v, dim=0)
    return state


def write_checkpoint(directory: str | Path, config: BigGANConfig, state: Mapping[str, torch.Tensor]) -> Path:
    """Write ``config.json`` and ``pytorch_model.bin`` (the released layout) into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / CONFIG_FILE).write_text(json.dumps(config.to_dict(), indent=2, sort_keys=True) + "\n")
    torch.save(dict(state), directory / WEIGHTS_FILE)
    return directory


def build(config: BigGANConfig, state: Mapping[str, torch.Tensor], where: str = WEIGHTS_FILE) -> BigGANDeep:
    """A :class:`BigGANDeep` for ``config`` holding ``state``'s weights (allocated once, no random init)."""
    with torch.device("meta"):
        net = BigGANDeep(config)
    net.load_state_dict(convert_state_dict(state, net, where), strict=True, assign=True)
    return net.eval()


SETTINGS = ("batch_size", "class_index", "class_vector", "config", "default_class", "dtype", "truncation")


def load(
    path: str | Path, *, name: str | None = None, device: str | torch.device = "auto", **settings: Any
) -> BigGANGenerator:
    """Load a BigGAN-deep directory (``config.json`` + ``pytorch_model.bin``).

    Args:
        path: the directory, or its ``pytorch_model.bin`` with ``config.json`` beside it (or with
            ``config=128/256/512``, the released models' configurations, and no config.json).
        name: the generator's name (defaults to the path).
        device: ``"auto"`` or a device.
        **settings: ``class_index`` (an index or ImageNet name) or ``class_vector``, ``truncation``
            (default 1.0), ``config`` (see ``path``), ``dtype`` (``float32``; ``float16``/``bfloat16`` on
            CUDA), ``batch_size``, and ``default_class``: the class used when neither ``class_index``
            nor ``class_vector`` is given (default 0; registry entries set it, so that a user's
            ``class_vector`` never clashes with a registry's class).

    Example:
        >>> G = load_generator("biggan-deep-128", class_index="golden retriever", truncation=0.4)
    """
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise BadInputError(f"unknown biggan-deep settings {unknown}; known: {', '.join(SETTINGS)}")
    config, weights_path = read_config(path, settings.pop("config", None))
    default_class = settings.pop("default_class", 0)
    if settings.get("class_index") is None and settings.get("class_vector") is None:
        settings["class_index"] = default_class
    # bad settings fail before 200 MB of weights are read
    check_truncation(settings.get("truncation", 1.0))
    _resolve_dtype(settings.get("dtype", "float32"), resolve_device(device))
    _bound_class(settings.get("class_index"), settings.get("class_vector"), config.num_classes)
    state = read_weights(weights_path)
    check_finite(str(weights_path), state)
    net = build(config, state, where=weights_path.name)
    return BigGANGenerator(net, name=name or str(path), device=device, **settings)
