"""How much x change per step a corrected direction can keep at a given leakage: the corrector's --keep sweep.

    python benchmarks/correct_frontier.py [--model bvae-dsprites-corr] [--methods trajectory,ganspace]
        [--keeps 0.6,0.7,0.75,0.8,0.9,1.0] [--samples 500] [--json benchmarks/results/correct_frontier.json]
        [--update-readme] [--from-json]

For each method, its pos_x direction on ``--model`` (picked as in ``benchmarks/correct_table.py``) goes
through ``latentnav.correct`` once (500 low-density samples, synthesized, inverted and kept as usual); then
the meter re-fit (:func:`latentnav.correction.fit_on_meters`) is run again on the same scored + re-projected
latents for each ``--keep`` value: from InterFaceGAN's projection where the keep asked is no more than the
projection's own share of the base's x change per step, else from the base direction. Each fitted direction
is measured on the 200 fresh latents of the corrector table (leakage = |y per unit x| with its bootstrap
5-95% interval; share = x change per unit step over the base direction's). The issue asks for a share of at
least 0.8 with leakage no higher than the projection's; the sweep shows where, on this model, the two meet.

The last column is a first-order bound that no re-fit can beat, even one that stepped differently at every
latent: at each fresh latent the unit step that leaves y unchanged changes x at most by
|grad x| sin(angle(grad x, grad y)) (gradients of the meters through the generator); its mean over the latents,
over the base direction's mean grad x . u, is the largest share a y-free correction can keep.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from correct_table import method_direction
from readme_table import ROOT, update_readme, write_json

import latentnav as ln
from latentnav.correction import CorrectConfig, correct, direction_effect, fit_on_meters
from latentnav.measure import get_meter


def y_free_bound(G, u: torch.Tensor, z: torch.Tensor, mx, my) -> float:
    """Mean over ``z`` of the x rate of the best y-free unit step, over ``u``'s mean x rate (first order)."""
    z = z.float().clone().requires_grad_(True)
    images = G(z, space="z")
    x, y = mx(images), my(images)
    ok = torch.isfinite(x) & torch.isfinite(y)
    gx = torch.autograd.grad(x[ok].sum(), z, retain_graph=True)[0][ok].double()
    gy = torch.autograd.grad(y[ok].sum(), z)[0][ok].double()
    cos = torch.nn.functional.cosine_similarity(gx, gy, dim=1)
    best = gx.norm(dim=1) * (1 - cos**2).clamp_min(0).sqrt()
    return float(best.mean() / (gx @ u.double()).mean().abs())


def cell(point: dict) -> str:
    lo, hi = point["interval"]
    return f"{point['share']:.2f}: {point['leakage']:.3f} ({lo:.2f}-{hi:.2f})"


def table(results: dict) -> str:
    keeps = results["keeps"]
    head = ("| method | projection: share: leakage | " + " | ".join(f"--keep {k:g}" for k in keeps)
            + " | largest share with leakage <= projection | y-free bound |")  # fmt: skip
    lines = [head, "|" + "---|" * (len(keeps) + 4)]
    for method, r in results["methods"].items():
        proj = r["projection"]
        ok = [p["share"] for p in [proj, *r["points"]] if p["leakage"] <= proj["leakage"]]
        lines.append(f"| {method} | {cell(proj)} | " + " | ".join(cell(p) for p in r["points"]) + f" | {max(ok):.2f} | {r['bound']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bvae-dsprites-corr")
    parser.add_argument("--methods", default="trajectory,ganspace")
    parser.add_argument("--keeps", default="0.6,0.7,0.75,0.8,0.9,1.0")
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--eval-n", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "correct_frontier.json")
    parser.add_argument("--update-readme", action="store_true")
    parser.add_argument("--from-json", action="store_true")
    args = parser.parse_args()
    if args.from_json:
        update_readme("correct-frontier", table(json.loads(args.json.read_text())))
        return
    torch.set_num_threads(args.threads)
    G = ln.load_generator(args.model, device="cpu")
    mx, my = get_meter("pos_x", G), get_meter("pos_y", G)
    keeps = [float(k) for k in args.keeps.split(",")]
    config = CorrectConfig(n_low=args.samples)
    z_eval = G.sample_latent(range(50_000, 50_000 + args.eval_n), "z")
    results = {"model": args.model, "keeps": keeps, "methods": {}}
    for method in args.methods.split(","):
        t0 = time.perf_counter()
        fixed = correct(G, method_direction(G, method).direction, "pos_x", ["pos_y"], config, eval_n=args.eval_n)
        s = fixed.samples
        union_z = torch.cat([s["z"], s["z_inverted"][torch.as_tensor(s["kept"])]])
        union_s = np.concatenate([s["scores"], s["rescored"][s["kept"]]])
        base_u, proj_u = s["base_u"], fixed.projection.u.float()
        ev = fixed.report["eval"]
        on_base = ev["base"]["on_target"]

        def point(e: dict, on_base: float = on_base) -> dict:
            return {"share": e["on_target"] / on_base, "leakage": e["leakage_max"],
                    "interval": e["leakage_interval"]["pos_y"], "on_target": e["on_target"]}  # fmt: skip

        proj_share = ev["projection"]["on_target"] / on_base
        points = []
        for keep in keeps:
            start = proj_u if keep <= proj_share else base_u
            u, _ = fit_on_meters(G, union_z, base_u, mx, [my], keep=keep, start=start, base=union_s, seed=config.seed)
            u = torch.as_tensor(u).float()
            u = u if float(u @ base_u) >= 0 else -u
            points.append({"keep": keep, "start": "projection" if keep <= proj_share else "base",
                           **point(direction_effect(G, u, mx, [my], z_eval))})  # fmt: skip
            print(method, cell(points[-1]), flush=True)
        results["methods"][method] = {"base": point(ev["base"]), "projection": point(ev["projection"]),
                                      "points": points, "bound": y_free_bound(G, base_u, z_eval, mx, my),
                                      "seconds": time.perf_counter() - t0}  # fmt: skip
        write_json(args.json, results)
    print(table(results))
    if args.update_readme:
        update_readme("correct-frontier", table(results))


if __name__ == "__main__":
    main()
