"""The method comparison in docs/evaluate.md: four direction sources on one beta-VAE (pos_x, pos_y, scale), one command.

    python benchmarks/compare_table.py [--model bvae-dsprites-b4] [--targets pos_x,pos_y,scale]
        [--json benchmarks/results/compare.json] [--update-docs] [--from-json]

For each target, ``latentnav.evaluate.compare`` with its defaults (the same as ``latentnav compare``): the
trajectory method (64 trajectories, its own calibration), GANSpace (PCA of the decoder's FC features from
10,000 samples, top 10 components), SeFa (top 10 eigenvectors of the decoder's first linear layer) and
InterFaceGAN (linear SVM on the meter's top and bottom 2% of 10,000 samples); GANSpace's and SeFa's best
component for the target is picked, every direction but the trajectory method's is calibrated with the
target's meter, and all are evaluated on the same 50 fresh latents (seeds from 50,000) for t in
[-0.15, 0.15]. ``--update-docs`` (or its old name ``--update-readme``) replaces the table between the ``compare-table``
markers of docs/evaluate.md;
``--from-json`` remakes it from the JSON alone.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from readme_table import DOCS, ROOT, add_update_flag, update_doc, write_json

import latentnav as ln
from latentnav.evaluate import COMPARE_HEADER, compare, compare_rows, run_summary

DOC = DOCS / "evaluate.md"  # the guide whose marked table --update-docs rewrites


def rows_from_json(summary: dict) -> list[str]:
    """Table rows from the stored run summaries (the same cells as :func:`latentnav.evaluate.compare_rows`)."""
    rows = []
    for target, runs in summary["targets"].items():
        for r in runs:
            if "metrics" not in r:
                rows.append(f"| {target} | {r['method']} | not applicable: {r['note']} | - | - | - | - | - | - | - | - |")
                continue
            m = r["metrics"]
            s, c, mi = m["steerability"], m.get("control", {}), m["mi"]
            rows.append(f"| {target} | {r['method']} | {r['choice']} | {s['r2']:.3f} | {s['slope']:.3f} | {s['spread']:.4f} | "
                        f"{c.get('leakage', float('nan')):.3f} | {mi['mi_target']:.2f} / {mi['mi_leak_share']:.2f} | "
                        f"{c.get('absolute_std', float('nan')):.4f} | {r['find_evals']} + {r['pick_evals']} | {r['seconds']:.1f} |")  # fmt: skip
    return rows


def markdown(rows: list[str]) -> str:
    """The whole table: :data:`latentnav.evaluate.COMPARE_HEADER`, its rule, then ``rows``."""
    return "\n".join([COMPARE_HEADER, "|---" * (COMPARE_HEADER.count("|") - 1) + "|", *rows]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bvae-dsprites-b4")
    parser.add_argument("--targets", default="pos_x,pos_y,scale")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "compare.json")
    add_update_flag(parser, DOC)
    parser.add_argument("--from-json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.from_json:
        summary = json.loads(args.json.read_text())
        rows = rows_from_json(summary)
    else:
        G = ln.load_generator(args.model, device="cpu")
        summary = {"model": args.model, "sha256": ln.default_registry()[args.model].source.files[0].sha256,
                   "steps_done": int(G.metadata.get("steps_done", 0)), "torch": torch.__version__,
                   "threads": args.threads, "targets": {}}  # fmt: skip
        rows = []
        for target in args.targets.split(","):
            t0 = time.perf_counter()
            runs = compare(G, target, progress=lambda line, t0=t0: print(f"[{time.perf_counter() - t0:.0f} s] {line}", flush=True))
            rows += compare_rows(runs, target)
            summary["targets"][target] = [run_summary(r) for r in runs]
            write_json(args.json, summary)
    table = markdown(rows)
    print(table, end="")
    if args.update_docs:
        update_doc("compare-table", table, DOC)


if __name__ == "__main__":
    main()
