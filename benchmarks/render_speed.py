"""Throughput of the procedural dSprites renderer (images per second, 64x64, binary).

    python benchmarks/render_speed.py [--n 20000] [--repeats 5] [--threads 2]

Prints the best of ``repeats`` timings of rendering ``n`` independent uniform samples (factor sampling
included), and the same for the correlated sampler and for 4x4 anti-aliasing.
"""

from __future__ import annotations

import argparse
import time

import torch

from latentnav.testbed import dsprites


def best_rate(fn, n: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return n / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    n, r = args.n, args.repeats
    gen = torch.Generator().manual_seed(0)
    corr = dsprites.Correlation.parse("pos_x:pos_y:0.8")
    rows = {
        "uniform": lambda: dsprites.sample(n, gen),
        "correlated pos_x:pos_y:0.8": lambda: dsprites.sample(n, gen, correlate=corr),
        "uniform, 4x4 anti-aliased": lambda: dsprites.render(dsprites.sample_factors(n // 4, gen), antialias=4),
    }
    print(f"torch {torch.__version__}, {args.threads} threads, n={n}, best of {r}")
    for name, fn in rows.items():
        count = n // 4 if "anti" in name else n
        print(f"{name:30s} {best_rate(fn, count, r):10,.0f} images/s")


if __name__ == "__main__":
    main()
