"""Train beta-VAEs on the procedural dSprites testbed, rendered on the fly.

Two objectives:

- beta-VAE (Higgins et al. 2017): ``recon + beta * KL``;
- capacity-controlled (Burgess et al. 2018), when ``capacity`` is set: ``recon + gamma * |KL - C(step)|``
  with ``C`` growing linearly from 0 to ``capacity`` nats over ``capacity_steps``;
- beta-TCVAE (Chen et al. 2018), when ``tc_weight`` is set: ``recon + beta * (KL - TC) + tc_weight * TC``,
  TC the minibatch-weighted sampling estimate of the total correlation of the aggregate posterior
  (:func:`latentnav.metrics.information.minibatch_total_correlation`). KL - TC is, in expectation, the index-code
  MI plus the dimension-wise KL, so ``--beta 1 --tc-weight 6`` is Chen et al.'s beta-TCVAE with beta 6.

Every 100 steps the log records, besides reconstruction and KL, the TC estimate of the training batches
and the code information: a lower bound on sum_d I(z_d; G(z)) for z from the prior, read back by the
encoder (:func:`latentnav.metrics.information.code_information`). Paul et al. (2020) relate the two: control (the
information the image carries about each code) against disentanglement (low TC).

Reconstruction is the Bernoulli negative log-likelihood summed over pixels, KL is summed over latents,
both averaged over the batch (nats per image). Training resumes from ``<output>.ckpt.pt`` when it
exists; the batch of step ``s`` depends only on ``(seed, s)``, so an interrupted and resumed run sees the
same data as an uninterrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from latentnav.errors import BadInputError
from latentnav.generators import betavae
from latentnav.metrics.information import code_information, minibatch_total_correlation
from latentnav.testbed import dsprites
from latentnav.train import common


@dataclass(frozen=True)
class BVAEConfig:
    """Settings of one beta-VAE training run (CLI flags map one to one onto these fields).

    Attributes:
        beta: KL weight of the beta-VAE objective (ignored when ``capacity`` is set).
        steps: total optimizer steps.
        seed: seed of the weights and of the data stream.
        batch_size: images per step.
        lr: Adam learning rate.
        z_dim: number of latents.
        correlate: optional ``"A:B:RHO"`` coupling of two factors in the training data.
        capacity: target KL in nats for the capacity objective (``None``: plain beta-VAE).
        capacity_steps: steps over which the capacity grows from 0 to ``capacity``.
        gamma: weight of ``|KL - C|`` in the capacity objective.
        tc_weight: weight of the total correlation (beta-TCVAE objective; ``None``: no TC penalty).
        tc_warmup: steps over which the TC weight rises linearly from ``beta`` to ``tc_weight`` (0: from the
            start). A small batch overestimates TC once several latents turn active, and the full penalty
            from step 0 can keep the model in its collapsed start (KL near 0) for good.
        checkpoint_every: steps between checkpoints (and model snapshots).
    """

    beta: float = 4.0
    steps: int = 30000
    seed: int = 0
    batch_size: int = 64
    lr: float = 1e-3
    z_dim: int = 10
    correlate: str | None = None
    capacity: float | None = None
    capacity_steps: int = 20000
    gamma: float = 100.0
    tc_weight: float | None = None
    tc_warmup: int = 0
    checkpoint_every: int = 500

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.z_dim < 1 or self.checkpoint_every < 1:
            raise BadInputError("steps, batch_size, z_dim and checkpoint_every must be positive")
        if self.beta < 0 or self.lr <= 0 or self.gamma < 0:
            raise BadInputError("beta and gamma must be >= 0 and lr > 0")
        if self.tc_warmup < 0:
            raise BadInputError("tc_warmup must be >= 0")
        if self.tc_weight is not None and (self.tc_weight < 0 or self.capacity is not None):
            raise BadInputError("tc_weight must be >= 0 and cannot be combined with the capacity objective")
        if self.correlate is not None:
            dsprites.Correlation.parse(self.correlate)  # validates names and |rho| < 1


def step_generator(config: BVAEConfig, step: int) -> torch.Generator:
    """The random stream of one training step (its images and posterior noise): a function of (seed, step)."""
    return torch.Generator().manual_seed(config.seed * 1_000_003 + step)


def batch_for_step(config: BVAEConfig, step: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """The training images of ``step`` ([B, 1, 64, 64] in [-1, 1]); depends only on (seed, step)."""
    gen = generator if generator is not None else step_generator(config, step)
    corr = dsprites.Correlation.parse(config.correlate) if config.correlate else None
    images, _ = dsprites.sample(config.batch_size, gen, correlate=corr)
    return images


#: Fields that may change between an interrupted run and its resumption (steps: train for longer).
RESUMABLE_CHANGES = ("steps", "checkpoint_every")


def vae_pass(net: betavae.BurgessVAE, images: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """One pass of the VAE on images in [-1, 1].

    Returns:
        ``recon`` and ``kl`` (nats per image, batch means), the posterior sample ``z`` and its
        ``mu``, ``logvar`` ([B, z_dim] each).
    """
    x01 = (images + 1) / 2
    mu, logvar = net.encode(x01)
    eps = torch.randn(mu.shape, generator=generator, device=mu.device)
    z = mu + eps * torch.exp(0.5 * logvar)
    logits = net.decode(z)
    recon = F.binary_cross_entropy_with_logits(logits, x01, reduction="sum") / len(images)
    kl = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(dim=1).mean()
    return {"recon": recon, "kl": kl, "z": z, "mu": mu, "logvar": logvar}


def vae_terms(net: betavae.BurgessVAE, images: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Reconstruction NLL and KL (nats per image, batch means) for images in [-1, 1]."""
    out = vae_pass(net, images, generator)
    return out["recon"], out["kl"]


def loss_of(config: BVAEConfig, terms: dict[str, torch.Tensor], step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The training loss of ``config``'s objective at ``step`` and the batch's TC estimate (nats)."""
    recon, kl = terms["recon"], terms["kl"]
    with torch.set_grad_enabled(config.tc_weight is not None and torch.is_grad_enabled()):
        tc = minibatch_total_correlation(terms["z"], terms["mu"], terms["logvar"])
    if config.tc_weight is not None:
        ramp = min(1.0, step / config.tc_warmup) if config.tc_warmup else 1.0
        weight = config.beta + (config.tc_weight - config.beta) * ramp
        return recon + config.beta * (kl - tc) + weight * tc, tc
    if config.capacity is None:
        return recon + config.beta * kl, tc.detach()
    c = config.capacity * min(1.0, step / config.capacity_steps)
    return recon + config.gamma * (kl - c).abs(), tc.detach()


#: Seed of the prior samples behind the logged code information (fixed, apart from the data stream).
INFO_SEED = 1_000_000_007


def logged_code_information(net: betavae.BurgessVAE, n: int = 256) -> float:
    """Lower bound on sum_d I(z_d; G(z)) in nats: ``n`` prior latents decoded, then encoded (no gradients)."""
    z = torch.randn(n, net.z_dim, generator=torch.Generator().manual_seed(INFO_SEED))
    with torch.no_grad():
        mu, _ = net.encode(torch.sigmoid(net.decode(z)))
    return float(code_information(z.numpy(), mu.numpy()).sum())


def train(config: BVAEConfig, output: str | Path, *, progress: bool = True) -> Path:
    """Train (or resume) a beta-VAE and write it to ``output`` (safetensors).

    A checkpoint ``<output>.ckpt.pt`` (weights, optimizer, step) and a snapshot of the model at
    ``output`` are written every ``checkpoint_every`` steps; a log of the loss terms, the TC estimate
    and the code information goes to ``<output>.log.jsonl``. A NaN or infinite loss stops the run with
    :class:`~latentnav.errors.TrainingDivergedError` naming the step; the last checkpoint stays. Re-running the same command resumes (``steps`` may grow between runs:
    the batches of step ``s`` are the same either way).

    Returns:
        The path of the trained model.
    """
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    net = betavae.BurgessVAE(z_dim=config.z_dim)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    start = common.resume(output, config, RESUMABLE_CHANGES, {"model": net, "optimizer": opt})

    def step(s: int) -> dict[str, float]:
        gen = step_generator(config, s)
        terms = vae_pass(net, batch_for_step(config, s, gen), gen)
        loss, tc = loss_of(config, terms, s)
        common.stop_if_not_finite(output, s + 1, {"loss": loss.item()})
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"recon": terms["recon"].item(), "kl": terms["kl"].item(), "tc": tc.item()}

    return common.training_loop(
        output, config, start, step, lambda s: _save(net, opt, config, s, output), desc="train bvae", progress=progress,
        extra=lambda: {"code_info": logged_code_information(net)},
        postfix=lambda m: {"recon": f"{m['recon']:.1f}", "kl": f"{m['kl']:.2f}", "tc": f"{m['tc']:.2f}",
                           "info": f"{m['code_info']:.1f}"})  # fmt: skip


def _save(net: betavae.BurgessVAE, opt: torch.optim.Optimizer, config: BVAEConfig, step: int, output: Path) -> None:
    common.snapshot(output, config, step, {"model": net, "optimizer": opt}, lambda meta: betavae.save(net, output, meta),
                    "latentnav procedural dSprites")  # fmt: skip
