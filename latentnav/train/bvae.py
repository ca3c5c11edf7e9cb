"""Train beta-VAEs on the procedural dSprites testbed, rendered on the fly.

Two objectives:

- beta-VAE (Higgins et al. 2017): ``recon + beta * KL``;
- capacity-controlled (Burgess et al. 2018), when ``capacity`` is set: ``recon + gamma * |KL - C(step)|``
  with ``C`` growing linearly from 0 to ``capacity`` nats over ``capacity_steps``.

Reconstruction is the Bernoulli negative log-likelihood summed over pixels, KL is summed over latents,
both averaged over the batch (nats per image). Training resumes from ``<output>.ckpt.pt`` when it
exists; the batch of step ``s`` depends only on ``(seed, s)``, so an interrupted and resumed run sees the
same data as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from latentnav._version import __version__
from latentnav.data import dsprites
from latentnav.generators import betavae


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
    checkpoint_every: int = 500

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.z_dim < 1 or self.checkpoint_every < 1:
            raise ValueError("steps, batch_size, z_dim and checkpoint_every must be positive")
        if self.beta < 0 or self.lr <= 0 or self.gamma < 0:
            raise ValueError("beta and gamma must be >= 0 and lr > 0")
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


def vae_terms(net: betavae.BurgessVAE, images: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Reconstruction NLL and KL (nats per image, batch means) for images in [-1, 1]."""
    x01 = (images + 1) / 2
    mu, logvar = net.encode(x01)
    eps = torch.randn(mu.shape, generator=generator, device=mu.device)
    z = mu + eps * torch.exp(0.5 * logvar)
    logits = net.decode(z)
    recon = F.binary_cross_entropy_with_logits(logits, x01, reduction="sum") / len(images)
    kl = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(dim=1).mean()
    return recon, kl


def _checkpoint_path(output: Path) -> Path:
    return output.with_name(output.name + ".ckpt.pt")


def train(config: BVAEConfig, output: str | Path, *, progress: bool = True) -> Path:
    """Train (or resume) a beta-VAE and write it to ``output`` (safetensors).

    A checkpoint ``<output>.ckpt.pt`` (weights, optimizer, step) and a snapshot of the model at
    ``output`` are written every ``checkpoint_every`` steps; a log of the loss terms goes to
    ``<output>.log.jsonl``. Re-running the same command resumes (``steps`` may grow between runs:
    the batches of step ``s`` are the same either way).

    Returns:
        The path of the trained model.
    """
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    net = betavae.BurgessVAE(z_dim=config.z_dim)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    ckpt_path, log_path = _checkpoint_path(output), output.with_name(output.name + ".log.jsonl")
    start = 0
    if ckpt_path.exists():
        state = torch.load(ckpt_path, weights_only=True)
        old, new = json.loads(state["config"]), dataclasses.asdict(config)
        diff = sorted(k for k in new if k not in RESUMABLE_CHANGES and old.get(k) != new[k])
        if diff:
            raise ValueError(f"{ckpt_path} was written with other settings ({', '.join(diff)}); delete it or use the same ones")
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start = int(state["step"])
    bar = tqdm(range(start, config.steps), initial=start, total=config.steps, disable=not progress, desc="train bvae")
    t0, window = time.time(), []
    for step in bar:
        gen = step_generator(config, step)
        recon, kl = vae_terms(net, batch_for_step(config, step, gen), gen)
        if config.capacity is None:
            loss = recon + config.beta * kl
        else:
            c = config.capacity * min(1.0, step / config.capacity_steps)
            loss = recon + config.gamma * (kl - c).abs()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        window.append((recon.item(), kl.item()))
        if (step + 1) % 100 == 0:
            r = sum(w[0] for w in window) / len(window)
            k = sum(w[1] for w in window) / len(window)
            bar.set_postfix(recon=f"{r:.1f}", kl=f"{k:.2f}")
            with log_path.open("a") as f:
                f.write(json.dumps({"step": step + 1, "recon": r, "kl": k, "time": time.time() - t0}) + "\n")
            window = []
        if (step + 1) % config.checkpoint_every == 0 or step + 1 == config.steps:
            _save(net, opt, config, step + 1, output)
    if start >= config.steps:
        _save(net, opt, config, config.steps, output)
    return output


def _save(net: betavae.BurgessVAE, opt: torch.optim.Optimizer, config: BVAEConfig, step: int, output: Path) -> None:
    meta = {"config": dataclasses.asdict(config), "steps_done": str(step), "latentnav_version": __version__,
            "trained_on": "latentnav procedural dSprites"}  # fmt: skip
    betavae.save(net, output, meta)
    ckpt = _checkpoint_path(output)
    tmp = ckpt.with_name(ckpt.name + ".tmp")
    torch.save({"model": net.state_dict(), "optimizer": opt.state_dict(), "step": step,
                "config": json.dumps(dataclasses.asdict(config))}, tmp)  # fmt: skip
    tmp.replace(ckpt)
