"""Copy trained models (beta-VAEs, two-code VAEs, InfoGANs) into the package and refresh their registry entries in checkpoints.yaml.

    python scripts/ship_models.py runs/b4.safetensors:bvae-dsprites-b4 runs/corr.safetensors:bvae-dsprites-corr

Each argument is SOURCE:NAME; the file lands at latentnav/weights/NAME.safetensors (only the weights and
their metadata are kept, the training checkpoint stays behind). Every registry entry that uses that file
gets its sha256 and size refreshed, and its ``reproduce`` line rewritten from the training settings and
step count stored in the file, so the command always remakes exactly the shipped weights (training has
no learning-rate schedule, so a snapshot at step s equals a run with ``--steps s``).
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from latentnav.generators.hub import sha256_of  # noqa: E402
from latentnav.train.bvae import BVAEConfig  # noqa: E402
from latentnav.train.cmivae import CMIVAEConfig  # noqa: E402
from latentnav.train.infogan import InfoGANConfig  # noqa: E402

#: architecture -> (``latentnav train`` subcommand, its config class), for the generic reproduce line
TRAINERS = {"cmivae": ("cmivae", CMIVAEConfig), "infogan": ("infogan", InfoGANConfig)}


def _flag(key: str, value) -> str:
    return f"--{key.replace('_', '-')} {value:g}" if isinstance(value, float) else f"--{key.replace('_', '-')} {value}"


def reproduce_command(path: Path, name: str) -> str:
    """The ``latentnav train ...`` command that remakes the model in ``path``, from its metadata."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    config, steps = json.loads(meta["config"]), int(meta["steps_done"])
    if meta.get("arch") in TRAINERS:
        command, cls = TRAINERS[meta["arch"]]
        defaults = cls()
        parts = [f"latentnav train {command}", f"--steps {steps}", f"--seed {config['seed']}"]
        parts += [_flag(k, v) for k, v in config.items()
                  if k not in ("steps", "seed", "checkpoint_every") and v != getattr(defaults, k)]  # fmt: skip
        return " ".join(parts) + f" -o {name}.safetensors"
    defaults = BVAEConfig()
    parts = ["latentnav train bvae", f"--beta {config['beta']:g}", f"--steps {steps}", f"--seed {config['seed']}"]
    for key in ("batch_size", "lr", "z_dim", "correlate", "capacity", "capacity_steps", "gamma", "tc_weight", "tc_warmup"):
        if config.get(key, getattr(defaults, key)) != getattr(defaults, key) and not (key in ("capacity_steps", "gamma") and config.get("capacity") is None):
            parts.append(_flag(key, config[key]))
    return " ".join(parts) + f" -o {name}.safetensors"


def ship(text: str, src: str, name: str) -> str:
    """Copy ``src`` to the package as ``name`` and return the registry text with its entries refreshed."""
    rel = f"weights/{name}.safetensors"
    dst = ROOT / "latentnav" / rel
    shutil.copyfile(src, dst)
    sha, size = sha256_of(dst), dst.stat().st_size
    command = reproduce_command(dst, name)
    blocks = re.split(r"(?m)^(?=  - name: )", text)
    hits = 0
    for i, block in enumerate(blocks):
        if f"- path: {rel}\n" not in block:
            continue
        hits += 1
        block = re.sub(rf"(- path: {re.escape(rel)}\n\s+sha256: )[0-9a-f]+(\n\s+size: )\d+", rf"\g<1>{sha}\g<2>{size}", block)
        blocks[i] = re.sub(r"(?m)^(\s+reproduce: ).*$", lambda m: m.group(1) + command, block)
    if hits == 0:
        sys.exit(f"{rel} is not listed in checkpoints.yaml; add an entry for it first")
    print(f"{name}: {sha} {size} bytes; reproduce: {command}")
    return "".join(blocks)


def main() -> None:
    yaml_path = ROOT / "latentnav" / "checkpoints.yaml"
    text = yaml_path.read_text()
    for arg in sys.argv[1:]:
        src, name = arg.rsplit(":", 1)
        text = ship(text, src, name)
    tmp = yaml_path.with_name(".tmp-" + yaml_path.name)
    tmp.write_text(text)
    tmp.replace(yaml_path)


if __name__ == "__main__":
    main()
