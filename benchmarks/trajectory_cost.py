"""Cost of one trajectory-optimiser iteration against a bare generator forward + backward.

    python benchmarks/trajectory_cost.py [--model bvae-dsprites] [--batch 128] [--repeats 20] [--threads 2]

Times (best of ``repeats``) a bare ``G(z)`` forward + backward to z at the given batch, and one iteration
of the optimiser's inner loop at the same batch (generator forward + Fourier loss against a target +
backward + per-latent Adam update + prior projection), and prints their ratio.
"""

from __future__ import annotations

import argparse
import math
import time

import torch

import latentnav as ln
from latentnav.measure import losses
from latentnav.measure.transforms import get_transform
from latentnav.methods.trajectory.optimizer import RowAdam, project_to_ball


def best_of(fn, repeats: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bvae-dsprites")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    G = ln.load_generator(args.model, device="cpu")
    z = G.sample_z(args.batch, seed=0)
    with torch.no_grad():
        target, mask = get_transform("shift-x")(G(z), 0.05)
    sigma = losses.default_sigma(G.img_resolution)

    def bare():
        zz = z.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(G(zz).sum(), zz)
        return g

    opt = RowAdam(args.batch, G.z_dim, 0.05)
    rows = torch.arange(args.batch)
    state = z.clone()

    def step():
        zz = state.clone().requires_grad_(True)
        loss = losses.fourier_texture_loss(G(zz), target, mask, sigma=sigma)
        (g,) = torch.autograd.grad(loss.sum(), zz)
        with torch.no_grad():
            opt.step(state, g, rows)
            state.copy_(project_to_ball(state, math.sqrt(G.z_dim)))

    t_bare, t_step = best_of(bare, args.repeats), best_of(step, args.repeats)
    print(f"{args.model}, batch {args.batch}, {args.threads} threads: bare forward+backward {1000 * t_bare:.1f} ms, "
          f"optimiser iteration {1000 * t_step:.1f} ms, ratio {t_step / t_bare:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
