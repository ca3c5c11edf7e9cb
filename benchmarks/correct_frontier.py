"""How much x change per step a corrected direction can keep at a given leakage: the corrector's --keep sweep.

    python benchmarks/correct_frontier.py [--model bvae-dsprites-corr] [--methods trajectory,ganspace]
        [--keeps 0.5,0.6,0.7,0.75,0.8,0.9,1.0] [--samples 500] [--json benchmarks/results/correct_frontier.json]
        [--fit-optimizer slsqp] [--optimum-share 0.8] [--starts 8] [--train-n 300] [--eval-n 1000] [--optimum-only]
        [--merge] [--update-docs] [--block correct-frontier] [--from-json]

For each method, its pos_x direction on ``--model`` (picked as in ``benchmarks/correct_table.py``) goes
through ``latentnav.correct`` once (500 low-density samples, synthesized, inverted and kept as usual); then
the meter re-fit (:func:`latentnav.correction.fit.fit_on_meters`, with ``--fit-optimizer``: the corrector's
default, SLSQP on all the latents, or Adam on minibatches) is run again on the same scored + re-projected
latents for each ``--keep`` value: from InterFaceGAN's projection where the keep asked is no more than the
projection's own share of the base's x change per step on those latents, else from the base direction
(Adam) or from the nearest mix of projection and base that keeps it (SLSQP; ``start`` records which), with
the corrector's limits (Adam's 150 steps, SLSQP's 20 iterations; the JSON records each fit's). Each
fitted direction is measured on 1,000 fresh latents, the first of the corrector table's 5,000 (leakage = |y per unit x| with
its bootstrap 5-95% interval; share = x change per unit step over the base direction's). The issue asks for
a share of at least 0.8 with leakage no higher than the projection's; the sweep shows where, on this model, the two meet.

The column "least leakage at share >= 0.8" checks that the sweep did not just miss a better direction: the
least leakage SLSQP (scipy) finds for a unit direction that keeps ``--optimum-share`` of the base's x change
per unit step, fitted on ``--train-n`` (300) scored latents (steps -1 and +1, gradients through the meters)
from ``--starts`` starts (the base direction, then the base plus random perturbations) and measured on the
fresh latents, with the starts' spread: a floor on the fitted latents, not a proof for fresh ones (at a
share of 0.6 the --keep 0.6 re-fit measured lower on fresh latents than this search did).
``--optimum-only`` recomputes just this column into the JSON (or, with a JSON that does not exist yet,
writes only it).

The last column is a first-order bound that no re-fit can beat, even one that stepped differently at every
latent: at each fresh latent the unit step that leaves y unchanged changes x at most by
|grad x| sin(angle(grad x, grad y)) (gradients of the meters through the generator); its mean over the latents,
over the base direction's mean grad x . u, is the largest share a y-free correction can keep.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch
from correct_table import method_direction, ordered
from readme_table import DOCS, ROOT, add_update_flag, update_doc, write_json
from scipy.optimize import minimize

import latentnav as ln
from latentnav.correction.config import OPTIMIZERS, CorrectConfig
from latentnav.correction.correct import correct
from latentnav.correction.fit import fit_on_meters
from latentnav.correction.objective import direction_effect
from latentnav.measure import get_meter

DOC = DOCS / "correct.md"  # the guide whose marked table --update-docs rewrites


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


def least_leakage(G, base_u: torch.Tensor, share: float, z_eval: torch.Tensor, mx, my, starts: int = 8,
                  n_train: int = 300) -> dict:
    """The least |y per x| of a unit direction keeping >= ``share`` of ``base_u``'s x change per unit step (SLSQP)."""
    z = G.sample_latent(range(n_train), "z").float()
    with torch.no_grad():
        images = G(z)
        bx, by = mx(images), my(images)
    ok = torch.isfinite(bx) & torch.isfinite(by)
    z, bx, by = z[ok], bx[ok], by[ok]
    steps = torch.tensor([-1.0, 1.0])

    def effect(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        images = G((z[None] + steps[:, None, None] * u[None, None]).reshape(-1, z.shape[1]))
        dx, dy = mx(images).view(2, -1) - bx, my(images).view(2, -1) - by
        good = torch.isfinite(dx) & torch.isfinite(dy)
        dx, dy = torch.where(good, dx, torch.zeros(())), torch.where(good, dy, torch.zeros(()))
        on = (steps[:, None] * dx).sum() / (steps[:, None] ** 2 * good).sum()
        return on, (dx * dy).sum() / (dx**2).sum().clamp_min(1e-12)

    with torch.no_grad():
        on_base = float(effect(base_u)[0])

    def value_and_grad(which: int, offset: float = 0.0):
        def f(v: np.ndarray) -> tuple[float, np.ndarray]:
            u = torch.tensor(v, dtype=torch.float32, requires_grad=True)
            on, leak = effect(u / u.norm())
            out = (leak**2) if which else (on / on_base - offset)
            (grad,) = torch.autograd.grad(out, u)
            return float(out.detach()), grad.double().numpy()

        return f

    objective, constraint = value_and_grad(1), value_and_grad(0, share)
    rng = np.random.default_rng(0)
    found = []
    for k in range(starts):
        v0 = base_u.double().numpy() + (0.0 if k == 0 else 0.7) * rng.standard_normal(len(base_u)) / len(base_u) ** 0.5
        res = minimize(objective, v0, jac=True, method="SLSQP", options={"maxiter": 60},
                       constraints=[{"type": "ineq", "fun": lambda v: constraint(v)[0], "jac": lambda v: constraint(v)[1]}])  # fmt: skip
        u = torch.tensor(res.x / np.linalg.norm(res.x), dtype=torch.float32)
        e = direction_effect(G, u, mx, [my], z_eval)
        found.append({"leakage": e["leakage_max"], "interval": e["leakage_interval"]["pos_y"], "on_target": e["on_target"]})
    best = min(found, key=lambda f: f["leakage"])
    return {"share_asked": share, **best, "starts": found}


def cell(point: dict) -> str:
    lo, hi = point["interval"]
    return f"{point['share']:.2f}: {point['leakage']:.3f} ({lo:.3f}-{hi:.3f})"


def optimum(r: dict) -> str:
    if "optimum" not in r:
        return "-"
    o = r["optimum"]
    lo, hi = o["interval"]
    spread = [f["leakage"] for f in o["starts"]]
    return (f"{o['leakage']:.3f} ({lo:.3f}-{hi:.3f}); {len(spread)} starts: "
            f"{min(spread):.3f}-{max(spread):.3f}")  # fmt: skip


def table(results: dict) -> str:
    keeps = results["keeps"]
    head = ("| method | projection: share: leakage | " + " | ".join(f"--keep {k:g}" for k in keeps)
            + " | largest share with leakage <= projection | least leakage at share >= "
            + f"{results.get('optimum_share', 0.8):g} | y-free bound |")  # fmt: skip
    lines = [head, "|" + "---|" * (len(keeps) + 5)]
    for method in ordered(results["methods"]):
        r = results["methods"][method]
        proj = r["projection"]
        ok = [p["share"] for p in [proj, *r["points"]] if p["leakage"] <= proj["leakage"]]
        lines.append(f"| {method} | {cell(proj)} | " + " | ".join(cell(p) for p in r["points"]) + f" | {max(ok):.2f} | {optimum(r)} | {r['bound']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bvae-dsprites-corr")
    parser.add_argument("--methods", default="trajectory,ganspace")
    parser.add_argument("--keeps", default="0.5,0.6,0.7,0.75,0.8,0.9,1.0")
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--eval-n", type=int, default=1000, help="fresh latents each direction is measured on")
    parser.add_argument("--fit-optimizer", default=CorrectConfig.fit_optimizer, choices=OPTIMIZERS)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "correct_frontier.json")
    parser.add_argument("--merge", action="store_true", help="keep the methods already in --json (parallel runs)")
    parser.add_argument("--block", "--readme-block", dest="block", default="correct-frontier",
                        help="the marked table of docs/correct.md to rewrite (--readme-block: its old name)")
    parser.add_argument("--optimum-share", type=float, default=0.8)
    parser.add_argument("--starts", type=int, default=8)
    parser.add_argument("--train-n", type=int, default=300, help="latents the least-leakage search fits on")
    parser.add_argument("--optimum-only", action="store_true", help="recompute only the least-leakage column")
    add_update_flag(parser, DOC)
    parser.add_argument("--from-json", action="store_true")
    args = parser.parse_args()
    if args.from_json:
        update_doc(args.block, table(json.loads(args.json.read_text())), DOC)
        return
    torch.set_num_threads(args.threads)
    G = ln.load_generator(args.model, device="cpu")
    mx, my = get_meter("pos_x", G), get_meter("pos_y", G)
    keeps = [float(k) for k in args.keeps.split(",")]
    config = CorrectConfig(n_low=args.samples)
    steps = dataclasses.replace(config, fit_optimizer=args.fit_optimizer).fit_limit  # the corrector's, for the re-fits
    z_eval = G.sample_latent(range(50_000, 50_000 + args.eval_n), "z")
    if args.optimum_only:  # into the JSON's rows (a new JSON: only this column, for --methods)
        fresh = not args.json.exists()
        results = {"model": args.model, "methods": {}} if fresh else json.loads(args.json.read_text())
        results.update(optimum_share=args.optimum_share, optimum_train_n=args.train_n)
        for method in args.methods.split(","):
            r = results["methods"].setdefault(method, {})
            base_u = method_direction(G, method).direction.u.float()
            base_u = base_u if direction_effect(G, base_u, mx, [my], z_eval[:20])["on_target"] > 0 else -base_u
            r["optimum"] = least_leakage(G, base_u, args.optimum_share, z_eval, mx, my, args.starts, args.train_n)
            print(method, optimum(r), flush=True)
            write_json(args.json, results)
        if not fresh:
            print(table(results))
            if args.update_docs:
                update_doc(args.block, table(results), DOC)
        return
    results = {"model": args.model, "keeps": keeps, "optimum_share": args.optimum_share,
               "fit_optimizer": args.fit_optimizer, "methods": {}}  # fmt: skip
    if args.merge and args.json.exists():
        kept = json.loads(args.json.read_text())
        if [kept.get(k) for k in ("model", "keeps", "fit_optimizer")] != [args.model, keeps, args.fit_optimizer]:
            raise SystemExit(f"{args.json} holds another model, --keeps or --fit-optimizer; --merge adds rows of one run")
    for method in args.methods.split(","):
        t0 = time.perf_counter()
        fixed = correct(G, method_direction(G, method).direction, "pos_x", ["pos_y"], config, eval_n=args.eval_n)
        s = fixed.samples
        union_z, union_s = s["refit_z"], s["refit_scores"]
        base_u, proj_u = s["base_u"], fixed.projection.u.float()
        ev = fixed.report["eval"]
        on_base = ev["base"]["on_target"]

        def point(e: dict, on_base: float = on_base) -> dict:
            return {"share": e["on_target"] / on_base, "leakage": e["leakage_max"],
                    "interval": e["leakage_interval"]["pos_y"], "on_target": e["on_target"]}  # fmt: skip

        points = []
        for keep in keeps:  # from the projection; when it keeps less, fit_on_meters goes from the base (Adam) or the arc (SLSQP)
            u, fit = fit_on_meters(G, union_z, base_u, mx, [my], keep=keep, start=proj_u, base=union_s, steps=steps,
                                   seed=config.seed, optimizer=args.fit_optimizer,
                                   batch=None if args.fit_optimizer == "slsqp" else 128)  # fmt: skip
            u = torch.as_tensor(u).float()
            u = u if float(u @ base_u) >= 0 else -u
            start = {"start": "projection", "arc": f"arc {fit['start_mix']:.3f}"}.get(fit["started_from"], "base")
            points.append({"keep": keep, "start": start, "iterations": fit["iterations"], "stopped": fit["stopped"],
                           **point(direction_effect(G, u, mx, [my], z_eval))})  # fmt: skip
            print(method, cell(points[-1]), flush=True)
        results["methods"][method] = {"base": point(ev["base"]), "projection": point(ev["projection"]),
                                      "points": points, "bound": y_free_bound(G, base_u, z_eval, mx, my),
                                      "seconds": time.perf_counter() - t0}  # fmt: skip
        if args.starts:
            results["methods"][method]["optimum"] = least_leakage(G, base_u, args.optimum_share, z_eval, mx, my,
                                                                  args.starts, args.train_n)  # fmt: skip
        if args.merge and args.json.exists():  # read again: a parallel run may have added its rows meanwhile
            results["methods"] = {**json.loads(args.json.read_text())["methods"], **results["methods"]}
        write_json(args.json, results)
    print(table(results))
    if args.update_docs:
        update_doc(args.block, table(results), DOC)


if __name__ == "__main__":
    main()
