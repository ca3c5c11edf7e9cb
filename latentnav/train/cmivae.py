"""Train the two-code VAE with conditional mutual-information bounds (after Tang et al. 2021) on colour dSprites.

Objective (nats per image, batch means; derivation in docs/cmivae.md):

    recon + beta * (KL(z1) + KL(z2)) + label_weight * NLL(y | z2) - mi_weight * (B(z2 | z1) + B(z1 | z2))

- ``y`` is the specified factor (``specified``: colour, shape, scale, orientation, pos_x or pos_y),
  read from the posterior mean of z2 by a linear head. Its weight is large (200) because Adam scales
  each parameter's step by its gradient's running size, which the reconstruction (hundreds of nats)
  dominates: at weight 10-20 the head stayed at chance for 900 steps, at 200 it reads colour at 0.97
  after 500 steps: cross-entropy for a categorical factor, a
  Gaussian NLL (std 0.1 of the factor's range) for a continuous one;
- ``B(z2 | z1) = H(z2) + E log r(z2 | G(z1, z2))`` is a lower bound of I(x; z2 | z1) for codes drawn
  from the prior (each code's entropy minus a regression error), ``r`` a unit-variance Gaussian centred
  on the encoder's z2 mean of the generated image; ``B(z1 | z2)`` likewise for z1.

The batch of step ``s`` (images and all noise) depends only on ``(seed, s)``; training resumes from
``<output>.ckpt.pt`` and stops at a non-finite loss, keeping the last good checkpoint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from latentnav.errors import BadInputError, UnknownNameError
from latentnav.generators import cmivae
from latentnav.testbed import dsprites
from latentnav.train import common

#: Std of the Gaussian likelihood of a continuous specified factor, as a fraction of its range.
LABEL_STD = 0.1
#: Entropy of a standard normal coordinate, 0.5 log(2 pi e) nats.
NORMAL_ENTROPY = 0.5 * math.log(2 * math.pi * math.e)


@dataclass(frozen=True)
class CMIVAEConfig:
    """Settings of one two-code VAE training run (CLI flags map one to one onto these fields).

    Attributes:
        specified: the factor z2 must carry (a name of :data:`latentnav.testbed.dsprites.COLOUR_FACTORS`).
        z1_dim: coordinates of the complementary code.
        z2_dim: coordinates of the specified code.
        beta: KL weight of both codes.
        mi_weight: weight of the two conditional-MI lower bounds.
        mi_warmup: steps over which the MI weight rises linearly from 0 to ``mi_weight`` (0: from the start).
            With the full weight from step 0 the decoder learned to make prior samples readable before it
            learned to reconstruct colour, and colour stayed unencoded (700 steps at chance).
        label_weight: weight of the specified factor's likelihood under z2.
        steps: total optimizer steps.
        seed: seed of the weights and of the data stream.
        batch_size: images per step (and as many prior samples for the MI bounds).
        lr: Adam learning rate.
        checkpoint_every: steps between checkpoints (and model snapshots).
    """

    specified: str = "colour"
    z1_dim: int = 8
    z2_dim: int = 3
    beta: float = 1.0
    mi_weight: float = 10.0
    mi_warmup: int = 1000
    label_weight: float = 200.0
    steps: int = 3000
    seed: int = 0
    batch_size: int = 64
    lr: float = 1e-3
    checkpoint_every: int = 500

    def __post_init__(self) -> None:
        if self.specified not in dsprites.COLOUR_FACTORS:
            raise UnknownNameError("factor", self.specified, dsprites.COLOUR_FACTORS, " (factors of colour dSprites)")
        if min(self.z1_dim, self.z2_dim, self.steps, self.batch_size, self.checkpoint_every) < 1:
            raise BadInputError("z1_dim, z2_dim, steps, batch_size and checkpoint_every must be positive")
        if min(self.beta, self.mi_weight, self.label_weight, self.mi_warmup) < 0 or self.lr <= 0:
            raise BadInputError("beta, mi_weight and label_weight must be >= 0 and lr > 0")

    @property
    def label_classes(self) -> int:
        """Values of the specified factor if categorical, else 0."""
        return dsprites.CATEGORICAL.get(self.specified, 0)


#: Fields that may change between an interrupted run and its resumption.
RESUMABLE_CHANGES = ("steps", "checkpoint_every")


def batch_for_step(config: CMIVAEConfig, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Generator]:
    """Images [B, 3, 64, 64], the specified factor's values [B] and the step's noise generator."""
    gen = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
    images, factors = dsprites.sample_coloured(config.batch_size, gen)
    return images, factors[:, dsprites.COLOUR_FACTORS.index(config.specified)], gen


def label_nll(model: cmivae.CMIVAE, z2: torch.Tensor, y: torch.Tensor, specified: str) -> tuple[torch.Tensor, torch.Tensor]:
    """NLL of the specified factor under the head (nats, batch mean) and its accuracy (categorical) or R^2."""
    out = model.head(z2)
    if model.label_classes:
        y = y.long()
        return F.cross_entropy(out, y), (out.argmax(1) == y).float().mean()
    lo, hi = dsprites.FACTOR_RANGES[specified]
    y01, pred = (y - lo) / (hi - lo), out[:, 0]
    nll = (0.5 * ((pred - y01) / LABEL_STD) ** 2 + math.log(LABEL_STD * math.sqrt(2 * math.pi))).mean()
    r2 = 1 - ((pred - y01) ** 2).mean() / y01.var().clamp_min(1e-12)
    return nll, r2


def mi_bounds(model: cmivae.CMIVAE, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Lower bounds of I(x; z1 | z2) and I(x; z2 | z1) in nats for ``n`` prior codes (differentiable).

    Each is ``sum_d [H(z_d) + E log N(z_d; m_d(G(z)), 1)] = sum_d 0.5 (1 - E (z_d - m_d)^2)`` with ``m`` the
    encoder mean of the generated image: the entropy of the code minus the cross-entropy of a
    unit-variance Gaussian regression of it from the image.
    """
    z = torch.randn(n, model.z1_dim + model.z2_dim, generator=generator)
    mu, _ = model.vae.encode(torch.sigmoid(model.vae.decode(z)))
    per_dim = NORMAL_ENTROPY - 0.5 * (z - mu).pow(2).mean(0) - 0.5 * math.log(2 * math.pi)
    return per_dim[: model.z1_dim].sum(), per_dim[model.z1_dim :].sum()


def step_terms(model: cmivae.CMIVAE, config: CMIVAEConfig, step: int) -> dict[str, torch.Tensor]:
    """Every term of the objective at ``step`` and the loss."""
    images, y, gen = batch_for_step(config, step)
    x01 = (images + 1) / 2
    mu, logvar = model.vae.encode(x01)
    z = mu + torch.randn(mu.shape, generator=gen) * torch.exp(0.5 * logvar)
    recon = F.binary_cross_entropy_with_logits(model.vae.decode(z), x01, reduction="sum") / len(images)
    kl = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).mean(0)
    kl1, kl2 = kl[: config.z1_dim].sum(), kl[config.z1_dim :].sum()
    nll, acc = label_nll(model, mu[:, config.z1_dim :], y, config.specified)
    b1, b2 = mi_bounds(model, config.batch_size, gen)
    ramp = min(1.0, step / config.mi_warmup) if config.mi_warmup else 1.0
    loss = recon + config.beta * (kl1 + kl2) + config.label_weight * nll - ramp * config.mi_weight * (b1 + b2)
    return {"loss": loss, "recon": recon, "kl1": kl1, "kl2": kl2, "label_nll": nll, "label_fit": acc,
            "mi_z1_given_z2": b1, "mi_z2_given_z1": b2}  # fmt: skip


def train(config: CMIVAEConfig, output: str | Path, *, progress: bool = True) -> Path:
    """Train (or resume) a two-code VAE and write it to ``output`` (safetensors).

    Writes ``<output>.ckpt.pt`` and a model snapshot every ``checkpoint_every`` steps and the averaged
    terms every 100 steps to ``<output>.log.jsonl``; stops with
    :class:`~latentnav.errors.TrainingDivergedError` at a non-finite loss.

    Returns:
        The path of the trained model.
    """
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    model = cmivae.CMIVAE(config.z1_dim, config.z2_dim, 3, config.label_classes)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    start = common.resume(output, config, RESUMABLE_CHANGES, {"model": model, "optimizer": opt})

    def step(s: int) -> dict[str, float]:
        terms = step_terms(model, config, s)
        common.stop_if_not_finite(output, s + 1, {"loss": terms["loss"].item()})
        opt.zero_grad(set_to_none=True)
        terms["loss"].backward()
        opt.step()
        return {k: v.item() for k, v in terms.items()}

    return common.training_loop(
        output, config, start, step, lambda s: _save(model, opt, config, s, output), desc="train cmivae",
        progress=progress, postfix=lambda m: {"recon": f"{m['recon']:.1f}", "fit": f"{m['label_fit']:.2f}",
                                              "i1": f"{m['mi_z1_given_z2']:.2f}", "i2": f"{m['mi_z2_given_z1']:.2f}"})  # fmt: skip


def _save(model: cmivae.CMIVAE, opt: torch.optim.Optimizer, config: CMIVAEConfig, step: int, output: Path) -> None:
    common.snapshot(output, config, step, {"model": model, "optimizer": opt},
                    lambda meta: cmivae.save(model, output, meta), "latentnav procedural colour dSprites",
                    specified=config.specified)  # fmt: skip
