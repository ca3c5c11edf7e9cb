"""Discovery on a real pretrained GAN (dcgan-digiface): traversal grids and measured control.

    python benchmarks/dcgan_control.py [--transforms shift-x,zoom,brightness] [--trajectories 32]
                                       [--images docs/images] [--json benchmarks/results/dcgan-digiface.json]
                                       [--update-docs] [--from-json]

For each transform: discover a direction, save a traversal grid (6 seeds x 9 steps), then move 24 fresh
latents (seeds from 50,000) by requested t in relative mode and measure the achieved change with an
independent meter: phase correlation for shifts, a scale search for zoom, mean intensity for
brightness. Reports R^2 and slope of achieved vs requested t on growing symmetric ranges [-r, r], and
the largest r at which R^2 >= 0.8. ``--update-docs`` (or its old name ``--update-readme``) replaces the table between
the ``dcgan-table`` markers of docs/models.md; ``--from-json`` remakes it from the JSON alone.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from readme_table import DOCS, ROOT, add_update_flag, update_doc, write_json

import latentnav as ln
from latentnav import measure, viz
from latentnav.directions import traverse
from latentnav.measure.transforms import get_transform
from latentnav.methods.trajectory.discover import discover

DOC = DOCS / "models.md"  # the guide whose marked table --update-docs rewrites


def achieved(tf: str, base: torch.Tensor, moved: torch.Tensor) -> np.ndarray:
    if tf == "shift-x":
        return measure.phase_shift(base, moved)[0].numpy()
    if tf == "shift-y":
        return measure.phase_shift(base, moved)[1].numpy()
    if tf == "zoom":
        return measure.zoom_between(base, moved).numpy()
    if tf == "brightness":
        return (measure.brightness(moved) - measure.brightness(base)).numpy()
    raise ValueError(f"no independent meter for {tf}")


def r2_slope(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    slope, icpt = np.polyfit(x, y, 1)
    resid = y - (slope * x + icpt)
    return float(1 - (resid**2).sum() / max(((y - y.mean()) ** 2).sum(), 1e-12)), float(slope)


HEADER = "| transform | t unit | range with R^2 >= 0.8 | R^2 / slope per range | generator evals |\n|---|---|---|---|---|"


def table(results: dict) -> str:
    """The table of docs/models.md from the stored results."""
    rows = [HEADER]
    for tf, r in results.items():
        ranges = ", ".join(f"+-{row['range']:.3g}: {row['r2']:.2f} / {row['slope']:.2f}" for row in r["ranges"])
        rows.append(f"| {tf} | {r['unit']} | {r['max_range_r2_0.8']:.3g} | {ranges} | {r['generator_evals']} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="dcgan-digiface")
    parser.add_argument("--transforms", default="shift-x,zoom,brightness")
    parser.add_argument("--trajectories", type=int, default=32)
    parser.add_argument("--n-eval", type=int, default=24)
    parser.add_argument("--images", type=Path, default=Path("docs/images"))
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "dcgan-digiface.json")
    add_update_flag(parser, DOC)
    parser.add_argument("--from-json", action="store_true")
    args = parser.parse_args()
    if args.from_json:
        update_doc("dcgan-table", table(json.loads(args.json.read_text())["results"]), DOC)
        return
    G = ln.load_generator(args.model, device="cpu")
    results = {}
    for tf in args.transforms.split(","):
        d = discover(G, tf, n_trajectories=args.trajectories, progress=False)
        max_t = get_transform(tf).default_max_t
        grid = traverse(G, d, G.sample_z(6, seed=10_000), t=np.linspace(-max_t, max_t, 9).tolist())
        args.images.mkdir(parents=True, exist_ok=True)
        viz.save_image(viz.traversal_grid(grid), args.images / f"{args.model}-{tf}.png")
        z = G.sample_z(args.n_eval, seed=50_000)
        t_req = np.linspace(-max_t, max_t, 9)
        with torch.no_grad():
            base = G(z)
            got = np.stack([achieved(tf, base, G(d.move(z, float(t)))) for t in t_req])  # [T, N]
        rows = []
        for r in t_req[t_req > 0]:
            sel = np.abs(t_req) <= r + 1e-9
            x = np.repeat(t_req[sel], args.n_eval)
            y = got[sel].reshape(-1)
            r2, slope = r2_slope(x, y)
            rows.append({"range": float(r), "r2": r2, "slope": slope})
        good = [row["range"] for row in rows if row["r2"] >= 0.8]
        results[tf] = {"ranges": rows, "max_range_r2_0.8": max(good) if good else 0.0, "fit_r2": d.meta["fit_r2"],
                       "generator_evals": d.meta["generator_evals"], "seconds": d.meta["trajectory_seconds"],
                       "unit": d.meta["unit"]}  # fmt: skip
        best = results[tf]
        print(f"{tf}: R^2 >= 0.8 up to |t| = {best['max_range_r2_0.8']:.3g} ({best['unit']}); "
              + ", ".join(f"[-{row['range']:.3g}, {row['range']:.3g}]: R^2 {row['r2']:.2f} slope {row['slope']:.2f}" for row in rows),
              flush=True)  # fmt: skip
    write_json(args.json, {"model": args.model, "results": results})
    if args.update_docs:
        update_doc("dcgan-table", table(results), DOC)


if __name__ == "__main__":
    main()
