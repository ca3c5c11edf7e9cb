"""Disentanglement metrics of the shipped testbed models (the disentanglement table of docs/testbed.md), by one command.

    python benchmarks/disentanglement_table.py [--models bvae-dsprites-b4,bvae-dsprites-b1,bvae-dsprites-corr]
        [--preset default] [--json benchmarks/results/disentanglement.json] [--update-docs] [--merge]

For each model, ``latentnav.metrics.disentanglement.evaluate_model`` (the same as ``latentnav evaluate-model``):
BetaVAE, FactorVAE, MIG, SAP (classifier and R^2), DCI and total correlation of the model's codes read
from renders of the dSprites grid at its resolution (``model_codes``: a VAE's encoder means, an
InfoGAN's Q read-out; RGB models on colour dSprites, with colour a sixth factor), with
disentanglement_lib's sample counts (``--preset default``, about 6 minutes per model on 2 idle CPU cores;
``--preset fast`` 5-20x fewer samples, under a minute per model). Each model's result is written to the JSON as soon as it is
done; ``--update-docs`` (or its old name ``--update-readme``) replaces the table between the
``disentanglement-table`` markers of docs/testbed.md
(``--from-json`` remakes the table from the JSON alone).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from readme_table import DOCS, ROOT, add_update_flag, update_doc, write_json

import latentnav as ln
from latentnav.metrics.disentanglement import evaluate_model, metrics_markdown

DOC = DOCS / "testbed.md"  # the guide whose marked table --update-docs rewrites


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="bvae-dsprites-b4,bvae-dsprites-b1,bvae-dsprites-corr")
    parser.add_argument("--preset", default="default", choices=["default", "fast"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "disentanglement.json")
    add_update_flag(parser, DOC)
    parser.add_argument("--from-json", action="store_true", help="make the table from --json instead of measuring")
    parser.add_argument("--merge", action="store_true", help="keep the models already in --json, measure and add --models")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results, out = {}, {"preset": args.preset, "seed": args.seed, "torch": torch.__version__, "models": {}}
    if args.from_json or args.merge:
        stored = json.loads(args.json.read_text())
        if args.merge and (stored["preset"], stored["seed"]) != (args.preset, args.seed):
            parser.error(f"--merge needs the stored preset and seed ({stored['preset']}, {stored['seed']})")
        results = dict(stored["models"])
        out["models"] = dict(results) if args.merge else {}
    for model in [] if args.from_json else args.models.split(","):
        G = ln.load_generator(model, device="cpu")
        t0 = time.perf_counter()
        res = evaluate_model(G, preset=args.preset, seed=args.seed,
                             progress=lambda name, m=model: print(f"{m}: {name} ({time.perf_counter() - t0:.0f} s)", flush=True))  # fmt: skip
        res["seconds"] = time.perf_counter() - t0
        res["sha256"] = ln.default_registry()[model].source.files[0].sha256
        res["steps_done"] = int(G.metadata.get("steps_done", 0))
        results[model] = res
        out["models"][model] = res
        write_json(args.json, out)
    table = metrics_markdown(results)
    print(table, end="")
    if args.update_docs:
        update_doc("disentanglement-table", table, DOC)


if __name__ == "__main__":
    main()
