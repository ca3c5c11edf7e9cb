"""How long ``latentnav correct`` takes at its defaults, stage by stage.

    python benchmarks/correct_speed.py [--model bvae-dsprites-corr] [--method interfacegan] [--json PATH]
        [-- extra latentnav correct options]

The base direction (``--method``'s pos_x direction, found as ``latentnav compare`` does) is made first and not
timed. Then the real command runs in a process of its own, ``latentnav correct --attribute pos_x --against
pos_y`` at its defaults, and this prints its wall time (start-up included) and each stage's wall and CPU seconds
from the report's ``stage_seconds`` / ``stage_cpu_seconds`` (scoring, low-density choice, synthesis,
inversion, re-fit, calibration, evaluation, grids), so the next bottleneck is visible. CPU seconds are this
process's own: another job on the same cores stretches the wall time, not them. JSON in
``benchmarks/results/correct_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from readme_table import ROOT, write_json

import latentnav as ln


def base_direction(model: str, method: str, path: Path) -> Path:
    """``method``'s pos_x direction on ``model`` (as ``latentnav compare`` picks it), saved at ``path``."""
    from latentnav.evaluate import compare

    G = ln.load_generator(model, device="cpu")
    (run,) = compare(G, "pos_x", methods=[method], attributes=["pos_y"])
    if run.direction is None:
        raise SystemExit(f"{method} gives no direction on {model}: {run.note}")
    return run.direction.save(path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="bvae-dsprites-corr")
    p.add_argument("--method", default="interfacegan")
    p.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "correct_speed.json")
    p.add_argument("extra", nargs="*", help="further latentnav correct options (after --)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        direction = base_direction(args.model, args.method, Path(tmp) / "x.safetensors")
        out = Path(tmp) / "x-corrected.safetensors"
        cmd = [sys.executable, "-m", "latentnav", "correct", "--model", args.model, "--direction", str(direction),
               "--attribute", "pos_x", "--against", "pos_y", "--device", "cpu", *args.extra, "-o", str(out)]  # fmt: skip
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        if done.returncode:
            raise SystemExit(f"latentnav correct failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        report = json.loads(out.with_name("x-corrected.report.json").read_text())
    stages, cpu = report["stage_seconds"], report["stage_cpu_seconds"]
    print(f"latentnav correct on {args.model} ({args.method}'s x direction, against y): {wall:.1f} s wall")
    print(f"{'stage':<12} {'wall s':>8} {'cpu s':>8}")
    for name, seconds in stages.items():
        print(f"{name:<12} {seconds:>8.1f} {cpu.get(name, float('nan')):>8.1f}")
    print(done.stdout.strip())
    write_json(args.json, {"model": args.model, "method": args.method, "command": cmd[1:-2] + ["-o", "OUT"],
                           "wall_seconds": wall, "stage_seconds": stages, "stage_cpu_seconds": cpu,
                           "config": report["config"], "eval": report["eval"], "output": done.stdout})  # fmt: skip


if __name__ == "__main__":
    main()
