"""Peak memory of ``latentnav sample`` against the number of images asked for (it must not grow with n).

Each configuration runs as its own process (``python -m latentnav sample ...`` on the CPU), and its peak resident
memory is read from ``getrusage`` of that child alone; wall time is the child's. Configurations: a folder of
one PNG per seed for n = 1,000, 10,000 and 100,000 (rendered in chunks of the generator's batch size and
written as they come), a 1,024-image grid (the largest a grid may hold), and ``--seeds 0-100000000`` into a grid,
which is refused at once without expanding the range.

    python benchmarks/sample_memory.py [--model bvae-dsprites] [--update-docs]

JSON: benchmarks/results/sample_memory.json; table: docs/benchmarks.md (block ``sample-memory-table``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from readme_table import DOCS, ROOT, add_update_flag, update_doc, write_json

DOC = DOCS / "benchmarks.md"

#: runs the command given as JSON in argv[1]; prints its exit code, wall seconds and peak RSS (KiB) as JSON
PROBE = """
import json, resource, subprocess, sys, time
t0 = time.perf_counter()
rc = subprocess.run(json.loads(sys.argv[1]), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode
print(json.dumps({"rc": rc, "seconds": time.perf_counter() - t0,
                  "peak_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def measure(args: list[str]) -> dict:
    """Exit code, wall seconds and peak resident MiB of ``python -m latentnav ARGS`` in a process of its own."""
    cmd = [sys.executable, "-m", "latentnav", *args]
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(cmd)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bvae-dsprites")
    add_update_flag(parser, DOC)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sample-memory-"))
    rows = []
    try:
        for n in (1_000, 10_000, 100_000):
            r = measure(["sample", "--model", args.model, "-n", str(n), "--device", "cpu", "-o", str(work / f"n{n}/")])
            r.update(what=f"-n {n:,} -o DIR/ (one PNG per seed)", files=len(list((work / f"n{n}").glob("*.png"))))
            rows.append(r)
            print(r, flush=True)
        r = measure(["sample", "--model", args.model, "-n", "1024", "--device", "cpu", "-o", str(work / "grid.png")])
        r.update(what="-n 1,024 -o grid.png (the largest grid)", files=1)
        rows.append(r)
        r = measure(["sample", "--model", args.model, "--seeds", "0-100000000", "--device", "cpu", "-o", str(work / "big.png")])
        r.update(what="--seeds 0-100000000 -o big.png (refused: too many for a grid)", files=0)
        rows.append(r)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_json(ROOT / "benchmarks" / "results" / "sample_memory.json", {"model": args.model, "rows": rows})
    lines = ["| `latentnav sample` | exit | files | wall (s) | peak memory (MiB) |", "|---|---|---|---|---|"]
    lines += [f"| `{r['what']}` | {r['rc']} | {r['files']:,} | {r['seconds']:.1f} | {r['peak_mib']:.0f} |" for r in rows]
    table = "\n".join(lines)
    print(table)
    if args.update_docs:
        update_doc("sample-memory-table", table, DOC)


if __name__ == "__main__":
    main()
