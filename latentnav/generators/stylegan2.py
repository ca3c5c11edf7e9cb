"""StyleGAN2 (NVlabs stylegan2-ada-pytorch semantics) in pure PyTorch, its loaders and its Generator adapter.

The network is latentnav's own, written from the published description of the reference
(NVlabs/stylegan2-ada-pytorch ``training/networks.py``; facts in ``shared/reference/checkpoints.md`` §2)
with the reference's parameter names, so ``state_dict()`` keys are those of a released ``G_ema``
(``mapping.fc0.weight``, ``synthesis.b4.const``, ``synthesis.b8.conv0.affine.weight``, ...). It runs on any
device in float32 with plain torch ops (no custom CUDA kernels; the reference's fp16 layers and fused
kernels only change speed, so ``num_fp16_res`` and friends are read and ignored).

- Mapping: z -> normalise 2nd moment (and the class embedding, likewise) -> ``num_layers`` fully connected
  layers with learning-rate multiplier (weights scaled by ``lr_multiplier / sqrt(fan_in)`` at run time) and
  leaky ReLU * sqrt(2) -> broadcast to ``num_ws`` -> truncation ``w_avg + psi (w - w_avg)`` on all layers
  or on the first ``truncation_cutoff``.
- Synthesis: blocks 4x4 ... R x R; each layer modulates its 3x3 weights by ``affine(w)`` per input channel
  and demodulates them per output channel (one grouped convolution per batch); up-sampling layers use a
  stride-2 transposed convolution followed by the [1, 3, 3, 1] low-pass (gain 4), padded exactly as the
  reference; then noise (``noise_mode`` const / random / none), bias, leaky ReLU * sqrt(2) and the optional
  ``conv_clamp``. ``skip`` architecture: every block's 1x1 ToRGB (modulated, not demodulated) is added
  to the up-sampled image of the block below.
- The output is the raw synthesis output, **not clamped**: the contract's [-1, 1] is the nominal range,
  gradients must not die at a clamp, and only the uint8 conversion (``latentnav.viz``) clamps.

Files read (:func:`read_checkpoint`), all into the same module:

1. NVlabs ``.pkl`` network pickles, through :mod:`latentnav.generators.nvlabs_pickle` (an allow-list
   unpickler that never runs the source code embedded in the pickle): ``G_ema``'s tensors and its
   constructor kwargs.
2. A state dict with NVlabs names (``.pt``/``.pth`` read with ``weights_only=True``, or ``.safetensors``)
   plus ``config.json`` beside it holding the constructor kwargs (``latentnav convert`` writes these;
   its safetensors also carry the config in their metadata).
3. rosinality/stylegan2-pytorch ``.pt`` checkpoints (``{"g_ema": ..., "latent_avg": ...}``), whose names
   are mapped onto ours (``style.{i+1}`` -> ``mapping.fc{i}``, ``convs.{2k}`` -> ``b{8*2^k}.conv0``, ...).

Latent spaces of :class:`StyleGAN2Generator`: ``"z"`` [z_dim] (standard normal prior, ||z|| <= sqrt(z_dim)
for the trajectory optimiser), ``"w"`` [w_dim] (one w broadcast to every layer) and ``"w+"``
[num_ws, w_dim] (one w per layer). W and W+ have no prior ball: the trajectory optimiser does not project
there; trajectories start from mapped prior samples (truncated when ``truncation_psi`` < 1) and only the
image loss keeps them near the generator's range. Truncation applies only on the way z -> w.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from latentnav.errors import BadInputError, CheckpointError, WeightsNotFoundError
from latentnav.generators.base import MAX_WIDTH, Generator, check_finite, first_line, read_torch_file

ARCH = "stylegan2"
NOISE_MODES = ("const", "random", "none")
WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".pkl")

# ------------------------------------------------------------------------------------------- settings
GENERATOR_KEYS = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")
MAPPING_DEFAULTS: dict[str, Any] = {
    "num_layers": 8, "embed_features": None, "layer_features": None, "activation": "lrelu",
    "lr_multiplier": 0.01, "w_avg_beta": 0.995,
}  # fmt: skip
SYNTHESIS_DEFAULTS: dict[str, Any] = {
    "channel_base": 32768, "channel_max": 512, "num_fp16_res": 0, "conv_clamp": None, "architecture": "skip",
    "resample_filter": [1, 3, 3, 1], "use_noise": True, "activation": "lrelu", "kernel_size": 3,
}  # fmt: skip
#: Reference settings that change speed or memory layout only (fp16 runs, channels-last, fused kernels).
SPEED_ONLY = ("fp16_channels_last", "channels_last", "fused_modconv_default", "use_fp16")

_SQRT2 = math.sqrt(2.0)
#: activation -> (function, default gain), as the reference's ``bias_act``.
_ACTIVATIONS = {
    "linear": (lambda x: x, 1.0),
    "relu": (F.relu, _SQRT2),
    "lrelu": (lambda x: F.leaky_relu(x, 0.2), _SQRT2),
}


def normalize_config(raw: dict[str, Any]) -> dict[str, Any]:
    """Complete and check StyleGAN2 constructor kwargs (NVlabs ``Generator(**kwargs)`` names).

    Accepts ``mapping_kwargs``/``synthesis_kwargs`` dicts (stylegan2-ada-pytorch) or synthesis settings at
    the top level (stylegan3's StyleGAN2 configs), plus ``num_ws`` (checked) and ``arch`` (must be
    ``"stylegan2"``), as ``config.json`` written by ``latentnav convert`` has them.

    Returns:
        ``{z_dim, c_dim, w_dim, img_resolution, img_channels, mapping_kwargs, synthesis_kwargs}`` with
        every default filled in.

    Raises:
        CheckpointError: a missing or unknown key, or a value latentnav cannot build.
    """
    if not isinstance(raw, dict):
        raise CheckpointError(f"expected the StyleGAN2 config as a mapping of constructor kwargs, got "
                              f"{type(raw).__name__}")  # fmt: skip
    raw = dict(raw)
    arch = raw.pop("arch", ARCH)
    if arch != ARCH:
        raise CheckpointError(f"config is for architecture {arch!r}, not {ARCH!r}")
    num_ws = raw.pop("num_ws", None)
    missing = [k for k in GENERATOR_KEYS if k not in raw and k != "c_dim"]
    if missing:
        raise CheckpointError(f"StyleGAN2 config lacks {', '.join(missing)}; needs {', '.join(GENERATOR_KEYS)}")
    out: dict[str, Any] = {k: _integer(k, raw.pop(k, 0)) for k in GENERATOR_KEYS}
    mapping, synthesis = raw.pop("mapping_kwargs", None) or {}, raw.pop("synthesis_kwargs", None) or {}
    if not isinstance(mapping, dict) or not isinstance(synthesis, dict):
        raise CheckpointError("mapping_kwargs and synthesis_kwargs in the StyleGAN2 config must be mappings")
    synthesis = {**synthesis, **raw}  # stylegan3 puts them at the top level
    for kind, given, defaults in (("mapping", mapping, MAPPING_DEFAULTS), ("synthesis", synthesis, SYNTHESIS_DEFAULTS)):
        unknown = set(given) - set(defaults) - set(SPEED_ONLY)
        if unknown:
            raise CheckpointError(f"unknown StyleGAN2 {kind} settings {sorted(unknown)}; known: {', '.join(defaults)}")
        out[f"{kind}_kwargs"] = {k: given.get(k, v) for k, v in defaults.items()}
    _check_config(out)
    if num_ws is not None and _integer("num_ws", num_ws) != _num_ws(out["img_resolution"]):
        raise CheckpointError(f"config says num_ws={num_ws} but a {out['img_resolution']}px StyleGAN2 has {_num_ws(out['img_resolution'])}")
    return out


def _integer(name: str, value: Any) -> int:
    """``value`` when it is an integer (not a bool; a float that is one, as JSON may write it), else CheckpointError."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise CheckpointError(f"{name}={value!r} in the config is not an integer")
    return value


def _number(name: str, value: Any, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CheckpointError(f"{name}={value!r} in the config is not a finite number")


#: Integer settings and the values latentnav accepts: generous bounds, far above the released models; the
#: shapes are then compared with the tensors before anything is allocated (see :func:`build`).
INT_LIMITS = {
    "z_dim": (1, MAX_WIDTH), "c_dim": (0, MAX_WIDTH), "w_dim": (1, MAX_WIDTH), "img_resolution": (4, 8192),
    "img_channels": (1, 4), "num_layers": (1, 64), "embed_features": (1, MAX_WIDTH), "layer_features": (1, MAX_WIDTH),
    "channel_base": (1, 1 << 24), "channel_max": (1, MAX_WIDTH), "num_fp16_res": (0, 64), "kernel_size": (1, 15),
}  # fmt: skip


def _check_types(cfg: dict[str, Any]) -> None:
    """Refuse a config whose integers fall outside :data:`INT_LIMITS` (floats such as ``512.0`` become ints), or
    whose numbers, filter taps or ``use_noise`` flag are not what the network is built from."""
    m, s = cfg["mapping_kwargs"], cfg["synthesis_kwargs"]
    for name, (low, high) in INT_LIMITS.items():
        holder = cfg if name in GENERATOR_KEYS else m if name in m else s
        if holder[name] is None and name in ("embed_features", "layer_features"):
            continue
        value = holder[name] = _integer(name, holder[name])
        if not low <= value <= high:
            raise CheckpointError(f"{name}={value!r} in the config is not an integer in {low}..{high}")
    _number("lr_multiplier", m["lr_multiplier"])
    _number("w_avg_beta", m["w_avg_beta"], optional=True)
    _number("conv_clamp", s["conv_clamp"], optional=True)
    taps = s["resample_filter"]
    if not isinstance(taps, (list, tuple)) or not 1 <= len(taps) <= 16:
        raise CheckpointError(f"resample_filter={taps!r} in the config is not a list of 1 to 16 numbers")
    for tap in taps:
        _number("resample_filter", tap)
    if not isinstance(s["use_noise"], bool):
        raise CheckpointError(f"use_noise={s['use_noise']!r} in the config is not true or false")


def _num_ws(resolution: int) -> int:
    return 2 * int(round(math.log2(resolution))) - 2


def _check_config(cfg: dict[str, Any]) -> None:
    _check_types(cfg)
    res = cfg["img_resolution"]
    if res < 4 or 2 ** int(round(math.log2(res))) != res:
        raise CheckpointError(f"img_resolution must be a power of two >= 4, got {res}")
    if min(cfg["z_dim"], cfg["w_dim"], cfg["img_channels"]) < 1 or cfg["c_dim"] < 0:
        raise CheckpointError("z_dim, w_dim and img_channels must be >= 1 and c_dim >= 0")
    m, s = cfg["mapping_kwargs"], cfg["synthesis_kwargs"]
    for act in (m["activation"], s["activation"]):
        if not isinstance(act, str) or act not in _ACTIVATIONS:
            raise CheckpointError(f"unsupported activation {act!r}; known: {', '.join(_ACTIVATIONS)}")
    if s["architecture"] != "skip":
        raise CheckpointError(f"only the 'skip' synthesis architecture of the released StyleGAN2 models is supported, got {s['architecture']!r}")


# ------------------------------------------------------------------------------- pure tensor functions
def setup_filter(taps: Sequence[float] = (1, 3, 3, 1)) -> torch.Tensor:
    """The 2-D separable low-pass filter ``outer(taps, taps)``, normalised to sum 1: [K, K]."""
    f = torch.as_tensor(list(taps), dtype=torch.float32)
    f = torch.outer(f, f)
    return f / f.sum()


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """``x / sqrt(mean(x^2) + eps)`` over the feature dimension (dim 1)."""
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


def bias_act(x: torch.Tensor, b: torch.Tensor, act: str = "linear", gain: float | None = None,
             clamp: float | None = None) -> torch.Tensor:  # fmt: skip
    """Add a per-channel bias, apply the activation, scale by ``gain`` (its default gain if None), clamp."""
    fn, default_gain = _ACTIVATIONS[act]
    x = fn(x + b.reshape([1, -1] + [1] * (x.ndim - 2)))
    gain = default_gain if gain is None else gain
    if gain != 1:
        x = x * gain
    return x if clamp is None else x.clamp(-clamp, clamp)


def upfirdn2d(x: torch.Tensor, f: torch.Tensor, up: int = 1, pad: Sequence[int] = (0, 0, 0, 0), gain: float = 1.0) -> torch.Tensor:
    """Up-sample by zero insertion, pad, and convolve each channel with the 2-D FIR filter ``f``.

    Hand-written because torch has no such op; it follows the reference implementation
    (``upfirdn2d._upfirdn2d_ref``: the filter is flipped, i.e. a true convolution, and scaled by ``gain``).

    Args:
        x: [N, C, H, W].
        f: [K, K] filter.
        up: up-sampling factor.
        pad: (x0, x1, y0, y1) padding in pixels after up-sampling, all >= 0.
        gain: overall gain (4 for 2x up-sampling of a filter that sums to 1).

    Returns:
        [N, C, H * up + y0 + y1 - K + 1, W * up + x0 + x1 - K + 1].
    """
    n, c, h, w = x.shape
    if up > 1:
        x = F.pad(x.reshape(n, c, h, 1, w, 1), [0, up - 1, 0, 0, 0, up - 1]).reshape(n, c, h * up, w * up)
    x = F.pad(x, list(pad))
    weight = (f * gain).flip([0, 1]).to(x.dtype)[None, None].expand(c, 1, *f.shape)
    return F.conv2d(x, weight, groups=c)


def upsample2d(x: torch.Tensor, f: torch.Tensor, up: int = 2) -> torch.Tensor:
    """2x up-sampling with the FIR filter, padded to keep the image centred (gain up^2)."""
    k = f.shape[-1]
    p0, p1 = (k + up - 1) // 2, (k - up) // 2
    return upfirdn2d(x, f, up=up, pad=(p0, p1, p0, p1), gain=up * up)


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, *, demodulate: bool = True,
                     up: int = 1, padding: int = 0, resample_filter: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
    """Modulated (and demodulated) convolution, one grouped convolution for the whole batch.

    Args:
        x: [N, I, H, W] activations.
        weight: [O, I, k, k] base weights.
        styles: [N, I] per-sample input-channel scales.
        demodulate: rescale each sample's output channel to unit weight norm (``rsqrt(sum w^2 + 1e-8)``).
        up: 1, or 2 for the up-sampling layers (transposed convolution, then the FIR low-pass).
        padding: the layer's padding (kernel_size // 2).
        resample_filter: [K, K] low-pass filter (needed when ``up`` > 1).

    Returns:
        [N, O, H * up, W * up].
    """
    n, c_in, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    wts = weight[None] * styles[:, None, :, None, None]  # [N, O, I, k, k]
    if demodulate:
        wts = wts * (wts.square().sum(dim=[2, 3, 4], keepdim=True) + 1e-8).rsqrt()
    x = x.reshape(1, n * c_in, h, w)
    if up == 1:
        out = F.conv2d(x, wts.reshape(n * c_out, c_in, kh, kw), padding=padding, groups=n)
        return out.reshape(n, c_out, *out.shape[2:])
    # Padding bookkeeping of the reference's conv2d_resample (transposed-convolution path).
    fk = resample_filter.shape[-1]
    p0 = padding + (fk + up - 1) // 2 - (kw - 1)
    p1 = padding + (fk - up) // 2 - (kw - up)
    pt = max(min(-p0, -p1), 0)
    wt = wts.transpose(1, 2).reshape(n * c_in, c_out, kh, kw)
    out = F.conv_transpose2d(x, wt, stride=up, padding=pt, groups=n)
    out = upfirdn2d(out, resample_filter, pad=(p0 + pt, p1 + pt, p0 + pt, p1 + pt), gain=up * up)
    return out.reshape(n, c_out, *out.shape[2:])


# --------------------------------------------------------------------------------------------- modules
class FullyConnectedLayer(nn.Module):
    """Linear layer with run-time weight scaling ``lr_multiplier / sqrt(in_features)`` and bias scaling ``lr_multiplier``."""

    def __init__(self, in_features: int, out_features: int, *, activation: str = "linear", lr_multiplier: float = 1.0,
                 bias_init: float = 0.0) -> None:  # fmt: skip
        super().__init__()
        self.activation = activation
        self.lr_multiplier = float(lr_multiplier)
        self.bias_init = float(bias_init)
        self.weight = nn.Parameter(torch.zeros(out_features, in_features))
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init)))
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight * self.weight_gain
        b = self.bias * self.bias_gain if self.bias_gain != 1 else self.bias
        if self.activation == "linear":
            return torch.addmm(b[None], x, w.t())
        return bias_act(x.matmul(w.t()), b, self.activation)


class MappingNetwork(nn.Module):
    """z (and class c) -> ws [N, num_ws, w_dim], with truncation towards ``w_avg``."""

    def __init__(self, *, z_dim: int, c_dim: int, w_dim: int, num_ws: int, num_layers: int = 8,
                 embed_features: int | None = None, layer_features: int | None = None, activation: str = "lrelu",
                 lr_multiplier: float = 0.01, w_avg_beta: float | None = 0.995) -> None:  # fmt: skip
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws, self.num_layers = z_dim, c_dim, w_dim, num_ws, num_layers
        embed = 0 if c_dim == 0 else (w_dim if embed_features is None else embed_features)
        width = w_dim if layer_features is None else layer_features
        features = [z_dim + embed] + [width] * (num_layers - 1) + [w_dim]
        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, embed)
        for i in range(num_layers):
            fc = FullyConnectedLayer(features[i], features[i + 1], activation=activation, lr_multiplier=lr_multiplier)
            setattr(self, f"fc{i}", fc)
        self.has_w_avg = w_avg_beta is not None
        if self.has_w_avg:
            self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor, c: torch.Tensor, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None) -> torch.Tensor:  # fmt: skip
        parts = []
        if self.z_dim > 0:
            parts.append(normalize_2nd_moment(z.float()))
        if self.c_dim > 0:
            parts.append(normalize_2nd_moment(self.embed(c.float())))
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        x = x[:, None].repeat(1, self.num_ws, 1)
        if truncation_psi != 1:
            if not self.has_w_avg:
                raise BadInputError("this StyleGAN2 has no w_avg (w_avg_beta=None), so it cannot truncate")
            cut = self.num_ws if truncation_cutoff is None else truncation_cutoff
            x = torch.cat([self.w_avg.lerp(x[:, :cut], truncation_psi), x[:, cut:]], dim=1)
        return x


class SynthesisLayer(nn.Module):
    """Modulated 3x3 convolution (optionally 2x up-sampling), noise, bias, leaky ReLU, clamp."""

    def __init__(self, in_channels: int, out_channels: int, *, w_dim: int, resolution: int, kernel_size: int = 3,
                 up: int = 1, use_noise: bool = True, activation: str = "lrelu",
                 resample_filter: Sequence[float] = (1, 3, 3, 1), conv_clamp: float | None = None) -> None:  # fmt: skip
        super().__init__()
        self.resolution, self.up, self.use_noise, self.activation = resolution, up, use_noise, activation
        self.conv_clamp = conv_clamp
        self.padding = kernel_size // 2
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.zeros(out_channels, in_channels, kernel_size, kernel_size))
        if use_noise:
            self.register_buffer("noise_const", torch.zeros(resolution, resolution))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "const",
                generator: torch.Generator | None = None) -> torch.Tensor:  # fmt: skip
        styles = self.affine(w)
        x = modulated_conv2d(x, self.weight, styles, up=self.up, padding=self.padding, resample_filter=self.resample_filter)
        if self.use_noise and noise_mode == "const":
            x = x + self.noise_const * self.noise_strength
        elif self.use_noise and noise_mode == "random":
            shape = (x.shape[0], 1, self.resolution, self.resolution)
            x = x + torch.randn(shape, generator=generator, device=x.device) * self.noise_strength
        return bias_act(x, self.bias, self.activation, clamp=self.conv_clamp)


class ToRGBLayer(nn.Module):
    """1x1 modulated convolution without demodulation (styles scaled by 1/sqrt(fan_in)), bias, clamp."""

    def __init__(self, in_channels: int, out_channels: int, *, w_dim: int, kernel_size: int = 1,
                 conv_clamp: float | None = None) -> None:  # fmt: skip
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.zeros(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False)
        return bias_act(x, self.bias, clamp=self.conv_clamp)


class SynthesisBlock(nn.Module):
    """One resolution: (const | up-conv0), conv1, ToRGB added to the up-sampled image (skip architecture)."""

    def __init__(self, in_channels: int, out_channels: int, *, w_dim: int, resolution: int, img_channels: int,
                 resample_filter: Sequence[float], conv_clamp: float | None, **layer_kwargs: Any) -> None:  # fmt: skip
        super().__init__()
        self.in_channels = in_channels
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        common = dict(w_dim=w_dim, resolution=resolution, conv_clamp=conv_clamp, resample_filter=resample_filter, **layer_kwargs)
        if in_channels == 0:
            self.const = nn.Parameter(torch.zeros(out_channels, resolution, resolution))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, up=2, **common)
        self.conv1 = SynthesisLayer(out_channels, out_channels, **common)
        self.torgb = ToRGBLayer(out_channels, img_channels, w_dim=w_dim, conv_clamp=conv_clamp)
        self.num_conv = 1 if in_channels == 0 else 2
        self.num_torgb = 1

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor, noise_mode: str,
                generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        w_iter = iter(ws.unbind(dim=1))
        if self.in_channels == 0:
            x = self.const[None].expand(ws.shape[0], -1, -1, -1)
        else:
            x = self.conv0(x, next(w_iter), noise_mode, generator)
        x = self.conv1(x, next(w_iter), noise_mode, generator)
        y = self.torgb(x, next(w_iter))
        img = y if img is None else upsample2d(img, self.resample_filter) + y
        return x, img


class SynthesisNetwork(nn.Module):
    """ws [N, num_ws, w_dim] -> images [N, img_channels, R, R] (raw, unclamped)."""

    def __init__(self, *, w_dim: int, img_resolution: int, img_channels: int, channel_base: int = 32768,
                 channel_max: int = 512, num_fp16_res: int = 0, architecture: str = "skip",
                 resample_filter: Sequence[float] = (1, 3, 3, 1), conv_clamp: float | None = None,
                 **layer_kwargs: Any) -> None:  # fmt: skip
        super().__init__()
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.block_resolutions = [2**i for i in range(2, int(round(math.log2(img_resolution))) + 1)]
        channels = {res: min(channel_base // res, channel_max) for res in self.block_resolutions}
        self.num_ws = 0
        for res in self.block_resolutions:
            block = SynthesisBlock(channels[res // 2] if res > 4 else 0, channels[res], w_dim=w_dim, resolution=res,
                                   img_channels=img_channels, resample_filter=resample_filter, conv_clamp=conv_clamp,
                                   **layer_kwargs)  # fmt: skip
            self.num_ws += block.num_conv
            setattr(self, f"b{res}", block)
        self.num_ws += 1  # the last block's ToRGB; the others share their w with the next block's conv0

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", generator: torch.Generator | None = None) -> torch.Tensor:
        x = img = None
        w_idx = 0
        for res in self.block_resolutions:
            block = getattr(self, f"b{res}")
            x, img = block(x, img, ws.narrow(1, w_idx, block.num_conv + block.num_torgb), noise_mode, generator)
            w_idx += block.num_conv
        return img


class StyleGAN2(nn.Module):
    """The whole generator, built from NVlabs ``Generator`` constructor kwargs (see :func:`normalize_config`).

    Attributes:
        config: the normalised constructor kwargs (what ``config.json`` holds).
        mapping, synthesis: the two networks; ``num_ws`` layers of w.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        cfg = normalize_config(kwargs)
        self.config = cfg
        self.z_dim, self.c_dim, self.w_dim = cfg["z_dim"], cfg["c_dim"], cfg["w_dim"]
        self.img_resolution, self.img_channels = cfg["img_resolution"], cfg["img_channels"]
        synth = {k: v for k, v in cfg["synthesis_kwargs"].items()}
        self.synthesis = SynthesisNetwork(w_dim=self.w_dim, img_resolution=self.img_resolution,
                                          img_channels=self.img_channels, **synth)  # fmt: skip
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim=self.z_dim, c_dim=self.c_dim, w_dim=self.w_dim, num_ws=self.num_ws,
                                      **cfg["mapping_kwargs"])  # fmt: skip

    def forward(self, z: torch.Tensor, c: torch.Tensor, truncation_psi: float = 1.0, truncation_cutoff: int | None = None,
                noise_mode: str = "const", generator: torch.Generator | None = None) -> torch.Tensor:  # fmt: skip
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode, generator=generator)


def random_init_(net: StyleGAN2, seed: int = 0) -> StyleGAN2:
    """Fill ``net`` with the reference's initialisation (weights ~ N(0, 1) / lr_multiplier, const and noise
    ~ N(0, 1), affine biases 1, other biases 0), drawn from ``seed``. For benchmarks and tests."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, FullyConnectedLayer):
                module.weight.copy_(torch.randn(module.weight.shape, generator=gen) / module.lr_multiplier)
                module.bias.fill_(module.bias_init)
            elif isinstance(module, (SynthesisLayer, ToRGBLayer)):
                module.weight.copy_(torch.randn(module.weight.shape, generator=gen))
            if isinstance(module, SynthesisLayer) and module.use_noise:
                module.noise_const.copy_(torch.randn(module.noise_const.shape, generator=gen))
            if isinstance(module, SynthesisBlock) and module.in_channels == 0:
                module.const.copy_(torch.randn(module.const.shape, generator=gen))
    return net


# --------------------------------------------------------------------------------------------- adapter
def style_layers(net) -> list[nn.Module]:
    """The module that reads each W+ layer k of a StyleGAN2 synthesis network (SeFa's layer k).

    Layer k is the convolution that takes ``ws[k]``; the last layer (``num_ws - 1``) is the final ToRGB.
    The ToRGBs of the other blocks share their w with the next block's first convolution and are left
    out, as in SeFa.
    """
    synthesis = net.synthesis
    out: list[nn.Module] = []
    for res in synthesis.block_resolutions:
        block = getattr(synthesis, f"b{res}")
        out += [block.conv1] if block.in_channels == 0 else [block.conv0, block.conv1]
    out.append(getattr(synthesis, f"b{synthesis.block_resolutions[-1]}").torgb)
    return out


class StyleGAN2Generator(Generator):
    """A :class:`StyleGAN2` behind the Generator contract, with latent spaces z, w and w+.

    Attributes:
        w_dim, num_ws: W's width and the number of per-layer ws.
        num_classes: ``c_dim`` (0 when unconditional).
        truncation_psi, truncation_cutoff: truncation used on the way z -> w (``G(z)``, ``sample_latent``).
        noise_mode: ``"const"`` (default: the stored noise, so a seed means one image), ``"random"``
            (fresh noise from a generator seeded with ``noise_seed``) or ``"none"``.
        class_idx: the class used for z -> w when no ``c`` is given (conditional models).
        source_format: which file format the weights came from.
    """

    latent_spaces = ("z", "w", "w+")

    def __init__(self, net: StyleGAN2, *, name: str, device: str | torch.device = "auto", batch_size: int = 16,
                 truncation_psi: float = 1.0, truncation_cutoff: int | None = None, noise_mode: str = "const",
                 noise_seed: int = 0, class_idx: int | None = None, source_format: str = "") -> None:  # fmt: skip
        super().__init__(name=name, z_dim=net.z_dim, img_resolution=net.img_resolution, img_channels=net.img_channels,
                         device=device, batch_size=batch_size)  # fmt: skip
        self.net = net.to(self.device).eval().requires_grad_(False)
        self.w_dim, self.num_ws, self.num_classes = net.w_dim, net.num_ws, net.c_dim
        self.truncation_psi, self.truncation_cutoff = self._check_truncation(truncation_psi, truncation_cutoff)
        if noise_mode not in NOISE_MODES:
            raise BadInputError(f"unknown noise_mode {noise_mode!r}; known: {', '.join(NOISE_MODES)}")
        self.noise_mode = noise_mode
        self._noise = torch.Generator(device=self.device).manual_seed(int(noise_seed))
        if class_idx is not None and not 0 <= int(class_idx) < max(self.num_classes, 0):
            raise BadInputError(f"class_idx {class_idx} is out of range: {name} has {self.num_classes} classes")
        self.class_idx = None if class_idx is None else int(class_idx)
        self.source_format = source_format

    def bind_class(self, class_index: int) -> None:
        """Make ``class_index`` the class z is mapped with when no ``c`` is given (conditional models)."""
        if not self.num_classes:
            super().bind_class(class_index)
        if not 0 <= int(class_index) < max(self.num_classes, 0):
            raise BadInputError(f"class index {class_index} is out of range: {self.name} has {self.num_classes} classes")
        self.class_idx = int(class_index)

    # ----------------------------------------------------------------------------------- latents
    def latent_shape(self, space: str = "z") -> tuple[int, ...]:
        """z: (z_dim,); w: (w_dim,); w+: (num_ws, w_dim)."""
        self._check_space(space)
        return {"z": (self.z_dim,), "w": (self.w_dim,), "w+": (self.num_ws, self.w_dim)}[space]

    def sample_latent(self, seeds: Sequence[int], space: str = "z") -> torch.Tensor:
        """Prior samples (one per seed) in ``space``, flattened to [n, D], on the CPU.

        W and W+ samples are ``to_w(sample_z(seeds))`` with this generator's truncation settings; a W
        sample is the first layer's w (the same on every layer unless ``truncation_cutoff`` is set).
        """
        self._check_space(space)
        z = self.sample_z(seeds=seeds)
        if space == "z":
            return z
        with torch.no_grad():
            ws = self.to_w(z, truncation_psi=self.truncation_psi, truncation_cutoff=self.truncation_cutoff).cpu()
        return ws[:, 0] if space == "w" else ws.flatten(1)

    def to_w(self, z: torch.Tensor, c: Any = None, truncation_psi: float = 1.0,
             truncation_cutoff: int | None = None) -> torch.Tensor:  # fmt: skip
        """Map z to per-layer ws.

        Args:
            z: [N, z_dim].
            c: class of a conditional model: an int, [N] class indices, or [N, c_dim] (one-hot or a mixture);
                ``None`` uses :attr:`class_idx`.
            truncation_psi: 1 = none; 0 collapses onto ``w_avg``.
            truncation_cutoff: truncate only the first this many layers (``None`` = all).

        Returns:
            [N, num_ws, w_dim] on :attr:`device`.
        """
        z = self.check_latent(z, "z").to(self.device)
        psi, cutoff = self._check_truncation(truncation_psi, truncation_cutoff)
        return self.net.mapping(z, self.class_matrix(c, len(z)), truncation_psi=psi, truncation_cutoff=cutoff)

    def synthesize(self, ws: torch.Tensor, noise_mode: str | None = None) -> torch.Tensor:
        """Images from per-layer ws [N, num_ws, w_dim] (checked), raw and unclamped, on :attr:`device`."""
        ws = self.check_latent(ws, "w+").to(self.device)
        mode = noise_mode or self.noise_mode
        if mode not in NOISE_MODES:
            raise BadInputError(f"unknown noise_mode {mode!r}; known: {', '.join(NOISE_MODES)}")
        return self.net.synthesis(ws, noise_mode=mode, generator=self._noise)

    # ------------------------------------------------------------- where the latent meets the network (SeFa, GANSpace)
    def latent_weight(self, space: str, layers=None) -> torch.Tensor:
        """The weight that first acts on a latent of ``space``, [out, D]: the first mapping layer's for z (the
        normalised z's columns), the style affines of ``layers`` (all by default) for w and w+."""
        if space == "z":
            return self.net.mapping.fc0.weight[:, : self.z_dim]
        modules = style_layers(self.net)
        return torch.cat([modules[k].affine.weight for k in (range(len(modules)) if layers is None else layers)])

    def default_feature(self, space: str) -> str | None:
        """GANSpace's default feature: the last mapping layer (w before broadcast) for z, the latent w itself otherwise."""
        return f"mapping.fc{self.net.mapping.num_layers - 1}" if space == "z" else None

    def _synthesize(self, latent: torch.Tensor, space: str) -> torch.Tensor:
        if space == "z":
            latent = self.to_w(latent, truncation_psi=self.truncation_psi, truncation_cutoff=self.truncation_cutoff)
        elif space == "w":
            latent = latent[:, None].expand(-1, self.num_ws, -1)
        return self.net.synthesis(latent, noise_mode=self.noise_mode, generator=self._noise)

    # ------------------------------------------------------------------------------------ checks
    def class_matrix(self, c: Any, n: int) -> torch.Tensor:
        """The [n, c_dim] class input of the mapping network from an int, [n] indices or [n, c_dim] floats."""
        if self.num_classes == 0:
            if c is not None and not (isinstance(c, torch.Tensor) and c.numel() == 0):
                raise BadInputError(f"{self.name} is unconditional; it takes no class")
            return torch.zeros(n, 0, device=self.device)
        c = self.class_idx if c is None else c
        if c is None:
            raise BadInputError(f"{self.name} is class-conditional ({self.num_classes} classes): give c= (an int, [N] class "
                             f"indices or [N, {self.num_classes}] one-hot) or load it with class_idx=K")  # fmt: skip
        c = torch.as_tensor(c)
        if c.ndim == 0 or (c.ndim == 1 and not c.is_floating_point()):
            idx = c.long().expand(n) if c.ndim == 0 else c.long()
            if idx.shape != (n,) or idx.min() < 0 or idx.max() >= self.num_classes:
                raise BadInputError(f"expected {n} class indices in [0, {self.num_classes}), got {c.tolist()}")
            return F.one_hot(idx, self.num_classes).float().to(self.device)
        if c.shape != (n, self.num_classes):
            raise BadInputError(f"expected c of shape [{n}, {self.num_classes}], got {list(c.shape)}")
        return c.float().to(self.device)

    def _check_truncation(self, psi: float, cutoff: int | None) -> tuple[float, int | None]:
        psi = float(psi)
        if not math.isfinite(psi):
            raise BadInputError(f"truncation_psi must be finite, got {psi}")
        if cutoff is not None and not 0 <= int(cutoff) <= self.num_ws:
            raise BadInputError(f"truncation_cutoff must lie in [0, {self.num_ws}] (num_ws), got {cutoff}")
        return psi, None if cutoff is None else int(cutoff)


# ----------------------------------------------------------------------------------------- checkpoints
@dataclass
class Checkpoint:
    """Tensors with NVlabs names, the constructor kwargs, and where they came from (``where``: the file's name)."""

    state: dict[str, torch.Tensor]
    config: dict[str, Any]
    source_format: str
    notes: list[str] = field(default_factory=list)
    where: str = ""


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Read any supported StyleGAN2 file (see module docstring) into NVlabs-named tensors and kwargs.

    Args:
        path: a ``.pkl``, ``.pt``/``.pth``, ``.safetensors`` file, or a directory holding one of them
            (``model.safetensors`` preferred) and ``config.json``.

    Raises:
        CheckpointError: unsafe, truncated, corrupted, empty or unrecognised files, a pickle without ``G_ema``,
            a state dict without its ``config.json``.
        WeightsNotFoundError: no such file (a ``FileNotFoundError``).
    """
    path = _weights_file(Path(path).expanduser())
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path.name}: empty file (0 bytes), not a StyleGAN2 model")
    if path.suffix == ".pkl":
        ckpt = _read_nvlabs_pickle(path)
    elif path.suffix == ".safetensors":
        tensors, meta = _read_safetensors(path)
        try:
            config = json.loads(meta["config"]) if "config" in meta else None
        except json.JSONDecodeError as err:
            raise CheckpointError(f"{path.name}: the config in its header is not valid JSON ({err})") from None
        ckpt = _interpret(tensors, config, None, path)
    else:
        obj = _torch_load(path)
        if isinstance(obj, dict) and "g_ema" in obj:
            ckpt = _interpret(obj["g_ema"], None, obj.get("latent_avg"), path)
        else:
            if isinstance(obj, dict) and isinstance(obj.get("G_ema"), dict):
                obj = obj["G_ema"]
            ckpt = _interpret(obj, None, None, path)
    ckpt.where = path.name
    return ckpt


def _weights_file(path: Path) -> Path:
    if not path.exists():
        raise WeightsNotFoundError(f"no StyleGAN2 file at {path}")
    if path.is_file():
        return path
    preferred = path / "model.safetensors"
    if preferred.is_file():
        return preferred
    found = sorted(p for p in path.iterdir() if p.suffix in WEIGHT_SUFFIXES and p.is_file())
    if len(found) != 1:
        names = ", ".join(p.name for p in found) or "none"
        raise CheckpointError(f"{path}: expected one weight file ({', '.join(WEIGHT_SUFFIXES)}) in the directory, found {names}")
    return found[0]


def _read_config_json(weights: Path) -> dict[str, Any] | None:
    cfg = weights.with_name("config.json")
    if not cfg.is_file():
        return None
    try:
        config = json.loads(cfg.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{cfg}: not valid JSON ({err})") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{cfg}: expected a JSON object of StyleGAN2 constructor kwargs")
    return config


def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, RuntimeError, ValueError) as err:
        raise CheckpointError(f"{path.name}: not a readable safetensors file (truncated or corrupted: {err})") from None
    return tensors, meta


def _torch_load(path: Path) -> Any:
    # rosinality training checkpoints carry their argparse.Namespace of settings: allow just that class.
    return read_torch_file(path, [argparse.Namespace], hint="; NVlabs network pickles must end in .pkl")


def _read_nvlabs_pickle(path: Path) -> Checkpoint:
    from latentnav.generators import nvlabs_pickle as nvp

    data = nvp.read(path)
    if isinstance(data, nvp.PersistentRecord):
        data = {"G_ema": data}  # a generator pickled on its own
    if not isinstance(data, dict) or not isinstance(data.get("G_ema"), nvp.PersistentRecord):
        keys = ", ".join(map(str, data)) if isinstance(data, dict) else type(data).__name__
        raise CheckpointError(f"{path.name}: no G_ema network in this pickle (found: {keys}); latentnav reads the "
                              f"generator's moving average G_ema of an NVlabs network pickle")  # fmt: skip
    g = data["G_ema"]
    tensors = nvp.module_tensors(g)
    if any(k.startswith("synthesis.input.") for k in tensors):
        raise CheckpointError(f"{path.name}: a StyleGAN3 (alias-free) generator; latentnav reads StyleGAN2 configurations only")
    config = nvp.init_kwargs(g, positional=GENERATOR_KEYS)
    return Checkpoint(tensors, config, "nvlabs-pickle")


def _interpret(tensors: Any, config: dict[str, Any] | None, latent_avg: Any, path: Path) -> Checkpoint:
    """NVlabs- or rosinality-named tensors -> :class:`Checkpoint`."""
    if not isinstance(tensors, dict) or not tensors or not all(isinstance(v, torch.Tensor) for v in tensors.values()):
        raise CheckpointError(f"{path.name}: expected a state dict of tensors (or rosinality's {{'g_ema': ...}})")
    if "synthesis.b4.const" in tensors or "mapping.fc0.weight" in tensors:
        config = config if config is not None else _read_config_json(path)
        if config is None:
            raise CheckpointError(f"{path.name}: a state dict with NVlabs names needs config.json beside it with the "
                                  f"Generator kwargs (z_dim, c_dim, w_dim, img_resolution, img_channels, mapping_kwargs, "
                                  f"synthesis_kwargs); latentnav convert writes both")  # fmt: skip
        return Checkpoint(dict(tensors), config, "state-dict")
    if "input.input" in tensors or "style.1.weight" in tensors:
        try:
            state, config, notes = rosinality_to_nvlabs(tensors, latent_avg, path.name)
        except (IndexError, RuntimeError, TypeError) as err:  # a tensor of the wrong rank or size
            raise CheckpointError(f"{path.name}: not a rosinality StyleGAN2 layout ({first_line(err)})") from None
        return Checkpoint(state, config, "rosinality", notes)
    sample = ", ".join(list(tensors)[:3])
    raise CheckpointError(f"{path.name}: not a StyleGAN2 state dict: expected NVlabs names (mapping.fc0.weight, "
                          f"synthesis.b4.const, ...) or rosinality names (style.1.weight, input.input, ...), got {sample}, ...")  # fmt: skip


def rosinality_to_nvlabs(sd: dict[str, torch.Tensor], latent_avg: torch.Tensor | None,
                         where: str = "checkpoint") -> tuple[dict[str, torch.Tensor], dict[str, Any], list[str]]:  # fmt: skip
    """Rename a rosinality/stylegan2-pytorch ``g_ema`` state dict to NVlabs names and infer its kwargs.

    ``style.{i+1}`` -> ``mapping.fc{i}``; ``input.input[0]`` -> ``synthesis.b4.const``; ``conv1``/``to_rgb1``
    -> ``b4.conv1``/``b4.torgb``; ``convs.{2k}``, ``convs.{2k+1}``, ``to_rgbs.{k}`` -> ``b{8*2^k}.conv0``,
    ``.conv1``, ``.torgb``; within a layer ``conv.weight[0]`` -> ``weight``, ``conv.modulation`` -> ``affine``,
    ``noise.weight`` -> ``noise_strength``, ``activate.bias`` -> ``bias``; ``noises.noise_j`` -> the j-th
    layer's ``noise_const``; ``latent_avg`` -> ``mapping.w_avg``. The up-sampling weights need no flip:
    both codes run the same transposed convolution. The blur kernels are rebuilt from [1, 3, 3, 1].

    Returns:
        ``(state, config, notes)``; ``state`` lacks ``mapping.w_avg`` when ``latent_avg`` is None.
    """
    used: set[str] = set()

    def take(key: str) -> torch.Tensor:
        if key not in sd:
            raise CheckpointError(f"{where}: rosinality checkpoint lacks {key}")
        used.add(key)
        return sd[key]

    n_mlp = len([k for k in sd if re.fullmatch(r"style\.\d+\.weight", k)])
    n_up = len([k for k in sd if re.fullmatch(r"to_rgbs\.\d+\.conv\.weight", k)])
    size = 4 * 2**n_up
    st: dict[str, torch.Tensor] = {}
    for i in range(n_mlp):
        st[f"mapping.fc{i}.weight"], st[f"mapping.fc{i}.bias"] = take(f"style.{i + 1}.weight"), take(f"style.{i + 1}.bias")
    st["synthesis.b4.const"] = take("input.input")[0]

    def layer(dst: str, src: str, j: int) -> None:
        st[f"{dst}.weight"] = take(f"{src}.conv.weight")[0]
        st[f"{dst}.affine.weight"], st[f"{dst}.affine.bias"] = take(f"{src}.conv.modulation.weight"), take(f"{src}.conv.modulation.bias")
        st[f"{dst}.noise_strength"] = take(f"{src}.noise.weight").reshape([])
        st[f"{dst}.bias"] = take(f"{src}.activate.bias")
        st[f"{dst}.noise_const"] = take(f"noises.noise_{j}")[0, 0]
        st[f"{dst}.resample_filter"] = setup_filter()

    def torgb(dst: str, src: str) -> None:
        st[f"{dst}.weight"] = take(f"{src}.conv.weight")[0]
        st[f"{dst}.affine.weight"], st[f"{dst}.affine.bias"] = take(f"{src}.conv.modulation.weight"), take(f"{src}.conv.modulation.bias")
        st[f"{dst}.bias"] = take(f"{src}.bias").reshape(-1)

    layer("synthesis.b4.conv1", "conv1", 0)
    torgb("synthesis.b4.torgb", "to_rgb1")
    st["synthesis.b4.resample_filter"] = setup_filter()
    channels = {4: st["synthesis.b4.const"].shape[0]}
    for k in range(n_up):
        res = 8 * 2**k
        layer(f"synthesis.b{res}.conv0", f"convs.{2 * k}", 2 * k + 1)
        layer(f"synthesis.b{res}.conv1", f"convs.{2 * k + 1}", 2 * k + 2)
        torgb(f"synthesis.b{res}.torgb", f"to_rgbs.{k}")
        st[f"synthesis.b{res}.resample_filter"] = setup_filter()
        channels[res] = st[f"synthesis.b{res}.conv1.weight"].shape[0]
    left = {k for k in sd if k not in used and not k.endswith(("blur.kernel", "upsample.kernel"))}
    if left:
        raise CheckpointError(f"{where}: unexpected keys for a rosinality StyleGAN2: {sorted(left)[:3]}")
    channel_base, channel_max = channels[size] * size, channels[4]
    if any(min(channel_base // r, channel_max) != c for r, c in channels.items()):
        raise CheckpointError(f"{where}: channel widths {channels} do not follow min(channel_base // res, channel_max)")
    notes = []
    if latent_avg is not None:
        st["mapping.w_avg"] = torch.as_tensor(latent_avg).reshape(-1)
    else:
        notes.append("no latent_avg in the file: w_avg estimated as the mean of 10,000 mapped z (seed 0)")
    config = {
        "z_dim": int(st["mapping.fc0.weight"].shape[1]), "c_dim": 0, "w_dim": int(st[f"mapping.fc{n_mlp - 1}.weight"].shape[0]),
        "img_resolution": size, "img_channels": int(st["synthesis.b4.torgb.weight"].shape[0]),
        "mapping_kwargs": {"num_layers": n_mlp, "lr_multiplier": 0.01},
        "synthesis_kwargs": {"channel_base": int(channel_base), "channel_max": int(channel_max)},
    }  # fmt: skip
    return st, config, notes


def build(ckpt: Checkpoint) -> StyleGAN2:
    """A fresh :class:`StyleGAN2` holding ``ckpt``'s tensors; every name and shape must fit exactly.

    The config is built on the ``meta`` device and compared with the tensors first, and the tensors must be
    finite, so a file whose config disagrees with its tensors fails before any network is allocated.

    Raises:
        CheckpointError: a config latentnav cannot build; missing, unexpected, mis-shaped or non-finite
            tensors (nothing is returned half-loaded).
    """
    where = ckpt.where or ckpt.source_format
    try:
        with torch.device("meta"):
            expected = StyleGAN2(**ckpt.config).state_dict()
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{where}: {first_line(err)}") from None
    state = dict(ckpt.state)
    estimate = "mapping.w_avg" in expected and "mapping.w_avg" not in state and ckpt.source_format == "rosinality"
    missing = [k for k in expected if k not in state and not (estimate and k == "mapping.w_avg")]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        raise CheckpointError(f"{where}: the tensors do not fit the StyleGAN2 built from the config: missing "
                              f"{missing[:3]}, unexpected {unexpected[:3]}")  # fmt: skip
    for key, want in expected.items():
        value = state.get(key, want)  # w_avg, when it is to be estimated
        if tuple(value.shape) != tuple(want.shape):
            raise CheckpointError(f"{where}: {key} has shape {list(value.shape)}, the config implies "
                                  f"{list(want.shape)}")  # fmt: skip
        if not value.is_floating_point():
            raise CheckpointError(f"{where}: {key} has dtype {value.dtype}, expected floating point")
    check_finite(where, state)
    net = StyleGAN2(**ckpt.config)
    if estimate:
        state["mapping.w_avg"] = net.mapping.w_avg
    net.load_state_dict({k: v.float() for k, v in state.items()})
    if estimate:
        net.mapping.w_avg.copy_(estimate_w_avg(net))
    return net.eval().requires_grad_(False)


def estimate_w_avg(net: StyleGAN2, n: int = 10_000, seed: int = 0) -> torch.Tensor:
    """Mean of the mapping network's output over ``n`` standard normal z drawn from ``seed`` ([w_dim])."""
    z = torch.randn(n, net.z_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return net.mapping(z, torch.zeros(n, 0))[:, 0].mean(0)


# ------------------------------------------------------------------------------------- public entries
SETTINGS = ("batch_size", "truncation_psi", "truncation_cutoff", "noise_mode", "noise_seed", "class_idx")


def load(path: str | Path, *, name: str | None = None, device: str | torch.device = "auto", **settings: Any) -> StyleGAN2Generator:
    """Load a StyleGAN2 from any supported file (see :func:`read_checkpoint`).

    Args:
        path: the file (or directory).
        name: the generator's name (registry name, or the path).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ...
        **settings: ``batch_size`` (16), ``truncation_psi`` (1.0), ``truncation_cutoff`` (None),
            ``noise_mode`` (``"const"``), ``noise_seed`` (0), ``class_idx`` (None).
    """
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        raise BadInputError(f"unknown stylegan2 settings {sorted(unknown)}; known: {', '.join(SETTINGS)}")
    ckpt = read_checkpoint(path)
    net = build(ckpt)
    return StyleGAN2Generator(net, name=name or str(path), device=device, source_format=ckpt.source_format, **settings)


def convert(path: str | Path, out_dir: str | Path, *, name: str | None = None) -> Path:
    """Write any supported StyleGAN2 file as ``out_dir/model.safetensors`` + ``out_dir/config.json``.

    The safetensors metadata repeats the config and records the source (name, format, sha256), so the
    file describes itself; each file is written under a temporary name and then renamed.

    Returns:
        The path of ``model.safetensors``.
    """
    from latentnav._version import __version__
    from latentnav.generators.hub import sha256_of
    from latentnav.io import save_safetensors, write_text

    src = _weights_file(Path(path).expanduser())
    ckpt = read_checkpoint(src)
    net = build(ckpt)
    config = {"arch": ARCH, **net.config, "num_ws": net.num_ws}
    meta = {
        "arch": ARCH, "format": "latentnav-stylegan2", "config": json.dumps(config), "source": name or src.name,
        "source_format": ckpt.source_format, "source_sha256": sha256_of(src), "latentnav_version": __version__,
        "notes": json.dumps(ckpt.notes),
    }  # fmt: skip
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    weights, cfg = out / "model.safetensors", out / "config.json"
    save_safetensors({k: v.float() for k, v in net.state_dict().items()}, weights, meta)
    write_text(cfg, json.dumps(config, indent=2))
    return weights


def sniff(path: str | Path) -> bool:
    """Whether a local path looks like a StyleGAN2 file latentnav reads (cheap; no tensors are loaded
    except for plain torch files, which are memory-mapped)."""
    path = Path(path)
    try:
        if path.is_dir():
            config = path / "config.json"
            return config.is_file() and "synthesis_kwargs" in config.read_text() or any(path.glob("*.pkl"))
        if path.suffix == ".pkl":
            return True
        config = path.with_name("config.json")
        if config.is_file() and ("synthesis_kwargs" in config.read_text() or '"stylegan2"' in config.read_text()):
            return True
        if path.suffix in (".pt", ".pth") and zipfile.is_zipfile(path):
            with torch.serialization.safe_globals([argparse.Namespace]):
                obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            keys = set(obj["g_ema"]) if isinstance(obj, dict) and isinstance(obj.get("g_ema"), dict) else set(obj or ())
            return bool(keys & {"style.1.weight", "input.input", "mapping.fc0.weight", "synthesis.b4.const"})
    except Exception:  # noqa: BLE001 - a file we cannot even peek at is not ours to claim
        return False
    return False


@dataclass(frozen=True)
class ConvertSource:
    """What ``latentnav convert`` reads: a local file (``path``, one of the run's inputs) or a registry model."""

    path: Path | None
    spec: Any = None

    def fetch(self) -> Path:
        """The file to read (a registry model's is located or downloaded, and verified, now)."""
        if self.path is not None:
            return self.path
        from latentnav.generators import hub

        return hub.fetch(self.spec)[0]


def convert_source(model: str) -> ConvertSource:
    """Check what ``latentnav convert --model`` names before any work: a StyleGAN2 registry model or an existing file.

    Raises:
        BadInputError: a registry model of another family; UnknownNameError: neither a model nor a path.
    """
    from latentnav.errors import UnknownNameError
    from latentnav.generators.registry import default_registry

    reg = default_registry()
    if model in reg:
        spec = reg[model]
        if spec.arch != ARCH:
            raise BadInputError(f"latentnav convert reads StyleGAN2 models; {model} is a {spec.arch} model")
        return ConvertSource(None, spec)
    path = Path(model).expanduser()
    if not path.exists():
        known = [n for n, s in reg.items() if s.arch == ARCH]
        raise UnknownNameError("model", model, known, " (or give the path of a StyleGAN2 file)")
    return ConvertSource(path)
