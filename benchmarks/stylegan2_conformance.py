"""Max |latentnav - NVlabs| of every output in the StyleGAN2 reference fixture, per file format.

    python benchmarks/stylegan2_conformance.py [--fixture tests/fixtures/stylegan2_ref_tiny.npz]

The fixture (NVlabs stylegan2-ada-pytorch at d72cc7d, random weights, 32x32, CPU float32) is written the
way users have it: an NVlabs-named state dict + config.json (.pt and .safetensors), a pickle with the
NVlabs structure (persistent-object records, EasyDict kwargs, storages as bytes; built as in
tests/test_stylegan2.py), a rosinality-named ``{"g_ema", "latent_avg"}`` .pt, and the output of
``latentnav convert``; each is loaded with ``latentnav.load_generator`` and compared with the reference
outputs (targets: ws <= 1e-5, images <= 1e-4).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from test_stylegan2 import (  # noqa: E402
    FIXTURE,
    install_fake_nvlabs,
    max_diffs,
    rosinality_state,
    write_nvlabs_pickle,
    write_state_dict,
)

import latentnav as ln  # noqa: E402
from latentnav.generators import stylegan2  # noqa: E402


def load_fixture(path: Path) -> dict:
    import numpy as np

    data = np.load(path)
    out = {k: torch.from_numpy(data[k]) for k in data.files if k != "config_json"}
    out["config"] = json.loads(bytes(data["config_json"]).decode())
    out["state"] = {k[len("state."):]: v for k, v in out.items() if k.startswith("state.")}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixture", type=Path, default=FIXTURE)
    args = parser.parse_args()
    torch.set_num_threads(1)
    ref = load_fixture(args.fixture)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = {
            "state dict .pt + config.json": write_state_dict(ref, tmp / "pt", ".pt"),
            "state dict .safetensors + config.json": write_state_dict(ref, tmp / "st", ".safetensors"),
        }
        fake = install_fake_nvlabs(sys.modules.__setitem__)
        paths["NVlabs .pkl"] = write_nvlabs_pickle(ref, fake, tmp / "network-snapshot.pkl")
        ros = tmp / "rosinality.pt"
        torch.save({"g_ema": rosinality_state(ref), "latent_avg": ref["state"]["mapping.w_avg"]}, ros)
        paths["rosinality .pt"] = ros
        paths["latentnav convert output"] = stylegan2.convert(paths["state dict .pt + config.json"], tmp / "converted")
        table = {name: max_diffs(ln.load_generator(p, device="cpu"), ref) for name, p in paths.items()}
    keys = list(next(iter(table.values())))
    print("max |latentnav - NVlabs| per output (ws target 1e-5, images 1e-4)")
    print("| output | " + " | ".join(table) + " |")
    print("|---|" + "---|" * len(table))
    for key in keys:
        print(f"| {key} | " + " | ".join(f"{table[n][key]:.1e}" for n in table) + " |")


if __name__ == "__main__":
    main()
