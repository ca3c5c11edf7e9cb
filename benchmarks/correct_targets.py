"""Issue 25's targets for the corrector at its defaults: each method's x direction corrected against y, judged in the
attribute's units, on the correlated models, next to the same method on the unbiased model.

    python benchmarks/correct_targets.py [--models bvae-dsprites-corr,bvae-dsprites-corr06]
        [--methods trajectory,ganspace,sefa,interfacegan] [--unbiased bvae-dsprites-b4] [--eval-n 500]
        [--json benchmarks/results/correct_targets.json] [--update-docs] [--from-json]

For each model and method: the method's pos_x direction (found and picked as ``latentnav compare`` does) is
corrected against pos_y by ``latentnav.correct`` at the defaults (``CorrectConfig()``; the report judges base,
projection and corrected on ``--eval-n`` fresh latents, each calibrated in pos_x and moved by -0.1 .. +0.1 of
the width). The same method's direction on ``--unbiased`` is judged the same way on the same latents. Targets
per row (docs/correct.md): slope within 15% of 1, R^2 >= 0.85 and >= the base's - 0.05; y per unit x <= the
projection's and <= 1.15x the unbiased model's; scale per unit x within the base's + 0.15 (or 1.15x the unbiased
model's); lost images <= the base's + 1 point. Each row's correction time (wall) is recorded.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from correct_table import method_direction
from readme_table import DOCS, ROOT, add_update_flag, update_doc, write_json

import latentnav as ln
from latentnav.correction.config import CorrectConfig
from latentnav.correction.correct import correct
from latentnav.correction.evaluation import prior_norm_quantile, user_effect
from latentnav.evaluate import calibrate_direction, in_units_of
from latentnav.measure import get_meter
from latentnav.seeds import EVAL_SEED

DOC = DOCS / "correct.md"
BLOCK = "correct-targets"
HEADER = ("| model | method | y per unit x: base / projection / corrected / unbiased | scale per unit x: base / corrected "
          "/ unbiased | slope, R^2: base / corrected | distance for +0.1: base / corrected | lost: base / corrected | "
          "beyond prior 99%: base / corrected | seconds | targets met |\n|---|---|---|---|---|---|---|---|---|---|")  # fmt: skip


def unbiased_effect(U, method: str, z, eval_n: int) -> dict:
    """``method``'s pos_x direction on the unbiased model ``U``, judged as the corrector judges its directions."""
    d = method_direction(U, method).direction
    mx = get_meter("pos_x", U)
    d = d if in_units_of(d, mx) else calibrate_direction(U, d, mx, grid=21)
    return user_effect(U, d, mx, [get_meter("pos_y", U), get_meter("scale", U)], z, norm99=prior_norm_quantile(z))


def targets(r: dict) -> dict[str, bool]:
    ev, unb = r["eval"], r["unbiased"]
    b, p, c = ev["base"], ev["projection"], ev["corrected"]
    return {
        "slope": abs(c["steer"]["slope"] - 1) <= 0.15,
        "R^2": c["steer"]["r2"] >= max(0.85, b["steer"]["r2"] - 0.05),
        "y <= projection": abs(c["changes"]["pos_y"]) <= abs(p["changes"]["pos_y"]),
        "y <= 1.15x unbiased": abs(c["changes"]["pos_y"]) <= 1.15 * abs(unb["changes"]["pos_y"]),
        "scale held": abs(c["changes"]["scale"]) <= max(abs(b["changes"]["scale"]) + 0.15,
                                                       1.15 * abs(unb["changes"]["scale"])),
        "lost": c["lost_share"] <= b["lost_share"] + 0.01,
    }  # fmt: skip


def row(model: str, method: str, r: dict) -> str:
    ev, unb = r["eval"], r["unbiased"]
    b, p, c = ev["base"], ev["projection"], ev["corrected"]
    lo, hi = c["change_intervals"]["pos_y"]
    met = targets(r)
    missed = [k for k, ok in met.items() if not ok]
    flags = f"{sum(met.values())} of {len(met)}" + (f" (missed: {', '.join(missed)})" if missed else "")
    return (f"| `{model}` | {method} | {abs(b['changes']['pos_y']):.3f} / {abs(p['changes']['pos_y']):.3f} / "
            f"{abs(c['changes']['pos_y']):.3f} ({lo:.3f}-{hi:.3f}) / {abs(unb['changes']['pos_y']):.3f} | "
            f"{b['changes']['scale']:+.3f} / {c['changes']['scale']:+.3f} / {unb['changes']['scale']:+.3f} | "
            f"{b['steer']['slope']:.2f}, {b['steer']['r2']:.2f} / {c['steer']['slope']:.2f}, {c['steer']['r2']:.2f} | "
            f"{b['distance_per_0.1']:.2f} / {c['distance_per_0.1']:.2f} | {b['lost_share']:.1%} / {c['lost_share']:.1%} | "
            f"{b['beyond_prior_99']:.1%} / {c['beyond_prior_99']:.1%} | {r['seconds']:.0f} | {flags} |")  # fmt: skip


def table(results: dict) -> str:
    return "\n".join([HEADER, *(row(model, method, r) for model, rows in results.items() for method, r in rows.items())])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="bvae-dsprites-corr,bvae-dsprites-corr06")
    p.add_argument("--methods", default="trajectory,ganspace,sefa,interfacegan")
    p.add_argument("--unbiased", default="bvae-dsprites-b4")
    p.add_argument("--eval-n", type=int, default=500)
    p.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "correct_targets.json")
    p.add_argument("--from-json", action="store_true", help="rebuild the table from --json without running")
    add_update_flag(p, DOC)
    args = p.parse_args()
    if args.from_json:
        results = json.loads(args.json.read_text())["results"]
    else:
        U = ln.load_generator(args.unbiased, device="cpu")
        z = U.sample_latent(range(EVAL_SEED, EVAL_SEED + args.eval_n))
        unbiased = {m: unbiased_effect(U, m, z, args.eval_n) for m in args.methods.split(",")}
        results: dict = {}
        for model in args.models.split(","):
            G = ln.load_generator(model, device="cpu")
            results[model] = {}
            for method in args.methods.split(","):
                d = method_direction(G, method).direction
                start = time.perf_counter()
                c = correct(G, d, get_meter("pos_x", G), [get_meter("pos_y", G)], CorrectConfig(), eval_n=args.eval_n)
                seconds = time.perf_counter() - start
                results[model][method] = {"eval": c.report["eval"], "unbiased": unbiased[method], "seconds": seconds,
                                          "stage_seconds": c.report["stage_seconds"], "refit": c.report["refit"]}  # fmt: skip
                print(row(model, method, results[model][method]), flush=True)
                write_json(args.json, {"config": vars(CorrectConfig()), "eval_n": args.eval_n, "results": results})
    print(table(results))
    if args.update_docs:
        update_doc(BLOCK, table(results), DOC)


if __name__ == "__main__":
    main()
