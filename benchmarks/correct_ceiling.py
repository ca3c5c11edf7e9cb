"""The best calibrated control any straight y-free direction gives on the correlated models: a ceiling for issue 25's
R^2 target, found by searching the directions themselves against the corrector's own judge.

    python benchmarks/correct_ceiling.py [--models bvae-dsprites-corr,bvae-dsprites-corr06] [--caps 0.01,0.03,0.1,inf]
        [--grid 400] [--refine 80] [--fit-n 200] [--eval-n 500] [--json benchmarks/results/correct_ceiling.json]
        [--scale-cap inf] [--grid-from JSON] [--plot docs/images/correct_ceiling.png] [--update-docs] [--block B]
        [--from-json]

Every candidate u is judged exactly as the corrector judges its directions: calibrated in pos_x
(``calibrate_direction``), moved by -0.1 .. +0.1 of the width in relative mode from fresh latents
(``user_effect``), every meter read; the figures are the R^2 of achieved on requested x, y per unit x and scale
per unit x. The search runs in the span of the model's active latents (those whose unit step changes the image
by at least a tenth of the most active one's change: 3 of 10 on both models; a component along the others only
lengthens the move, since the calibration absorbs it). First a grid of ``--grid`` directions spread over that
span (a Fibonacci sphere in 3 dimensions, random directions otherwise; u and -u are the same direction once
calibrated) on ``--fit-n`` latents (seeds 90,000 ..); then, for each cap c on |y per unit x|, Nelder-Mead
(``--refine`` evaluations, SciPy) from the grid's best direction with |y per unit x| <= c, maximising R^2 (a
penalty of 10 per unit beyond the cap). The scale is left free by default (``--scale-cap`` caps it too), so the
ceiling is an upper bound for the corrector, which also holds the scale. The winner is
judged on ``--eval-n`` fresh latents, the corrector's evaluation latents (seeds from EVAL_SEED), with the
bootstrap interval of y per unit x. The grid makes a missed better direction unlikely, not impossible.
The unconstrained row (cap inf) says how well a straight line does x at all on the model.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from readme_table import DOCS, ROOT, add_update_flag, update_doc, write_json
from scipy.optimize import minimize

import latentnav as ln
from latentnav.correction.evaluation import prior_norm_quantile, user_effect
from latentnav.directions import identity_direction
from latentnav.errors import AttributeNotMeasurableError
from latentnav.evaluate import calibrate_direction
from latentnav.measure import get_meter
from latentnav.seeds import EVAL_SEED

DOC = DOCS / "correct.md"
BLOCK = "correct-ceiling"
FIT_SEED = 90_000
HEADER = ("| model | caps on y, scale per unit x | best R^2 on the grid | R^2 on the fit latents after refining | R^2, slope on "
          "fresh latents | y per unit x (5-95%) | scale per unit x | lost |\n|---|---|---|---|---|---|---|---|")  # fmt: skip


def judge(G, u: torch.Tensor, meters, z, *, calib_n: int, n_boot: int) -> dict | None:
    """The corrector's judgement of the straight direction ``u``: calibrated in pos_x, moved by -0.1 .. +0.1 of it."""
    mx, my, ms = meters
    d = identity_direction(u, "z", G.name, "search")
    try:
        d = calibrate_direction(G, d, mx, n=calib_n, grid=21)
        return user_effect(G, d, mx, [my, ms], z, norm99=prior_norm_quantile(z), n_boot=n_boot)
    except (AttributeNotMeasurableError, ValueError):
        return None


def penalised(g: dict, cap: float, scale_cap: float = math.inf) -> float:
    """What the search minimises for a :func:`summary`: -R^2, plus 10 per unit of y or scale beyond its cap (1 when
    not measurable)."""
    if not math.isfinite(g["r2"]):
        return 1.0
    return -g["r2"] + 10 * max(0.0, abs(g["pos_y"]) - cap) + 10 * max(0.0, abs(g["scale"]) - scale_cap)


def active_span(G, z: torch.Tensor, share: float = 0.1) -> torch.Tensor:
    """[D, k] the unit axes whose unit step changes the images by at least ``share`` of the most active axis's."""
    with torch.no_grad():
        x0 = G(z)
        change = torch.stack([(G(z + torch.eye(G.z_dim)[k]) - x0).abs().mean() for k in range(G.z_dim)])
    return torch.eye(G.z_dim)[:, change >= share * change.max()]


def grid_directions(k: int, n: int) -> torch.Tensor:
    """[n, k] unit directions spread over a half-sphere (a Fibonacci sphere for k = 3; seeded random otherwise)."""
    if k == 3:
        i = torch.arange(n, dtype=torch.float64) + 0.5
        height = i / n  # one hemisphere: u and -u are the same direction once calibrated
        angle = math.pi * (1 + 5**0.5) * i
        r = (1 - height**2).sqrt()
        return torch.stack([r * angle.cos(), r * angle.sin(), height], dim=1).float()
    v = torch.randn(n, k, generator=torch.Generator().manual_seed(0))
    return v / v.norm(dim=1, keepdim=True)


def summary(effect: dict | None) -> dict:
    if effect is None:
        return {"r2": float("nan"), "pos_y": float("nan"), "scale": float("nan")}
    return {"r2": effect["steer"]["r2"], "pos_y": effect["changes"]["pos_y"], "scale": effect["changes"]["scale"]}


def ceiling(model: str, caps: list[float], grid: int, refine: int, fit_n: int, eval_n: int, scale_cap: float,
            grid_from: dict | None = None) -> dict:  # fmt: skip
    G = ln.load_generator(model)
    meters = [get_meter(name, G) for name in ("pos_x", "pos_y", "scale")]
    z_fit = G.sample_latent(range(FIT_SEED, FIT_SEED + fit_n), "z")
    z_eval = G.sample_latent(range(EVAL_SEED, EVAL_SEED + eval_n), "z")
    span = active_span(G, z_fit[:100])
    print(f"{model}: active latents {torch.nonzero(span.sum(1)).flatten().tolist()}", flush=True)
    clock = time.perf_counter()
    if grid_from is not None:  # an earlier run's grid (its own fit latents) as the starting points
        candidates, grid_rows = torch.tensor(grid_from["grid_directions"]), grid_from["grid"]
    else:
        candidates = grid_directions(span.shape[1], grid)
        grid_rows = []
        for i, v in enumerate(candidates):
            grid_rows.append(summary(judge(G, span @ v, meters, z_fit, calib_n=32, n_boot=20)))
            if (i + 1) % 50 == 0:
                print(f"  grid {i + 1}/{grid} ({time.perf_counter() - clock:.0f} s)", flush=True)
    out = {"active": torch.nonzero(span.sum(1)).flatten().tolist(), "grid": grid_rows,
           "grid_directions": candidates.tolist(), "caps": {}}  # fmt: skip
    for cap in caps:
        clock = time.perf_counter()
        values = [penalised(g, cap, scale_cap) for g in grid_rows]
        best = int(np.argmin(values))

        def f(v: np.ndarray) -> float:
            u = span @ torch.tensor(v, dtype=torch.float32)
            return penalised(summary(judge(G, u, meters, z_fit, calib_n=32, n_boot=20)), cap, scale_cap) if u.norm() > 1e-6 else 1.0

        x0 = candidates[best].double().numpy()
        simplex = np.vstack([x0] + [x0 + 0.1 * e for e in np.eye(len(x0))])  # steps of about 6 degrees
        res = minimize(f, x0, method="Nelder-Mead", options={"maxfev": refine, "initial_simplex": simplex,
                                                               "xatol": 1e-3, "fatol": 1e-4})  # fmt: skip
        v = res.x if res.fun <= values[best] else x0
        u = span @ torch.tensor(v / np.linalg.norm(v), dtype=torch.float32)
        fit = judge(G, u, meters, z_fit, calib_n=32, n_boot=20)
        fresh = judge(G, u, meters, z_eval, calib_n=64, n_boot=1000)
        feasible = [e["r2"] for e in grid_rows if abs(e["pos_y"]) <= cap and abs(e["scale"]) <= scale_cap]
        out["caps"][str(cap)] = {"cap": cap, "scale_cap": scale_cap, "grid_best_r2": max(feasible, default=float("nan")),
                                 "fit": summary(fit), "eval": fresh, "u": u.tolist(), "evaluations": int(res.nfev),
                                 "seconds": round(time.perf_counter() - clock, 1)}  # fmt: skip
        print(row(model, out["caps"][str(cap)]), flush=True)
    return out


def row(model: str, r: dict) -> str:
    e = r["eval"]
    lo, hi = e["change_intervals"]["pos_y"]
    scale_cap = r.get("scale_cap", math.inf)
    cap = ("none" if math.isinf(r["cap"]) else f"{r['cap']:g}") + ", " + ("none" if math.isinf(scale_cap) else f"{scale_cap:g}")
    grid = f"{r['grid_best_r2']:.3f}" if math.isfinite(r["grid_best_r2"]) else "none within the caps"
    return (f"| `{model}` | {cap} | {grid} | {r['fit']['r2']:.3f} | {e['steer']['r2']:.3f}, "
            f"{e['steer']['slope']:.2f} | {e['changes']['pos_y']:+.3f} ({lo:.3f}-{hi:.3f}) | {e['changes']['scale']:+.3f} | "
            f"{100 * e['lost_share']:.1f}% |")  # fmt: skip


def table(results: dict) -> str:
    return "\n".join([HEADER] + [row(model, r) for model, out in results.items() for r in out["caps"].values()])


def plot(results: dict, path: Path, targets_json: Path) -> None:
    """Each model's grid (R^2 on the fit latents against |y per unit x|), the refined ceiling per cap, the
    corrector's directions from ``benchmarks/correct_targets.py``'s JSON (fresh latents) and the R^2 target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    corrected = json.loads(targets_json.read_text())["results"] if targets_json.exists() else {}
    fig, axes = plt.subplots(1, len(results), figsize=(5.2 * len(results), 4.2), squeeze=False)
    for ax, (model, out) in zip(axes[0], results.items()):
        grid = [g for g in out["grid"] if math.isfinite(g["r2"])]
        ax.scatter([abs(g["pos_y"]) for g in grid], [g["r2"] for g in grid], s=6, c="0.7", label="grid (fit latents)")
        best = list(out["caps"].values())
        ax.plot([abs(r["eval"]["changes"]["pos_y"]) for r in best], [r["eval"]["steer"]["r2"] for r in best], "k^",
                label="best per cap (fresh latents)")  # fmt: skip
        for method, r in corrected.get(model, {}).items():
            c = r["eval"]["corrected"]
            ax.plot(abs(c["changes"]["pos_y"]), c["steer"]["r2"], "o", label=f"corrected {method}")
        ax.axhline(0.85, color="tab:red", lw=1, ls="--", label="R^2 target 0.85")
        ax.set_xscale("symlog", linthresh=0.01)
        ax.set(title=model, xlabel="|y per unit x|", ylabel="R^2 of achieved on requested x", ylim=(0, 1), xlim=(0, 2))
    axes[0][0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default="bvae-dsprites-corr,bvae-dsprites-corr06")
    p.add_argument("--caps", default="0.01,0.03,0.1,inf")
    p.add_argument("--grid", type=int, default=400)
    p.add_argument("--refine", type=int, default=80)
    p.add_argument("--scale-cap", type=float, default=math.inf, help="cap on |scale per unit x| (default: none)")
    p.add_argument("--grid-from", type=Path, help="start from the grid in this JSON (an earlier run's) instead of a new one")
    p.add_argument("--block", default=BLOCK, help="the docs block --update-docs rewrites")
    p.add_argument("--fit-n", type=int, default=200)
    p.add_argument("--eval-n", type=int, default=500)
    p.add_argument("--json", type=Path, default=ROOT / "benchmarks/results/correct_ceiling.json")
    p.add_argument("--from-json", action="store_true", help="only rewrite the docs table from --json")
    p.add_argument("--plot", type=Path, default=ROOT / "docs/images/correct_ceiling.png",
                   help="the picture (with the corrector's directions from benchmarks/results/correct_targets.json)")
    add_update_flag(p, DOC)
    args = p.parse_args()
    if args.from_json:
        results = json.loads(args.json.read_text())["results"]
    else:
        torch.manual_seed(0)
        caps = [float(c) for c in args.caps.split(",")]
        earlier = json.loads(args.grid_from.read_text())["results"] if args.grid_from else {}
        results = {m: ceiling(m, caps, args.grid, args.refine, args.fit_n, args.eval_n, args.scale_cap, earlier.get(m))
                   for m in args.models.split(",")}  # fmt: skip
        write_json(args.json, {"command": "python benchmarks/correct_ceiling.py", "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                               "results": results})  # fmt: skip
    print(table(results))
    plot(results, args.plot, ROOT / "benchmarks/results/correct_targets.json")
    if args.update_docs:
        update_doc(args.block, table(results), DOC)


if __name__ == "__main__":
    main()
