"""How much x change per step a y-free direction can keep, predicted from two numbers, against the corrector.

    python benchmarks/correct_geometry.py [--json benchmarks/results/correct.json benchmarks/results/correct-corr06.json]
        [--update-docs]

An idealised VAE with a unit Gaussian prior, trained on positions whose x-y correlation is rho, spends one
latent on the diagonal (x + y) and one on the anti-diagonal (x - y); each latent's decoder gain is the data's
standard deviation along its axis, so the gains are in the ratio sqrt(1 + rho) : sqrt(1 - rho). Then, for
a unit step in the plane of those two latents:

- the step that moves x most (what a supervised x direction finds) leaks rho units of y per unit of x;
- the step that leaves y alone moves x by sqrt(1 - rho^2) of that;
- a base direction that leaks L keeps, once corrected to leak nothing, a share
  R(L) = sqrt(2) sqrt((1 - rho) + k^2 (1 + rho)) / (1 + k) of its x change per step, with k = (1 - L) / (1 + L).

R < 0.8 unless L is small: 80% needs L <= L80(rho), which this prints beside the corrector's measured share
(from ``benchmarks/correct_table.py``'s JSON: rho = the x-y correlation of the corrector's scored samples, L =
the base direction's measured leakage). Nothing is sampled here; the script only reads those JSON files.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from correct_table import ordered
from readme_table import DOCS, ROOT, add_update_flag, update_doc

DOC = DOCS / "correct.md"  # the guide whose marked table --update-docs rewrites

HEADER = ("| model | method | x-y corr (rho) | base leakage (L) | y-free share: predicted R(L) / measured | "
          "base leakage that 80% allows, L80 |\n|---|---|---|---|---|---|")  # fmt: skip


def kept_share(leak: float, rho: float) -> float:
    """R(L): the share of a base direction's x change per step that its y-free correction keeps (idealised VAE)."""
    k = (1 - leak) / (1 + leak)
    return math.sqrt(2 * ((1 - rho) + k * k * (1 + rho))) / (1 + k)


def leak_allowing(share: float, rho: float) -> float:
    """L80 for ``share`` 0.8: the largest base leakage whose y-free correction still keeps ``share``; 1 if any does.

    R(L) = share is a quadratic in k: (2 (1 + rho) - s^2) k^2 - 2 s^2 k + 2 (1 - rho) - s^2 = 0; the larger root.
    """
    s2 = share * share
    a, b, c = 2 * (1 + rho) - s2, -2 * s2, 2 * (1 - rho) - s2
    if c >= 0:  # even the pure diagonal (L = 1, k = 0) keeps the share
        return 1.0
    k = (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)
    return (1 - k) / (1 + k)


def rows(results: dict) -> list[str]:
    out = []
    for method in ordered(results["methods"]):
        rep = results["methods"][method]["report"]
        rho, ev = rep["correlation"][0], rep["eval"]
        leak, measured = ev["base"]["leakage_max"], ev["corrected"]["on_target"] / ev["base"]["on_target"]
        out.append(f"| `{results['model']}` | {method} | {rho:.2f} | {leak:.3f} | {kept_share(leak, rho):.2f} / "
                   f"{measured:.2f} | {leak_allowing(0.8, rho):.2f} |")  # fmt: skip
    return out


def table(results: list[dict]) -> str:
    """The geometry table of docs/correct.md from corrector-table JSONs (``benchmarks/correct_table.py``), in order."""
    return "\n".join([HEADER, *(line for r in results for line in rows(r))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    results = ROOT / "benchmarks" / "results"
    parser.add_argument("--json", type=Path, nargs="+", default=[results / "correct.json", results / "correct-corr06.json"],
                        help="corrector tables written by benchmarks/correct_table.py")  # fmt: skip
    add_update_flag(parser, DOC)
    args = parser.parse_args()
    text = table([json.loads(path.read_text()) for path in args.json])
    print(text)
    for rho in (0.9, 0.8, 0.7, 0.6, 0.5):
        kept, allowed = kept_share(rho, rho), leak_allowing(0.8, rho)
        print(f"rho {rho}: a direction that leaks rho keeps {kept:.2f} once y-free; L80 = {allowed:.2f}")
    if args.update_docs:
        update_doc("correct-geometry", text, DOC)


if __name__ == "__main__":
    main()
