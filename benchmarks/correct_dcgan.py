"""The dcgan-digiface corrector demonstration, measured on more fresh latents than the report's 200.

    python benchmarks/correct_dcgan.py [--eval-n 1000] [--update-docs]

Rewrites the ``dcgan-correct`` table of docs/correct.md with ``--update-docs`` (old name ``--update-readme``).
Reads the directions that guide's commands write (run them first; the Adam re-fit is the same ``correct``
command with ``--fit-optimizer adam -o runs/face-brightness-adam.safetensors``):

    runs/face-brightness/direction.safetensors             base (discovered brightness direction)
    runs/face-brightness-corrected.projection.safetensors  InterFaceGAN's orthogonal projection
    runs/face-brightness-corrected.safetensors             corrected, SLSQP re-fit (default)
    runs/face-brightness-adam.safetensors                  corrected, Adam re-fit

and measures each as the corrector's report does (``correction.direction_effect``: raw steps of -1, -0.5,
0.5, 1 along the unit direction; leakage = |slope of the held attribute's change on brightness's change|
with the 5-95% interval of 1,000 bootstrap resamples of the latents), on ``--eval-n`` fresh latents from
seed 50,000 (the report's 200 are the first of them). Then, on the 1,000 latents the corrector scored and
fitted on (seeds 0-999; its 198 re-projected latents are not saved), the two terms of the meter re-fit's
objective for each direction (``correction.fit_on_meters``: steps -1 and +1; per held attribute B, weight
w = its inverse variance over those latents, relative; its std is recorded too): w x slope^2 (B's change
that follows brightness) and
0.1 w x sum dB^2 / sum dA^2 (all of B's change). About 6 minutes on one core for 5,000 latents.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from readme_table import DOCS, ROOT, add_update_flag, update_doc, write_json

import latentnav as ln
from latentnav.correction.objective import direction_effect, held_weights, refit_terms
from latentnav.evaluate import read_latents
from latentnav.measure import get_meter

DOC = DOCS / "correct.md"  # the guide whose marked table --update-docs rewrites

ROWS = (
    ("base (discovered)", "face-brightness/direction.safetensors"),
    ("InterFaceGAN projection", "face-brightness-corrected.projection.safetensors"),
    ("corrected, SLSQP re-fit (default)", "face-brightness-corrected.safetensors"),
    ("corrected, Adam re-fit (`--fit-optimizer adam`)", "face-brightness-adam.safetensors"),
)
HELD = ("pos_y", "hue")


def objective_terms(G, u: torch.Tensor, meters, z: torch.Tensor, readings, jitter: float = 0.1) -> dict:
    """The meter re-fit's two leakage terms for ``u`` on ``z``, weighed as ``fit_on_meters`` weighs them."""
    base = torch.as_tensor(readings, dtype=torch.float32)
    weight = held_weights(base)
    with torch.no_grad():
        _, slope, spread = refit_terms(G, u, meters, z, base, torch.tensor([-1.0, 1.0]))
    names = [m.name for m in meters[1:]]
    return {"std": dict(zip(names, base[:, 1:].std(dim=0).tolist())), "weight": dict(zip(names, weight.tolist())),
            "slope": dict(zip(names, slope.tolist())),
            "slope_term": dict(zip(names, (weight * slope**2).tolist())),
            "spread_term": dict(zip(names, (jitter * weight * spread).tolist()))}  # fmt: skip


def cell(e: dict, name: str, fmt: str) -> str:
    lo, hi = e["leakage_interval"][name]
    return f"{e['leakage'][name]:{fmt}} ({lo:{fmt}}-{hi:{fmt}})"


def table(results: dict) -> str:
    rows = results["rows"]
    base = rows[0]["effect"]["on_target"]
    lines = [f"| brightness direction (on {results['eval_n']:,} fresh latents) | y per unit brightness | "
             "hue (degrees) per unit brightness | brightness change per unit step | re-fit objective on the "
             "scored latents: y + hue slope terms, y + hue spread terms |", "|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        e = r["effect"]
        share = "" if r is rows[0] else f" ({e['on_target'] / base:.0%})"
        t = r["fit_terms"]
        terms = " / ".join(" + ".join(f"{t[k][m]:.1e}" for m in HELD) for k in ("slope_term", "spread_term"))
        lines.append(f"| {r['name']} | {cell(e, 'pos_y', '.3f')} | {cell(e, 'hue', '.1f')} | "
                     f"{e['on_target']:.3f}{share} | {terms} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, default=ROOT / "runs", help="where the commands of docs/correct.md wrote")
    parser.add_argument("--eval-n", type=int, default=1000)
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "dcgan-correct.json")
    add_update_flag(parser, DOC)
    parser.add_argument("--table-only", action="store_true", help="print the table from --json, measure nothing")
    args = parser.parse_args()
    if args.table_only:
        results = json.loads(args.json.read_text())
    else:
        missing = [str(args.runs / p) for _, p in ROWS if not (args.runs / p).exists()]
        if missing:
            raise SystemExit(f"missing {', '.join(missing)}: run the commands of docs/correct.md first")
        torch.set_num_threads(1)
        t0 = time.perf_counter()
        G = ln.load_generator("dcgan-digiface", device="cpu")
        meter, held = get_meter("brightness", G), [get_meter(m, G) for m in HELD]
        z = G.sample_latent(range(50_000, 50_000 + args.eval_n), "z")
        readings = read_latents(G, z, "z", [meter, *held]).T
        z_fit = G.sample_latent(range(1000), "z")
        fit_readings = read_latents(G, z_fit, "z", [meter, *held]).T
        rows = []
        for name, path in ROWS:
            u = ln.load_direction(args.runs / path).u.float()
            u = u / u.norm()
            e = direction_effect(G, u, meter, held, z, base=readings)
            if e["on_target"] < 0:  # a direction file's sign is its own; measure the way brightness grows
                e = direction_effect(G, -u, meter, held, z, base=readings)
                u = -u
            terms = objective_terms(G, u, [meter, *held], z_fit, fit_readings)
            rows.append({"name": name, "file": path, "effect": e, "fit_terms": terms})
            print(f"{name}: {e['on_target']:.3f} per step, leakage {e['leakage']}; on the fit latents {terms}", flush=True)
        results = {"model": "dcgan-digiface", "eval_n": args.eval_n, "eval_seed": 50_000, "rows": rows,
                   "seconds": time.perf_counter() - t0}  # fmt: skip
        write_json(args.json, results)
    print(table(results))
    if args.update_docs:
        update_doc("dcgan-correct", table(results), DOC)


if __name__ == "__main__":
    main()
