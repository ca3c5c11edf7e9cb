"""Speed and memory of latentnav's StyleGAN2 on the CPU (random weights), as the trajectory optimiser uses it.

    OMP_NUM_THREADS=2 python benchmarks/stylegan2_speed.py [--configs 256,1024] [--batches 1,4] [--repeats 1]

Configurations: config-f at 256x256 (the LSUN cat/church/horse models) and 1024x1024 (FFHQ), i.e.
z_dim = w_dim = 512, 8 mapping layers, channel_base 32768, channel_max 512, weights drawn with the
reference's initialisation. Two modes, each timed after one warm-up call, best of ``--repeats``:

- forward: ``G(w, space="w")`` under ``torch.no_grad()`` (mapping not included: discovery in W starts there);
- forward+backward: the same with gradients, then ``backward()`` of the mean squared image to w (the
  weights are frozen, as in discovery).

Each (configuration, batch, mode) runs in its own process, so the peak resident memory (``ru_maxrss``)
is that case's alone; "above weights" subtracts the resident memory after building the network.
Writes benchmarks/results/stylegan2-speed.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "stylegan2-speed.json"


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def measure(resolution: int, batch: int, mode: str, repeats: int) -> dict:
    """One case, in this process: images/s (best of ``repeats``) and memory in MiB."""
    import torch

    from latentnav.generators.stylegan2 import StyleGAN2, StyleGAN2Generator, random_init_

    net = random_init_(StyleGAN2(z_dim=512, c_dim=0, w_dim=512, img_resolution=resolution, img_channels=3,
                                 mapping_kwargs={"num_layers": 8},
                                 synthesis_kwargs={"channel_base": 32768, "channel_max": 512}))  # fmt: skip
    G = StyleGAN2Generator(net, name=f"random-{resolution}", device="cpu", batch_size=batch)
    w = G.sample_latent(range(batch), "w")
    base = _rss_mib()

    def call() -> None:
        if mode == "forward":
            with torch.no_grad():
                G(w, space="w")
        else:
            x = w.clone().requires_grad_(True)
            G(x, space="w").square().mean().backward()

    call()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - t)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    params = sum(p.numel() for p in net.parameters())
    return {"resolution": resolution, "batch": batch, "mode": mode, "seconds": round(best, 3),
            "images_per_s": round(batch / best, 4), "peak_rss_mib": round(peak), "above_weights_mib": round(peak - base),
            "params": params, "threads": torch.get_num_threads()}  # fmt: skip


def markdown(record: dict) -> str:
    """The table of docs/models.md from the JSON this script writes: per configuration and batch, images per second
    (seconds per batch) of each mode, and the peak resident memory with what the run adds over the loaded model."""
    by = {(r["resolution"], r["batch"], r["mode"]): r for r in record["rows"]}
    lines = ["| config | batch | forward: images/s (s per batch) | forward + backward to w | peak memory fwd / fwd+bwd |",
             "|---|---|---|---|---|"]  # fmt: skip
    for res, batch in dict.fromkeys((r["resolution"], r["batch"]) for r in record["rows"]):
        fwd, bwd = by[res, batch, "forward"], by[res, batch, "forward+backward"]
        speed = [f"{r['images_per_s']:.3f} images/s ({r['seconds']:.1f} s)" for r in (fwd, bwd)]
        memory = [f"{r['peak_rss_mib'] / 1024:.1f} (+{r['above_weights_mib'] / 1024:.1f})" for r in (fwd, bwd)]
        lines.append(f"| {res}x{res} | {batch} | {speed[0]} | {speed[1]} | {memory[0]} / {memory[1]} GiB |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", default="256,1024")
    parser.add_argument("--batches", default="1,4")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # internal: RES,BATCH,MODE in this process
    args = parser.parse_args()
    if args.one:
        res, batch, mode = args.one.split(",")
        print(json.dumps(measure(int(res), int(batch), mode, args.repeats)))
        return
    import torch

    rows = []
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU, best of {args.repeats} after one warm-up")
    print(f"{'config':>7} {'batch':>5} {'mode':>16} {'images/s':>9} {'peak RSS MiB':>13} {'above weights':>14}")
    for res in (int(r) for r in args.configs.split(",")):
        for batch in (int(b) for b in args.batches.split(",")):
            for mode in ("forward", "forward+backward"):
                cmd = [sys.executable, __file__, "--one", f"{res},{batch},{mode}", "--repeats", str(args.repeats)]
                row = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
                rows.append(row)
                print(f"{res:>7} {batch:>5} {mode:>16} {row['images_per_s']:>9.3f} {row['peak_rss_mib']:>13} {row['above_weights_mib']:>14}",
                      flush=True)  # fmt: skip
    record = {"torch": torch.__version__, "machine": platform.processor() or platform.machine(), "rows": rows}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(record, indent=2))
    print(markdown(record))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
