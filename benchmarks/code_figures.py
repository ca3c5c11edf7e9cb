"""Figures of the information-theoretic models for docs/testbed.md and docs/models.md, by one command.

    python benchmarks/code_figures.py [--out docs/images]

- ``infogan-dsprites-codes.png``: rows = the InfoGAN's 4 continuous codes, each walked from -2 to 2
  (9 columns) from one latent (seed 0), then the categorical code's 3 values for 3 latents (last rows);
- ``tcvae-dsprites-latents.png``: rows = the beta-TCVAE's latents with KL above 0.5 nats, each walked
  from -2 to 2 around the mean of one render;
- ``cmivae-colour-swap.png``: first row 6 images a, second row 6 images b, third row [z1(a), z2(b)]
  (colour should come from b, the rest from a), fourth row [z1(b), z2(a)];
- ``infogan-colour-samples.png``: 20 prior samples of the colour InfoGAN (seeds 100-119), then 20 fresh
  colour-dSprites renders at 32x32 (seed 5) to compare with.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

import latentnav as ln
from latentnav.testbed import dsprites
from latentnav.testbed.report import _posterior, renders_for
from latentnav.viz import grid, save_image

ROOT = Path(__file__).resolve().parents[1]
STEPS = torch.linspace(-2, 2, 9)


@torch.no_grad()
def infogan_codes(out: Path) -> None:
    G = ln.load_generator("infogan-dsprites", device="cpu")
    z0 = G.sample_z(1, seed=0)[0]
    rows = []
    for i in range(G.spec.continuous):
        sl = G.code_slice(f"cont{i}")
        z = z0.repeat(len(STEPS), 1)
        z[:, sl.start] = STEPS
        rows.append(G(z))
    for seed in range(3):
        z = G.sample_z(1, seed=seed)[0].repeat(9, 1)
        sl = G.code_slice("cat0")
        z[:, sl] = 0
        for k in range(9):
            z[k, sl.start + k % 3] = 1
        rows.append(G(z))
    save_image(grid(torch.cat(rows), nrow=9, upscale=2), out / "infogan-dsprites-codes.png")


@torch.no_grad()
def tcvae_latents(out: Path) -> None:
    G = ln.load_generator("tcvae-dsprites", device="cpu")
    images, _ = renders_for(G, 500, 11)
    mu, logvar = _posterior(G, images)
    kl = (0.5 * (mu**2 + np.exp(logvar) - logvar - 1)).mean(0)
    base = torch.as_tensor(mu[0])
    rows = []
    for k in np.flatnonzero(kl > 0.5):
        z = base.repeat(len(STEPS), 1)
        z[:, k] = STEPS
        rows.append(G(z))
    save_image(grid(torch.cat(rows), nrow=9, upscale=2), out / "tcvae-dsprites-latents.png")


@torch.no_grad()
def cmivae_swap(out: Path) -> None:
    G = ln.load_generator("cmivae-colour", device="cpu")
    images, _ = dsprites.sample_coloured(12, torch.Generator().manual_seed(4))
    z = G.encode(images)
    a, b = z[:6], z[6:]
    rows = [images[:6], images[6:], G(G.swap(a, b, "z2")), G(G.swap(b, a, "z2"))]
    save_image(grid(torch.cat(rows), nrow=6, upscale=2), out / "cmivae-colour-swap.png")


@torch.no_grad()
def infogan_colour_samples(out: Path) -> None:
    G = ln.load_generator("infogan-colour", device="cpu")
    real, _ = dsprites.sample_coloured(20, torch.Generator().manual_seed(5), G.img_resolution)
    rows = [G(G.sample_z(20, seed=100)), real]
    save_image(grid(torch.cat(rows), nrow=10, upscale=3), out / "infogan-colour-samples.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--models", default="infogan,tcvae,cmivae")
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.models.split(","):
        figures = {"infogan": infogan_codes, "tcvae": tcvae_latents, "cmivae": cmivae_swap,
                   "infogan-colour": infogan_colour_samples}  # fmt: skip
        figures[name](args.out)
        print(f"{name}: done", flush=True)


if __name__ == "__main__":
    main()
