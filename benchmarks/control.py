"""Control of discovered directions against the oracle axis on a beta-VAE (the README's control table).

    python benchmarks/control.py --model bvae-dsprites [--transforms shift-x,shift-y,zoom]
                                 [--schedule default|paper] [--json benchmarks/results/control-bvae-dsprites.json]

For each transform: discover a direction (trajectory method), then traverse 50 fresh latents (seeds from
50,000) in relative and absolute mode for t in [-0.15, 0.15] (7 values) and read the factor back from
the pixels (centroid for shifts, half log area for zoom). The oracle is the model's best single latent
axis for the factor, calibrated on its own images (latentnav.metrics.oracle_direction). Figures:
relative R^2 and slope of achieved vs requested change, spread (std across latents at each t), leakage
into the other coordinate, absolute-mode std, blank images; plus the discovery's cost.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import latentnav as ln
from latentnav.discover import discover
from latentnav.metrics import TRANSFORM_METERS, control_report, oracle_direction
from latentnav.trajectory import TrajectoryConfig

FACTOR_OF = {"shift-x": "pos_x", "shift-y": "pos_y", "zoom": "scale"}
COLUMNS = ("relative_r2", "relative_slope", "relative_spread", "leakage", "absolute_std", "absolute_monotone_rho", "blank_fraction")


def evaluate(G, transform: str, schedule: str, n_eval: int = 50, t_max: float = 0.15, seed: int = 0) -> dict:
    meter, cross = TRANSFORM_METERS[transform]
    t_values = np.linspace(-t_max, t_max, 7)
    z = G.sample_z(n_eval, seed=50_000)
    t0 = time.perf_counter()
    direction = discover(G, transform, TrajectoryConfig(schedule=schedule, seed=seed), progress=False)
    seconds = time.perf_counter() - t0
    found = control_report(G, direction, meter, t_values, z, cross_meter=cross)
    found.update(generator_evals=direction.meta["generator_evals"], seconds=seconds, fit_r2=direction.meta["fit_r2"],
                 mean_final_loss=direction.meta["mean_final_loss"])  # fmt: skip
    oracle = oracle_direction(G, FACTOR_OF[transform], meter)
    ref = control_report(G, oracle, meter, t_values, z, cross_meter=cross)
    return {"discovered": found, "oracle": ref}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bvae-dsprites")
    parser.add_argument("--transforms", default="shift-x,shift-y,zoom")
    parser.add_argument("--schedule", default="default", choices=["default", "paper"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    G = ln.load_generator(args.model, device="cpu")
    results = {}
    print(f"model {args.model}, schedule {args.schedule}")
    print("| transform | who | " + " | ".join(COLUMNS) + " | generator evals | seconds |")
    print("|---" * (len(COLUMNS) + 4) + "|")
    for tf in args.transforms.split(","):
        res = evaluate(G, tf, args.schedule)
        results[tf] = res
        for who in ("discovered", "oracle"):
            r = res[who]
            cells = [f"{r[c]:.3f}" if c in r else "-" for c in COLUMNS]
            cost = [str(r.get("generator_evals", "-")), f"{r['seconds']:.1f}" if "seconds" in r else "-"]
            print(f"| {tf} | {who} | " + " | ".join(cells) + " | " + " | ".join(cost) + " |", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"model": args.model, "schedule": args.schedule, "results": results}, indent=2))


if __name__ == "__main__":
    main()
