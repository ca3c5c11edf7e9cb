"""docs/testbed.md's information table: trained codes (beta-TCVAE, two-code VAE, InfoGAN) against discovered directions.

    python benchmarks/code_table.py [--models tcvae-dsprites,cmivae-colour,infogan-dsprites]
        [--json benchmarks/results/code_table.json] [--update-docs] [--from-json] [--merge]

Two tables, each figure from this one command (1 thread):

1. per model (`latentnav.testbed.report`): total correlation of the posterior (Gaussian / sampled, VAEs),
   code information (lower bound on sum_d I(c_d; G(c)), read back by the encoder or Q), realism of
   prior samples (k-NN precision / recall against fresh renders, with the renders' own figures; grey
   pixel fraction), and for the two-code VAE the swap figures;
2. per factor (pos_x, pos_y, scale): every code of each trained model that is a direction (the VAE
   latents that carry information, code information > 0.05 nats; the InfoGAN's continuous codes) is
   made a direction and evaluated with ``evaluate_direction`` exactly as discovered directions are (50 fresh latents, 9 steps
   in [-0.15, 0.15], meter-calibrated), next to the best discovered direction for the same factor on
   ``bvae-dsprites-b4`` (highest R^2 among the four methods of ``benchmarks/compare_table.py``, read from
   its JSON, ``benchmarks/results/compare.json``; rerun that script after the b4 weights change). The
   code shown is the one with the highest R^2, chosen the same way; its MI with the factor (codes read
   from renders by the encoder or Q, over the factor's entropy) is shown beside it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from readme_table import DOCS, add_update_flag, update_doc, write_json  # noqa: E402

import latentnav as ln  # noqa: E402
from latentnav.directions import code_direction  # noqa: E402
from latentnav.evaluate import evaluate_direction  # noqa: E402
from latentnav.testbed import report  # noqa: E402

DOC = DOCS / "testbed.md"  # the guide whose marked table --update-docs rewrites

FACTORS = ("pos_x", "pos_y", "scale")


def code_axes(G, info: dict) -> list[int]:
    """The codes that are directions: a VAE's latents that carry information (code information > 0.05
    nats), an InfoGAN's continuous codes."""
    if hasattr(G, "spec"):
        start = G.code_slice("cont0").start
        return list(range(start, start + G.spec.continuous))
    return [k for k, v in enumerate(info["code_info"]) if v > 0.05]


def measure_model(name: str) -> dict:
    G = ln.load_generator(name, device="cpu")
    info = report.information_report(G, n=3000)
    out = {"steps_done": int(G.metadata.get("steps_done", 0)), "info": info, "realism": report.sample_realism(G, n=2000)}
    if hasattr(G, "swap"):
        out["swap"] = report.swap_report(G, n=500)
    out["factors"] = {}
    axes = code_axes(G, info)
    for factor in FACTORS:
        evals = {a: evaluate_direction(G, code_direction(G, f"z{a}"), target=factor).metrics for a in axes}
        code = max(evals, key=lambda a: evals[a]["steerability"]["r2"])  # chosen as b4's best: highest R^2
        m = evals[code]
        out["factors"][factor] = {"code": code, "mi_normalized": info["mi_matrix"][factor][code] / info["factor_entropy"][factor],
                                  "steerability": m["steerability"], "mi": m["mi"], "control": m.get("control", {}),
                                  "r2_of_every_code": {str(a): evals[a]["steerability"]["r2"] for a in axes}}  # fmt: skip
        print(f"{name} {factor}: code {code} R^2 {m['steerability']['r2']:.3f}", flush=True)
    return out


def best_b4(compare_json: Path) -> dict:
    """Per factor, the b4 direction with the highest R^2 in the stored comparison."""
    summary = json.loads(compare_json.read_text())
    best = {}
    for factor, runs in summary["targets"].items():
        runs = [r for r in runs if "metrics" in r]
        r = max(runs, key=lambda r: r["metrics"]["steerability"]["r2"])
        best[factor] = {"method": r["method"], "choice": r["choice"], **{k: r["metrics"][k] for k in ("steerability", "mi", "control")}}
    return best


def _cells(s: dict, mi: dict, c: dict) -> str:
    return (f"{s['r2']:.3f} | {s['slope']:.3f} | {s['spread']:.4f} | {c.get('leakage', float('nan')):.3f} | "
            f"{mi['mi_target']:.2f} / {mi['mi_leak_share']:.2f}")  # fmt: skip


def tables(results: dict) -> str:
    header = ("| model | steps | TC Gaussian / sampled (nats) | code information (nats) | precision / recall (renders: p / r) "
              "| grey pixels | swap z2: colour follows z2 / x, y, size follow z1 |")  # fmt: skip
    lines = [header, "|---|---|---|---|---|---|---|"]
    for name, r in results["models"].items():
        i, q = r["info"], r["realism"]
        tc = f"{i['tc_gaussian']:.2f} / {i['tc_sampled']:.2f}" if "tc_gaussian" in i else "-"
        sw = "-"
        if "swap" in r:
            s = r["swap"]["z2"]
            sw = (f"{s['colour']['follows_z2']:.2f} / {1 - s['pos_x']['follows_z2']:.2f}, {1 - s['pos_y']['follows_z2']:.2f}, "
                  f"{1 - s['scale']['follows_z2']:.2f}")  # fmt: skip
        lines.append(f"| `{name}` | {r['steps_done']} | {tc} | {i['code_info_total']:.2f} | {q['precision']:.2f} / {q['recall']:.2f} "
                     f"({q['precision_renders']:.2f} / {q['recall_renders']:.2f}) | {q['grey_pixels']:.2f} | {sw} |")  # fmt: skip
    lines += ["", "| factor | model | direction | MI(code; factor) / H(factor) | R^2 | slope | spread | leakage | MI target / leak share |",
              "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for factor in FACTORS:
        b = results["b4"][factor]
        lines.append(f"| {factor} | `bvae-dsprites-b4` | best discovered: {b['method']} ({b['choice']}) | - | "
                     f"{_cells(b['steerability'], b['mi'], b['control'])} |")  # fmt: skip
        for name, r in results["models"].items():
            f = r["factors"][factor]
            lines.append(f"| {factor} | `{name}` | code {f['code']} | {f['mi_normalized']:.2f} | "
                         f"{_cells(f['steerability'], f['mi'], f['control'])} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="tcvae-dsprites,cmivae-colour,infogan-dsprites")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--compare-json", type=Path, default=ROOT / "benchmarks" / "results" / "compare.json")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "code_table.json")
    add_update_flag(parser, DOC, "information tables")
    parser.add_argument("--from-json", action="store_true")
    parser.add_argument("--merge", action="store_true", help="keep the models already in --json, measure and add --models")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.from_json:
        results = json.loads(args.json.read_text())
    else:
        results = {"torch": torch.__version__, "threads": args.threads, "b4": best_b4(args.compare_json), "models": {}}
        if args.merge:
            results["models"] = json.loads(args.json.read_text())["models"]
        for name in args.models.split(","):
            results["models"][name] = measure_model(name)
        write_json(args.json, results)
    table = tables(results)
    print(table, end="")
    if args.update_docs:
        update_doc("code-table", table, DOC)


if __name__ == "__main__":
    main()
