"""Time of SeFa (all directions, closed form) on StyleGAN2 and BigGAN-deep-128 configurations with random weights.

    python benchmarks/sefa_speed.py [--repeats 5] [--threads 2] [--json benchmarks/results/sefa-speed.json]

Configurations: the StyleGAN2 of the reference fixture (tests/fixtures/stylegan2_ref_tiny.npz:
z 32, w 32, 32 px), StyleGAN2 config-f at 1024 px (w 512, 18 layers), and the released BigGAN-deep-128
(z 128, first linear 128 -> 4x4x2048). Weights are random (SeFa's cost depends on the shapes only). For
each: the first call (cold) and the best of ``repeats`` further calls of ``latentnav.methods.sefa.sefa``
in its default setting (every layer of W for StyleGAN2, z for BigGAN), the factorised weight's shape, and
the time of the factorisation alone (row normalisation, A^T A, eigh). The target: under 1 s. One thread by
default: on a 2-core machine busy with other work, two OpenMP threads wait on each other and make these
small decompositions several times slower.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from latentnav.methods.layers import latent_weight
from latentnav.methods.sefa import factorize, sefa

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = [ROOT / "tests" / "fixtures" / "stylegan2_ref_tiny.npz"]


def stylegan2_from_config(config: dict, name: str):
    from latentnav.generators import stylegan2

    net = stylegan2.random_init_(stylegan2.StyleGAN2(**{k: v for k, v in config.items() if k != "num_ws"}))
    return stylegan2.StyleGAN2Generator(net, name=name, device="cpu")


def fixture_config() -> dict:
    for path in FIXTURES:
        if path.is_file():
            return json.loads(bytes(np.load(path)["config_json"]).decode())
    raise SystemExit(f"the StyleGAN2 fixture is not at {FIXTURES[0]}")


CONFIG_F_1024 = {"z_dim": 512, "c_dim": 0, "w_dim": 512, "img_resolution": 1024, "img_channels": 3,
                 "mapping_kwargs": {"num_layers": 8}, "synthesis_kwargs": {"channel_base": 32768, "channel_max": 512}}  # fmt: skip


def biggan128():
    from latentnav.generators import biggan

    config = biggan.CONFIGS[128]
    net = biggan.build(config, biggan.random_checkpoint(config, seed=0, power_iterations=1))
    return biggan.BigGANGenerator(net, name="biggan-deep-128 (random weights)", device="cpu")


def time_sefa(G, space: str, repeats: int) -> dict:
    t = time.perf_counter()
    res = sefa(G, space)
    cold = time.perf_counter() - t
    best = min(_timed(lambda: sefa(G, space)) for _ in range(repeats))
    weight = latent_weight(G, space)
    eig = min(_timed(lambda: factorize(weight)) for _ in range(repeats))
    return {"space": space, "weight_shape": list(res.weight_shape), "directions": len(res.directions),
            "cold_s": cold, "best_s": best, "eigh_s": eig}  # fmt: skip


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def header(repeats: int) -> str:
    """The table's header and rule."""
    return (f"| model | space | factorised weight | directions | first call (s) | best of {repeats} (s) | factorisation alone (s) |"
            "\n|---|---|---|---|---|---|---|")  # fmt: skip


def row(label: str, r: dict) -> str:
    """One configuration's row, from :func:`time_sefa`'s figures."""
    return (f"| {label} | {r['space']} | {r['weight_shape'][0]} x {r['weight_shape'][1]} | {r['directions']} | "
            f"{r['cold_s']:.4f} | {r['best_s']:.4f} | {r['eigh_s']:.4f} |")  # fmt: skip


def table(record: dict) -> str:
    """The SeFa table of docs/methods.md from the JSON ``--json`` writes (written before ``repeats`` was kept: 5,
    the default)."""
    return "\n".join([header(record.get("repeats", 5)), *(row(label, r) for label, r in record["results"].items())])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cases = {
        "stylegan2 fixture (w 32, 32 px)": (lambda: stylegan2_from_config(fixture_config(), "stylegan2-fixture"), "w"),
        "stylegan2 config-f 1024 (w 512)": (lambda: stylegan2_from_config(CONFIG_F_1024, "stylegan2-1024"), "w"),
        "biggan-deep-128 (z 128)": (biggan128, "z"),
    }
    results = {}
    print(f"torch {torch.__version__}, {args.threads} threads")
    print(header(args.repeats))
    for label, (build, space) in cases.items():
        G = build()
        r = time_sefa(G, space, args.repeats)
        results[label] = r
        print(row(label, r), flush=True)
        del G
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.json.with_name(".tmp-" + args.json.name)
        tmp.write_text(json.dumps({"torch": torch.__version__, "threads": args.threads, "repeats": args.repeats,
                                   "results": results}, indent=2))
        tmp.replace(args.json)


if __name__ == "__main__":
    main()
