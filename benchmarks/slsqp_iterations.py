"""What SLSQP's later iterations buy on fresh latents: the evidence behind ``--fit-iterations`` (20).

    python benchmarks/slsqp_iterations.py [--model bvae-dsprites-corr06] [--method ganspace] [--keep 0.8]
        [--iterations 30] [--at 5,10,20,30] [--eval-n 2000] [--json benchmarks/results/slsqp_iterations.json]

Runs the corrector on ``--method``'s pos_x direction (picked as in ``benchmarks/correct_table.py``) against
pos_y to get its fit set (the scored and re-projected latents; the corrector's own re-fit is skipped), then
the SLSQP re-fit on that set with ``--keep`` and a limit of ``--iterations``, keeping every iterate. The
iterates named by ``--at`` (and the last) are measured as the corrector's report measures directions
(``correction.direction_effect``) on ``--eval-n`` fresh latents from seed 50,000: leakage (|y per unit x|,
with its bootstrap 5-95% interval) and the share of the base direction's x change per unit step. The
docs/correct.md's figures for GANSpace's direction at rho 0.6 come from the defaults (17 minutes on one core).
"""

from __future__ import annotations

import argparse
import dataclasses
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
    """The iterates of the JSON ``--json`` writes as a Markdown table (docs/correct.md quotes them in its text)."""
    head = f"| SLSQP iteration | seconds | share of the base's x change per step | leakage on {record['eval_n']:,} fresh latents (5-95%) |"
    lines = [head, "|---|---|---|---|"]
    lines += [f"| {r['iteration']} | {r['seconds']:.0f} | {r['share']:.0%} | {r['leakage']:.3f} "
              f"({r['interval'][0]:.3f}-{r['interval'][1]:.3f}) |" for r in record["iterates"]]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bvae-dsprites-corr06")
    parser.add_argument("--method", default="ganspace")
    parser.add_argument("--keep", type=float, default=0.8)
    parser.add_argument("--iterations", type=int, default=30, help="SLSQP's limit for this run")
    parser.add_argument("--at", default="5,10,20,30", help="iterates to measure (the last one is measured too)")
    parser.add_argument("--eval-n", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "slsqp_iterations.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    G = ln.load_generator(args.model, device="cpu")
    mx, my = get_meter("pos_x", G), get_meter("pos_y", G)
    config = CorrectConfig(fit_keep=args.keep, fit_iterations=0)  # the fit set only; the re-fit runs below
    fixed = correct(G, method_direction(G, args.method).direction, mx, [my], config, eval_n=20)
    s = fixed.samples
    base_u, proj_u = s["base_u"], fixed.projection.u.float()
    iterates, times, t0 = [], [], time.perf_counter()

    def keep_iterate(u) -> None:
        iterates.append(torch.as_tensor(u).float())
        times.append(time.perf_counter() - t0)

    _, info = fit_on_meters(G, s["refit_z"], base_u, mx, [my], keep=args.keep, start=proj_u, base=s["refit_scores"],
                            steps=args.iterations, optimizer="slsqp", batch=None, seed=config.seed,
                            on_iterate=keep_iterate)  # fmt: skip
    z_eval = G.sample_latent(range(50_000, 50_000 + args.eval_n), "z")
    on_base = direction_effect(G, base_u, mx, [my], z_eval)["on_target"]
    wanted = sorted({int(k) for k in args.at.split(",") if int(k) <= len(iterates)} | {len(iterates)})
    rows = []
    for k in wanted:
        u = iterates[k - 1]
        e = direction_effect(G, u if float(u @ base_u) >= 0 else -u, mx, [my], z_eval)
        rows.append({"iteration": k, "seconds": times[k - 1], "share": e["on_target"] / on_base,
                     "leakage": e["leakage_max"], "interval": e["leakage_interval"]["pos_y"]})  # fmt: skip
        r = rows[-1]
        print(f"iteration {k} ({r['seconds']:.0f} s): {r['share']:.0%} of the base's x per step, leakage "
              f"{r['leakage']:.3f} ({r['interval'][0]:.3f}-{r['interval'][1]:.3f})", flush=True)
    record = {"model": args.model, "method": args.method, "keep": args.keep, "eval_n": args.eval_n,
              "config": dataclasses.asdict(config), "fit": info, "iterates": rows}  # fmt: skip
    write_json(args.json, record)
    print(table(record))


if __name__ == "__main__":
    main()
