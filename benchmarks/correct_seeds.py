"""How much the meter re-fit's result depends on its seed: the trajectory direction re-fitted at two --keep values.

    python benchmarks/correct_seeds.py [--model bvae-dsprites-corr] [--keeps 0.6,0.7] [--seeds 0,1,2]
        [--json benchmarks/results/correct_seeds.json]

Runs the corrector once on the trajectory shift-x direction (default settings, 500 low-density samples), then
re-fits the same scored + re-projected latents from InterFaceGAN's projection with each ``--keep`` and each
fit seed (the seed orders the re-fit's minibatches), and measures each direction on 1,000 fresh latents (seeds
from 50,000): share of the base direction's x change per unit step, and leakage (|y per unit x|, bootstrap
5-95% interval). About 15 minutes on one core.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from correct_table import method_direction
from readme_table import ROOT, write_json

import latentnav as ln
from latentnav.correction.config import CorrectConfig
from latentnav.correction.correct import correct
from latentnav.correction.fit import fit_on_meters
from latentnav.correction.objective import direction_effect
from latentnav.measure import get_meter


def table(record: dict) -> str:
    """The figures of the JSON ``--json`` writes as a Markdown table (docs/correct.md quotes them in its text)."""
    head = f"| --keep | fit seed | share of the base's x change per step | leakage on {record['eval_n']:,} fresh latents (5-95%) |"
    lines = [head, "|---|---|---|---|"]
    lines += [f"| {r['keep']:g} | {r['seed']} | {r['share']:.2f} | {r['leakage']:.3f} ({r['interval'][0]:.3f}-{r['interval'][1]:.3f}) |"
              for r in record["rows"]]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bvae-dsprites-corr")
    parser.add_argument("--keeps", default="0.6,0.7")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--eval-n", type=int, default=1000)
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "correct_seeds.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    G = ln.load_generator(args.model, device="cpu")
    mx, my = get_meter("pos_x", G), get_meter("pos_y", G)
    z_eval = G.sample_latent(range(50_000, 50_000 + args.eval_n), "z")
    fixed = correct(G, method_direction(G, "trajectory").direction, "pos_x", ["pos_y"], CorrectConfig(), eval_n=50)
    s = fixed.samples
    union_z, union_s = s["refit_z"], s["refit_scores"]
    base_u, proj_u = s["base_u"], fixed.projection.u.float()
    on_base = direction_effect(G, base_u, mx, [my], z_eval)["on_target"]
    rows = []
    for keep in (float(k) for k in args.keeps.split(",")):
        for seed in (int(k) for k in args.seeds.split(",")):
            u, _ = fit_on_meters(G, union_z, base_u, mx, [my], keep=keep, start=proj_u, base=union_s, seed=seed)
            e = direction_effect(G, torch.as_tensor(u).float(), mx, [my], z_eval)
            rows.append({"keep": keep, "seed": seed, "share": e["on_target"] / on_base, "leakage": e["leakage_max"],
                         "interval": e["leakage_interval"]["pos_y"]})  # fmt: skip
            lo, hi = rows[-1]["interval"]
            print(f"--keep {keep:g} seed {seed}: share {rows[-1]['share']:.2f}, leakage {e['leakage_max']:.3f} "
                  f"({lo:.2f}-{hi:.2f})", flush=True)  # fmt: skip
            write_json(args.json, {"model": args.model, "eval_n": args.eval_n, "rows": rows,
                                   "seconds": time.perf_counter() - t0})  # fmt: skip
    print(table({"eval_n": args.eval_n, "rows": rows}))


if __name__ == "__main__":
    main()
