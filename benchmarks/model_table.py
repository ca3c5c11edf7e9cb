"""Measure every shipped beta-VAE and print the model table of docs/models.md (markdown) and JSON.

    python benchmarks/model_table.py [--json benchmarks/results/model_table.json] [--models NAME ...] [--merge]

``--merge`` keeps the models already stored in ``--json`` and measures and adds (or replaces) ``--models``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import latentnav as ln
from latentnav.testbed.report import model_report

HEADER = ("| model | steps | recon (nats) | KL (nats) | blank (prior) | x-y corr (prior) | pos_x abs r | pos_y abs r "
          "| scale abs r |\n|---|---|---|---|---|---|---|---|---|")  # fmt: skip


def row(name: str, rep: dict) -> str:
    """One model's row, from its :func:`latentnav.testbed.report.model_report`."""
    return (f"| `{name}` | {rep['steps_done']} | {rep['recon_nats']:.1f} | {rep['kl_nats']:.1f} | "
            f"{100 * rep['blank_fraction']:.1f}% | {rep['prior_xy_corr']:+.2f} | {rep['abs_r_pos_x']:.3f} | {rep['abs_r_pos_y']:.3f} | "
            f"{rep['abs_r_scale']:.3f} |")  # fmt: skip


def table(rows: dict) -> str:
    """The model table of docs/models.md from the JSON ``--json`` writes (model name -> report), in its order."""
    return "\n".join([HEADER, *(row(name, rep) for name, rep in rows.items())])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    parser.add_argument("--models", nargs="*", default=None, help="registry names (default: every betavae)")
    parser.add_argument("--merge", action="store_true", help="keep the models already in --json")
    args = parser.parse_args()
    if args.merge and not (args.json and args.json.exists()):
        parser.error("--merge needs an existing --json file")
    reg = ln.default_registry()
    names = args.models or [n for n, s in reg.items() if s.arch == "betavae"]
    rows = {}
    print(HEADER)
    for name in names:
        rep = model_report(ln.load_generator(name, device="cpu"))
        rows[name] = rep
        print(row(name, rep), flush=True)
    if args.json:
        if args.merge:
            rows = {**json.loads(args.json.read_text()), **rows}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.json.with_name(".tmp-" + args.json.name)
        tmp.write_text(json.dumps(rows, indent=2))
        tmp.replace(args.json)


if __name__ == "__main__":
    main()
