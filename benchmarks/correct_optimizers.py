"""The corrector's two meter re-fits side by side: Adam on minibatches against SLSQP on all latents.

    python benchmarks/correct_optimizers.py [--update-docs]

Reads the corrector tables' JSON files (``benchmarks/correct_table.py``), one pair per model: the default
run (SLSQP) and the same command with ``--fit-optimizer adam`` written to ``*-adam.json``:

    python benchmarks/correct_table.py --fit-optimizer adam --json benchmarks/results/correct-adam.json
    python benchmarks/correct_table.py --model bvae-dsprites-corr06 --fit-optimizer adam \\
        --json benchmarks/results/correct-corr06-adam.json

Each cell: the corrected direction's leakage (|y per unit x|, 5-95% bootstrap interval) on the 5,000 fresh
latents, then its x change per unit step as a share of the base direction's. Nothing is sampled here.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from correct_table import leak, ordered
from readme_table import DOCS, ROOT, add_update_flag, update_doc

DOC = DOCS / "correct.md"  # the guide whose marked table --update-docs rewrites

PAIRS = (("correct.json", "correct-adam.json"), ("correct-corr06.json", "correct-corr06-adam.json"))


def cell(r: dict) -> str:
    ev = r["report"]["eval"]
    return f"{leak(ev['corrected'])}, {ev['corrected']['on_target'] / ev['base']['on_target']:.0%}"


def table(results: Path = ROOT / "benchmarks" / "results") -> str:
    """The table of docs/correct.md from the JSON pairs of :data:`PAIRS` in ``results``."""
    lines = ["| model | method | Adam re-fit: leakage, share | SLSQP re-fit (default): leakage, share | "
             "same method on unbiased |", "|---|---|---|---|---|"]  # fmt: skip
    for slsqp_name, adam_name in PAIRS:
        slsqp, adam = (json.loads((results / n).read_text()) for n in (slsqp_name, adam_name))
        for method in ordered(slsqp["methods"]):
            s, a = slsqp["methods"][method], adam["methods"].get(method)
            lines.append(f"| `{slsqp['model']}` | {method} | {cell(a) if a else '-'} | {cell(s)} | {leak(s['unbiased'])} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_update_flag(parser, DOC)
    args = parser.parse_args()
    print(table())
    if args.update_docs:
        update_doc("correct-optimizers", table(), DOC)


if __name__ == "__main__":
    main()
