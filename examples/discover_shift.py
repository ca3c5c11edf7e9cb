"""Discover a calibrated "move right" direction in the embedded beta-VAE and use it from Python.

    python examples/discover_shift.py [--trajectories 64] [--out shift.png]

Prints how far the sprites moved (measured from the pixels) for a few requested shifts.
"""

import argparse

import torch

import latentnav as ln
from latentnav import measure, viz

parser = argparse.ArgumentParser()
parser.add_argument("--trajectories", type=int, default=64)
parser.add_argument("--max-iters", type=int, default=30)
parser.add_argument("--out", default="shift.png")
args = parser.parse_args()

G = ln.load_generator("bvae-dsprites", device="cpu")
print("discovering shift-x (about 10 s on 2 cores) ...", flush=True)
run = ln.discover(G, "shift-x", n_trajectories=args.trajectories, max_iters=args.max_iters)  # progress bars on stderr
print(run.summary())
direction = run.direction

z = G.sample_z(16, seed=1000)
images = ln.traverse(G, direction, z, t=[-0.1, 0.0, 0.1])  # [3, 16, 1, 64, 64]: move every image by t
x = measure.centroid_x(images.flatten(0, 1)).view(3, 16)
for k, t in enumerate((-0.1, 0.0, 0.1)):
    print(f"requested shift {t:+.2f} -> measured {torch.nanmean(x[k] - x[1]).item():+.3f} of the width")

viz.save_image(viz.traversal_grid(images[:, :6]), args.out)
print(f"wrote {args.out}")
