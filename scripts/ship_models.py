"""Copy trained beta-VAEs into the package and refresh their sha256/size in checkpoints.yaml.

    python scripts/ship_models.py runs/b4.safetensors:bvae-dsprites-b4 runs/corr.safetensors:bvae-dsprites-corr

Each argument is SOURCE:NAME; the file lands at latentnav/weights/NAME.safetensors (only the weights and
their metadata are kept, the training checkpoint stays behind).
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from latentnav.generators.hub import sha256_of  # noqa: E402

yaml_path = ROOT / "latentnav" / "checkpoints.yaml"
text = yaml_path.read_text()
for arg in sys.argv[1:]:
    src, name = arg.rsplit(":", 1)
    rel = f"weights/{name}.safetensors"
    dst = ROOT / "latentnav" / rel
    shutil.copyfile(src, dst)
    sha, size = sha256_of(dst), dst.stat().st_size
    pattern = re.compile(rf"(- path: {re.escape(rel)}\n\s+sha256: )[0-9a-f]+(\n\s+size: )\d+")
    text, n = pattern.subn(rf"\g<1>{sha}\g<2>{size}", text)
    if n == 0:
        sys.exit(f"{rel} is not listed in {yaml_path}")
    print(f"{name}: {sha} {size} bytes")
yaml_path.write_text(text)
