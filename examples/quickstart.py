"""Quickstart: load the embedded beta-VAE, sample, and check which latent carries the sprite's x position.

    python examples/quickstart.py [--out quickstart.png]
"""

import argparse

import torch

import latentnav as ln
from latentnav import measure, viz
from latentnav.testbed import dsprites

parser = argparse.ArgumentParser()
parser.add_argument("--out", default="quickstart.png")
args = parser.parse_args()

G = ln.load_generator("bvae-dsprites", device="cpu")
print(G)

# Encode renders with known positions and find the latent that follows pos_x.
images, factors = dsprites.sample(2000, torch.Generator().manual_seed(0))
with torch.no_grad():
    mu = G.encode(images)
corr = [torch.corrcoef(torch.stack([mu[:, k], factors[:, 3]]))[0, 1].item() for k in range(G.z_dim)]
axis = max(range(G.z_dim), key=lambda k: abs(corr[k]))
print(f"latent {axis} follows pos_x (Pearson r = {corr[axis]:+.3f})")

# Walk that latent from one seed and measure the sprite's centroid from the pixels.
z = G.sample_z(1, seed=0).repeat(7, 1)
z[:, axis] = torch.linspace(-2, 2, 7)
with torch.no_grad():
    walk = G(z)
cx = measure.centroid_x(walk)
print("centroid x along the walk:", " ".join(f"{v:.2f}" for v in cx.tolist()))
viz.save_image(viz.grid(walk, nrow=7, upscale=2), args.out)
print(f"wrote {args.out}")
