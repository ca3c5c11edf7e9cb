"""Speed-up of data-parallel runs under torchrun: N CPU processes (gloo) against one, on the testbed.

    python benchmarks/distributed_speed.py [--procs 1,2] [--model bvae-dsprites] [--trajectories 64]
        [--samples 50000] [--repeats 3] [--json benchmarks/results/distributed-speed.json]

For each process count it launches ``python -m torch.distributed.run --standalone --nproc_per_node=N
benchmarks/distributed_speed.py --worker ...`` with one thread per process (``OMP_NUM_THREADS=1``), so N
processes use N cores. The worker times, between barriers (so the slowest rank counts), the best of
``--repeats`` runs of two stages:

- trajectory discovery: ``discover(G, "shift-x")`` with ``--trajectories`` starting latents (trajectories
  split across ranks, gathered, u and g fitted);
- GANSpace sampling: ``ganspace(G, n_samples=--samples)`` (feature covariance summed across ranks).

It prints a Markdown table and writes it as JSON: wall seconds and speed-up against the first process
count; the CPU seconds of the busiest rank and that speed-up (the share of the work the slowest rank
did, which other jobs on the machine do not distort: the speed-up idle cores would give); the cosine of
each run's direction with the first count's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def worker(args: argparse.Namespace) -> None:
    """Run under torchrun: time each stage on every rank, rank 0 writes the figures to ``args.out``."""
    import torch

    import latentnav as ln
    from latentnav import distributed
    from latentnav.methods.ganspace import ganspace
    from latentnav.methods.trajectory.config import TrajectoryConfig
    from latentnav.methods.trajectory.discover import discover

    device = distributed.setup("cpu")
    G = ln.load_generator(args.model, device=device)
    config = TrajectoryConfig(n_trajectories=args.trajectories)
    stages = {
        "trajectory discovery": lambda: discover(G, "shift-x", config, progress=False).u,
        "GANSpace sampling": lambda: ganspace(G, n_samples=args.samples, n_components=10).directions[0].u,
    }
    out = {"world_size": distributed.world().size, "threads": torch.get_num_threads(), "stages": {}}
    for name, fn in stages.items():
        best, cpu, u = float("inf"), float("inf"), None
        for _ in range(args.repeats):
            distributed.barrier()
            t0, c0 = time.perf_counter(), time.process_time()
            u = fn()
            c1 = time.process_time()
            distributed.barrier()
            best = min(best, time.perf_counter() - t0)
            cpu = min(cpu, max(distributed.exchange(lambda c0=c0, c1=c1: c1 - c0)))  # the busiest rank's CPU time
        out["stages"][name] = {"seconds": best, "cpu_seconds": cpu, "u": u.tolist()}
    if distributed.world().is_main:
        Path(args.out).write_text(json.dumps(out))
    distributed.teardown()


def launch(procs: int, args: argparse.Namespace, out: Path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}", __file__, "--worker",
           "--model", args.model, "--trajectories", str(args.trajectories), "--samples", str(args.samples),
           "--repeats", str(args.repeats), "--out", str(out)]  # fmt: skip
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.loads(out.read_text())


def table(record: dict) -> str:
    """The table of docs/distributed.md from the JSON ``--json`` writes."""
    head = (f"| stage | processes | wall seconds (best of {record['repeats']}) | speed-up | CPU seconds of the busiest rank "
            "| CPU speed-up | cosine with 1 process |")  # fmt: skip
    lines = [head, "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['stage']} | {r['processes']} | {r['seconds']:.2f} | {r['speedup']:.2f}x | {r['cpu_seconds']:.2f} | "
              f"{r['cpu_speedup']:.2f}x | {r['cosine']:.6f} |" for r in record["rows"]]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--procs", default="1,2")
    parser.add_argument("--model", default="bvae-dsprites")
    parser.add_argument("--trajectories", type=int, default=64)
    parser.add_argument("--samples", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    import numpy as np

    counts = [int(p) for p in args.procs.split(",")]
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in counts:
            runs[n] = launch(n, args, Path(tmp) / f"{n}.json")
    rows = []
    for stage in runs[counts[0]]["stages"]:
        ref = runs[counts[0]]["stages"][stage]
        for n in counts:
            got = runs[n]["stages"][stage]
            cosine = abs(float(np.dot(ref["u"], got["u"]) / (np.linalg.norm(ref["u"]) * np.linalg.norm(got["u"]))))
            row = {"stage": stage, "processes": n, "seconds": round(got["seconds"], 3),
                   "speedup": round(ref["seconds"] / got["seconds"], 2), "cpu_seconds": round(got["cpu_seconds"], 3),
                   "cpu_speedup": round(ref["cpu_seconds"] / got["cpu_seconds"], 2), "cosine": cosine}  # fmt: skip
            rows.append(row)
    record = {"command": "python benchmarks/distributed_speed.py " + " ".join(sys.argv[1:]), "model": args.model,
              "trajectories": args.trajectories, "samples": args.samples, "repeats": args.repeats,
              "threads_per_process": 1, "cpu_count": os.cpu_count(), "load_average_after": os.getloadavg(),
              "rows": rows}  # fmt: skip
    print(table(record))
    if args.json:
        Path(args.json).write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
