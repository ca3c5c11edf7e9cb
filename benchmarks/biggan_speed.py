"""Speed and peak memory of the full BigGAN-deep-128 (random weights) for forward and forward+backward to z.

    python benchmarks/biggan_speed.py [--batches 1,8] [--repeats 3] [--threads 2] [--device cpu] [--dtype float32]

Builds the released 128 configuration (50.4M parameters) with random weights in the checkpoint format
(``biggan.random_checkpoint``), binds class 207 and truncation 0.4, and for each batch reports the best of
``repeats`` timings (after one warm-up) as images per second for a forward pass under ``no_grad`` and for
forward + backward of a scalar loss to z (what the trajectory optimiser pays per iteration), with the peak
memory of each: on the CPU the process's peak resident set (VmHWM, reset before each case) and its
increase over the resident set after loading; on CUDA ``torch.cuda.max_memory_allocated``.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from pathlib import Path

import torch

from latentnav.generators import biggan


def rss_mib(field: str = "VmRSS") -> float:
    """Resident (VmRSS) or peak resident (VmHWM) memory of this process in MiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    else:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current VmRSS (Linux >= 4.0)


def peak_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return rss_mib("VmHWM")


def best_of(fn, repeats: int, device: torch.device) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    return best


def markdown(record: dict) -> str:
    """The table of docs/models.md from the JSON ``--json`` writes: per batch, images per second of each mode and
    the peak memory over the loaded process."""
    head = f"| batch | forward | forward + backward to z | peak memory fwd / fwd+bwd (over the {record['loaded_mib']:.0f} MiB loaded process) |"
    lines = [head, "|---|---|---|---|"]
    by = {(r["batch"], r["mode"]): r for r in record["results"]}
    for batch in dict.fromkeys(r["batch"] for r in record["results"]):
        fwd, bwd = by[batch, "forward"], by[batch, "forward+backward"]
        lines.append(f"| {batch} | {fwd['images_per_s']:.2f} images/s | {bwd['images_per_s']:.2f} images/s | "
                     f"+{fwd['peak_over_loaded_mib']:.0f} / +{bwd['peak_over_loaded_mib']:.0f} MiB |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=list(biggan.DTYPES))
    parser.add_argument("--json", type=Path, default=None, help="Also write the figures to this file.")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = biggan.CONFIGS[128]
    net = biggan.build(config, biggan.random_checkpoint(config, seed=0))
    G = biggan.BigGANGenerator(net, name="biggan-deep-128 (random weights)", class_index=207, truncation=0.4,
                               device=args.device, dtype=args.dtype)  # fmt: skip
    reset_peak(G.device)
    loaded = rss_mib() if G.device.type == "cpu" else torch.cuda.memory_allocated() / 2**20
    params = sum(p.numel() for p in G.net.parameters())
    print(f"torch {torch.__version__}, {args.threads} threads, device {G.device}, {args.dtype}, "
          f"{params / 1e6:.1f}M parameters, {loaded:.0f} MiB after loading, best of {args.repeats}")  # fmt: skip
    rows = []
    for batch in (int(b) for b in args.batches.split(",")):
        z = G.sample_z(batch, seed=0).to(G.device)

        def forward() -> None:
            with torch.no_grad():
                G(z)

        def forward_backward() -> None:
            zg = z.clone().requires_grad_(True)
            G(zg).square().mean().backward()

        for mode, fn in (("forward", forward), ("forward+backward", forward_backward)):
            reset_peak(G.device)
            seconds = best_of(fn, args.repeats, G.device)
            peak = peak_mib(G.device)
            rows.append({"batch": batch, "mode": mode, "images_per_s": batch / seconds, "seconds": seconds,
                         "peak_mib": peak, "peak_over_loaded_mib": peak - loaded})  # fmt: skip
            print(f"batch {batch:3d}  {mode:17s} {batch / seconds:8.2f} images/s  ({seconds:.3f} s)  "
                  f"peak {peak:7.0f} MiB (+{peak - loaded:.0f} over loaded)")  # fmt: skip
    meta = {"torch": torch.__version__, "threads": args.threads, "device": str(G.device), "dtype": args.dtype,
            "parameters": params, "loaded_mib": loaded}  # fmt: skip
    record = {"model": "biggan-deep-128 random weights", **meta, "results": rows}
    print(markdown(record))
    if args.json:
        args.json.write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
