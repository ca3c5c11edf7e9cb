"""Train the style-based InfoGAN (``latentnav/generators/infogan.py``) on procedural dSprites or colour dSprites.

Each step: a batch of real renders (``img_resolution`` px: binary dSprites, one channel, or colour
dSprites, three; :data:`DATASETS`, ``--data``) and a batch of fakes from fresh
noise and codes. Non-saturating GAN losses; the information term is the negative log-likelihood of the
codes under Q: cross-entropy per categorical code plus 0.5 (c - Q(x))^2 per continuous code (a
unit-variance Gaussian Q). Both the generator and the discriminator/Q minimise it, weighted by
``info_weight`` (InfoGAN's lambda). The logged lower bound on I(c; G(z, c)) is
``sum_cat (log K - CE) + sum_cont 0.5 (1 - E (c - Q)^2)`` nats (entropy of the code minus the NLL).

The batch of step ``s`` (real images, noise, codes) depends only on ``(seed, s)``; training resumes from
``<output>.ckpt.pt`` and stops at a non-finite loss, keeping the last good checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from latentnav.errors import BadInputError, UnknownNameError
from latentnav.generators import infogan
from latentnav.testbed import dsprites
from latentnav.train import common


def _dsprites(n: int, generator: torch.Generator, resolution: int) -> torch.Tensor:
    return dsprites.sample(n, generator, resolution=resolution)[0]


def _colour_dsprites(n: int, generator: torch.Generator, resolution: int) -> torch.Tensor:
    return dsprites.sample_coloured(n, generator, resolution)[0]


@dataclass(frozen=True)
class TrainingData:
    """A procedural data set the InfoGAN trains on.

    Attributes:
        channels: image channels (the networks' ``img_channels`` follow it).
        description: what the model file's ``trained_on`` says.
        sample: ``(n, generator, resolution)`` -> renders [n, channels, resolution, resolution] in [-1, 1].
    """

    channels: int
    description: str
    sample: Callable[[int, torch.Generator, int], torch.Tensor]


#: ``--data`` name -> data set.
DATASETS: dict[str, TrainingData] = {
    "dsprites": TrainingData(1, "latentnav procedural dSprites", _dsprites),
    "colour": TrainingData(3, "latentnav colour dSprites (six hues on black)", _colour_dsprites),
}


@dataclass(frozen=True)
class InfoGANConfig:
    """Settings of one InfoGAN training run (CLI flags map one to one onto these fields).

    Attributes:
        codes: control codes, e.g. ``"cat:3,cont:4"`` (:meth:`CodeSpec.parse`).
        data: training data, a name of :data:`DATASETS` (``dsprites``: one channel; ``colour``: three).
        noise_dim: incompressible noise coordinates.
        info_weight: weight of the codes' NLL under Q (lambda).
        resolution: image side (32 or 64).
        steps: total steps (one discriminator and one generator update each).
        seed: seed of the weights and of the data stream.
        batch_size: real and fake images per step.
        lr: Adam learning rate of both networks (betas 0.5, 0.999).
        checkpoint_every: steps between checkpoints (and model snapshots).
    """

    codes: str = "cat:3,cont:4"
    data: str = "dsprites"
    noise_dim: int = 8
    info_weight: float = 1.0
    resolution: int = 32
    steps: int = 4000
    seed: int = 0
    batch_size: int = 64
    lr: float = 2e-4
    checkpoint_every: int = 500

    def __post_init__(self) -> None:
        infogan.CodeSpec.parse(self.codes)
        if self.data not in DATASETS:
            raise UnknownNameError("data set", self.data, list(DATASETS), " (the InfoGAN's training data)")
        if self.resolution not in (32, 64):
            raise BadInputError(f"resolution must be 32 or 64, got {self.resolution}")
        if min(self.noise_dim, self.steps, self.batch_size, self.checkpoint_every) < 1:
            raise BadInputError("noise_dim, steps, batch_size and checkpoint_every must be positive")
        if self.info_weight < 0 or self.lr <= 0:
            raise BadInputError("info_weight must be >= 0 and lr > 0")

    @property
    def spec(self) -> infogan.CodeSpec:
        return infogan.CodeSpec.parse(self.codes)

    @property
    def img_channels(self) -> int:
        """Image channels of the training data (and of both networks)."""
        return DATASETS[self.data].channels


RESUMABLE_CHANGES = ("steps", "checkpoint_every")
GENERATOR_CHANNELS = {32: (64, 32, 16, 8), 64: (64, 32, 16, 8, 8)}


def build(config: InfoGANConfig) -> tuple[infogan.StyleGenerator, infogan.DiscriminatorQ]:
    """Fresh networks for ``config`` (seeded by the caller)."""
    spec, c = config.spec, config.img_channels
    G = infogan.StyleGenerator(config.noise_dim + spec.dim, 128, GENERATOR_CHANNELS[config.resolution], c)
    return G, infogan.DiscriminatorQ(spec, config.resolution, c, 32)


def info_nll(spec: infogan.CodeSpec, logits: list[torch.Tensor], cont_mean: torch.Tensor, cat: torch.Tensor,
             cont: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """NLL of the codes under Q (nats per image, up to the Gaussian constant) and the MI lower bound (nats)."""
    ce = [F.cross_entropy(lg, cat[:, i]) for i, lg in enumerate(logits)]
    mse = (cont - cont_mean).pow(2).mean(0) if spec.continuous else torch.zeros(0)
    nll = sum(ce, torch.zeros(())) + 0.5 * mse.sum()
    bound = sum((math.log(k) - c for k, c in zip(spec.categorical, ce)), torch.zeros(())) + (0.5 * (1 - mse)).sum()
    return nll, bound


def step_batch(config: InfoGANConfig, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Real images, fake noise, categorical and continuous codes of ``step`` (a function of seed and step)."""
    gen = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
    real = DATASETS[config.data].sample(config.batch_size, gen, config.resolution)
    noise = torch.randn(config.batch_size, config.noise_dim, generator=gen)
    cat, cont = infogan.sample_codes(config.spec, config.batch_size, gen)
    return real, noise, cat, cont


def train_step(G, D, opt_g, opt_d, config: InfoGANConfig, step: int, output: Path) -> dict[str, float]:
    """One discriminator/Q update and one generator update; returns the logged figures."""
    spec = config.spec
    real, noise, cat, cont = step_batch(config, step)
    fake = G(infogan.codes_to_z(spec, noise, cat, cont))
    d_real, _, _ = D(real)
    d_fake, logits, mean = D(fake.detach())
    nll_d, _ = info_nll(spec, logits, mean, cat, cont)
    loss_d = F.softplus(-d_real).mean() + F.softplus(d_fake).mean() + config.info_weight * nll_d
    common.stop_if_not_finite(output, step + 1, {"loss_d": loss_d.item()})
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    d_fake_g, logits_g, mean_g = D(fake)
    nll_g, bound = info_nll(spec, logits_g, mean_g, cat, cont)
    loss_g = F.softplus(-d_fake_g).mean() + config.info_weight * nll_g
    common.stop_if_not_finite(output, step + 1, {"loss_g": loss_g.item()})
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward(inputs=list(G.parameters()))
    opt_g.step()
    acc = [(lg.argmax(1) == cat[:, i]).float().mean().item() for i, lg in enumerate(logits_g)]
    return {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "mi_bound": bound.item(),
            "cat_acc": sum(acc) / len(acc) if acc else float("nan"), "d_real": torch.sigmoid(d_real).mean().item()}  # fmt: skip


def train(config: InfoGANConfig, output: str | Path, *, progress: bool = True) -> Path:
    """Train (or resume) an InfoGAN and write it to ``output`` (safetensors: generator and discriminator/Q).

    Writes ``<output>.ckpt.pt`` and a model snapshot every ``checkpoint_every`` steps and averaged figures
    every 100 steps to ``<output>.log.jsonl``; stops with :class:`~latentnav.errors.TrainingDivergedError`
    at a non-finite loss.
    """
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    G, D = build(config)
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=config.lr, betas=(0.5, 0.999))
    start = common.resume(output, config, RESUMABLE_CHANGES, {"G": G, "D": D, "opt_g": opt_g, "opt_d": opt_d})
    return common.training_loop(
        output, config, start, lambda s: train_step(G, D, opt_g, opt_d, config, s, output),
        lambda s: _save(G, D, opt_g, opt_d, config, s, output), desc="train infogan", progress=progress,
        postfix=lambda m: {"d": f"{m['loss_d']:.2f}", "g": f"{m['loss_g']:.2f}", "mi": f"{m['mi_bound']:.2f}"})


def _save(G, D, opt_g, opt_d, config: InfoGANConfig, step: int, output: Path) -> None:
    common.snapshot(output, config, step, {"G": G, "D": D, "opt_g": opt_g, "opt_d": opt_d},
                    lambda meta: infogan.save(G, D, config.spec, config.noise_dim, output, meta),
                    f"{DATASETS[config.data].description}, {config.resolution}x{config.resolution}")  # fmt: skip
