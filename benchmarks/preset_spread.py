"""How much ``evaluate-model``'s values move from seed to seed: the spread that a change of preset is judged against.

    python benchmarks/preset_spread.py [--model bvae-dsprites-b4] [--preset fast] [--seeds 0-4] [--update-docs]
        [--from-json]

Runs ``latentnav evaluate-model --preset P --seed S`` (each a process of its own, as a user runs it) for each
seed and prints, per metric, each seed's value, the mean and the standard deviation. JSON:
benchmarks/results/preset_spread.json (one entry per model and preset); table: docs/benchmarks.md (block
``preset-spread``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from readme_table import DOCS, ROOT, add_update_flag, update_doc, write_json

DOC = DOCS / "benchmarks.md"
RESULTS = ROOT / "benchmarks" / "results" / "preset_spread.json"
METRICS = {"BetaVAE": ("beta_vae", "eval_accuracy"), "FactorVAE": ("factor_vae", "eval_accuracy"), "MIG": ("mig", "mig"),
           "SAP": ("sap", "sap"), "DCI disentanglement": ("dci", "disentanglement"),
           "DCI completeness": ("dci", "completeness"), "DCI informativeness": ("dci", "informativeness_test")}  # fmt: skip


def seeds_of(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def run(model: str, preset: str, seed: int, work: Path) -> dict:
    """One ``evaluate-model`` run's values and seconds."""
    out = work / f"{model}-{preset}-{seed}.json"
    cmd = [sys.executable, "-m", "latentnav", "evaluate-model", "--model", model, "--preset", preset, "--seed", str(seed),
           "--device", "cpu", "-o", str(out)]  # fmt: skip
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    m = json.loads(out.read_text())
    return {"values": {name: m[a][b] for name, (a, b) in METRICS.items()}, "seconds": sum(m["seconds"].values())}


def table(results: dict) -> str:
    lines = ["| model, preset | metric | per seed | mean | std |", "|---|---|---|---|---|"]
    for key, r in results.items():
        for name in METRICS:
            values = [s["values"][name] for s in r["runs"]]
            lines.append(f"| {key} (seeds {r['seeds']}) | {name} | {', '.join(f'{v:.3f}' for v in values)} | "
                         f"{statistics.mean(values):.3f} | {statistics.stdev(values):.3f} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bvae-dsprites-b4")
    parser.add_argument("--preset", default="fast", choices=["default", "fast"])
    parser.add_argument("--seeds", default="0-4", help="a seed range, e.g. 0-4 (at least two seeds)")
    parser.add_argument("--from-json", action="store_true", help="remake the table from the JSON alone (runs nothing)")
    add_update_flag(parser, DOC)
    args = parser.parse_args()
    if args.from_json:
        results = json.loads(RESULTS.read_text())
        print(table(results))
        if args.update_docs:
            update_doc("preset-spread", table(results), DOC)
        return
    seeds = seeds_of(args.seeds)
    if len(seeds) < 2:
        raise SystemExit("give at least two seeds (--seeds 0-4)")
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    with tempfile.TemporaryDirectory(prefix="spread-") as work:
        runs = []
        for seed in seeds:
            runs.append(run(args.model, args.preset, seed, Path(work)))
            print(f"seed {seed}: {runs[-1]['seconds']:.0f} s", flush=True)
    results[f"`{args.model}`, {args.preset}"] = {"seeds": args.seeds, "runs": runs}
    write_json(RESULTS, results)
    print(table(results))
    if args.update_docs:
        update_doc("preset-spread", table(results), DOC)


if __name__ == "__main__":
    main()
