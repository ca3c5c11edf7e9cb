"""A style-based InfoGAN generator (after Paul et al. 2020): control codes injected at every scale.

Latent layout of ``z`` (one latent space): ``[noise (noise_dim), one-hot of each categorical code,
continuous codes]``. Noise and continuous codes are standard normal, each categorical code uniform
over its values. A mapping MLP turns ``z`` into a style ``w``; the synthesis network starts from a
learned 4x4 constant and, at 4, 8, 16 and 32 px, runs a 3x3 convolution whose output is
instance-normalised and then scaled and shifted by an affine function of ``w`` (AdaIN, as in StyleGAN),
so the codes reach every scale. The discriminator's trunk is shared with an auxiliary head Q(c | x)
(categorical logits and continuous means) whose log-likelihood lower-bounds I(c; G(z, c)) (InfoGAN).

Code specs read ``cat:3,cont:4`` (one categorical code of 3 values and 4 continuous codes);
``cat:10,cat:2,cont:2`` gives two categorical codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from latentnav.errors import BadInputError, BadSpecError, CheckpointError
from latentnav.generators.base import (
    MAX_WIDTH,
    Generator,
    check_int_settings,
    describe_settings,
    load_checked,
    read_header,  # fmt: skip
    save_weights,
)

ARCH = "infogan"
#: The integer settings a file carries and the values latentnav accepts (besides ``codes`` and ``channels``).
LIMITS = {"noise_dim": (0, MAX_WIDTH), "w_dim": (1, MAX_WIDTH), "img_channels": (1, 4), "d_width": (1, MAX_WIDTH)}
#: The most scales a generator may have (4 px doubled 9 times: 2048 px).
MAX_SCALES = 10


#: the most code coordinates (categorical values plus continuous codes) a spec may ask for
MAX_CODE_WIDTH = 1024


@dataclass(frozen=True)
class CodeSpec:
    """The control codes: sizes of the categorical codes and the number of continuous ones."""

    categorical: tuple[int, ...] = ()
    continuous: int = 0

    @classmethod
    def parse(cls, text: str) -> CodeSpec:
        """Parse ``"cat:3,cont:4"``; a malformed or empty spec raises :class:`BadSpecError` (one line)."""
        cats, cont = [], 0
        for part in (p.strip() for p in text.split(",")):
            kind, _, value = part.partition(":")
            try:
                n = int(value)
            except ValueError:
                raise BadSpecError(f"bad code spec {part!r} in {text!r}: expected cat:K (K >= 2 values) or cont:N (N >= 1 codes)") from None
            if kind == "cat":
                if n < 2:
                    raise BadSpecError(f"bad code spec {part!r}: a categorical code needs at least 2 values")
                cats.append(n)
            elif kind == "cont":
                if n < 1:
                    raise BadSpecError(f"bad code spec {part!r}: the number of continuous codes must be at least 1")
                cont += n
            else:
                raise BadSpecError(f"bad code spec {part!r}: unknown kind {kind!r}; expected cat:K or cont:N")
        if sum(cats) + cont > MAX_CODE_WIDTH:
            raise BadSpecError(f"code spec {text!r} asks for {sum(cats) + cont:,} code coordinates; at most {MAX_CODE_WIDTH}")
        return cls(tuple(cats), cont)

    def __str__(self) -> str:
        return ",".join([f"cat:{k}" for k in self.categorical] + ([f"cont:{self.continuous}"] if self.continuous else []))

    @property
    def dim(self) -> int:
        """Coordinates the codes take in ``z`` (one-hots plus continuous)."""
        return sum(self.categorical) + self.continuous

    def names(self) -> list[str]:
        """``cat0, cat1, ..., cont0, cont1, ...``."""
        return [f"cat{i}" for i in range(len(self.categorical))] + [f"cont{i}" for i in range(self.continuous)]


def sample_codes(spec: CodeSpec, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw codes: class indices [n, n_cat] (long) and continuous values [n, n_cont] (standard normal)."""
    idx = [torch.randint(k, (n,), generator=generator) for k in spec.categorical]
    cat = torch.stack(idx, dim=1) if idx else torch.zeros(n, 0, dtype=torch.long)
    return cat, torch.randn(n, spec.continuous, generator=generator)


def codes_to_z(spec: CodeSpec, noise: torch.Tensor, cat: torch.Tensor, cont: torch.Tensor) -> torch.Tensor:
    """Assemble ``z = [noise, one-hots, continuous]`` ([n, noise_dim + spec.dim])."""
    hots = [F.one_hot(cat[:, i], k).float() for i, k in enumerate(spec.categorical)]
    return torch.cat([noise, *hots, cont], dim=1)


class AdaIN(nn.Module):
    """Instance normalisation followed by a per-channel scale and shift computed from the style ``w``."""

    def __init__(self, channels: int, w_dim: int) -> None:
        super().__init__()
        self.affine = nn.Linear(w_dim, 2 * channels)  # random weights: the codes must move the image from step 0
        nn.init.zeros_(self.affine.bias)  # so Q has something to read and its gradient something to follow

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.affine(w).chunk(2, dim=1)
        return F.instance_norm(x) * (1 + gamma[:, :, None, None]) + beta[:, :, None, None]


class StyleGenerator(nn.Module):
    """Mapping MLP -> style w; constant 4x4 input; per scale a 3x3 conv with AdaIN(w); 1x1 conv to pixels."""

    def __init__(self, z_dim: int, w_dim: int = 128, channels: tuple[int, ...] = (128, 64, 32, 16),
                 img_channels: int = 1) -> None:  # fmt: skip
        super().__init__()
        self.z_dim, self.w_dim, self.channels, self.img_channels = z_dim, w_dim, tuple(channels), img_channels
        self.mapping = nn.Sequential(nn.Linear(z_dim, w_dim), nn.LeakyReLU(0.2), nn.Linear(w_dim, w_dim), nn.LeakyReLU(0.2))
        self.const = nn.Parameter(torch.randn(1, channels[0], 4, 4))
        ins = (channels[0], *channels[:-1])
        self.convs = nn.ModuleList(nn.Conv2d(i, o, 3, padding=1) for i, o in zip(ins, channels))
        self.styles = nn.ModuleList(AdaIN(o, w_dim) for o in channels)
        self.to_img = nn.Conv2d(channels[-1], img_channels, 1)

    @property
    def img_resolution(self) -> int:
        return 4 * 2 ** (len(self.channels) - 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z [N, z_dim] -> images [N, C, R, R] in (-1, 1)."""
        w = self.mapping(z)
        x = self.const.expand(len(z), -1, -1, -1)
        for k, (conv, style) in enumerate(zip(self.convs, self.styles)):
            if k:
                x = F.interpolate(x, scale_factor=2, mode="nearest")
            x = F.leaky_relu(style(conv(x), w), 0.2)
        return torch.tanh(self.to_img(x))


class DiscriminatorQ(nn.Module):
    """Strided-conv trunk with two heads: the real/fake logit and Q(c | x) (class logits, continuous means)."""

    def __init__(self, spec: CodeSpec, img_resolution: int = 32, img_channels: int = 1, width: int = 32) -> None:
        super().__init__()
        layers, c, res = [], img_channels, img_resolution
        while res > 4:
            layers += [nn.Conv2d(c, width, 4, 2, 1), nn.LeakyReLU(0.2)]
            c, width, res = width, width * 2, res // 2
        self.trunk = nn.Sequential(*layers, nn.Flatten(), nn.Linear(c * 16, 256), nn.LeakyReLU(0.2))
        self.d_head = nn.Linear(256, 1)
        self.q_head = nn.Linear(256, max(spec.dim, 1))
        self.spec = spec

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
        """Images -> (real/fake logits [N], class logits per categorical code, continuous means [N, n_cont])."""
        h = self.trunk(x)
        q = self.q_head(h)
        logits, start = [], 0
        for k in self.spec.categorical:
            logits.append(q[:, start : start + k])
            start += k
        return self.d_head(h)[:, 0], logits, q[:, start : start + self.spec.continuous]


class InfoGANGenerator(Generator):
    """A trained style-based InfoGAN behind the Generator contract.

    ``z`` = [noise, one-hot categorical codes, continuous codes] (:meth:`code_slice` says where each code
    sits); :meth:`code_direction` makes a continuous code a Direction that ``evaluate`` can score.
    """

    latent_spaces = ("z",)

    def __init__(self, net: StyleGenerator, q: DiscriminatorQ | None, spec: CodeSpec, noise_dim: int, *, name: str,
                 device: str | torch.device = "auto", batch_size: int = 1024, metadata: dict | None = None) -> None:  # fmt: skip
        super().__init__(name=name, z_dim=net.z_dim, img_resolution=net.img_resolution, img_channels=net.img_channels,
                         device=device, batch_size=batch_size)  # fmt: skip
        self.net = net.to(self.device).eval().requires_grad_(False)
        self.q = q.to(self.device).eval().requires_grad_(False) if q is not None else None
        self.spec, self.noise_dim = spec, noise_dim
        self.metadata = metadata or {}

    def _draw_z(self, generator: torch.Generator) -> torch.Tensor:
        noise = torch.randn(1, self.noise_dim, generator=generator)
        cat, cont = sample_codes(self.spec, 1, generator)
        return codes_to_z(self.spec, noise, cat, cont)[0]

    def _synthesize(self, latent: torch.Tensor, space: str) -> torch.Tensor:
        return self.net(latent)

    def code_slice(self, code: str) -> slice:
        """Where code ``cat<i>`` (its one-hot) or ``cont<i>`` sits in ``z``."""
        names = self.spec.names()
        if code not in names:
            from latentnav.errors import UnknownNameError

            raise UnknownNameError("code", code, names)
        start = self.noise_dim
        for i, k in enumerate(self.spec.categorical):
            if code == f"cat{i}":
                return slice(start, start + k)
            start += k
        i = int(code[4:])
        return slice(start + i, start + i + 1)

    def code_direction(self, code: str):
        """The unit direction of continuous code ``cont<i>`` (uncalibrated: t = the code's value)."""
        from latentnav.directions import Direction

        sl = self.code_slice(code)
        if not code.startswith("cont"):
            raise BadSpecError(f"only continuous codes are directions; {code!r} is categorical")
        u = torch.zeros(self.z_dim)
        u[sl] = 1.0
        return Direction(u, torch.tensor([-3.0, 3.0]), torch.tensor([-3.0, 3.0]), model=self.name, method="infogan-code",
                         calibrated=False, meta={"code": code})  # fmt: skip

    def read_codes(self, images: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Q's reading of images: class indices per categorical code and continuous means ([N, n_cont])."""
        if self.q is None:
            raise BadInputError(f"{self.name} was saved without its Q head")
        _, logits, cont = self.q(images.to(self.device).float())
        return [l.argmax(1) for l in logits], cont

    def code_readout(self, images: torch.Tensor) -> torch.Tensor:
        """Q's reading of images as one column per code, in ``spec.names()`` order: the class index of each
        categorical code (as a float), then the continuous means. [N, len(spec.names())] float32 (the
        representation the disentanglement metrics score; the noise is not a code and is not read)."""
        cats, cont = self.read_codes(images)
        return torch.cat([torch.stack(cats, 1).float() if cats else cont[:, :0], cont], dim=1)


def save(G: StyleGenerator, D: DiscriminatorQ, spec: CodeSpec, noise_dim: int, path: str | Path,
         metadata: dict | None = None) -> None:  # fmt: skip
    """Write generator and discriminator/Q as one safetensors file (``G.`` and ``D.`` prefixes), atomically."""
    settings = {"codes": str(spec), "noise_dim": noise_dim, "w_dim": G.w_dim, "channels": list(G.channels),
                "img_channels": G.img_channels, "d_width": D.trunk[0].out_channels}  # fmt: skip
    tensors = {f"G.{k}": v for k, v in G.state_dict().items()} | {f"D.{k}": v for k, v in D.state_dict().items()}
    save_weights(tensors, path, ARCH, settings, metadata)


def build(settings: dict) -> tuple[StyleGenerator, DiscriminatorQ, CodeSpec, int]:
    """Networks from stored settings (``codes``, ``noise_dim``, ``w_dim``, ``channels``, ``img_channels``, ``d_width``)."""
    spec = CodeSpec.parse(settings["codes"])
    G = StyleGenerator(settings["noise_dim"] + spec.dim, settings["w_dim"], tuple(settings["channels"]), settings["img_channels"])
    D = DiscriminatorQ(spec, G.img_resolution, settings["img_channels"], settings["d_width"])
    return G, D, spec, settings["noise_dim"]


def check_settings(where: str, settings: dict) -> None:
    """Raise a one-line :class:`CheckpointError` unless ``settings`` are what :func:`save` writes, within
    :data:`LIMITS` (``codes`` a code spec, ``channels`` a list of at most :data:`MAX_SCALES` widths)."""
    known = ("codes", "noise_dim", "w_dim", "channels", "img_channels", "d_width")
    unknown, missing = sorted(set(settings) - set(known)), [k for k in known if k not in settings]
    if unknown or missing:
        problem = f"unknown settings {unknown}" if unknown else f"no {', '.join(missing)} in its settings"
        raise CheckpointError(f"{where}: {problem}; an infogan file has {', '.join(known)}")
    codes, channels = settings["codes"], settings["channels"]
    if not isinstance(codes, str):
        raise CheckpointError(f"{where}: setting codes={codes!r} is not a code spec such as 'cat:3,cont:2'")
    try:
        CodeSpec.parse(codes)
    except BadSpecError as err:
        raise CheckpointError(f"{where}: setting codes={codes!r}: {err}") from None
    ok = isinstance(channels, list) and 1 <= len(channels) <= MAX_SCALES
    if not ok or any(isinstance(c, bool) or not isinstance(c, int) or not 1 <= c <= MAX_WIDTH for c in channels):
        raise CheckpointError(f"{where}: setting channels={channels!r} is not a list of 1 to {MAX_SCALES} integers "
                              f"in 1..{MAX_WIDTH}")  # fmt: skip
    check_int_settings(where, {k: v for k, v in settings.items() if k in LIMITS}, LIMITS)


def load(path: str | Path, *, name: str | None = None, device: str | torch.device = "auto", **settings) -> InfoGANGenerator:
    """Load an InfoGAN written by :func:`save` (a ``.safetensors`` file).

    The settings in the header are checked against the tensors' shapes before anything is allocated, and
    the tensors must be finite.

    Raises:
        WeightsNotFoundError: no such file.
        CheckpointError: not a readable latentnav infogan file, malformed settings (:func:`check_settings`)
            or settings that disagree with the tensors, a tensor that is not finite.
        BadInputError: a setting other than ``batch_size`` given here.
    """
    path, meta, stored, layout = read_header(path, ARCH)
    batch_size = settings.pop("batch_size", 1024)
    if settings:
        raise BadInputError(f"unknown infogan settings {sorted(settings)}; known: batch_size")
    check_settings(str(path), stored)

    def pair() -> nn.ModuleDict:
        G, D, _, _ = build(stored)
        return nn.ModuleDict({"G": G, "D": D})

    nets = load_checked(path, pair, layout, describe_settings(stored))
    spec, noise_dim = CodeSpec.parse(stored["codes"]), stored["noise_dim"]
    return InfoGANGenerator(nets["G"], nets["D"], spec, noise_dim, name=name or str(path), device=device,
                            batch_size=batch_size, metadata=meta)  # fmt: skip
