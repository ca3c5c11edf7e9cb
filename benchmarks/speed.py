"""Where users wait: wall time, split by stage, of the main job, ``evaluate-model``, ``compare`` and the test suite.

    python benchmarks/speed.py [--only main-job,main-job-shared,evaluate-model-fast,evaluate-model,evaluate-model-forest,compare,tests]
        [--repeat 3] [--update-docs]

Each case runs as its own process (the command a user types), timed from outside (wall, CPU seconds of
the child and its workers, peak memory of the largest process) and split by the stages the command
records itself:

- ``main-job``: ``latentnav discover --model bvae-dsprites --transform shift-x``; its ``metrics.json``
  ``stage_seconds`` (trajectories, calibration = reading back what the fits achieved and fitting g, the
  control check on 32 fresh latents, outputs) and ``wall_seconds`` (from the command's start, after torch's
  import): what the run spends outside its stages is loading the model and writing the run. torch's import
  (``cli.app.import_torch``, before the command starts) is timed alone in a fresh process just before each
  run; Python and the CLI (interpreter start, click, exit) is the rest of the process's wall time. Also its control figures, so a
  faster run can be checked against the same R^2 and slope. ``--repeat`` runs it several times (median).
- ``main-job-shared``: the same beside a process that keeps one core busy (``latentnav`` takes the cores the
  other processes leave free, ``cli.app.share_the_cores``).
- ``evaluate-model-fast``, ``evaluate-model`` (the default preset: disentanglement_lib's counts) and
  ``evaluate-model-forest`` (the default preset with ``--dci-estimator forest``) on ``bvae-dsprites-b4``:
  each metric's seconds (from the JSON it writes), the combinations rendered and encoded, and the values.
- ``compare``: ``latentnav compare --model bvae-dsprites-b4 --target shift-x``.
- ``tests``: the README's test command, ``python -m pytest -q -rs``.

JSON: benchmarks/results/speed.json (each case merged in as it finishes); table: docs/benchmarks.md (block
``speed-table``). Run it on an idle machine: figures taken beside other work say how busy the machine was.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from readme_table import DOCS, ROOT, add_update_flag, update_doc, write_json

DOC = DOCS / "benchmarks.md"
RESULTS = ROOT / "benchmarks" / "results" / "speed.json"
CASES = ("main-job", "main-job-shared", "evaluate-model-fast", "evaluate-model", "evaluate-model-forest", "compare", "tests")

#: runs the command given as JSON in argv[1]; prints its exit code, wall seconds, CPU seconds and peak RSS (MiB)
PROBE = """
import json, resource, subprocess, sys, time
t0 = time.perf_counter()
rc = subprocess.run(json.loads(sys.argv[1]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": rc, "wall": time.perf_counter() - t0, "cpu": u.ru_utime + u.ru_stime,
                  "peak_mib": u.ru_maxrss / 1024}))
"""


#: prints the seconds ``latentnav``'s own import of torch takes in a fresh process (cli.app.import_torch)
TORCH_IMPORT = """
import time
t0 = time.perf_counter()
from latentnav.cli.app import import_torch
import_torch()
print(time.perf_counter() - t0)
"""


def timed(cmd: list[str], cwd: Path = ROOT) -> dict:
    """Exit code, wall and CPU seconds and peak MiB of ``cmd`` run in a process of its own."""
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(cmd)], capture_output=True, text=True, check=True,
                         cwd=cwd)  # fmt: skip
    result = json.loads(out.stdout)
    if result["rc"] != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {result['rc']}")
    return result


def latentnav(*args: str) -> list[str]:
    return [sys.executable, "-m", "latentnav", *args]


def main_job(work: Path, repeat: int, name: str = "main") -> dict:
    """The main job ``repeat`` times: each run's wall split by stage; the median run is reported."""
    runs = []
    for k in range(repeat):
        out = work / f"{name}-{k}"
        torch_import = float(subprocess.run([sys.executable, "-c", TORCH_IMPORT], capture_output=True, text=True,
                                            check=True).stdout)  # fmt: skip
        r = timed(latentnav("discover", "--model", "bvae-dsprites", "--transform", "shift-x", "--device", "cpu", "-o", str(out)))
        m = json.loads((out / "metrics.json").read_text())
        inside = m["wall_seconds"] - sum(m["stage_seconds"].values())  # loading the model, writing the run
        stages = {"Python and the CLI (start and exit)": r["wall"] - m["wall_seconds"] - torch_import,
                  "torch's import": torch_import, "loading the model, writing": inside, **m["stage_seconds"]}  # fmt: skip
        runs.append({**r, "stages": stages, "generator_evals": m["generator_evals"], "fit_r2": m["fit_r2"],
                     "control_r2": m["control"]["r2"], "control_slope": m["control"]["slope"]})  # fmt: skip
        print(f"main job run {k + 1}: {r['wall']:.1f} s", flush=True)
    walls = [r["wall"] for r in runs]
    median = runs[walls.index(statistics.median_low(walls))]
    return {**median, "walls": walls}


#: a neighbour that keeps one core busy (pure Python, one thread) until it is killed
BUSY = "while True:\n    pass\n"


def main_job_shared(work: Path, repeat: int) -> dict:
    """The main job beside another process that keeps one core busy (``latentnav`` then runs on the free one)."""
    neighbour = subprocess.Popen([sys.executable, "-c", BUSY])
    try:
        time.sleep(1.0)
        return main_job(work, repeat, "shared")
    finally:
        neighbour.kill()
        neighbour.wait()


def evaluate_model(work: Path, preset: str, estimator: str = "gbt") -> dict:
    """``evaluate-model`` on bvae-dsprites-b4: wall, each metric's seconds and the values."""
    out = work / f"metrics-{preset}-{estimator}.json"
    r = timed(latentnav("evaluate-model", "--model", "bvae-dsprites-b4", "--preset", preset, "--dci-estimator", estimator,
                        "--device", "cpu", "-o", str(out)))  # fmt: skip
    m = json.loads(out.read_text())
    values = {"beta_vae": m["beta_vae"]["eval_accuracy"], "factor_vae": m["factor_vae"]["eval_accuracy"],
              "mig": m["mig"]["mig"], "sap": m["sap"]["sap"], "dci_d": m["dci"]["disentanglement"],
              "dci_c": m["dci"]["completeness"], "dci_i": m["dci"]["informativeness_test"]}  # fmt: skip
    return {**r, "stages": m["seconds"], "encoded": m["encoded"], "values": values}


def compare(work: Path) -> dict:
    r = timed(latentnav("compare", "--model", "bvae-dsprites-b4", "--target", "shift-x", "--device", "cpu", "-o",
                        str(work / "compare")))  # fmt: skip
    return {**r, "stages": {}}


def tests(work: Path) -> dict:
    return {**timed([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"]), "stages": {}}


def table(results: dict) -> str:
    """The Markdown table of every case measured so far."""
    lines = ["| case | wall (s) | CPU (s) | peak (MiB) | split by stage (s) | figures |", "|---|---|---|---|---|---|"]
    for name in CASES:
        if name not in results:
            continue
        r = results[name]
        split = ", ".join(f"{k} {v:.1f}" for k, v in r["stages"].items()) or "-"
        figures = ""
        if "control_r2" in r:
            figures = (f"{r['generator_evals']:,} evaluations; control R^2 {r['control_r2']:.3f}, slope {r['control_slope']:.2f}; "
                       f"walls of the runs {', '.join(f'{w:.1f}' for w in r['walls'])}")  # fmt: skip
        elif "values" in r:
            v = r["values"]
            figures = (f"{r['encoded']:,} renders encoded; BetaVAE {v['beta_vae']:.3f}, FactorVAE {v['factor_vae']:.3f}, "
                       f"MIG {v['mig']:.3f}, SAP {v['sap']:.3f}, DCI {v['dci_d']:.3f} / {v['dci_c']:.3f} / {v['dci_i']:.3f}")  # fmt: skip
        lines.append(f"| {name} | {r['wall']:.1f} | {r['cpu']:.0f} | {r['peak_mib']:.0f} | {split} | {figures} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(CASES), help=f"comma-separated subset of {', '.join(CASES)}")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the main job (the median is reported)")
    add_update_flag(parser, DOC)
    args = parser.parse_args()
    chosen = [c.strip() for c in args.only.split(",") if c.strip()]
    if unknown := sorted(set(chosen) - set(CASES)):
        raise SystemExit(f"unknown case {unknown[0]!r}; known: {', '.join(CASES)}")
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    work = Path(tempfile.mkdtemp(prefix="speed-"))
    run = {"main-job": lambda: main_job(work, args.repeat), "main-job-shared": lambda: main_job_shared(work, args.repeat),
           "evaluate-model-fast": lambda: evaluate_model(work, "fast"),
           "evaluate-model": lambda: evaluate_model(work, "default"),
           "evaluate-model-forest": lambda: evaluate_model(work, "default", "forest"),
           "compare": lambda: compare(work), "tests": lambda: tests(work)}  # fmt: skip
    try:
        for name in chosen:
            print(f"{name} ...", flush=True)
            results[name] = {**run[name](), "measured": time.strftime("%Y-%m-%d"), "cores": len(os.sched_getaffinity(0))}
            write_json(RESULTS, results)
            print(table({name: results[name]}).splitlines()[-1], flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(table(results))
    if args.update_docs:
        update_doc("speed-table", table(results), DOC)


if __name__ == "__main__":
    main()
